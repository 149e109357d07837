"""Checkpoints: a model's weights, its config and (optionally) the training state, in one folder.

A checkpoint is a directory holding

- ``model.safetensors``: the weights (``safetensors``: plain tensors, no pickled code to run);
- ``config.json``: the model's config dataclass, the model's class and the labkit version, so
  ``load(path)`` can rebuild the model without being told what it was;
- ``trainer_state.pt`` (only when there is an optimiser or ``extra`` state): optimiser state,
  random-number-generator states, step, history … saved with ``torch.save`` and read back with
  ``torch.load(weights_only=True)``, which refuses anything but tensors and plain containers.

Every file is written atomically: to a temporary file in the same folder, flushed to disk
(``fsync``), then renamed over the old one (``os.replace``), so a crash or a full disk never
leaves a half-written file behind. All three files carry the same ``save_id``; ``load`` refuses a
folder whose files come from different saves.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import os
import sys
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn

import labkit
from labkit.device import as_device

__all__ = ["load", "load_trainer_state", "load_weights", "read_config", "save"]

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
STATE = "trainer_state.pt"
FORMAT = 1


# ----------------------------------------------------------------------------------------- saving


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either the old file or the complete new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _qualname(obj: type) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _plain_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict as CPU tensors that safetensors accepts.

    safetensors refuses tensors that share memory (tied weights, e.g. a GPT's input embedding and
    output layer) and views into a larger buffer; such tensors are copied, the rest are not.
    """
    out: dict[str, torch.Tensor] = {}
    seen: set[tuple[str, int]] = set()
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        storage = t.untyped_storage()
        key = (str(t.device), storage.data_ptr())
        if key in seen or storage.nbytes() != t.numel() * t.element_size():
            t = t.clone()
        seen.add((str(t.device), t.untyped_storage().data_ptr()))
        out[name] = t
    return out


def save(
    path_dir: str | os.PathLike,
    model: nn.Module,
    config: Any = None,
    optimizer: torch.optim.Optimizer | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Save ``model`` (and its ``config``, default ``model.config``) to the folder ``path_dir``.

    ``optimizer`` and ``extra`` (a dict of tensors, numbers, strings, lists, dicts — what
    ``torch.load(weights_only=True)`` accepts) go to ``trainer_state.pt``; without them an old
    ``trainer_state.pt`` in the folder is removed. Returns the folder as a ``Path``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    config = getattr(model, "config", None) if config is None else config
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(
            "config must be a dataclass instance (the model's config); got "
            f"{type(config).__name__}. Pass config=... or give the model a .config dataclass."
        )
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    if extra is not None and not isinstance(extra, Mapping):
        raise TypeError(f"extra must be a dict, got {type(extra).__name__}")
    folder = Path(path_dir)
    folder.mkdir(parents=True, exist_ok=True)
    save_id = uuid.uuid4().hex

    meta = {"save_id": save_id, "format": str(FORMAT)}
    _atomic_write(folder / WEIGHTS, safetensors_bytes(_plain_tensors(model), metadata=meta))

    state_path = folder / STATE
    if optimizer is not None or extra:
        state: dict[str, Any] = {"save_id": save_id, **(dict(extra) if extra else {})}
        if optimizer is not None:
            state["optimizer"] = optimizer.state_dict()
        buf = io.BytesIO()
        torch.save(state, buf)
        _atomic_write(state_path, buf.getvalue())
    else:
        state_path.unlink(missing_ok=True)

    info = {
        "format": FORMAT,
        "save_id": save_id,
        "model_class": _qualname(type(model)),
        "config_class": _qualname(type(config)),
        "config": _jsonable(dataclasses.asdict(config)),
        "labkit_version": labkit.__version__,
        "torch_version": torch.__version__,
    }
    # config.json last: it names the save the other files belong to.
    _atomic_write(folder / CONFIG, (json.dumps(info, indent=2) + "\n").encode())
    return folder


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"config values must be numbers, strings, lists or dicts; got {value!r}")


# ---------------------------------------------------------------------------------------- loading


def _folder(path_dir: str | os.PathLike, *needed: str) -> Path:
    folder = Path(path_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"checkpoint folder {str(folder)!r} does not exist")
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"checkpoint {str(folder)!r} is incomplete: missing {', '.join(missing)}"
        )
    return folder


def _read_info(folder: Path) -> dict[str, Any]:
    try:
        info = json.loads((folder / CONFIG).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(
            f"checkpoint {str(folder)!r}: {CONFIG} is not valid JSON ({err})"
        ) from None
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise ValueError(f"checkpoint {str(folder)!r}: {CONFIG} has no 'config' object")
    if info.get("format", 1) > FORMAT:
        raise ValueError(
            f"checkpoint {str(folder)!r} has format {info['format']}, newer than this labkit "
            f"({labkit.__version__}) reads (format {FORMAT}); upgrade labkit"
        )
    return info


def _resolve(path: str, what: str, folder: Path) -> type:
    """Find a class by its dotted name: in labkit, or in a module already imported (a notebook)."""
    module_name, _, qualname = path.rpartition(".")
    if module_name in sys.modules:
        module = sys.modules[module_name]
    elif module_name == "labkit" or module_name.startswith("labkit."):
        module = importlib.import_module(module_name)
    else:
        raise ValueError(
            f"checkpoint {str(folder)!r} was saved from {what} {path!r}, whose module is not "
            f"imported; import it first or pass model_cls=..."
        )
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if not isinstance(obj, type):
        raise ValueError(
            f"checkpoint {str(folder)!r}: cannot find {what} {path!r}; pass model_cls=..."
        )
    return obj


def read_config(path_dir: str | os.PathLike, config_cls: type | None = None) -> Any:
    """The model config saved in a checkpoint, as its dataclass (``config_cls`` overrides)."""
    folder = _folder(path_dir, CONFIG)
    info = _read_info(folder)
    if config_cls is None:
        config_cls = _resolve(str(info.get("config_class", "")), "config class", folder)
    if not dataclasses.is_dataclass(config_cls):
        raise TypeError(f"config_cls must be a dataclass, got {config_cls!r}")
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(info["config"]) - fields)
    if unknown:
        raise ValueError(
            f"checkpoint {str(folder)!r}: config has fields {unknown} that "
            f"{config_cls.__name__} does not have (fields: {sorted(fields)})"
        )
    try:
        return config_cls(**info["config"])
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"checkpoint {str(folder)!r}: config does not fit {config_cls.__name__}: {err}"
        ) from None


def load_weights(path_dir: str | os.PathLike, model: nn.Module) -> nn.Module:
    """Copy a checkpoint's weights into ``model`` (same architecture); returns ``model``.

    Raises ``ValueError`` naming the checkpoint, the key, and the expected and found shapes when
    the weights do not fit the model (a different config), instead of torch's long error.
    """
    folder = _folder(path_dir, WEIGHTS)
    expected = model.state_dict()
    with safe_open(folder / WEIGHTS, framework="pt") as f:
        found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    where = f"checkpoint {str(folder)!r} does not match the model ({type(model).__name__})"
    if missing:
        raise ValueError(
            f"{where}: key {missing[0]!r} is missing from the checkpoint "
            f"(model expects shape {tuple(expected[missing[0]].shape)}); "
            f"{len(missing)} missing key(s) in all: {missing[:5]}"
        )
    if unexpected:
        raise ValueError(
            f"{where}: the checkpoint has key {unexpected[0]!r} (shape "
            f"{found[unexpected[0]]}) that the model lacks; {len(unexpected)} "
            f"unexpected key(s) in all: {unexpected[:5]}"
        )
    for key, t in expected.items():
        if tuple(t.shape) != found[key]:
            raise ValueError(
                f"{where}: key {key!r} has shape {found[key]} in the checkpoint but "
                f"the model expects {tuple(t.shape)} (was it saved with another config?)"
            )
    model.load_state_dict(load_file(folder / WEIGHTS, device="cpu"))
    return model


def load(
    path_dir: str | os.PathLike,
    model_cls: type[nn.Module] | None = None,
    device: str | torch.device | None = None,
) -> nn.Module:
    """Rebuild the model saved in ``path_dir`` (its class from ``config.json`` unless
    ``model_cls`` is given), load its weights, move it to ``device`` (default: the best one)
    and return it. The training state, if any, comes from :func:`load_trainer_state`.
    """
    folder = _folder(path_dir, CONFIG, WEIGHTS)
    info = _read_info(folder)
    if model_cls is None:
        model_cls = _resolve(str(info.get("model_class", "")), "model class", folder)
    config_cls = getattr(model_cls, "config_class", None)
    config = read_config(folder, config_cls)
    with safe_open(folder / WEIGHTS, framework="pt") as f:
        weights_id = (f.metadata() or {}).get("save_id")
    if weights_id is not None and info.get("save_id") not in (None, weights_id):
        raise ValueError(
            f"checkpoint {str(folder)!r}: {WEIGHTS} and {CONFIG} come from different saves "
            "(was a save interrupted?)"
        )
    model = model_cls(config)
    load_weights(folder, model)
    return model.to(as_device(device))


def load_trainer_state(path_dir: str | os.PathLike) -> dict[str, Any]:
    """The dict saved as ``trainer_state.pt`` (optimiser, RNG states, step, …), on the CPU."""
    folder = _folder(path_dir, STATE)
    state = torch.load(folder / STATE, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {str(folder)!r}: {STATE} does not hold a dict")
    if (folder / CONFIG).is_file():
        saved = _read_info(folder).get("save_id")
        if saved is not None and state.get("save_id") not in (None, saved):
            raise ValueError(
                f"checkpoint {str(folder)!r}: {STATE} and {CONFIG} come from different saves "
                "(was a save interrupted?)"
            )
    return state
