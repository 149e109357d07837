"""labkit — the implementations behind the LLM Lab notebooks.

Each module holds one idea (``data``, ``device``, ``exercises``, ...). The package-level helpers
are the ones every notebook uses:

- ``labkit.FAST``: ``True`` when the environment variable ``LABKIT_FAST`` is set to a true value;
  notebooks shrink data and steps so they run in seconds (the tests set it).
- ``labkit.seed(n)``: seed Python, NumPy and torch so a run is reproducible.
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


def seed(n: int) -> int:
    """Seed Python's ``random``, NumPy and torch (all devices) with ``n``; returns ``n``.

    The same seed gives the same numbers on CPU: the same initial weights, the same batches,
    the same loss curve.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"seed: n must be an int, got {type(n).__name__} ({n!r})")
    if not 0 <= n < 2**32:
        raise ValueError(f"seed: n must be in [0, 2**32), got {n}")
    import numpy as np
    import torch

    random.seed(n)
    np.random.seed(n)
    torch.manual_seed(n)  # also seeds every CUDA/MPS device
    return n


__all__ = ["FAST", "__version__", "seed"]
