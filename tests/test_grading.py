"""What a hidden test does with an answer (labkit.exercises.grading), outside nbgrader: plain data
only, credit per part, fixed inputs, warnings and stderr swallowed, patches ignored."""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import pytest
import torch

from labkit import classroom, exercises
from labkit.exercises import ValueExercise, WrongAnswer, grading
from labkit.exercises.core import FunctionExercise, grading_seed

KEY = '''\
from labkit.exercises.core import FunctionExercise, ValueExercise, WrongAnswer

q1 = ValueExercise(
    name="q1", answer_name="answer", solution_code="answer = {'mean': 0.5, 'count': 3}\\n",
    hint_text="h", points=2,
    wrong_answers=[WrongAnswer("answer = {'mean': 1.0, 'count': 3}\\n", why="you forgot to halve it")],
)


from dataclasses import dataclass


@dataclass
class _Size:  # a dataclass in a key needs its module in sys.modules while it is defined
    most: int = 5


def _inputs(rng):
    return ([rng.random() for _ in range(rng.randint(1, _Size().most))],)


q2 = FunctionExercise(
    name="q2", answer_name="total", solution_code="def total(xs):\\n    return sum(xs)\\n",
    hint_text="h", make_inputs=_inputs, edge_cases=[([],)], n_random=5,
    wrong_answers=[WrongAnswer("def total(xs):\\n    return max(xs, default=0)\\n", why="that is the largest")],
)
'''


@pytest.fixture(autouse=True)
def _no_answer_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Grade as in a students' environment: the exercises package cannot be imported."""
    monkeypatch.setattr(grading, "_answer_key_installed", lambda: False)


def test_value_answers_earn_credit_per_part(capsys: pytest.CaptureFixture) -> None:
    assert grading.grade("nbXX", "q1", {"answer": {"mean": 0.5, "count": 3}}, KEY, 2) == 2
    assert grading.grade("nbXX", "q1", {"answer": {"mean": 0.7, "count": 3}}, KEY, 2) == 1
    assert grading.grade("nbXX", "q1", {"answer": {"mean": 1.0, "count": 3}}, KEY, 2) == 1
    assert "you forgot to halve it" in capsys.readouterr().out
    assert grading.grade("nbXX", "q1", {"answer": ...}, KEY, 2) == 0
    assert grading.grade("nbXX", "q1", {}, KEY, 2) == 0
    out = capsys.readouterr().out
    assert "Not attempted yet" in out and "0.5" not in out


def test_objects_that_equal_everything_earn_nothing(capsys: pytest.CaptureFixture) -> None:
    class Yes(float):
        def __eq__(self, other):
            return True

        __hash__ = float.__hash__

    assert grading.grade("nbXX", "q1", {"answer": {"mean": Yes(0), "count": 3}}, KEY, 2) == 0
    assert "type Yes" in capsys.readouterr().out
    assert grading.grade("nbXX", "q2", {"total": lambda xs: Yes(0)}, KEY, 1) == 0


def test_function_answers_are_graded_on_fixed_inputs_and_never_raise(capsys) -> None:
    calls: list[list] = []

    def total(xs):
        calls.append(list(xs))
        warnings.warn("a learner warning", stacklevel=2)  # warnings and stderr cost nothing
        print("a learner note", file=sys.stderr)
        return sum(xs)

    assert grading.grade("nbXX", "q2", {"total": total}, KEY, 3) == 3
    first = list(calls)
    assert grading.grade("nbXX", "q2", {"total": total}, KEY, 3) == 3
    assert calls[len(first):] == first, "every grade uses the same inputs"
    out, err = capsys.readouterr()
    assert err == "" and out.count("q2: 3 of 3 points") == 2
    assert grading.grade("nbXX", "q2", {"total": lambda xs: 1 / 0}, KEY, 3) == 0
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert grading.grade("nbXX", "q2", {"total": lambda xs: max(xs, default=0)}, KEY, 3) == 0
    assert "that is the largest" in capsys.readouterr().out


def test_patched_exercise_classes_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from labkit.exercises import core

    monkeypatch.setattr(core.ValueExercise, "score", lambda self, answer, seed=None: 1.0)
    monkeypatch.setattr(core.FunctionExercise, "evaluate", lambda *a, **k: core.Feedback(True, ""))
    assert grading.grade("nbXX", "q1", {"answer": {"mean": 9, "count": 9}}, KEY, 2) == 0
    assert grading.grade("nbXX", "q2", {"total": lambda xs: 0.5}, KEY, 1) == 0


def test_replaced_builtins_stop_grading(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(math, "isclose", lambda *a, **k: True)
    assert grading.grade("nbXX", "q1", {"answer": {"mean": 9, "count": 3}}, KEY, 2) == 0
    assert "math.isclose was replaced" in capsys.readouterr().out


def test_grading_refuses_where_the_answer_keys_are_installed(monkeypatch, capsys) -> None:
    monkeypatch.setattr(grading, "_answer_key_installed", lambda: True)
    assert grading.grade("nbXX", "q1", {"answer": {"mean": 0.5, "count": 3}}, KEY, 2) == 0
    assert "students' environment" in capsys.readouterr().out


def test_plain_accepts_data_and_tensors_only() -> None:
    assert grading.plain({"a": [1, 2.5, "x", None, True], "b": (1,)}) == {
        "a": [1, 2.5, "x", None, True], "b": (1,)}  # fmt: skip
    assert grading.plain(torch.tensor([[1.0, 2.0]])) == [[1.0, 2.0]]
    for odd in (object(), {1, 2}, lambda: 0):
        with pytest.raises(TypeError):
            grading.plain(odd)
    deep: list = []
    for _ in range(30):
        deep = [deep]
    with pytest.raises(TypeError, match="nested"):
        grading.plain(deep)
    assert grading.unpack(grading.pack("clé ✓")) == "clé ✓"


def test_every_course_question_is_graded_right_from_its_own_key() -> None:
    """For every checked exercise of the course: the reference earns full points, the first
    known mistake less, both from the question's key alone, as the hidden test runs it."""
    for name, module in exercises.modules().items():
        source = Path(module.__file__).read_text(encoding="utf-8")
        for q, ex in exercises.exercises_in(module).items():
            if not isinstance(ex, ValueExercise | FunctionExercise):
                continue
            key = classroom.question_key(source, q)
            right = {ex.answer_name: ex.run_solution()}
            assert grading.grade(name, q, right, key, ex.points) == ex.points, f"{name}.{q}"
            wrong = {ex.answer_name: ex.run_solution(ex.wrong_answers[0].code)}
            assert grading.grade(name, q, wrong, key, ex.points) < ex.points, f"{name}.{q}"


def test_grading_seed_is_fixed_per_question() -> None:
    assert grading_seed("q1", "nb01") == grading_seed("q1", "nb01") != grading_seed("q2", "nb01")
    assert isinstance(WrongAnswer("x = 1", why="w"), WrongAnswer)


@pytest.mark.parametrize(
    "answer",
    [float("nan"), float("inf"), 10**400, "", [], {}, None, list(range(100_000))],
    ids=["nan", "inf", "huge-int", "empty-str", "empty-list", "empty-dict", "none", "huge-list"],
)
def test_odd_answers_earn_nothing_and_never_raise(answer, capsys: pytest.CaptureFixture) -> None:
    assert grading.grade("nbXX", "q1", {"answer": answer}, KEY, 2) == 0
    out, err = capsys.readouterr()
    assert out.startswith("q1: 0 of 2 points.") and err == ""
    assert grading.grade("nbXX", "q2", {"total": lambda xs: answer}, KEY, 1) == 0


def test_a_nan_part_costs_only_that_part() -> None:
    assert grading.grade("nbXX", "q1", {"answer": {"mean": float("nan"), "count": 3}}, KEY, 2) == 1
