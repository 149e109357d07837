"""Teacher export: instructor notebooks in nbgrader's source format, checked against nbgrader's
cell-metadata schema (v3), and executed top to bottom with every autograder cell passing."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import nbformat
import pytest
from nbclient import NotebookClient

from labkit import classroom, exercises
from labkit.cli import main as cli_main
from labkit.exercises import FunctionExercise

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
        stub = f"def {ex.answer_name}(*args):\n    ...\n\n"
    else:
        stub = f"{ex.answer_name} = ...\n"
    return f"# Exercise {ex.name}: do the thing.\n# (more instructions)\n\n{stub}{alias}.{ex.name}.check({ex.answer_name})\n"


def make_course_notebook(path: Path, module: str = "nb00") -> Path:
    """A small notebook in the course's shape that uses every exercise of ``module``."""
    found = exercises.exercises_in(exercises.load(module))
    cells = [
        nbformat.v4.new_markdown_cell(f"# {module} · a tiny course notebook"),
        nbformat.v4.new_markdown_cell("## Exercises"),
        nbformat.v4.new_code_cell(f"from labkit.exercises import {module} as ex"),
        nbformat.v4.new_code_cell("\n".join(f"globals().update(ex.{q}.given())" for q in found)),
        *[nbformat.v4.new_code_cell(_stub_cell(ex)) for ex in found.values()],
        nbformat.v4.new_markdown_cell("## Summary"),
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


def test_export_writes_nbgrader_source_notebooks(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "classroom"
    written = classroom.export(out, notebooks_dir=course)
    assert written == [out / "00_tiny.ipynb", out / "01_plain.ipynb"]
    assert (out / "01_plain.ipynb").read_bytes() == (course / "01_plain.ipynb").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == [
        "00_tiny.ipynb",
        "01_plain.ipynb",
    ]  # no temp files

    nb = nbformat.read(out / "00_tiny.ipynb", as_version=4)
    nbformat.validate(nb)
    validate_nbgrader(nb)
    meta = [c.metadata.get("nbgrader") for c in nb.cells]
    imports = [c for c in nb.cells if c.source.startswith("from labkit.exercises import")]
    assert imports[0].metadata.nbgrader == {
        "grade": False,
        "grade_id": "exercises_import",
        "locked": True,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    for name, ex in exercises.exercises_in(exercises.load("nb00")).items():
        i = next(i for i, m in enumerate(meta) if m and m["grade_id"] == name)
        solution, test = nb.cells[i], nb.cells[i + 1]
        assert solution.source == (
            f"# Exercise {name}: do the thing.\n# (more instructions)\n"
            f"### BEGIN SOLUTION\n{ex.solution_code.strip()}\n### END SOLUTION"
        )
        assert solution.metadata.nbgrader == {
            "grade": False,
            "grade_id": name,
            "locked": False,
            "schema_version": 3,
            "solution": True,
            "task": False,
        }
        assert test.source == f"ex.{name}.grade({ex.answer_name})"
        assert test.metadata.nbgrader == {
            "grade": True,
            "grade_id": f"{name}_test",
            "locked": True,
            "points": 1,
            "schema_version": 3,
            "solution": False,
            "task": False,
        }
    assert len({c.id for c in nb.cells}) == len(nb.cells)
    untouched = [c for c in nb.cells if "nbgrader" not in c.metadata]
    assert [c.source for c in untouched][0].startswith("# nb00")


def test_export_replaces_existing_files_is_deterministic_and_cli_works(
    course: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "classroom"
    out.mkdir()
    (out / "00_tiny.ipynb").write_text("stale", encoding="utf-8")
    assert cli_main(["classroom", "export", str(out), "--notebooks", str(course)]) == 0
    assert str(out / "00_tiny.ipynb") in capsys.readouterr().out
    first = (out / "00_tiny.ipynb").read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" in first
    classroom.export(out, notebooks_dir=course)
    assert (out / "00_tiny.ipynb").read_text(encoding="utf-8") == first  # re-exports diff cleanly


def test_export_rejects_bad_input(course: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="notebooks_dir"):
        classroom.export(tmp_path / "out", notebooks_dir=tmp_path / "missing")
    with pytest.raises(ValueError, match="differ"):
        classroom.export(course, notebooks_dir=course)
    nb = nbformat.read(course / "00_tiny.ipynb", as_version=4)
    for cell in nb.cells:
        cell.source = cell.source.replace("ex.q2.check(char_frequencies)", "ex.q2.check(freqs)")
    with pytest.raises(ValueError, match="q2.check expects 'char_frequencies'"):
        classroom.instructor_notebook(nb)
    nb.cells[-1] = nbformat.v4.new_code_cell("ex.q7.check(answer)")
    nb.cells = [c for c in nb.cells if "check(freqs)" not in c.source]
    with pytest.raises(ValueError, match="no exercise q7"):
        classroom.instructor_notebook(json.loads(nbformat.writes(nb)))


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


@pytest.mark.parametrize(
    "notebook", ["tiny", *COURSE_NOTEBOOKS], ids=lambda p: getattr(p, "name", p)
)
def test_instructor_copy_runs_and_passes_its_grade_cells(
    notebook: str | Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABKIT_FAST", "1")
    if notebook == "tiny":
        folder = tmp_path / "notebooks"
        folder.mkdir()
        notebook = make_course_notebook(folder / "00_tiny.ipynb")
    out = tmp_path / "classroom"
    assert out / notebook.name in classroom.export(out, notebooks_dir=notebook.parent)
    nb = _run(
        out / notebook.name, cwd=notebook.parent
    )  # raises CellExecutionError if any cell fails
    grades = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    if ".check(" in notebook.read_text(encoding="utf-8"):
        assert grades, "a notebook with exercises must get autograder cells"
    for cell in grades:
        assert not any(o.get("output_type") == "error" for o in cell.outputs)
