"""Teacher export: instructor notebooks in nbgrader's source format, checked against nbgrader's
cell-metadata schema (v3), and executed top to bottom with every autograder cell passing."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import jsonschema
import nbformat
import pytest
from nbclient import NotebookClient

from labkit import classroom, exercises
from labkit.cli import main as cli_main
from labkit.exercises import Exercise, ExplainExercise, FunctionExercise

ROOT = Path(__file__).resolve().parents[1]
COURSE_NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# nbgrader's cell metadata schema, version 3 (nbgrader/nbgraderformat/v3.json), plus the rules
# its validator adds: a grade_id whenever grade/solution/locked, points whenever grade, unique ids.
NBGRADER_V3 = {
    "type": "object",
    "properties": {
        "schema_version": {"type": "integer", "minimum": 3, "maximum": 3},
        "grade": {"type": "boolean"},
        "locked": {"type": "boolean"},
        "solution": {"type": "boolean"},
        "task": {"type": "boolean"},
        "grade_id": {"type": "string", "pattern": r"^[a-zA-Z0-9_\-]*$"},
        "points": {"type": "number", "minimum": 0},
        "checksum": {"type": "string", "minLength": 32, "maxLength": 32},
        "cell_type": {"enum": ["raw", "code", "markdown"]},
    },
    "required": ["schema_version", "grade", "locked", "solution"],
    "additionalProperties": False,
}


def validate_nbgrader(nb: nbformat.NotebookNode) -> None:
    """Raise unless every nbgrader cell follows schema v3 and nbgrader's validator rules."""
    ids: set[str] = set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        jsonschema.validate(meta, NBGRADER_V3)
        if meta["grade"] or meta["solution"] or meta["locked"]:
            assert meta.get("grade_id"), f"nbgrader cell without grade_id: {cell.source!r}"
            assert meta["grade_id"] not in ids, f"duplicate grade_id {meta['grade_id']}"
            ids.add(meta["grade_id"])
        if meta["grade"]:
            assert "points" in meta
        if cell.cell_type == "markdown":
            assert meta["grade"] == meta["solution"], (
                "markdown nbgrader cells must be grade AND solution"
            )


def _stub_cell(ex: exercises.Exercise, alias: str = "ex") -> str:
    """An exercise cell as a notebook author writes it: instructions, stub, check."""
    if isinstance(ex, FunctionExercise):
        sol = next(n for n in ast.parse(ex.solution_code).body if isinstance(n, ast.FunctionDef))
        args = ", ".join(a.arg for a in sol.args.args)
        stub = f'def {ex.answer_name}({args}):\n    """What it returns."""\n    ...  # your code\n\n'
    else:
        stub = f"{ex.answer_name} = ...  # your answer\n"
    return f"# Exercise {ex.name}: do the thing.\n# (more instructions)\n\n{stub}{alias}.{ex.name}.check({ex.answer_name})\n"


def _course_cells(module: str) -> list[nbformat.NotebookNode]:
    """The exercise cells of ``module``: a checked cell each, an answer cell per explanation."""
    cells = []
    for ex in exercises.exercises_in(exercises.load(module)).values():
        if isinstance(ex, ExplainExercise):
            cells.append(nbformat.v4.new_markdown_cell(f"**{ex.name}.** {ex.prompt}"))
            answer = nbformat.v4.new_markdown_cell("_Your answer:_ ")
            answer.metadata["labkit"] = {"exercise": ex.name}
            cells.append(answer)
        else:
            cells.append(nbformat.v4.new_code_cell(_stub_cell(ex)))
    return cells


def make_course_notebook(path: Path, module: str = "nb01") -> Path:
    """A small notebook in the course's shape that uses every exercise of ``module``."""
    found = exercises.exercises_in(exercises.load(module))
    given = {k: v for e in found.values() if isinstance(e, Exercise) for k, v in e.given().items()}
    givens = [f"{name} = {value!r}" for name, value in given.items()]
    assert all(len(line) < 5000 for line in givens), "the tiny notebook needs small given values"
    cells = [
        nbformat.v4.new_markdown_cell(f"# {module} · a tiny course notebook"),
        nbformat.v4.new_markdown_cell(
            "## Exercises\n\n`check` prints **Correct!**; `ex.q1.solution()` shows a solution."
        ),
        nbformat.v4.new_code_cell(f"from labkit.exercises import {module} as ex"),
        nbformat.v4.new_code_cell("\n".join(givens)),
        *_course_cells(module),
        nbformat.v4.new_markdown_cell("## Summary\n\nStuck? `ex.q2.solution()` shows one. Done."),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A notebooks folder: one notebook with exercises, one without, one that is not a course notebook."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    make_course_notebook(folder / "00_tiny.ipynb")
    plain = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x = 1  # no exercises here")]
    )
    (folder / "01_plain.ipynb").write_text(json.dumps(plain, indent=2), encoding="utf-8")
    (folder / "scratch.ipynb").write_text(nbformat.writes(plain), encoding="utf-8")
    return folder


def test_export_writes_an_nbgrader_course_folder(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "classroom"
    written = classroom.export(out, notebooks_dir=course)
    target = out / "source" / "00_tiny" / "00_tiny.ipynb"
    assert written == [out / "nbgrader_config.py", target]  # the plain notebook is no assignment
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in written)
    assert sorted(p.name for p in target.parent.iterdir()) == ["00_tiny.ipynb"]  # no temp files

    nb = nbformat.read(target, as_version=4)
    nbformat.validate(nb)
    validate_nbgrader(nb)
    meta = [c.metadata.get("nbgrader") for c in nb.cells]
    imports = [c for c in nb.cells if "Questions(" in c.source]
    assert imports[0].metadata.nbgrader == {
        "grade": False,
        "grade_id": "exercises_import",
        "locked": True,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    assert "labkit.exercises" not in imports[0].source
    for name, ex in exercises.exercises_in(exercises.load("nb01")).items():
        i = next(i for i, m in enumerate(meta) if m and m["grade_id"] == name)
        if isinstance(ex, ExplainExercise):
            answer = nb.cells[i]
            assert answer.cell_type == "markdown" and ex.model_answer.strip() in answer.source
            assert answer.metadata.nbgrader["points"] == ex.points and "labkit" not in answer.metadata
            continue
        solution, test = nb.cells[i], nb.cells[i + 1]
        assert solution.source.startswith(f"# Exercise {name}: do the thing.\n# (more instructions)\n")
        assert solution.source.endswith(f"ex.{name}.check({ex.answer_name})")
        assert "### BEGIN SOLUTION" in solution.source and "### END SOLUTION" in solution.source
        if isinstance(ex, FunctionExercise):  # the def line and docstring stay; markers inside
            assert f"def {ex.answer_name}(" in solution.source.split("### BEGIN SOLUTION")[0]
            assert '    """What it returns."""' in solution.source
            assert "    ### BEGIN SOLUTION" in solution.source
        assert solution.metadata.nbgrader == {
            "grade": False,
            "grade_id": name,
            "locked": False,
            "schema_version": 3,
            "solution": True,
            "task": False,
        }
        visible, hidden = test.source.split("### BEGIN HIDDEN TESTS")
        assert f"{name} ({ex.points} point" in visible and "grade" in visible
        assert hidden.rstrip().endswith("### END HIDDEN TESTS")
        assert test.metadata.nbgrader == {
            "grade": True,
            "grade_id": f"{name}_test",
            "locked": True,
            "points": ex.points,
            "schema_version": 3,
            "solution": False,
            "task": False,
        }
    assert len({c.id for c in nb.cells}) == len(nb.cells)
    text = "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "solution()" not in text and "Correct!" not in text
    assert nb.cells[0].source.startswith("# nb01")


def test_each_hidden_test_carries_only_its_own_key() -> None:
    module = exercises.load("nb01")
    source = Path(module.__file__).read_text(encoding="utf-8")
    checked = [q for q, e in exercises.exercises_in(module).items() if isinstance(e, Exercise)]
    for q in checked:
        key = classroom.question_key(source, q)
        namespace: dict = {}
        exec(key, namespace)
        assert namespace[q].name == q
        others = [o for o in checked if o != q]
        assert not any(o in namespace for o in others), f"{q}'s key holds another question"
        assert exercises.exercises_in(module)[q].solution_code.strip() in key or q in key


def test_export_keeps_a_teachers_edits_and_cli_works(
    course: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "classroom"
    assert cli_main(["classroom", "export", str(out), "--notebooks", str(course)]) == 0
    target = out / "source" / "00_tiny" / "00_tiny.ipynb"
    assert str(target) in capsys.readouterr().out
    first = target.read_text(encoding="utf-8")
    classroom.export(out, notebooks_dir=course)
    assert target.read_text(encoding="utf-8") == first  # re-exports diff cleanly
    target.write_text(first.replace("do the thing", "do the thing well"), encoding="utf-8")
    with pytest.raises(FileExistsError, match="00_tiny.ipynb"):
        classroom.export(out, notebooks_dir=course)
    assert "do the thing well" in target.read_text(encoding="utf-8")  # the edit survives
    assert cli_main(["classroom", "export", str(out), "--notebooks", str(course)]) == 2
    assert "--force" in capsys.readouterr().err
    classroom.export(out, notebooks_dir=course, force=True)
    assert target.read_text(encoding="utf-8") == first


def test_export_rejects_bad_input(course: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="notebooks_dir"):
        classroom.export(tmp_path / "out", notebooks_dir=tmp_path / "missing")
    with pytest.raises(ValueError, match="differ"):
        classroom.export(course, notebooks_dir=course)
    nb = nbformat.read(course / "00_tiny.ipynb", as_version=4)
    checked = [e for e in exercises.exercises_in(exercises.load("nb01")).values() if isinstance(e, Exercise)]
    q, name = checked[-1].name, checked[-1].answer_name
    for cell in nb.cells:
        cell.source = cell.source.replace(f"ex.{q}.check({name})", f"ex.{q}.check(freqs)")
    with pytest.raises(ValueError, match=f"{q}.check expects '{name}'"):
        classroom.assignment_notebook(nb)
    nb.cells[-1] = nbformat.v4.new_code_cell("ex.q7.check(answer)")
    nb.cells = [c for c in nb.cells if "check(freqs)" not in c.source]
    with pytest.raises(ValueError, match="no checked exercise q7"):
        classroom.assignment_notebook(json.loads(nbformat.writes(nb)))


def test_students_ex_offers_check_and_hint_only(capsys: pytest.CaptureFixture) -> None:
    ex = classroom.Questions("nb01", {
        "q1": {"answer": "answer", "kind": "value", "points": 2, "hint": "count"},
        "q2": {"answer": "f", "kind": "function", "points": 1, "hint": "loop"},
        "q3": {"answer": "p", "kind": "choice", "points": 1, "hint": "h", "options": {"a": "x", "b": "y"}},
    })  # fmt: skip
    for leak in ("expected_value", "reference_function", "solution", "solution_code", "grade"):
        with pytest.raises(AttributeError):
            getattr(ex.q1, leak)
    with pytest.raises(AttributeError, match="q1"):
        ex.q9  # noqa: B018
    ex.q1.check(...)
    assert "Not attempted yet" in capsys.readouterr().out
    ex.q1.check(0.25)
    assert "graded when you submit" in capsys.readouterr().out
    ex.q2.check(3)
    assert "expected a function" in capsys.readouterr().out
    ex.q3.check("z")
    assert "must be one of 'a', 'b'" in capsys.readouterr().out
    ex.q1.hint()
    assert "count" in capsys.readouterr().out


def _run(path: Path, cwd: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    # nbclient plays an ipywidgets front end for Output widgets and sends their state back on the
    # shell channel while it waits for replies there, which can block a cell forever (nbclient
    # issue 312); the grade cells do not need widget state, so that part is left out.
    client.comm_open_handlers = {"jupyter.widget": lambda msg: None}
    client.execute()
    return nb


def _points(cell: nbformat.NotebookNode) -> float | None:
    """The partial credit a grade cell reports (its result), as nbgrader reads it."""
    results = [o for o in cell.outputs if o.get("output_type") == "execute_result"]
    return float(results[0]["data"]["text/plain"]) if results else None


@pytest.mark.parametrize(
    "notebook", ["tiny", *COURSE_NOTEBOOKS], ids=lambda p: getattr(p, "name", p)
)
def test_instructor_copy_earns_full_marks_in_a_students_kernel(
    notebook: str | Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, student_kernel: Path
) -> None:
    monkeypatch.setenv("LABKIT_FAST", "1")
    if notebook == "tiny":
        folder = tmp_path / "notebooks"
        folder.mkdir()
        notebook = make_course_notebook(folder / "00_tiny.ipynb")
    out = tmp_path / "classroom"
    target = out / "source" / notebook.stem / notebook.name
    assert target in classroom.export(out, notebooks_dir=notebook.parent)
    nb = _run(target, cwd=notebook.parent)  # raises CellExecutionError if any cell fails
    grades = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert grades, "a notebook with exercises must get grade cells"
    for cell in grades:
        assert not any(o.get("output_type") == "error" or o.get("name") == "stderr" for o in cell.outputs)
        assert _points(cell) == cell.metadata.nbgrader["points"], cell.outputs


def test_the_package_students_install_holds_no_answer_key() -> None:
    """labkit's distribution (what students pip-install) has no exercise module: the answer keys
    are the separate package labkit_exercises."""
    import re
    import tomllib

    import setuptools

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = setuptools.find_packages(where=str(ROOT), include=include)
    assert {"labkit", "labkit.exercises"} <= set(packages)
    assert not any(p.split(".")[0] == exercises.PACKAGE for p in packages)
    for package in packages:
        for path in (ROOT / package.replace(".", "/")).glob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"^q\d+\s*=", text, re.M), f"{path} defines an exercise"
    assert (ROOT / "exercises" / exercises.PACKAGE / "nb01.py").exists()
