"""Claims about stochastic outcomes: assert them with a margin, and record that margin.

A notebook checks two kinds of things. An *identity* (labkit equals torch, the hand computation
equals autograd) holds to a float tolerance on every machine; a plain ``assert`` says it. A
*claim* is about the outcome of random training: "clipping lowers the loss peak", "the LSTM ends
below the RNN". It holds only because the effect is large next to how the outcome moves with the
seed and with the machine's rounding, so a claim is written as

    claim("clipping lowers the worst loss", clipped_peak, below=plain_peak - 1.0)

which asserts ``clipped_peak < plain_peak - 1.0`` and returns the margin
``(plain_peak - 1.0) - clipped_peak``. When ``LABKIT_CLAIMS_LOG`` names a file, every claim also
appends one JSON line to it (statement, value, bound, margin, seed offset, fast or full mode);
``benchmarks/seed_sweep.py`` reruns notebooks under several seed offsets and tabulates those lines,
so each claim's smallest margin over seeds is measured, not hoped for.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

__all__ = ["LOG_ENV", "claim"]

LOG_ENV = "LABKIT_CLAIMS_LOG"


def _as_float(name: str, value: object) -> float:
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"claim: {name} must be a number, got {type(value).__name__} ({value!r})")
    try:
        return float(value)  # also takes a 0-d tensor or a NumPy scalar
    except (TypeError, ValueError):
        raise TypeError(f"claim: {name} must be a number, got {type(value).__name__} ({value!r})") from None


def claim(statement: str, value: object, *, above: object = None, below: object = None) -> float:
    """Assert ``value > above`` or ``value < below`` (exactly one bound) and return the margin.

    The margin is ``value - above`` or ``below - value``: positive when the claim holds, and the
    distance by which the outcome could move before it would fail. A NaN value fails.
    """
    if not isinstance(statement, str) or not statement.strip():
        raise TypeError(f"claim: statement must be a non-empty str, got {statement!r}")
    if (above is None) == (below is None):
        raise ValueError("claim: give exactly one of above= or below=")
    v = _as_float("value", value)
    if above is not None:
        bound, relation = _as_float("above", above), "above"
        margin = v - bound
    else:
        bound, relation = _as_float("below", below), "below"
        margin = bound - v
    _record(statement, v, relation, bound, margin)
    if not margin > 0:  # also catches NaN
        raise AssertionError(
            f"claim failed: {statement}: {v:.6g} is not {relation} {bound:.6g} (margin {margin:.3g}). "
            "This is a claim about a random outcome; it held on every seed it was checked on "
            "(benchmarks/seed_sweep.py). If you changed nothing above, please report the seed and machine."
        )
    return margin


def _record(statement: str, value: float, relation: str, bound: float, margin: float) -> None:
    path = os.environ.get(LOG_ENV, "").strip()
    if not path:
        return
    import labkit

    line = {
        "statement": statement,
        "value": value if math.isfinite(value) else str(value),
        "relation": relation,
        "bound": bound,
        "margin": margin if math.isfinite(margin) else str(margin),
        "seed_offset": labkit.SEED_OFFSET,
        "fast": labkit.FAST,
    }
    with Path(path).open("a", encoding="utf-8") as f:  # one short line: appends are atomic enough
        f.write(json.dumps(line) + "\n")
