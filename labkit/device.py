"""Where tensors live: pick the best device, run mixed precision where it pays, describe the machine.

``best()`` prefers CUDA, then Apple's MPS, then the CPU. ``LABKIT_DEVICE=cpu`` (or ``cuda``,
``cuda:1``, ``mps``) overrides the choice. MPS has, in some torch releases, computed wrong
losses for ordinary models; before trusting it ``best()`` runs a tiny forward/backward pass on
both MPS and CPU and falls back to the CPU, with a warning, if the two disagree.
"""

from __future__ import annotations

import contextlib
import os
import platform
import warnings
from collections.abc import Callable

import torch

__all__ = ["as_device", "autocast", "best", "grad_scaler", "mps_agrees_with_cpu", "precision", "report"]


def as_device(device: str | torch.device | None = None) -> torch.device:
    """Turn ``None`` (meaning: the best available), a string or a ``torch.device`` into a device."""
    if device is None:
        return best()
    if isinstance(device, torch.device):
        return device
    if isinstance(device, str):
        try:
            return torch.device(device)
        except RuntimeError as err:
            raise ValueError(
                f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps'; got {device!r}"
            ) from err
    raise TypeError(f"device must be a str, torch.device or None; got {type(device).__name__}")


def _tiny_step(device: torch.device) -> torch.Tensor:
    """Loss and gradient of a fixed small MLP on fixed data, returned as one CPU vector."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 8, generator=g)
    w1 = torch.randn(8, 32, generator=g) * 0.3
    w2 = torch.randn(32, 5, generator=g) * 0.3
    y = torch.randint(0, 5, (16,), generator=g)
    x, w1, w2, y = (t.to(device) for t in (x, w1, w2, y))
    w1.requires_grad_(True)
    w2.requires_grad_(True)
    logits = torch.tanh(x @ w1) @ w2
    loss = torch.nn.functional.cross_entropy(logits, y)
    loss.backward()
    return torch.cat([loss.detach().reshape(1), w1.grad.flatten(), w2.grad.flatten()]).cpu()


def mps_agrees_with_cpu(device: str | torch.device = "mps", atol: float = 1e-4) -> bool:
    """True when a small forward/backward pass gives the same loss and gradients as on the CPU.

    Any error on the device counts as a disagreement.
    """
    try:
        other = _tiny_step(torch.device(device))
    except Exception:  # an unusable device is as bad as a wrong one
        return False
    return bool(torch.allclose(other, _tiny_step(torch.device("cpu")), atol=atol, rtol=1e-3))


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def best(check: Callable[[], bool] | None = None) -> torch.device:
    """The device to train on: ``$LABKIT_DEVICE`` if set, else cuda > mps (if it computes right) > cpu.

    ``check`` replaces the MPS sanity check (used by the tests).
    """
    override = os.environ.get("LABKIT_DEVICE", "").strip()
    if override:
        dev = as_device(override)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"LABKIT_DEVICE={override!r} but torch sees no CUDA device on this machine")
        if dev.type == "mps" and not _mps_available():
            raise ValueError(f"LABKIT_DEVICE={override!r} but torch sees no MPS device on this machine")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        if (check or mps_agrees_with_cpu)():
            return torch.device("mps")
        warnings.warn(
            "MPS is available but a small test computation disagreed with the CPU; "
            "using the CPU instead (set LABKIT_DEVICE=mps to force MPS).",
            RuntimeWarning,
            stacklevel=2,
        )
    return torch.device("cpu")


def precision(device: str | torch.device | None = None) -> str:
    """The mixed precision that fits ``device``: ``"bf16"``, ``"fp16"`` or ``"fp32"``.

    - CUDA with compute capability >= 8.0 (Ampere and later: A100, RTX 30xx, H100): ``"bf16"``,
      which the tensor cores run natively and which has float32's exponent range, so no scaling.
    - older CUDA GPUs (Volta, Turing: V100, Colab's free T4): ``"fp16"``; its 5-bit exponent makes
      small gradients underflow to 0, so training needs a gradient scaler (``grad_scaler``).
    - MPS and CPU: ``"fp32"``. Autocast on the CPU runs bf16 matmuls that are slower than float32
      on most CPUs; on MPS, fp16 autocast without a scaler is unsafe and bf16 depends on the macOS
      version, so labkit keeps float32 there.
    """
    dev = as_device(device)
    if dev.type != "cuda":
        return "fp32"
    major, _minor = torch.cuda.get_device_capability(dev)
    return "bf16" if major >= 8 else "fp16"


_AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: str | torch.device | None = None) -> contextlib.AbstractContextManager:
    """Mixed precision where it helps (see ``precision``): bf16 or fp16 autocast on CUDA, a no-op
    context elsewhere.

    Use as ``with labkit.device.autocast(device): loss = model(x, y)``. Weights and optimiser
    state stay float32; matrix multiplies run in the half-precision type on the GPU.
    """
    dev = as_device(device)
    kind = precision(dev)
    if kind == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=dev.type, dtype=_AMP_DTYPES[kind])


def grad_scaler(device: str | torch.device | None = None) -> torch.amp.GradScaler:
    """A gradient scaler that is enabled exactly when ``precision(device)`` is ``"fp16"``.

    fp16 autocast needs one: the loss is multiplied by a large factor ``s`` before ``backward`` so
    small gradients stay representable, and the gradients are divided by ``s`` again before the
    step (steps with inf/NaN gradients are skipped and ``s`` is lowered). Disabled, every call is
    a pass-through, so a training loop can use it unconditionally.
    """
    dev = as_device(device)
    enabled = precision(dev) == "fp16"
    return torch.amp.GradScaler(dev.type if dev.type == "cuda" else "cpu", enabled=enabled)


def _memory_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def report() -> dict[str, str]:
    """A short description of this machine and the chosen device, for the set-up notebook."""
    dev = best()
    mem = _memory_gib()
    info = {
        "Python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(dev),
        "CPU cores": str(os.cpu_count()),
        "memory (GiB)": f"{mem:.1f}" if mem is not None else "unknown",
        "platform": platform.platform(terse=True),
    }
    if dev.type == "cuda":
        info["GPU"] = torch.cuda.get_device_name(dev)
        major, minor = torch.cuda.get_device_capability(dev)
        info["compute capability"] = f"{major}.{minor}"
    info["mixed precision"] = {
        "bf16": "bf16 autocast (native on this GPU)",
        "fp16": "fp16 autocast with a gradient scaler (this GPU has no native bf16)",
        "fp32": "none: float32 throughout",
    }[precision(dev)]
    return info
