"""Self-check exercises: ``ex.q1.check(answer)``, ``ex.q1.hint()``, ``ex.q1.solution()``.

Four kinds of exercise:

- :class:`ValueExercise`: the learner computes a value (``answer = ...``); it is compared with
  the expected value (floats with a tolerance, ints and strings exactly, containers item by item).
- :class:`ChoiceExercise`: a multiple-choice prediction (``prediction = "b"``), made before an
  experiment is run.
- :class:`FunctionExercise`: the learner writes a function; it is called on a few fixed edge
  cases and on fresh random inputs (a new seed every check) and compared with the reference.
- :class:`ExplainExercise`: a written explanation, read by a person (a teacher, or the learner
  against the model answer).

``check`` is for learners: it shows "Correct!" or what went wrong (``evaluate`` returns the
verdict): the diagnosis of a known mistake (each exercise's :class:`WrongAnswer` list) or what is
wrong with the answer's form, never the expected value. It never raises for a wrong answer, nor
for an exception inside the learner's function (that is reported). ``grade`` is the strict form:
it raises ``AssertionError`` with the same message unless the answer is correct. A stub
(``answer = ...``, or a function whose body is ``...``/``pass`` or raises ``NotImplementedError``)
is reported as "Not attempted yet".

IPython is optional: in a notebook the feedback is rich output, anywhere else it is printed.
"""

from __future__ import annotations

import copy
import dis
import html
import math
import numbers
import random
import re
import reprlib
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ChoiceExercise",
    "Exercise",
    "ExplainExercise",
    "Feedback",
    "FunctionExercise",
    "ValueExercise",
    "WrongAnswer",
    "describe_mismatch",
    "grading_seed",
    "is_stub_function",
    "short_repr",
    "show",
]

NOT_ATTEMPTED = "Not attempted yet"

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxdict = 8
_repr.maxlist = 8


def short_repr(value: Any) -> str:
    """A repr short enough for one line of feedback (never raises, even for an int too long
    for ``repr``)."""
    try:
        return _repr.repr(value)
    except Exception:
        if isinstance(value, int):
            digits = int(abs(value).bit_length() * math.log10(2)) + 1
            return f"<an int of about {digits:,} digits>"
        return f"<{type(value).__name__} object>"


def _as_float(value: Any) -> float | None:
    """``float(value)``, or ``None`` when it has no float (e.g. an int beyond 1.8e308)."""
    try:
        return float(value)
    except Exception:
        return None


# --------------------------------------------------------------------------- comparison


def describe_mismatch(
    got: Any, expected: Any, rel_tol: float = 1e-6, abs_tol: float = 1e-9, reveal: bool = True
) -> str | None:
    """Why ``got`` differs from ``expected``, or ``None`` when they agree.

    Floats agree within ``rel_tol``/``abs_tol`` (``math.isclose``); ints, strings and other
    values must be equal. Dicts must have the same keys and agreeing values; lists and tuples
    the same length and agreeing items (recursively). ``bool`` is not accepted for a number.
    With ``reveal=False`` the reason names what is wrong (a type, a length, a key, the place of a
    wrong item) but never an expected value.
    """
    if isinstance(expected, bool) or expected is None:
        return None if got is expected else _differs(got, expected, reveal)
    if isinstance(expected, numbers.Integral):
        if isinstance(got, bool) or not isinstance(got, numbers.Integral):
            return f"expected an int, got {type(got).__name__} {short_repr(got)}"
        return None if got == expected else _differs(got, expected, reveal)
    if isinstance(expected, numbers.Real):
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            return f"expected a number, got {type(got).__name__} {short_repr(got)}"
        got_f, expected_f = _as_float(got), float(expected)
        if got_f is None:
            return f"{short_repr(got)} is too large for a float"
        if math.isclose(got_f, expected_f, rel_tol=rel_tol, abs_tol=abs_tol):
            return None
        return f"expected {expected_f:.6g}, got {got_f:.6g}" if reveal else f"{got_f:.6g} is not right"
    if isinstance(expected, str):
        if not isinstance(got, str):
            return f"expected a str, got {type(got).__name__} {short_repr(got)}"
        return None if got == expected else _differs(got, expected, reveal)
    if isinstance(expected, Mapping):
        return _mapping_mismatch(got, expected, rel_tol, abs_tol, reveal)
    if isinstance(expected, list | tuple):
        return _sequence_mismatch(got, expected, rel_tol, abs_tol, reveal)
    return None if _equal(got, expected) else _differs(got, expected, reveal)


def _differs(got: Any, expected: Any, reveal: bool) -> str:
    """The reason two unequal values differ: both values, or (``reveal=False``) only ``got``."""
    if reveal:
        return f"expected {short_repr(expected)}, got {short_repr(got)}"
    return f"{short_repr(got)} is not right"


def _equal(got: Any, expected: Any) -> bool:
    """``got == expected`` as a plain bool; False when that comparison fails or is ambiguous."""
    try:
        return bool(got == expected)
    except Exception:  # e.g. an array compared with a list: "truth value is ambiguous"
        return False


def _mapping_mismatch(
    got: Any, expected: Mapping, rel_tol: float, abs_tol: float, reveal: bool
) -> str | None:
    if not isinstance(got, Mapping):
        return f"expected a dict, got {type(got).__name__} {short_repr(got)}"
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    if missing:
        return f"missing key(s) {short_repr(missing)}"
    if extra:
        return f"unexpected key(s) {short_repr(extra)}"
    for key, value in expected.items():
        why = describe_mismatch(got[key], value, rel_tol, abs_tol, reveal)
        if why:
            return f"for key {key!r}: {why}"
    return None


def _sequence_mismatch(
    got: Any, expected: Sequence, rel_tol: float, abs_tol: float, reveal: bool
) -> str | None:
    kind = type(expected).__name__
    if not isinstance(got, list | tuple):
        return f"expected a {kind}, got {type(got).__name__} {short_repr(got)}"
    if len(got) != len(expected):
        return f"expected {len(expected)} items, got {len(got)}"
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        why = describe_mismatch(g, e, rel_tol, abs_tol, reveal)
        if why:
            return f"at index {i}: {why}"
    return None


# --------------------------------------------------------------------------- stubs


def is_stub_function(fn: Callable) -> bool:
    """True when ``fn``'s body does nothing: only ``...``, ``pass`` and/or a docstring."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return False
    ops = [
        (i.opname, i.argval)
        for i in dis.get_instructions(code)
        if i.opname not in {"RESUME", "NOP", "CACHE"}
    ]
    return ops in ([("LOAD_CONST", None), ("RETURN_VALUE", None)], [("RETURN_CONST", None)])


# --------------------------------------------------------------------------- feedback


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: ``passed`` and a message (shown by ``check``)."""

    passed: bool
    message: str
    attempted: bool = True

    @property
    def headline(self) -> str:
        """ "Correct!", "Incorrect" or "Not attempted yet"."""
        if self.passed:
            return "Correct!"
        return NOT_ATTEMPTED if not self.attempted else "Incorrect"

    def __str__(self) -> str:
        return f"{self.headline} — {self.message}" if self.message else self.headline

    def to_html(self) -> str:
        """The feedback as coloured HTML (`code` spans become <code>)."""
        colour = "#1a7f37" if self.passed else ("#9a6700" if not self.attempted else "#cf222e")
        body = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(self.message))
        return (
            f'<div style="color:{colour}; white-space:pre-wrap"><b>{html.escape(self.headline)}</b>'
            f"{' — ' + body if body else ''}</div>"
        )


def _in_ipython() -> bool:
    """True inside an IPython shell or Jupyter kernel (IPython is optional)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def show(plain: str, **rich: str) -> None:
    """Print ``plain``; in IPython display it with richer forms, e.g. ``markdown=`` or ``html=``."""
    if _in_ipython():
        from IPython.display import display

        bundle = {"text/plain": plain, **{f"text/{kind}": text for kind, text in rich.items()}}
        display(bundle, raw=True)
    else:
        print(plain)


# --------------------------------------------------------------------------- exercises


@dataclass(frozen=True)
class WrongAnswer:
    """A plausible wrong solution and what ``check`` tells a learner whose answer matches it.

    ``code`` runs like a solution (it defines the exercise's ``answer_name``); ``why`` names the
    mistake ("you computed the cross-entropy, not its exponential"), never the right answer.
    """

    code: str
    why: str


def grading_seed(exercise_name: str, module: str = "") -> int:
    """The fixed seed of an exercise's graded run: the same submission always gets the same inputs."""
    return zlib.crc32(f"{module}.{exercise_name}".encode())


@dataclass
class Exercise:
    """What every checked exercise has. Subclasses implement :meth:`evaluate`.

    ``name``: the attribute in the notebook's exercise module (``"q1"``);
    ``answer_name``: the variable or function the check cell passes (``"answer"``);
    ``solution_code``: the reference solution exactly as it would appear in the notebook cell,
    defining ``answer_name``; ``hint_text``: a nudge, not the answer;
    ``wrong_answers``: plausible mistakes with their diagnosis (:class:`WrongAnswer`): a learner
    whose answer matches one is told what went wrong, and the tests check each is rejected;
    ``given``: returns the names the notebook defines before the exercise cell (e.g. ``text``),
    so the solution code can be run outside the notebook; ``points``: its weight in a graded
    assignment.
    """

    name: str
    answer_name: str
    solution_code: str
    hint_text: str
    wrong_answers: list[WrongAnswer] = field(default_factory=list)
    given: Callable[[], dict[str, Any]] = field(default=dict)
    points: int = 1

    def evaluate(self, answer: Any, seed: int | None = None) -> Feedback:
        """Judge ``answer``; never raises for a wrong answer."""
        raise NotImplementedError

    def score(self, answer: Any, seed: int | None = None) -> float:
        """The fraction of this exercise's points that ``answer`` earns (0 or 1 unless it has parts)."""
        return 1.0 if self.evaluate(answer, seed=seed).passed else 0.0

    def check(self, answer: Any, seed: int | None = None) -> None:
        """Show whether ``answer`` is correct, and why not.

        Returns nothing, so a check cell shows only the message; ``evaluate(answer).passed``
        gives the verdict as a bool.
        """
        feedback = self.evaluate(answer, seed=seed)
        show(str(feedback), html=feedback.to_html())

    def grade(self, answer: Any, seed: int | None = None) -> None:
        """Strict check for autograding: raise ``AssertionError`` unless ``answer`` is correct."""
        feedback = self.evaluate(answer, seed=seed)
        if not feedback.passed:
            raise AssertionError(f"{self.name}: {feedback}")

    def hint(self) -> None:
        """Show the hint."""
        show(f"Hint: {self.hint_text}", markdown=f"**Hint:** {self.hint_text}")

    def solution(self) -> None:
        """Show the reference solution's code."""
        code = self.solution_code.strip("\n")
        show(f"Solution:\n{code}", markdown=f"**Solution:**\n```python\n{code}\n```")

    def run_solution(self, code: str | None = None) -> Any:
        """Run ``code`` (default: the solution) with the given names; return its ``answer_name``."""
        namespace = dict(self.given())
        exec(code if code is not None else self.solution_code, namespace)
        return namespace[self.answer_name]

    def _diagnosis(self, matches: Callable[[Any], bool]) -> str | None:
        """The ``why`` of the first wrong answer whose result ``matches``, or ``None``."""
        for wrong in self.wrong_answers:
            try:
                if matches(self.run_solution(wrong.code)):
                    return wrong.why
            except Exception:  # a wrong answer that cannot run on these inputs matches nothing
                continue
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}: check({self.answer_name}), hint(), solution()>"


@dataclass(repr=False)
class ValueExercise(Exercise):
    """The learner computes a value; it must match ``expected()`` (computed only when checked).

    ``expected`` defaults to running ``solution_code``. ``rel_tol``/``abs_tol`` apply to floats;
    ``compare(got, expected)`` may replace the comparison (return ``None`` or a reason). A wrong
    answer is told what is wrong with it (its type, its length, the diagnosis of a known mistake),
    never what the right value is. A dict answer has parts: :meth:`score` gives credit per key.
    """

    expected: Callable[[], Any] | None = None
    rel_tol: float = 1e-6
    abs_tol: float = 1e-9
    compare: Callable[[Any, Any], str | None] | None = None

    def expected_value(self) -> Any:
        """The correct answer (computed now, not at import)."""
        return self.expected() if self.expected is not None else self.run_solution()

    def _mismatch(self, got: Any, expected: Any) -> str | None:
        try:
            if self.compare is not None:
                return self.compare(got, expected)
            return describe_mismatch(got, expected, self.rel_tol, self.abs_tol, reveal=False)
        except Exception as err:  # an answer too odd to compare is wrong, never a crash
            return f"{short_repr(got)} cannot be compared with the answer ({type(err).__name__})"

    def evaluate(self, answer: Any, seed: int | None = None) -> Feedback:
        if answer is Ellipsis:
            return Feedback(
                False,
                f"replace `...` in `{self.answer_name} = ...` with your answer, then run the cell again.",
                attempted=False,
            )
        why = self._mismatch(answer, self.expected_value())
        if why is None:
            return Feedback(True, "")
        diagnosis = self._diagnosis(lambda wrong: self._mismatch(answer, wrong) is None)
        return Feedback(False, f"`{self.answer_name}`: {diagnosis or why}.")

    def score(self, answer: Any, seed: int | None = None) -> float:
        """1 for a correct answer; for a dict answer, the fraction of its keys that are right."""
        expected = self.expected_value()
        if self._mismatch(answer, expected) is None:
            return 1.0
        if self.compare is None and isinstance(expected, Mapping) and isinstance(answer, Mapping):
            right = sum(
                key in answer and self._mismatch(answer[key], value) is None
                for key, value in expected.items()
            )
            return right / len(expected)
        return 0.0


@dataclass(repr=False)
class ChoiceExercise(ValueExercise):
    """A multiple-choice answer (``"a"``, ``"b"``, ...): a prediction before an experiment is run.

    ``options`` maps each letter to its text; ``solution_code`` assigns the right letter; every
    other letter has a :class:`WrongAnswer` whose ``why`` explains what that choice overlooks.
    """

    options: dict[str, str] = field(default_factory=dict)

    def evaluate(self, answer: Any, seed: int | None = None) -> Feedback:
        if answer is not Ellipsis and answer not in self.options:
            letters = ", ".join(repr(k) for k in self.options)
            return Feedback(False, f"`{self.answer_name}` must be one of {letters}, got {short_repr(answer)}.")
        return super().evaluate(answer, seed)


@dataclass(repr=False)
class ExplainExercise:
    """A free-text answer, read by a person: "explain what you saw".

    In a notebook it is a markdown cell whose metadata is ``{"labkit": {"exercise": name}}``;
    in a graded assignment it becomes an nbgrader manually graded answer worth ``points``.
    ``model_answer`` is what a full-marks answer says (``solution()`` shows it); ``rubric`` how
    the points are split (shown to the teacher in the instructor copy).
    """

    name: str
    prompt: str
    model_answer: str
    rubric: str
    hint_text: str = ""
    points: int = 1

    def check(self, answer: Any = None) -> None:
        """Explanations are not checked by the computer: say so, and where to compare."""
        show(
            f"{self.name} is read by a person. Compare yours with ex.{self.name}.solution().",
            markdown=f"`{self.name}` is read by a person. Compare yours with `ex.{self.name}.solution()`.",
        )

    def hint(self) -> None:
        """Show the hint."""
        text = self.hint_text or self.rubric
        show(f"Hint: {text}", markdown=f"**Hint:** {text}")

    def solution(self) -> None:
        """Show a model answer."""
        show(f"A model answer:\n{self.model_answer}", markdown=f"**A model answer:** {self.model_answer}")

    def __repr__(self) -> str:
        return f"<ExplainExercise {self.name}: a written answer; hint(), solution()>"


@dataclass(repr=False)
class FunctionExercise(Exercise):
    """The learner writes a function; it must agree with the reference on every input.

    Inputs: the fixed ``edge_cases`` (tuples of arguments), then ``n_random`` argument tuples from
    ``make_inputs(rng)``, where ``rng`` is a ``random.Random`` seeded afresh on every check (pass
    ``seed=`` to reproduce a run; :meth:`grade` always uses the exercise's :func:`grading_seed`).
    ``reference`` defaults to the function ``solution_code`` defines. On a failing input the
    learner sees the input and what their function returned, and the diagnosis when the result is
    that of a known mistake, not the reference's result.
    """

    make_inputs: Callable[[random.Random], tuple] | None = None
    edge_cases: list[tuple] = field(default_factory=list)
    n_random: int = 5
    reference: Callable | None = None
    rel_tol: float = 1e-6
    abs_tol: float = 1e-9

    def reference_function(self) -> Callable:
        """The reference implementation."""
        return self.reference if self.reference is not None else self.run_solution()

    def adapt(self, fn: Callable) -> Callable:
        """How the inputs reach a function and its result comes back (here: unchanged)."""
        return fn

    def inputs(self, seed: int) -> list[tuple]:
        """The argument tuples one check uses: the edge cases, then random ones from ``seed``."""
        rng = random.Random(seed)
        randoms = [self.make_inputs(rng) for _ in range(self.n_random)] if self.make_inputs else []
        return [*self.edge_cases, *randoms]

    def grade(self, answer: Any, seed: int | None = None) -> None:
        """Strict check on the exercise's fixed grading inputs (the same verdict on every run)."""
        super().grade(answer, grading_seed(self.name) if seed is None else seed)

    def evaluate(self, answer: Any, seed: int | None = None) -> Feedback:
        stub_hint = (
            f"write the body of `{self.answer_name}` (replace `...`), then run the cell again."
        )
        if answer is Ellipsis or (callable(answer) and is_stub_function(answer)):
            return Feedback(False, stub_hint, attempted=False)
        if not callable(answer):
            return Feedback(
                False, f"expected a function, got {type(answer).__name__} {short_repr(answer)}."
            )
        seed = random.SystemRandom().getrandbits(32) if seed is None else seed
        reference, learner = self.adapt(self.reference_function()), self.adapt(answer)
        for args in self.inputs(seed):
            call = f"{self.answer_name}({', '.join(short_repr(a) for a in args)})"
            expected = reference(*copy.deepcopy(args))
            try:
                got = learner(*copy.deepcopy(args))
            except NotImplementedError:
                return Feedback(False, stub_hint, attempted=False)
            except Exception as err:  # the learner's bug: report it, never raise it
                return Feedback(False, f"{call} raised {type(err).__name__}: {err}")
            if got is None and expected is not None:
                return Feedback(False, f"{call} returned None — did you forget `return`?")
            try:
                why = describe_mismatch(got, expected, self.rel_tol, self.abs_tol, reveal=False)
            except Exception as err:  # a result too odd to compare is wrong, never a crash
                why = f"it cannot be compared with the reference ({type(err).__name__})"
            if why:
                diagnosis = self._diagnosis(
                    lambda wrong, args=args, got=got: describe_mismatch(
                        got, self.adapt(wrong)(*copy.deepcopy(args)), self.rel_tol, self.abs_tol
                    )
                    is None
                )
                return Feedback(
                    False,
                    f"{call} returned {short_repr(got)}: {diagnosis or why}. "
                    f"To repeat this check: check({self.answer_name}, seed={seed})",
                )
        return Feedback(
            True,
            f"passed {len(self.edge_cases)} edge cases and {self.n_random} random inputs.",
        )
