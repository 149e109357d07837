"""LoRA: low-rank adaptation of a pretrained model (Hu et al. 2021), built by hand in notebook 13.

Fine-tuning changes every entry of a weight matrix ``W`` (``d_out × d_in``). LoRA freezes ``W`` and
learns a low-rank change to it instead:

    y = x Wᵀ + b + (α/r) · dropout(x) Aᵀ Bᵀ          i.e.  W_effective = W + (α/r) · B A

with ``A`` ∈ R^{r×d_in} (Kaiming-uniform, as ``nn.Linear`` and ``peft`` initialise it) and
``B`` ∈ R^{d_out×r} (zeros), so the wrapped model starts exactly equal to the pretrained one and
learns ``r·(d_in + d_out)`` numbers per matrix instead of ``d_in·d_out``. The scale ``α/r`` keeps the
size of the update comparable when ``r`` changes, so the same learning rate works for several ranks.

After training, :func:`merge` folds the update into the weight (``W ← W + (α/r)·B A``): the model
then runs as fast as the original. :func:`unmerge` takes it out again.

- :class:`LoRALinear` wraps one ``nn.Linear``; :func:`add_lora` wraps the projections of a model
  chosen by name (``targets=("q_proj", "v_proj")`` for :class:`labkit.pretrained.llama.Llama`, the
  paper's choice) and freezes everything else; :func:`count_parameters` counts what trains.
- :func:`lora_state_dict`, :func:`save_lora`, :func:`load_lora`: the adapter alone (``A`` and ``B``
  of every wrapped layer) in a safetensors file of kilobytes, loaded back onto the base model.

The same computation as Hugging Face ``peft``'s ``LoraConfig(r, lora_alpha, target_modules,
lora_dropout)``; tests/test_lora.py checks the two agree (outputs, gradients, merged weights).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes
from torch import nn

from labkit._checks import fraction, positive_int

__all__ = [
    "LoRALinear",
    "add_lora",
    "count_parameters",
    "load_lora",
    "lora_layers",
    "lora_state_dict",
    "merge",
    "save_lora",
    "unmerge",
]

FORMAT = 1  # version of the adapter file's metadata


def _positive_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return float(value)


class LoRALinear(nn.Module):
    """``y = x Wᵀ + b + (α/r) · dropout(x) Aᵀ Bᵀ`` around a frozen ``nn.Linear`` (notebook 13, §4).

    ``base``: the wrapped layer (its weight ``W`` and bias ``b`` are frozen); ``lora_A`` (``r × in``,
    Kaiming-uniform) and ``lora_B`` (``out × r``, zeros) are the trainable parameters;
    ``scaling = alpha / r``. While :attr:`merged`, ``W`` already holds ``W + (α/r)·B A`` and the
    forward is the base layer alone.
    """

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be an nn.Linear, got {type(base).__name__}")
        self.r = positive_int("r", r)
        self.alpha = _positive_number("alpha", alpha)
        self.scaling = self.alpha / self.r
        self.dropout = nn.Dropout(fraction("dropout", dropout))
        self.base = base.requires_grad_(False)
        w = base.weight
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, device=w.device, dtype=w.dtype))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, device=w.device, dtype=w.dtype))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # uniform(±1/√in), as nn.Linear and peft
        self.merged = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)  # x Wᵀ + b
        if self.merged:  # W already holds W + (α/r)·B A
            return y
        return y + self.scaling * (self.dropout(x) @ self.lora_A.T @ self.lora_B.T)

    def delta_weight(self) -> torch.Tensor:
        """``(α/r) · B A``: what the adapter adds to ``W`` (``out × in``)."""
        return self.scaling * (self.lora_B @ self.lora_A)

    @torch.no_grad()
    def merge(self) -> None:
        """``W ← W + (α/r)·B A`` (a no-op when already merged)."""
        if not self.merged:
            self.base.weight += self.delta_weight().to(self.base.weight.dtype)
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """``W ← W − (α/r)·B A``: the pretrained weight again, up to float rounding."""
        if self.merged:
            self.base.weight -= self.delta_weight().to(self.base.weight.dtype)
            self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}, dropout={self.dropout.p:g}, merged={self.merged}"


# ------------------------------------------------------------------------------ whole models


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """The :class:`LoRALinear` layers of ``model`` by name (``"layers.0.self_attn.q_proj"``)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def add_lora(
    model: nn.Module,
    targets: Sequence[str] = ("q_proj", "v_proj"),
    r: int = 8,
    alpha: float = 16.0,
    dropout: float = 0.0,
) -> list[str]:
    """Wrap every ``nn.Linear`` of ``model`` named in ``targets`` in a :class:`LoRALinear`, in place,
    and freeze all other parameters; returns the names of the wrapped layers.

    A target matches a layer whose full name equals it or ends with ``.target`` (as ``peft``'s
    ``target_modules``): ``"q_proj"`` wraps ``layers.N.self_attn.q_proj`` in every layer, and
    ``"layers.29.mlp.up_proj"`` wraps that one layer. A target that matches no ``nn.Linear`` is an
    error that lists the names there are.
    """
    if isinstance(targets, str) or not all(isinstance(t, str) for t in targets) or not targets:
        raise TypeError(f"targets must be a non-empty list of layer names, got {targets!r}")
    positive_int("r", r), _positive_number("alpha", alpha), fraction("dropout", dropout)
    if lora_layers(model):
        raise ValueError("model already has LoRA layers; add_lora wraps a model once")
    linear = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    chosen = {n for n in linear for t in targets if n == t or n.endswith("." + t)}
    unknown = [t for t in targets if not any(n == t or n.endswith("." + t) for n in linear)]
    if unknown:
        short = sorted({n.rsplit(".", 1)[-1] for n in linear})
        raise ValueError(
            f"targets {unknown} match no nn.Linear layer of the model; its Linear layers are named "
            f"{short} (or give a full name such as {next(iter(linear), '...')!r})"
        )
    model.requires_grad_(False)
    for name in sorted(chosen):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, LoRALinear(linear[name], r, alpha, dropout))
    return sorted(chosen)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameters of ``model`` (a tied embedding/LM head counted once)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def merge(model: nn.Module) -> None:
    """Fold every adapter into its weight: ``W ← W + (α/r)·B A`` (:meth:`LoRALinear.merge`)."""
    for layer in _layers_or_error(model).values():
        layer.merge()


def unmerge(model: nn.Module) -> None:
    """Take every adapter out of its weight again (:meth:`LoRALinear.unmerge`)."""
    for layer in _layers_or_error(model).values():
        layer.unmerge()


def _layers_or_error(model: nn.Module) -> dict[str, LoRALinear]:
    layers = lora_layers(model)
    if not layers:
        raise ValueError("model has no LoRA layers; wrap it with add_lora first")
    return layers


# ----------------------------------------------------------------------------- adapter files


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The adapter alone: ``{"<layer>.lora_A": A, "<layer>.lora_B": B}`` for every wrapped layer."""
    return {
        f"{name}.{part}": getattr(layer, part).detach()
        for name, layer in _layers_or_error(model).items()
        for part in ("lora_A", "lora_B")
    }


def save_lora(model: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write the adapter (:func:`lora_state_dict`) and its settings to a safetensors file.

    The file is written to a temporary name beside ``path``, flushed, then renamed over ``path``:
    an interrupted save leaves the old file or the new one, never half a file.
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a file path, got {type(path).__name__}")
    layers = _layers_or_error(model)
    first = next(iter(layers.values()))
    settings = {"r": first.r, "alpha": first.alpha, "dropout": first.dropout.p}
    if any((m.r, m.alpha, m.dropout.p) != tuple(settings.values()) for m in layers.values()):
        raise ValueError("save_lora needs the same r, alpha and dropout in every LoRA layer")
    tensors = {k: v.contiguous().cpu() for k, v in lora_state_dict(model).items()}
    meta = {"format": str(FORMAT), "settings": json.dumps(settings), "layers": json.dumps(list(layers))}
    data = safetensors_bytes(tensors, metadata=meta)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_lora(model: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """Load an adapter saved by :func:`save_lora` onto ``model`` and return it.

    A model without LoRA layers (the base model, freshly loaded) is wrapped first with the file's
    ``r``, ``alpha``, ``dropout`` and layers; a wrapped model must have exactly the file's layers.
    """
    if not isinstance(path, str | os.PathLike) or not Path(path).is_file():
        raise ValueError(f"path must be an adapter file written by save_lora, got {path!r}")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        if meta.get("format") != str(FORMAT):
            raise ValueError(f"{str(path)!r} is not a labkit LoRA adapter file (no format {FORMAT})")
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is no dict)
    settings, names = json.loads(meta["settings"]), json.loads(meta["layers"])
    if not lora_layers(model):
        add_lora(model, names, **settings)
    layers = lora_layers(model)
    if sorted(layers) != sorted(names):
        missing, extra = sorted(set(names) - set(layers)), sorted(set(layers) - set(names))
        raise ValueError(
            f"the adapter in {str(path)!r} does not fit the model's LoRA layers: "
            f"in the file only {missing[:4]}, in the model only {extra[:4]}"
        )
    for name, layer in layers.items():
        if layer.merged:
            raise ValueError(f"layer {name!r} is merged; unmerge the model before loading an adapter")
        for part in ("lora_A", "lora_B"):
            value, param = tensors[f"{name}.{part}"], getattr(layer, part)
            if value.shape != param.shape:
                raise ValueError(
                    f"{name}.{part} has shape {tuple(value.shape)} in the file but "
                    f"{tuple(param.shape)} in the model (another r or another model)"
                )
            with torch.no_grad():
                param.copy_(value)
    return model
