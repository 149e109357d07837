"""Grading one answer of a classroom assignment: the code that nbgrader's hidden tests run.

An exported assignment (:mod:`labkit.classroom`) has, for each checked exercise, a read-only grade
cell whose hidden test (stripped from the students' copy) holds the exercise module's source (the
answer key) and calls :func:`grade`. :func:`grade` scores the student's answer and returns the
points earned, which nbgrader reads as the cell's (partial) credit.

What it guarantees, and how:

- **Nothing in the student's kernel gives the answer away.** Students install labkit without the
  ``labkit_exercises`` package; their ``ex`` (:class:`labkit.classroom.Questions`) knows the
  questions and hints only. Each hidden test carries only its own question's key, which arrives
  after the student's cells for that question ran. Grading refuses to run (0 points, and why)
  where ``labkit_exercises`` is installed: there the student's code could import every key.
- **A solution cell cannot switch grading off.** The hidden test loads this file afresh from disk
  and, from it, fresh copies of :mod:`labkit.exercises.core` and :mod:`labkit.exercises.tensors`:
  a patched ``ex``, a patched exercise class or module attribute is never used. An answer is made
  plain data (floats, ints, strings, lists, dicts) before it is compared, so an object whose
  ``__eq__`` always says yes earns nothing. A tripwire refuses to grade (0 points, with the reason)
  when a built-in function the comparison relies on has been replaced.
- **The same submission gets the same score.** Function exercises run on the exercise's fixed
  inputs (:func:`labkit.exercises.core.grading_seed`), with Python's and torch's generators seeded.
- **Warnings cost nothing.** Everything the student's code writes to stderr (Python warnings,
  torch's C++ warnings) is captured: nbgrader gives 0 to a grade cell that writes to stderr.

- **The notebook's history holds no key.** Before the student's code is called, every hidden
  test is blanked in IPython's input history (``In``, ``_i``…) and in the line cache.

What it cannot do: the student's code runs in the grader's own Python process (that is how
nbgrader works), so code that rewrites the interpreter (walks stack frames, edits files on disk)
is out of any in-process grader's reach; nbgrader's documentation says the same. Such code is in
the submission for the teacher to see.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import importlib.util
import io
import linecache
import math
import numbers
import os
import random
import sys
import tempfile
import types
import warnings
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["grade", "pack", "plain", "unpack"]

_MACHINERY = ("labkit.exercises.core", "labkit.exercises.tensors")
# built-ins and math functions the comparison relies on; a student's replacement is a Python
# function, never the built-in of that name
_TRUSTED = [
    (builtins, ("abs", "float", "int", "isinstance", "len", "min", "max", "repr", "sorted", "zip")),
    (math, ("isclose", "isfinite", "exp", "log")),
]


def pack(text: str) -> str:
    """``text`` compressed to one short ASCII line (how a hidden test carries its answer key)."""
    return base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")


def unpack(packed: str) -> str:
    """The text :func:`pack` packed."""
    return zlib.decompress(base64.b64decode(packed)).decode("utf-8")


class _Unplain(TypeError):
    """An answer that is not plain data."""


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as plain Python data: bool, int, float, str, None, and lists, tuples and dicts of
    them; tensors and NumPy values become their ``tolist()``. Anything else raises TypeError."""
    if depth > 20:
        raise _Unplain("the answer is nested more than 20 levels deep")
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) in (list, tuple):
        return type(value)(plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return {plain(k, depth + 1): plain(v, depth + 1) for k, v in value.items()}
    module = type(value).__module__.split(".")[0]
    if module in ("torch", "numpy") and hasattr(value, "tolist"):
        if hasattr(value, "detach"):
            value = value.detach().cpu()
        return plain(value.tolist(), depth + 1)
    if isinstance(value, numbers.Real) and module in ("numpy", "fractions", "decimal"):
        return float(value)
    raise _Unplain(f"an answer of type {type(value).__name__} (expected numbers, strings, lists or dicts)")


def _tampered() -> str | None:
    """The first trusted built-in that is not the original any more, or ``None``."""
    for module, names in _TRUSTED:
        for name in names:
            obj = getattr(module, name, None)
            if isinstance(obj, type):
                if obj.__module__ != "builtins" or obj.__name__ != name:
                    return f"{module.__name__}.{name}"
            elif not isinstance(obj, types.BuiltinFunctionType) or obj.__name__ != name:
                return f"{module.__name__}.{name}"
    return None


def _fresh_module(name: str) -> types.ModuleType:
    """Module ``name`` executed afresh from its file, not the (patchable) one in sys.modules."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ImportError(f"grading needs {name}, which is not installed")
    module = types.ModuleType(name)
    module.__file__ = spec.origin
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    with open(spec.origin, encoding="utf-8") as fh:
        exec(compile(fh.read(), spec.origin, "exec"), module.__dict__)
    return module


@contextlib.contextmanager
def _fresh_machinery() -> Iterator[dict[str, types.ModuleType]]:
    """Fresh copies of the exercise machinery in sys.modules while the key loads and grades."""
    saved = {name: sys.modules.get(name) for name in _MACHINERY}
    try:
        yield {name: _fresh_module(name) for name in _MACHINERY}
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Capture everything written to stderr (Python's and the C library's) and every warning."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saved_fd = None
        try:
            saved_fd = os.dup(2)
            os.dup2(sink.fileno(), 2)
        except OSError:  # no file descriptor 2 (some embedded interpreters): Python-level only
            saved_fd = None
        try:
            with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
                yield
        finally:
            if saved_fd is not None:
                os.dup2(saved_fd, 2)
                os.close(saved_fd)


_MARK = "_labkit_hidden_test"


def _forget_hidden_tests() -> None:
    """Blank every hidden test (each holds a key) in IPython's input history and line cache, so
    the student's function, called while grading, cannot read it there."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        history = shell.history_manager
        for cache in (history.input_hist_parsed, history.input_hist_raw):
            cache[:] = ["" if _MARK in text else text for text in cache]
        history.db_input_cache[:] = [
            entry if not any(_MARK in str(part) for part in entry) else (entry[0], "", "")
            for entry in history.db_input_cache
        ]
        for name, value in list(shell.user_ns.items()):
            if name.startswith("_i") and isinstance(value, str) and _MARK in value:
                shell.user_ns[name] = ""
    for filename, entry in list(linecache.cache.items()):
        if len(entry) > 2 and any(_MARK in line for line in entry[2] or ()):
            del linecache.cache[filename]


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def _plain_results(fn: Any, core: types.ModuleType) -> Any:
    """``fn`` with its results made plain data (a stub stays a stub, so it reads as one)."""
    if core.is_stub_function(fn):
        return fn

    def plain_fn(*args: Any) -> Any:
        return plain(fn(*args))

    return plain_fn


def _score(module: str, question: str, namespace: Mapping[str, Any], key_source: str) -> tuple[float, str]:
    """(fraction of the points earned, the feedback line) for one answer."""
    with _fresh_machinery() as fresh:
        core = fresh["labkit.exercises.core"]
        key_module = types.ModuleType(f"_labkit_answer_key_{module}_{question}")
        sys.modules[key_module.__name__] = key_module  # dataclasses look their module up
        try:
            exec(compile(key_source, f"<answer key {module}>", "exec"), key_module.__dict__)
            return _score_with(key_module.__dict__, core, module, question, namespace)
        finally:
            del sys.modules[key_module.__name__]


def _score_with(
    key: dict[str, Any], core: types.ModuleType, module: str, question: str, namespace: Mapping[str, Any]
) -> tuple[float, str]:
    """(fraction, feedback line) for one answer, given the loaded answer key."""
    exercise = key.get(question)
    if not isinstance(exercise, core.Exercise):
        raise LookupError(f"the answer key of {module} has no checked exercise {question!r}")
    raw = namespace.get(exercise.answer_name, Ellipsis)
    if isinstance(exercise, core.FunctionExercise):
        seed = core.grading_seed(question, module)
        _seed_everything(seed)
        answer = _plain_results(raw, core) if callable(raw) else raw
        feedback = exercise.evaluate(answer, seed=seed)
        return (1.0 if feedback.passed else 0.0), str(feedback)
    answer = raw if raw is Ellipsis else plain(raw)
    feedback = exercise.evaluate(answer)
    fraction = 0.0 if raw is Ellipsis else exercise.score(answer)
    return fraction, str(feedback)


def _answer_key_installed() -> bool:
    """True when the exercises package (every answer key) can be imported here."""
    try:
        return importlib.util.find_spec("labkit_exercises") is not None
    except ImportError:
        return False


def grade(module: str, question: str, namespace: Mapping[str, Any], key_source: str, points: float) -> float:
    """Score the answer to ``question`` found in ``namespace``; print one line; return the points.

    ``module`` is the exercise module's name (``"nb01"``), ``key_source`` its source text (the
    answer key, which the hidden test carries), ``points`` what the question is worth.
    """
    tampered = _tampered()
    if _answer_key_installed():
        earned, line = 0.0, (
            "not graded: the exercises package (labkit_exercises, every answer key) is installed "
            "where this notebook runs, so the student's code could import the answers. Grade in "
            "the students' environment: labkit without llm-lab-exercises."
        )
    elif tampered is not None:
        earned, line = 0.0, f"not graded: {tampered} was replaced in this notebook"
    else:
        try:
            _forget_hidden_tests()
            with _quiet():
                fraction, line = _score(module, question, namespace, key_source)
            earned = round(points * fraction, 2)
        except _Unplain as err:
            earned, line = 0.0, f"Incorrect — {err}."
        except Exception as err:  # never a traceback (stderr) in a grade cell: 0, and why
            earned, line = 0.0, f"could not grade: {type(err).__name__}: {err}"
    print(f"{question}: {earned:g} of {points:g} points. {line}")
    return earned
