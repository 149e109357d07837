"""Self-check exercises for the notebooks, one module per notebook: ``nb00``, ``nb01``, ...

In a notebook::

    from labkit.exercises import nb00 as ex
    ex.q1.check(answer)   # "Correct!" or what went wrong; returns True/False
    ex.q1.hint()
    ex.q1.solution()

A module ``nbNN`` defines exercises ``q1``, ``q2``, ... (instances of :class:`ValueExercise` or
:class:`FunctionExercise`) as module attributes. :func:`modules` and
:func:`exercises_in` find them (the tests and the teacher export use these).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from types import ModuleType

from labkit.exercises.core import Exercise, Feedback, FunctionExercise, ValueExercise

_MODULE_NAME = re.compile(r"nb\d\d")


def module_names() -> list[str]:
    """Names of the per-notebook exercise modules, in order: ``["nb00", ...]``."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if _MODULE_NAME.fullmatch(m.name))


def load(name: str) -> ModuleType:
    """Import the exercise module ``name`` (e.g. ``"nb00"``)."""
    if not _MODULE_NAME.fullmatch(name) or name not in module_names():
        raise ValueError(f"exercise module: expected one of {module_names()}, got {name!r}")
    return importlib.import_module(f"{__name__}.{name}")


def modules() -> dict[str, ModuleType]:
    """Every exercise module, imported: ``{"nb00": <module>, ...}``."""
    return {name: load(name) for name in module_names()}


def exercises_in(module: ModuleType) -> dict[str, Exercise]:
    """The exercises a module defines, by name: ``{"q1": ..., "q2": ...}``."""
    found = {name: obj for name, obj in vars(module).items() if isinstance(obj, Exercise)}
    return dict(sorted(found.items(), key=lambda item: (len(item[0]), item[0])))  # q2 < q10


__all__ = [
    "Exercise",
    "Feedback",
    "FunctionExercise",
    "ValueExercise",
    "exercises_in",
    "load",
    "module_names",
    "modules",
]
