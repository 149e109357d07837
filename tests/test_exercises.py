"""The self-check exercises: every exercise accepts its solution and rejects its wrong answers;
stubs are "not attempted"; function checks use fresh random inputs; learner errors are reported."""

from __future__ import annotations

import ast
import math
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labkit import exercises
from labkit.exercises import (
    ChoiceExercise,
    Exercise,
    ExplainExercise,
    FunctionExercise,
    ValueExercise,
    WrongAnswer,
)
from labkit.exercises.core import describe_mismatch, is_stub_function, short_repr

EVERY = [
    (mod, name, ex)
    for mod, module in exercises.modules().items()
    for name, ex in exercises.exercises_in(module).items()
]
ALL = [(mod, name, ex) for mod, name, ex in EVERY if isinstance(ex, Exercise)]
IDS = [f"{mod}.{name}" for mod, name, _ in ALL]
WRONG = [(f"{mod}.{name}", ex, wrong) for mod, name, ex in ALL for wrong in ex.wrong_answers]
EXPLAIN = [(f"{mod}.{name}", ex) for mod, name, ex in EVERY if isinstance(ex, ExplainExercise)]
CHOICE = [(f"{mod}.{name}", ex) for mod, name, ex in ALL if isinstance(ex, ChoiceExercise)]


def test_modules_are_discovered() -> None:
    assert "nb00" in exercises.module_names()
    assert [name for mod, name, _ in EVERY if mod == "nb00"][:2] == ["q1", "q2"]
    with pytest.raises(ValueError, match="nb99"):
        exercises.load("nb99")
    from labkit.exercises import nb00  # the package's __getattr__ imports labkit_exercises.nb00

    assert nb00.__name__ == f"{exercises.PACKAGE}.nb00" and exercises.available()


@pytest.mark.parametrize(("mod", "name", "ex"), ALL, ids=IDS)
def test_exercise_is_complete(mod: str, name: str, ex: Exercise) -> None:
    assert ex.name == name
    assert ex.hint_text.strip() and ex.wrong_answers and ex.points >= 1
    assert all(isinstance(w, WrongAnswer) and len(w.why) > 15 for w in ex.wrong_answers)
    defined = {
        node.id if isinstance(node, ast.Name) else node.name
        for stmt in ast.parse(ex.solution_code).body
        for node in ([stmt] if isinstance(stmt, ast.FunctionDef) else getattr(stmt, "targets", []))
    }
    assert ex.answer_name in defined, f"{mod}.{name}: solution_code must define {ex.answer_name}"


@pytest.mark.parametrize(("mod", "name", "ex"), ALL, ids=IDS)
def test_reference_solution_passes(
    mod: str, name: str, ex: Exercise, capsys: pytest.CaptureFixture
) -> None:
    answer = ex.run_solution()
    assert ex.evaluate(answer).passed is True
    assert ex.check(answer) is None
    assert "Correct!" in capsys.readouterr().out
    ex.grade(answer)  # does not raise


@pytest.mark.parametrize(
    ("label", "ex", "wrong"), WRONG, ids=[f"{label}-{i}" for i, (label, _, _) in enumerate(WRONG)]
)
def test_wrong_answers_fail_with_their_diagnosis(
    label: str, ex: Exercise, wrong: WrongAnswer, capsys: pytest.CaptureFixture
) -> None:
    answer = ex.run_solution(wrong.code)
    feedback = ex.evaluate(answer)
    assert feedback.passed is False
    # the diagnosis of this mistake (or of an earlier one in the list that gives the same result)
    earlier = ex.wrong_answers[: ex.wrong_answers.index(wrong) + 1]
    assert any(w.why in feedback.message for w in earlier), feedback.message
    assert ex.check(answer) is None
    out = capsys.readouterr().out
    assert "Incorrect" in out
    with pytest.raises(AssertionError, match="Incorrect"):
        ex.grade(answer)
    assert ex.score(answer) < 1


SEEDS = range(40)
FUNCTION_WRONG = [(label, ex, w) for label, ex, w in WRONG if isinstance(ex, FunctionExercise)]


@pytest.mark.parametrize(
    ("label", "ex", "wrong"),
    FUNCTION_WRONG,
    ids=[f"{label}-{i}" for i, (label, _, _) in enumerate(FUNCTION_WRONG)],
)
def test_function_mistakes_fail_with_their_diagnosis_on_every_seed(
    label: str, ex: FunctionExercise, wrong: WrongAnswer
) -> None:
    """Not only on a lucky draw of random inputs: on each of 40 seeds."""
    answer = ex.run_solution(wrong.code)
    earlier = ex.wrong_answers[: ex.wrong_answers.index(wrong) + 1]
    for seed in SEEDS:
        feedback = ex.evaluate(answer, seed=seed)
        assert not feedback.passed, f"seed {seed}"
        assert any(w.why in feedback.message for w in earlier), f"seed {seed}: {feedback.message}"


@pytest.mark.parametrize(("mod", "name", "ex"), ALL, ids=IDS)
def test_solutions_pass_on_every_seed(mod: str, name: str, ex: Exercise) -> None:
    answer = ex.run_solution()
    assert all(ex.evaluate(answer, seed=s).passed for s in SEEDS)


@pytest.mark.parametrize(
    ("label", "ex", "wrong"), WRONG, ids=[f"{label}-{i}" for i, (label, _, _) in enumerate(WRONG)]
)
def test_feedback_never_shows_the_expected_value(label: str, ex: Exercise, wrong: WrongAnswer) -> None:
    if not isinstance(ex, ValueExercise):
        return  # a function's feedback shows the learner's result on one input, not the reference's
    expected = ex.expected_value()
    message = ex.evaluate(ex.run_solution(wrong.code)).message
    shown = [short_repr(expected)]
    if isinstance(expected, float):
        shown += [f"{expected:.6g}", f"{expected:.4g}", f"{expected:.3f}"]
    assert not any(s in message for s in shown if len(s) > 1), message


@pytest.mark.parametrize(("label", "ex"), CHOICE, ids=[label for label, _ in CHOICE])
def test_every_wrong_option_has_its_diagnosis(label: str, ex: ChoiceExercise) -> None:
    right = ex.expected_value()
    assert right in ex.options and len(ex.options) >= 2
    diagnosed = {ex.run_solution(w.code) for w in ex.wrong_answers}
    assert diagnosed == set(ex.options) - {right}
    assert "must be one of" in str(ex.evaluate("z"))


@pytest.mark.parametrize(("label", "ex"), EXPLAIN, ids=[label for label, _ in EXPLAIN])
def test_explain_exercises_have_a_model_answer_and_rubric(
    label: str, ex: ExplainExercise, capsys: pytest.CaptureFixture
) -> None:
    assert ex.prompt.strip() and ex.model_answer.strip() and ex.rubric.strip() and ex.points >= 1
    ex.check()
    ex.solution()
    out = capsys.readouterr().out
    assert "read by a person" in out and ex.model_answer.strip()[:40] in out


def test_every_notebook_has_an_experiment() -> None:
    """At least one predict-then-run experiment per notebook: a prediction and an explanation."""
    for mod, module in exercises.modules().items():
        found = exercises.exercises_in(module).values()
        assert any(isinstance(ex, ChoiceExercise) for ex in found), mod
        assert any(isinstance(ex, ExplainExercise) for ex in found), mod


FUNCTION_STUBS = {
    "ellipsis": "def {name}(*args):\n    ...\n",
    "docstring": 'def {name}(*args):\n    """TODO."""\n    ...\n',
    "pass": "def {name}(*args):\n    pass\n",
    "not-implemented": "def {name}(*args):\n    raise NotImplementedError\n",
}


def _stubs(ex: Exercise) -> list[object]:
    """What a learner's untouched stub passes: ``...``, or a do-nothing function."""
    if isinstance(ex, FunctionExercise):
        return [
            ex.run_solution(code.format(name=ex.answer_name)) for code in FUNCTION_STUBS.values()
        ]
    return [...]


@pytest.mark.parametrize(("mod", "name", "ex"), ALL, ids=IDS)
def test_stubs_are_not_attempted(
    mod: str, name: str, ex: Exercise, capsys: pytest.CaptureFixture
) -> None:
    for stub in _stubs(ex):
        assert ex.evaluate(stub).passed is False
        assert ex.check(stub) is None
        assert "Not attempted yet" in capsys.readouterr().out
        with pytest.raises(AssertionError, match="Not attempted yet"):
            ex.grade(stub)


FUNCTIONS = [(f"{mod}.{name}", ex) for mod, name, ex in ALL if isinstance(ex, FunctionExercise)]


@pytest.mark.parametrize(("label", "ex"), FUNCTIONS, ids=[label for label, _ in FUNCTIONS])
def test_function_checks_use_fresh_random_inputs(label: str, ex: FunctionExercise) -> None:
    reference = ex.reference_function()
    seen: list[list[tuple]] = []

    def spy(*args):
        seen[-1].append(args)
        return reference(*args)

    for _ in range(3):
        seen.append([])
        assert ex.evaluate(spy).passed
    randoms = [tuple(calls[len(ex.edge_cases) :]) for calls in seen]
    assert all(len(r) == ex.n_random > 0 for r in randoms)
    assert len(set(randoms)) == 3, "each check must draw new random inputs"
    assert ex.inputs(seed=7) == ex.inputs(seed=7), "a seed reproduces a check"


@pytest.mark.parametrize(("label", "ex"), FUNCTIONS, ids=[label for label, _ in FUNCTIONS])
def test_exception_in_learner_function_is_reported(
    label: str, ex: FunctionExercise, capsys: pytest.CaptureFixture
) -> None:
    def broken(*args):
        return 1 / 0

    assert ex.evaluate(broken).passed is False
    assert ex.check(broken) is None
    assert "raised ZeroDivisionError: division by zero" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        ex.grade(broken)


def test_function_feedback_names_the_failing_input(capsys: pytest.CaptureFixture) -> None:
    from labkit.exercises import nb00

    def forgot_return(text):
        {c: text.count(c) / len(text) for c in text}

    assert nb00.q2.evaluate(forgot_return).passed is False
    assert nb00.q2.check(forgot_return) is None
    assert "did you forget `return`" in capsys.readouterr().out
    assert nb00.q2.evaluate(42).passed is False
    assert nb00.q2.check(42) is None
    assert "expected a function, got int" in capsys.readouterr().out

    def counts(text):
        return {c: text.count(c) for c in text}

    message = str(nb00.q2.evaluate(counts, seed=1))
    assert "char_frequencies('aaab') returned {'a': 3, 'b': 1}" in message
    assert "0.75" not in message, "the reference's result is never shown"
    assert "seed=1" in message


def test_value_feedback_diagnoses_without_revealing() -> None:
    ex = ValueExercise(
        name="q9",
        answer_name="answer",
        solution_code="answer = 0.5\n",
        hint_text="h",
        wrong_answers=[WrongAnswer("answer = 1.0\n", why="you forgot to halve it")],
    )
    assert ex.evaluate(0.5 + 1e-12).passed
    assert "0.6 is not right" in str(ex.evaluate(0.6)) and "0.5" not in str(ex.evaluate(0.6))
    assert "you forgot to halve it" in str(ex.evaluate(1.0))
    assert "expected a number, got str" in str(ex.evaluate("0.5"))
    strict = ValueExercise(
        name="q9", answer_name="answer", solution_code="answer = 3\n", hint_text="h"
    )
    assert "expected an int, got float" in str(strict.evaluate(3.0))
    custom = ValueExercise(
        name="q9",
        answer_name="answer",
        solution_code="answer = 3\n",
        hint_text="h",
        compare=lambda got, exp: None if got == exp else "nope",
    )
    assert custom.evaluate(3.0).passed and "nope" in str(custom.evaluate(4))


def test_describe_mismatch_containers() -> None:
    assert describe_mismatch({"a": 1.0}, {"a": 1.0 + 1e-12}) is None
    assert "missing key(s) ['b']" in describe_mismatch({"a": 1.0}, {"a": 1.0, "b": 2.0})
    assert "unexpected key(s) ['c']" in describe_mismatch({"a": 1.0, "c": 0}, {"a": 1.0})
    assert "at index 1" in describe_mismatch([1, 2], [1, 3])
    assert "expected 2 items, got 1" in describe_mismatch([1], (1, 2))
    assert "expected an int, got bool" in describe_mismatch(True, 1)
    assert describe_mismatch("x", None) == "expected None, got 'x'"
    assert describe_mismatch({"a": 2.0}, {"a": 1.0}, reveal=False) == "for key 'a': 2 is not right"
    assert describe_mismatch("b", "a", reveal=False) == "'b' is not right"

    class Ambiguous:
        def __eq__(self, other):
            raise ValueError("truth value is ambiguous")

    assert "expected {1}, got" in describe_mismatch(Ambiguous(), {1})


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(json_like)
def test_describe_mismatch_accepts_equal_values(value: object) -> None:
    assert describe_mismatch(value, value) is None


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6))
def test_describe_mismatch_float_tolerance(x: float) -> None:
    assert describe_mismatch(x * (1 + 1e-9), x) is None
    assert describe_mismatch(x + 1.0, x) is not None or math.isclose(x + 1.0, x, rel_tol=1e-6)


def test_is_stub_function() -> None:
    namespace: dict = {}
    exec(
        "def a(x): ...\ndef b(x):\n    'doc'\n    pass\ndef c(x): return x\ndef d(x): x = 1\n",
        namespace,
    )
    assert is_stub_function(namespace["a"]) and is_stub_function(namespace["b"])
    assert not is_stub_function(namespace["c"]) and not is_stub_function(namespace["d"])
    assert not is_stub_function(len)


def test_hint_and_solution_print_outside_ipython(capsys: pytest.CaptureFixture) -> None:
    from labkit.exercises import nb00

    nb00.q2.hint()
    assert "Hint:" in capsys.readouterr().out
    nb00.q2.solution()
    assert nb00.q2.solution_code.strip() in capsys.readouterr().out


def test_feedback_html_is_escaped() -> None:
    from labkit.exercises.core import Feedback

    html = Feedback(False, "`x` got <script>").to_html()
    assert "&lt;script&gt;" in html and "Incorrect" in html and "<code>x</code>" in html


def test_without_the_exercises_package_the_error_says_what_to_install() -> None:
    code = (
        "import sys\n"
        "class NoAnswerKeys:\n"
        "    @staticmethod\n"
        "    def find_spec(name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'labkit_exercises':\n"
        "            raise ModuleNotFoundError(name, name=name)\n"
        "sys.meta_path.insert(0, NoAnswerKeys)\n"
        "import labkit.exercises as e\n"
        "assert not e.available()\n"
        "from labkit.exercises import nb00\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "pip install -e exercises/" in result.stderr and "classroom" in result.stderr


def test_exercises_import_headless_without_ipython() -> None:
    code = (
        "import sys; sys.modules['IPython'] = None\n"
        "from labkit.exercises import nb00 as ex\n"
        "def char_frequencies(text): ...\n"
        "assert ex.q2.evaluate(char_frequencies).passed is False\n"
        "assert ex.q2.check(char_frequencies) is None\n"
        "ex.q2.solution()\n"
        "assert 'torch' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Not attempted yet" in result.stdout and "def char_frequencies" in result.stdout


def test_check_never_raises_on_numbers_too_large_for_a_float(capsys: pytest.CaptureFixture) -> None:
    from labkit.exercises import nb00

    def huge(text):
        return {c: 10**400 for c in text}  # an int: float(10**400) raises OverflowError

    assert nb00.q2.check(huge) is None
    out = capsys.readouterr().out
    assert "Incorrect" in out and "too large for a float" in out
    with pytest.raises(AssertionError, match="too large for a float"):
        nb00.q2.grade(huge)
    value = ValueExercise(
        name="q9", answer_name="answer", solution_code="answer = 0.5\n", hint_text="h"
    )
    assert value.check(10**400) is None
    assert "too large for a float" in capsys.readouterr().out
    # an int too long for repr() (over 4,300 digits) is described, not raised
    strict = ValueExercise(
        name="q9", answer_name="answer", solution_code="answer = 3\n", hint_text="h"
    )
    assert "an int of about 5,001 digits" in str(strict.evaluate(10**5000))


def test_check_never_raises_when_the_comparison_itself_fails() -> None:
    def broken_compare(got, expected):
        raise OverflowError("boom")

    ex = ValueExercise(
        name="q9", answer_name="answer", solution_code="answer = 3\n", hint_text="h",
        compare=broken_compare,
    )  # fmt: skip
    feedback = ex.evaluate(4)
    assert not feedback.passed and "cannot be compared" in feedback.message
