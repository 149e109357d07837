"""The classroom round trip with the real nbgrader: export two course notebooks, generate the
students' copies, autograde four submissions twice in a students' kernel, export the grades.

The four submissions of each notebook: the untouched release (0 points), the reference answers
with a warning and a stderr line thrown in (full points), the reference with one question
answered by a known mistake (full points less that question's), and an untouched copy whose
solution cells try every leak a student could (it may earn no more than its honest 0).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from labkit import classroom, exercises
from labkit.exercises import Exercise, ExplainExercise, FunctionExercise

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {"00_setup": "nb00", "01_nlp_basics": "nb01"}
STUDENTS = ("untouched", "reference", "one_wrong", "leaky")

LEAKS = '''\
import labkit.exercises.core as core

try:  # the answer key package: students do not have it, and grading refuses to run beside it
    from labkit.exercises import {module} as key
    {answer} = key.{q}.expected_value()
except Exception:
    pass
for leak in ("expected_value", "reference_function", "solution", "grade"):
    try:  # the students' ex knows questions and hints only
        getattr(ex.{q}, leak)()
    except AttributeError:
        pass
# switch grading off: patch the exercise classes and the students' check
core.ValueExercise.evaluate = lambda self, answer, seed=None: core.Feedback(True, "")
core.ValueExercise.score = lambda self, answer, seed=None: 1.0
core.FunctionExercise.evaluate = lambda self, answer, seed=None: core.Feedback(True, "")
type(ex.{q}).check = lambda *args, **kwargs: None


class Yes(float):  # equal to everything
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


'''


def _auto_points(module: str) -> dict[str, float]:
    found = exercises.exercises_in(exercises.load(module))
    return {q: e.points for q, e in found.items() if isinstance(e, Exercise)}


def _manual_points(module: str) -> float:
    found = exercises.exercises_in(exercises.load(module))
    return sum(e.points for e in found.values() if isinstance(e, ExplainExercise))


def _solution_cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {
        c.metadata.nbgrader["grade_id"]: c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }


def _submission(student: str, module: str, release: Path, source: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(release, as_version=4)
    if student == "untouched":
        return nb
    reference = _solution_cells(nbformat.read(source, as_version=4))
    found = exercises.exercises_in(exercises.load(module))
    functions = [q for q, e in found.items() if isinstance(e, FunctionExercise)]
    last = [q for q, e in found.items() if isinstance(e, Exercise)][-1]
    for q, cell in _solution_cells(nb).items():
        ex = found[q]
        check = f"ex.{q}.check({getattr(ex, 'answer_name', '')})"
        if student == "leaky":
            if isinstance(ex, ExplainExercise):
                continue
            answer = ex.answer_name
            attack = LEAKS.format(module=module, q=q, answer=answer)
            if isinstance(ex, FunctionExercise):
                attack += f"def {answer}(*args):\n    return Yes(0.0)\n"
            else:
                attack += f"{answer} = Yes(0.0)\n"
            if q == last:  # last, so the questions before it meet the other attacks alone
                attack += "import math\n\nmath.isclose = lambda *a, **k: True\n"
            cell.source = attack + check
            continue
        cell.source = reference[q].source
        if student == "reference" and q == functions[0]:  # a warning and stderr cost nothing
            name = ex.answer_name
            noisy = (
                f"import sys\nimport warnings\n\n_quiet_{name} = {name}\n\n\n"
                f"def {name}(*args):\n    warnings.warn('a learner warning')\n"
                f"    print('a learner note', file=sys.stderr)\n    return _quiet_{name}(*args)\n\n\n"
            )
            cell.source = cell.source.replace(check, noisy + check)
        if student == "one_wrong" and q == functions[0]:
            cell.source = ex.wrong_answers[0].code + "\n" + check
    return nb


def _nbgrader(course: Path, env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _grades(course: Path, env: dict[str, str]) -> dict[tuple[str, str], float]:
    _nbgrader(course, env, "export", "--to", "grades.csv")
    with open(course / "grades.csv", encoding="utf-8") as fh:
        return {(r["assignment"], r["student_id"]): float(r["raw_score"]) for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, student_kernel_root: Path) -> tuple[Path, list[dict], dict]:
    """The course folder after the whole round trip; the grades of both autograde runs."""
    notebooks = tmp_path_factory.mktemp("notebooks")
    for stem in NOTEBOOKS:
        (notebooks / f"{stem}.ipynb").write_bytes((ROOT / "notebooks" / f"{stem}.ipynb").read_bytes())
    course = tmp_path_factory.mktemp("course")
    classroom.export(course, notebooks_dir=notebooks)
    env = {**os.environ, "JUPYTER_PATH": str(student_kernel_root), "LABKIT_FAST": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    runs = []
    for stem, module in NOTEBOOKS.items():
        _nbgrader(course, env, "generate_assignment", stem)
        release = course / "release" / stem / f"{stem}.ipynb"
        for student in STUDENTS:
            folder = course / "submitted" / student / stem
            folder.mkdir(parents=True)
            nb = _submission(student, module, release, course / "source" / stem / f"{stem}.ipynb")
            nbformat.write(nb, folder / f"{stem}.ipynb")
    for _ in range(2):
        for stem in NOTEBOOKS:
            _nbgrader(course, env, "autograde", stem, "--create", "--force")
        runs.append(_grades(course, env))
    for stem in NOTEBOOKS:
        _nbgrader(course, env, "generate_feedback", stem, "--force")
    return course, runs, env


def test_grades_are_right_and_reproducible(graded) -> None:
    course, (first, second), _ = graded
    assert first == second, "the same submissions must get the same grades on every run"
    for stem, module in NOTEBOOKS.items():
        points = _auto_points(module)
        functions = [q for q, e in exercises.exercises_in(exercises.load(module)).items()
                     if isinstance(e, FunctionExercise)]  # fmt: skip
        full = sum(points.values())
        assert first[stem, "untouched"] == 0
        assert first[stem, "reference"] == full
        assert first[stem, "one_wrong"] == full - points[functions[0]]
        assert first[stem, "leaky"] == 0
    table = ["| notebook | " + " | ".join(STUDENTS) + " |", "|---" * (len(STUDENTS) + 1) + "|"]
    for stem in NOTEBOOKS:
        max_auto = sum(_auto_points(NOTEBOOKS[stem]).values())
        cells = [f"{first[stem, s]:g} / {second[stem, s]:g}" for s in STUDENTS]
        table.append(f"| {stem} (of {max_auto:g}) | " + " | ".join(cells) + " |")
    print("\n".join(table))


def test_every_leak_is_met(graded) -> None:
    """In the leaky submission each question's verdict names what stopped it."""
    course, _, _ = graded
    for stem in NOTEBOOKS:
        nb = nbformat.read(course / "autograded" / "leaky" / stem / f"{stem}.ipynb", as_version=4)
        lines = [
            "".join(o.get("text", "") for o in c.outputs if o.get("output_type") == "stream")
            for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
        ]
        assert "was replaced" in lines[-1]
        for line in lines[:-1]:
            assert " 0 of " in line and ("type Yes" in line or "Incorrect" in line), line


def test_students_copy_keeps_signatures_and_hides_the_answers(graded) -> None:
    course, _, _ = graded
    for stem, module in NOTEBOOKS.items():
        release = course / "release" / stem / f"{stem}.ipynb"
        assert release.stat().st_mode & 0o777 == 0o644
        nb = nbformat.read(release, as_version=4)
        text = "\n".join(c.source for c in nb.cells)
        assert "BEGIN HIDDEN TESTS" not in text and "_labkit_hidden_test" not in text
        assert "solution()" not in text and "labkit.exercises import" not in text
        for q, e in exercises.exercises_in(exercises.load(module)).items():
            if isinstance(e, FunctionExercise):
                cell = _solution_cells(nb)[q].source
                assert f"def {e.answer_name}(" in cell and '"""' in cell and "# YOUR CODE HERE" in cell
                assert e.solution_code.strip().splitlines()[-1].strip() not in cell
        manual = [c for c in nb.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")]
        assert sum(c.metadata.nbgrader["points"] for c in manual) == _manual_points(module)


def test_feedback_shows_verdicts_not_keys(graded) -> None:
    course, _, _ = graded
    for stem in NOTEBOOKS:
        for student in STUDENTS:
            html = (course / "feedback" / student / stem / f"{stem}.html").read_text(encoding="utf-8")
            assert "HIDDEN TESTS" not in html and "_labkit_hidden_test" not in html
        wrong = (course / "feedback" / "one_wrong" / stem / f"{stem}.html").read_text(encoding="utf-8")
        assert "Incorrect" in wrong


def test_grading_refuses_beside_the_answer_keys(tmp_path: Path) -> None:
    """Where labkit_exercises is installed (the teacher's own venv) a hidden test gives 0 and why."""
    from labkit.exercises import grading

    module = exercises.load("nb01")
    source = Path(module.__file__).read_text(encoding="utf-8")
    q = next(q for q, e in exercises.exercises_in(module).items() if isinstance(e, Exercise))
    answer = exercises.exercises_in(module)[q].run_solution()
    namespace = {exercises.exercises_in(module)[q].answer_name: answer}
    assert grading.grade("nb01", q, namespace, classroom.question_key(source, q), 2) == 0
