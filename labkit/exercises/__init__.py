"""Self-check exercises for the notebooks, one module per notebook: ``nb00``, ``nb01``, ...

In a notebook::

    from labkit.exercises import nb00 as ex
    ex.q1.check(answer)   # "Correct!" or what went wrong (never the expected answer)
    ex.q1.hint()
    ex.q1.solution()

This package holds the machinery (:mod:`labkit.exercises.core`); the exercises themselves, with
their solutions, are the separate package ``labkit_exercises`` (the ``exercises/`` folder of the
repository, installed by ``make lab``/``make test`` and on Binder and Colab). A class's students
install labkit without it, so an assignment's answer key is out of their reach: their notebooks
get the questions and hints from the teacher's export (:mod:`labkit.classroom`).

A module ``nbNN`` defines exercises ``q1``, ``q2``, ... as module attributes. :func:`modules`
and :func:`exercises_in` find them (the tests and the teacher export use these).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
from types import ModuleType
from typing import Any

from labkit.exercises.core import (
    ChoiceExercise,
    Exercise,
    ExplainExercise,
    Feedback,
    FunctionExercise,
    ValueExercise,
    WrongAnswer,
)

_MODULE_NAME = re.compile(r"nb\d\d")
#: The package that holds the exercises and their solutions.
PACKAGE = "labkit_exercises"
_MISSING = (
    "the exercises and their solutions are the separate package {package!r}, which is not "
    "installed: `pip install -e exercises/` from the course's folder (make lab does it). In a "
    "classroom assignment the notebook defines `ex` itself."
)


def _package() -> ModuleType:
    try:
        return importlib.import_module(PACKAGE)
    except ModuleNotFoundError as err:
        if err.name != PACKAGE:
            raise
        raise ModuleNotFoundError(_MISSING.format(package=PACKAGE), name=PACKAGE) from None


def available() -> bool:
    """True when the exercises package is installed (self-study, teachers); False for students."""
    try:
        return importlib.util.find_spec(PACKAGE) is not None
    except ImportError:
        return False


def module_names() -> list[str]:
    """Names of the per-notebook exercise modules, in order: ``["nb00", ...]``."""
    path = _package().__path__
    return sorted(m.name for m in pkgutil.iter_modules(path) if _MODULE_NAME.fullmatch(m.name))


def load(name: str) -> ModuleType:
    """Import the exercise module ``name`` (e.g. ``"nb00"``)."""
    if not isinstance(name, str) or not _MODULE_NAME.fullmatch(name):
        raise ValueError(f"exercise module: expected a name like 'nb00', got {name!r}")
    if name not in module_names():
        raise ValueError(f"exercise module: expected one of {module_names()}, got {name!r}")
    return importlib.import_module(f"{PACKAGE}.{name}")


def modules() -> dict[str, ModuleType]:
    """Every exercise module, imported: ``{"nb00": <module>, ...}``."""
    return {name: load(name) for name in module_names()}


def exercises_in(module: ModuleType) -> dict[str, Exercise | ExplainExercise]:
    """The exercises a module defines, by name: ``{"q1": ..., "q2": ...}``."""
    found = {
        name: obj
        for name, obj in vars(module).items()
        if isinstance(obj, Exercise | ExplainExercise)
    }
    return dict(sorted(found.items(), key=lambda item: (len(item[0]), item[0])))  # q2 < q10


def __getattr__(name: str) -> Any:
    """``from labkit.exercises import nb01`` imports ``labkit_exercises.nb01``."""
    if _MODULE_NAME.fullmatch(name):
        return load(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PACKAGE",
    "ChoiceExercise",
    "Exercise",
    "ExplainExercise",
    "Feedback",
    "FunctionExercise",
    "ValueExercise",
    "WrongAnswer",
    "available",
    "exercises_in",
    "load",
    "module_names",
    "modules",
]
