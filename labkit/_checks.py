"""Input checks shared by labkit's models, tokenizers and decoders.

Each check is a one-line call that returns the value (sometimes normalised) or raises a
``TypeError`` (wrong kind of thing) / ``ValueError`` (right kind, wrong value) whose message
names the argument, says what was expected and shows what was given. The math of every
``forward`` then starts on its first screen.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "describe",
    "finite_logits",
    "float_tensor",
    "fraction",
    "int_vector",
    "positive_int",
    "token_ids",
]


def describe(x: object) -> str:
    """A short account of what was given: dtype and shape of a tensor, else type and repr."""
    if isinstance(x, torch.Tensor):
        return f"a {x.dtype} tensor of shape {tuple(x.shape)}"
    text = repr(x)
    return f"{type(x).__name__} ({text if len(text) <= 60 else text[:57] + '...'})"


def positive_int(name: str, value: object) -> int:
    """An ``int`` ≥ 1 (``bool`` is not accepted as an int)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def fraction(name: str, value: object) -> float:
    """A probability such as a dropout rate: a number in ``[0, 1)``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


Dim = str | tuple[str, int]  # a free size by name ("batch"), or a fixed one ("d_model", 8)


def float_tensor(name: str, x: object, shape: tuple[Dim, ...]) -> torch.Tensor:
    """A floating-point tensor of ``len(shape)`` dimensions: a ``(name, size)`` entry of
    ``shape`` must match exactly, a plain name (e.g. ``"batch"``) may be any size, and
    ``"time"`` must be at least 1."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {describe(x)}")
    wanted = ", ".join(d if isinstance(d, str) else f"{d[0]}={d[1]}" for d in shape)
    fits = x.dim() == len(shape) and all(
        isinstance(d, str) or n == d[1] for n, d in zip(x.shape, shape, strict=True)
    )
    if not fits:
        raise ValueError(f"{name} must have shape ({wanted}), got shape {tuple(x.shape)}")
    if "time" in shape and x.shape[shape.index("time")] == 0:
        raise ValueError(f"{name} must hold at least one time step, got shape {tuple(x.shape)}")
    return x


def int_vector(name: str, value: object, device: torch.device | None = None) -> torch.Tensor:
    """A 1-D integer tensor (a list of ints is converted), e.g. one length per sequence."""
    try:
        t = torch.as_tensor(value, device=device)
    except (TypeError, ValueError, RuntimeError):
        t = None
    if t is None or t.dim() != 1 or t.is_floating_point() or t.dtype == torch.bool:
        raise TypeError(
            f"{name} must be a 1-D integer tensor or list of ints, got {describe(value)}"
        )
    return t


def token_ids(
    name: str,
    t: object,
    vocab_size: int,
    shape: tuple[int, int] | None = None,
    ignore: int | None = None,
) -> torch.Tensor:
    """Token ids: a ``(batch, time)`` integer tensor with values in ``[0, vocab_size)`` and at
    least one token per row (``shape``: the exact shape wanted; ``ignore``: a value allowed
    outside the range, such as the ``-100`` of targets that are left out of a loss)."""
    if not isinstance(t, torch.Tensor) or t.dtype not in (torch.long, torch.int):
        raise TypeError(f"{name} must be an integer tensor of token ids, got {describe(t)}")
    if t.dim() != 2 or t.shape[1] == 0:
        raise ValueError(
            f"{name} must have shape (batch, time) with time >= 1, got shape {tuple(t.shape)}"
        )
    if shape is not None and tuple(t.shape) != shape:
        raise ValueError(f"{name} must have the shape of idx {shape}, got {tuple(t.shape)}")
    valid = t if ignore is None else t[t != ignore]
    if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= vocab_size):
        raise ValueError(
            f"{name} must hold token ids in [0, {vocab_size}) (config.vocab_size={vocab_size}); "
            f"got values from {int(valid.min())} to {int(valid.max())}"
        )
    return t


def finite_logits(name: str, logits: object) -> torch.Tensor:
    """Scores over a vocabulary, ``(..., V)`` floats with ``V ≥ 1``: NaN and ``+∞`` are errors,
    ``−∞`` (a token ruled out) is fine as long as every row keeps at least one finite score.

    A NaN would otherwise turn into a token silently (``argmax`` and ``multinomial`` both pick
    *something*), so it is caught here, where the decision is made."""
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {describe(logits)}")
    if logits.dim() < 1 or logits.shape[-1] == 0:
        raise ValueError(f"{name} must have shape (..., vocab_size), got {tuple(logits.shape)}")
    if bool(torch.isnan(logits).any()) or bool((logits == math.inf).any()):
        raise ValueError(f"{name} must not hold NaN or +inf, got {describe(logits)} that does")
    if logits.numel() and not bool((logits > -math.inf).any(dim=-1).all()):
        raise ValueError(
            f"{name} has a row where every score is -inf (no token left to choose); "
            f"got {describe(logits)}"
        )
    return logits
