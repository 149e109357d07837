"""Function exercises on tensors: ``TensorFunctionExercise`` and the random inputs they use.

The inputs are plain nested lists (so a seed reproduces a check exactly and they print readably);
before each call they become tensors (float64, or int64 when a list holds only ints), and what
the learner's function and the reference return (tensors, or tuples of tensors) is turned back
into nested lists and compared value by value by :func:`labkit.exercises.core.describe_mismatch`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labkit.exercises.core import FunctionExercise

__all__ = ["TensorFunctionExercise", "random_matrix", "random_vector", "tensor_io"]


def to_tensor(arg: Any) -> Any:
    """A nested list becomes a tensor: float64 if it holds floats, int64 if only ints."""
    import torch

    if not isinstance(arg, list):
        return arg
    t = torch.tensor(arg)
    return torch.tensor(arg, dtype=torch.float64) if t.is_floating_point() else t


def to_plain(value: Any) -> Any:
    """Tensors (also inside a tuple or list) become nested lists, which the checks compare."""
    if isinstance(value, tuple | list):
        return type(value)(to_plain(v) for v in value)
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def tensor_io(fn: Callable) -> Callable:
    """``fn`` called with tensors made from the plain arguments, its result made plain again."""

    def call(*args: Any) -> Any:
        return to_plain(fn(*(to_tensor(a) for a in args)))

    return call


@dataclass(repr=False)
class TensorFunctionExercise(FunctionExercise):
    """A :class:`FunctionExercise` whose inputs and outputs are tensors (or tuples of tensors)."""

    def adapt(self, fn: Callable) -> Callable:
        """``fn`` called with tensors made from the plain inputs, its result made plain again."""
        return tensor_io(fn)


def random_vector(rng: random.Random, n: int, scale: float = 1.0) -> list[float]:
    """``n`` normal numbers with standard deviation ``scale``, rounded to 3 decimals."""
    return [round(rng.gauss(0.0, scale), 3) for _ in range(n)]


def random_matrix(rng: random.Random, rows: int, cols: int, scale: float = 1.0) -> list[list[float]]:
    """A ``rows`` × ``cols`` nested list of :func:`random_vector` rows."""
    return [random_vector(rng, cols, scale) for _ in range(rows)]
