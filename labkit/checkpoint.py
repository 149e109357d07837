"""Checkpoints: a model's weights, its config and (optionally) the training state, in one folder.

A checkpoint is a directory holding

- ``model.safetensors``: the weights (``safetensors``: plain tensors, no pickled code to run);
- ``config.json``: the model's config dataclass, the model's class and the labkit version, so
  ``load(path)`` can rebuild the model without being told what it was, and the sha256 of the
  other files;
- ``trainer_state.pt`` (only when there is an optimiser or ``extra`` state): optimiser state,
  random-number-generator states, step, history … saved with ``torch.save`` and read back with
  ``torch.load(weights_only=True)``, which refuses anything but tensors and plain containers.

A save never touches the checkpoint it replaces until the new one is complete: the files go to a
temporary folder beside it (``.NAME.new-ID``), each flushed to disk (``fsync``); then the old
folder is moved aside (``.NAME.old-ID``), the new one takes its name, and the old one is deleted.
A Ctrl-C, a full disk or a crash therefore leaves either the old checkpoint or the new one, never
a mix; what a killed process leaves behind is cleaned up by :func:`recover`, which the next save
or load runs. On load, all files must carry the same ``save_id`` and match the sha256 recorded
in ``config.json``, or a ``ValueError`` names the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import io
import json
import os
import shutil
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as safetensors_tensors
from safetensors.torch import save as safetensors_bytes
from torch import nn

import labkit
from labkit.device import as_device

__all__ = ["load", "load_trainer_state", "load_weights", "read_config", "recover", "save"]

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
STATE = "trainer_state.pt"
FORMAT = 1
_NEW, _OLD = (
    ".new-",
    ".old-",
)  # temporary siblings of a checkpoint folder: .NAME.new-ID, .NAME.old-ID
_RESERVED = ("save_id", "optimizer")  # keys of trainer_state.pt that ``extra`` may not use


# ----------------------------------------------------------------------------------------- saving


def _write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to the new file ``path`` and flush it to the disk."""
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable (POSIX); a no-op where folders cannot be opened (Windows)."""
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


def _siblings(target: Path, kind: str) -> list[Path]:
    """The temporary folders ``.NAME.new-*`` or ``.NAME.old-*`` beside ``target``, oldest first."""
    prefix = f".{target.name}{kind}"
    try:
        found = [p for p in target.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return []
    return sorted(found, key=lambda p: p.stat().st_mtime)


def recover(path_dir: str | os.PathLike) -> bool:
    """Clean up after a save that was killed; True when ``path_dir`` then holds a checkpoint.

    A save killed between its two renames leaves the old checkpoint moved aside and no new one in
    its place: the old one is put back. Half-written new folders and old ones whose replacement
    is in place are deleted.
    """
    target = Path(os.path.abspath(_path(path_dir, "path_dir")))
    olds = _siblings(target, _OLD)
    if olds and not target.exists():
        os.replace(olds.pop(), target)
        _fsync_dir(target.parent)
    for leftover in [*olds, *_siblings(target, _NEW)]:
        shutil.rmtree(leftover, ignore_errors=True)
    return (target / CONFIG).is_file()


def _replaceable(target: Path) -> None:
    """Refuse to replace a folder that holds more than a checkpoint (nothing is overwritten)."""
    if target == Path.cwd():
        raise ValueError(
            f"path_dir {str(target)!r} is the current folder; save the checkpoint to a subfolder"
        )
    if not target.exists():
        return
    if not target.is_dir():
        raise ValueError(f"path_dir {str(target)!r} is a file, not a checkpoint folder")
    own = (WEIGHTS, CONFIG, STATE)
    others = sorted(
        p.name
        for p in target.iterdir()
        if p.name not in own and not (p.name.startswith(".") and p.name.endswith(".tmp"))
    )
    if others:
        raise ValueError(
            f"path_dir {str(target)!r} holds files that are not part of a checkpoint "
            f"({', '.join(others[:5])}); a save replaces the whole folder, so choose an empty "
            "or new folder (nothing was overwritten)"
        )


def _switch(new: Path, target: Path) -> None:
    """Put the complete folder ``new`` in ``target``'s place.

    The old folder is moved aside first (a folder cannot be renamed over a non-empty one), the new
    one takes its name, then the old one is deleted. Interrupted between the two renames, the old
    one is put back here, or by :func:`recover` after a crash.
    """
    old = target.parent / f".{target.name}{_OLD}{new.name.rpartition(_NEW)[2]}"
    moved = False
    try:
        if target.exists():
            os.replace(target, old)
            moved = True
        os.replace(new, target)
    except BaseException:
        if moved and not target.exists():
            os.replace(old, target)
        raise
    _fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)


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
    ``torch.load(weights_only=True)`` accepts) go to ``trainer_state.pt``. The folder is replaced
    as a whole, and only once the new checkpoint is complete (see the module's docstring); a
    folder holding other files is refused. Returns the folder as a ``Path``.
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
    _path(path_dir, "path_dir")
    _plain_extra(extra)
    target = Path(os.path.abspath(path_dir))
    recover(target)
    _replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    save_id = uuid.uuid4().hex
    info: dict[str, Any] = {
        "format": FORMAT,
        "save_id": save_id,
        "model_class": _qualname(type(model)),
        "config_class": _qualname(type(config)),
        "config": _jsonable(dataclasses.asdict(config)),
        "labkit_version": labkit.__version__,
        "torch_version": torch.__version__,
        "files": {},
    }
    new = target.parent / f".{target.name}{_NEW}{save_id}"
    new.mkdir()
    try:

        def write(name: str, data: bytes) -> None:
            _write_file(new / name, data)
            info["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}

        meta = {"save_id": save_id, "format": str(FORMAT)}
        write(WEIGHTS, safetensors_bytes(_plain_tensors(model), metadata=meta))
        if optimizer is not None or extra:
            state: dict[str, Any] = {"save_id": save_id, **(dict(extra) if extra else {})}
            if optimizer is not None:
                state["optimizer"] = optimizer.state_dict()
            buf = io.BytesIO()
            torch.save(state, buf)
            write(STATE, buf.getvalue())
        _write_file(new / CONFIG, (json.dumps(info, indent=2) + "\n").encode())
        _fsync_dir(new)
        _switch(new, target)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    return Path(path_dir)


_PLAIN = (torch.Tensor, str, int, float, bool, type(None))


def _plain_extra(extra: Mapping[str, Any] | None) -> None:
    """``extra`` must hold what ``torch.load(weights_only=True)`` reads back: tensors, numbers,
    strings, None and lists/tuples/dicts of them, under string keys other than the reserved ones."""
    if not extra:
        return
    for key in extra:
        if not isinstance(key, str) or key in _RESERVED:
            raise ValueError(f"extra keys must be strings other than {_RESERVED}; got {key!r}")
    todo: list[tuple[str, Any]] = [(f"extra[{k!r}]", v) for k, v in extra.items()]
    while todo:
        where, value = todo.pop()
        if isinstance(value, _PLAIN):
            continue
        if isinstance(value, list | tuple):
            if all(type(v) in (int, float, str, bool) for v in value):  # fast path: a history
                continue
            todo.extend((f"{where}[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, dict):
            todo.extend((f"{where}[{k!r}]", v) for k, v in value.items())
        else:
            raise TypeError(
                f"{where} must be a tensor, number, string, None, or a list/dict of them "
                f"(what a checkpoint can hold); got {type(value).__name__}"
            )


def _path(value: Any, name: str) -> str | os.PathLike:
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        raise TypeError(f"{name} must be a folder path (str or os.PathLike); got {value!r}")
    return value


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
    folder = Path(_path(path_dir, "path_dir"))
    if not folder.is_dir():
        recover(folder)  # a save killed between its two renames left the old one aside
    if not folder.is_dir():
        raise FileNotFoundError(f"checkpoint folder {str(folder)!r} does not exist")
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"checkpoint {str(folder)!r} is incomplete: missing {', '.join(missing)}"
        )
    return folder


def _field(folder: Path, info: dict[str, Any], key: str, types: Any, expected: str) -> None:
    value = info.get(key)
    if key in info and (not isinstance(value, types) or isinstance(value, bool)):
        raise ValueError(
            f"checkpoint {str(folder)!r}: {CONFIG} field {key!r} must be {expected}; got {value!r}"
        )


def _read_info(folder: Path) -> dict[str, Any]:
    """``config.json``, with the type of every field labkit reads checked."""
    try:
        info = json.loads((folder / CONFIG).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"checkpoint {str(folder)!r}: {CONFIG} is not valid JSON ({err})"
        ) from None
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise ValueError(f"checkpoint {str(folder)!r}: {CONFIG} has no 'config' object")
    _field(folder, info, "format", int, "an int (the checkpoint format, e.g. 1)")
    for key in ("save_id", "model_class", "config_class"):
        _field(folder, info, key, str, "a string")
    _field(folder, info, "files", dict, "an object {file name: {'sha256': ..., 'bytes': ...}}")
    for name, entry in info.get("files", {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise ValueError(
                f"checkpoint {str(folder)!r}: {CONFIG} field 'files' must map each file to "
                f"{{'sha256': '<hex>', 'bytes': <int>}}; got {name!r}: {entry!r}"
            )
    if info.get("format", 1) > FORMAT:
        raise ValueError(
            f"checkpoint {str(folder)!r} has format {info['format']}, newer than this labkit "
            f"({labkit.__version__}) reads (format {FORMAT}); upgrade labkit"
        )
    return info


def _same_save(folder: Path, name: str, found: Any, info: dict[str, Any] | None) -> None:
    """``name`` must come from the save that wrote ``config.json``."""
    expected = None if info is None else info.get("save_id")
    if expected is not None and found is not None and found != expected:
        raise ValueError(
            f"checkpoint {str(folder)!r}: {name} and {CONFIG} come from different saves "
            "(was the folder put together from two checkpoints?)"
        )


def _intact(folder: Path, name: str, data: bytes, info: dict[str, Any] | None) -> None:
    """``data`` (the file ``name``) must have the sha256 that ``config.json`` recorded for it."""
    entry = None if info is None else info.get("files", {}).get(name)
    if entry is not None and hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise ValueError(
            f"checkpoint {str(folder)!r}: {name} is damaged: its sha256 is not the one recorded "
            f"in {CONFIG} when it was saved (a changed bit on the disk, a cut copy, or files of "
            "different saves); use another checkpoint"
        )


def _weights_save_id(data: bytes) -> Any:
    """The ``save_id`` in a safetensors file's header (8-byte length, JSON), or None."""
    try:
        n = int.from_bytes(data[:8], "little")
        return json.loads(data[8 : 8 + n])["__metadata__"]["save_id"]
    except (ValueError, KeyError, TypeError):
        return None


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The tensors of ``model.safetensors`` after checking they belong to ``config.json``'s save
    (when there is one) and are the bytes it recorded."""
    info = _read_info(folder) if (folder / CONFIG).is_file() else None
    data = (folder / WEIGHTS).read_bytes()
    _same_save(folder, WEIGHTS, _weights_save_id(data), info)
    _intact(folder, WEIGHTS, data, info)
    try:
        return safetensors_tensors(data)
    except Exception as err:  # safetensors' own error types vary between versions
        raise ValueError(f"checkpoint {str(folder)!r}: {WEIGHTS} cannot be read ({err})") from None


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
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    folder = _folder(path_dir, WEIGHTS)
    tensors = _read_weights(folder)
    expected = model.state_dict()
    found = {k: tuple(t.shape) for k, t in tensors.items()}
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
    model.load_state_dict(tensors)
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
    if model_cls is not None and not (
        isinstance(model_cls, type) and issubclass(model_cls, nn.Module)
    ):
        raise TypeError(f"model_cls must be a torch.nn.Module subclass or None; got {model_cls!r}")
    dev = as_device(device)
    folder = _folder(path_dir, CONFIG, WEIGHTS)
    info = _read_info(folder)
    if model_cls is None:
        model_cls = _resolve(str(info.get("model_class", "")), "model class", folder)
    config_cls = getattr(model_cls, "config_class", None)
    config = read_config(folder, config_cls)
    model = model_cls(config)
    load_weights(folder, model)
    return model.to(dev)


def load_trainer_state(path_dir: str | os.PathLike) -> dict[str, Any]:
    """The dict saved as ``trainer_state.pt`` (optimiser, RNG states, step, …), on the CPU."""
    folder = _folder(path_dir, STATE)
    info = _read_info(folder) if (folder / CONFIG).is_file() else None
    data = (folder / STATE).read_bytes()
    _intact(folder, STATE, data, info)
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # damaged, or not a torch file at all
        raise ValueError(
            f"checkpoint {str(folder)!r}: {STATE} cannot be read ({type(err).__name__}: {err})"
        ) from None
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {str(folder)!r}: {STATE} does not hold a dict")
    _same_save(folder, STATE, state.get("save_id"), info)
    return state
