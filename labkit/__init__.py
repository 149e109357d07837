"""labkit — the implementations behind the LLM Lab notebooks.

Each module holds one idea (``data``, ``device``, ``exercises``, ...). The package-level helpers
are the ones every notebook uses:

- ``labkit.FAST``: ``True`` when the environment variable ``LABKIT_FAST`` is set to a true value;
  notebooks shrink data and steps so they run in seconds (the tests set it).
- ``labkit.seed(n)``: seed Python, NumPy and torch so a run is reproducible;
  ``labkit.generator(n)`` gives a seeded ``torch.Generator`` for one piece of work.
- ``labkit.SEED_OFFSET``: from ``LABKIT_SEED_OFFSET`` (default 0), added to every seed that goes
  through ``seed``, ``generator`` and ``seed_value``, so the same notebook can be rerun with other
  random draws (``make test-seeds``) and its claims checked for luck.
- ``labkit.claim(...)``: assert a claim about a stochastic outcome and record its margin
  (``labkit.claims``).
"""

from __future__ import annotations

import os
import random

__version__ = "0.1.0"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _env_flag(name: str) -> bool:
    """Read a boolean environment variable; anything unrecognised is an error, not a guess."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"environment variable {name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}")


FAST: bool = _env_flag("LABKIT_FAST")


def _env_offset(name: str) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw or "0")
    except ValueError:
        raise ValueError(f"environment variable {name} must be a whole number >= 0; got {raw!r}") from None
    if value < 0:
        raise ValueError(f"environment variable {name} must be a whole number >= 0; got {raw!r}")
    return value


SEED_OFFSET: int = _env_offset("LABKIT_SEED_OFFSET")


def seed_value(n: int) -> int:
    """The seed actually used for ``n``: ``(n + SEED_OFFSET) mod 2**32``.

    Pass it wherever a function takes a seed of its own, so that a seed sweep reaches it too.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"seed: n must be an int, got {type(n).__name__} ({n!r})")
    if not 0 <= n < 2**32:
        raise ValueError(f"seed: n must be in [0, 2**32), got {n}")
    return (n + SEED_OFFSET) % 2**32


def seed(n: int) -> int:
    """Seed Python's ``random``, NumPy and torch (all devices) with ``seed_value(n)``; returns it.

    The same seed gives the same numbers on CPU: the same initial weights, the same batches,
    the same loss curve. With ``LABKIT_SEED_OFFSET`` unset the seed is ``n`` itself.
    """
    actual = seed_value(n)
    import numpy as np
    import torch

    random.seed(actual)
    np.random.seed(actual)
    torch.manual_seed(actual)  # also seeds every CUDA/MPS device
    return actual


def generator(n: int, device: str | None = None):
    """A ``torch.Generator`` seeded with ``seed_value(n)``: a private random stream for one draw
    (data order, an initialisation) that no other cell's random numbers can shift."""
    import torch

    return torch.Generator(device=device or "cpu").manual_seed(seed_value(n))


def __getattr__(name: str):
    if name == "claim":  # imported on first use: labkit.claims needs pandas-free stdlib only
        from labkit.claims import claim

        return claim
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")


__all__ = ["FAST", "SEED_OFFSET", "__version__", "claim", "generator", "seed", "seed_value"]
