"""Teacher tools: instructor notebooks in nbgrader's *source* format.

``python -m labkit classroom export DIR`` (or :func:`export`) writes one notebook per course
notebook into ``DIR``. In a notebook that imports its exercises
(``from labkit.exercises import nbNN as ex``), every exercise cell — a code cell that calls
``ex.qN.check(NAME)`` — becomes two cells:

1. a solution cell: the exercise cell with its stub (the ``NAME = ...`` assignment or the
   ``def NAME(...)`` whose body is ``...``) replaced by the reference solution between
   ``### BEGIN SOLUTION`` and ``### END SOLUTION``, and the check call removed; lines that set up
   the exercise's inputs stay (``nbgrader generate_assignment`` replaces the marked region with
   ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` in the student version);
2. a read-only autograder test cell, ``ex.qN.grade(NAME)``, worth one point.

The exercise-import cell is locked (read-only) so the tests always find ``ex``; every other cell
is left as it is. Notebooks without exercises are copied unchanged. Files are written atomically.
Only the standard library is used (notebooks are JSON), so this runs wherever labkit does.
"""

from __future__ import annotations

import ast
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from labkit import exercises

__all__ = ["SCHEMA_VERSION", "export", "instructor_notebook"]

#: The nbgrader cell-metadata schema version written (the one nbgrader 0.9 uses).
SCHEMA_VERSION = 3

_NOTEBOOK_NAME = re.compile(r"\d\d_.*\.ipynb")
_IMPORT = re.compile(
    r"^\s*from\s+labkit\.exercises\s+import\s+(nb\d\d)\s+as\s+([A-Za-z_]\w*)\s*$", re.M
)
_CHECK = r"^\s*{alias}\.(q\d+)\.check\(\s*([A-Za-z_]\w*)\s*\)\s*;?\s*$"


def _nbgrader(
    grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False
) -> dict[str, Any]:
    """nbgrader cell metadata (schema 3): a solution, an autograder test, or a read-only cell."""
    meta: dict[str, Any] = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": SCHEMA_VERSION,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = 1
    return meta


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _code_cell(source: str, metadata: dict[str, Any], cell_id: str | None) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": metadata,
        "outputs": [],
        "source": source.rstrip("\n").splitlines(keepends=True),
    }
    if cell_id is not None:
        cell["id"] = cell_id
    return cell


def _lead_comments(source: str) -> str:
    """The comment lines at the top of a stub cell (the exercise's instructions)."""
    lead: list[str] = []
    for line in source.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            break
        lead.append(line)
    while lead and not lead[-1].strip():
        lead.pop()
    return "".join(line + "\n" for line in lead)


def _solution_source(source: str, exercise: exercises.Exercise, check: re.Pattern[str]) -> str:
    """The exercise cell's source with the stub replaced by the marked reference solution."""
    name = exercise.answer_name
    lines = [line for line in source.splitlines() if not check.match(line)]
    marked = ["### BEGIN SOLUTION", exercise.solution_code.strip("\n"), "### END SOLUTION"]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:  # e.g. IPython magics: keep the instructions, then the solution
        return _lead_comments(source) + "\n".join(marked)
    for node in tree.body:
        is_def = isinstance(node, ast.FunctionDef) and node.name == name
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        is_assign = isinstance(node, ast.Assign | ast.AnnAssign) and any(
            isinstance(t, ast.Name) and t.id == name for t in targets
        )
        if is_def or is_assign:
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            before, after = lines[: start - 1], lines[node.end_lineno :]
            break
    else:
        raise ValueError(f"exercise cell for {exercise.name}: no stub that defines {name!r}")
    while before and not before[-1].strip():
        before.pop()
    while after and not after[0].strip():
        after.pop(0)
    return "\n".join([*before, *marked, *after]).strip("\n")


def _find_import(cells: list[dict[str, Any]]) -> tuple[int, str, str] | None:
    """(cell index, module name, alias) of the ``from labkit.exercises import nbNN as ex`` cell."""
    for i, cell in enumerate(cells):
        match = _IMPORT.search(_source(cell)) if cell.get("cell_type") == "code" else None
        if match:
            return i, match.group(1), match.group(2)
    return None


def _locked(cell: dict[str, Any], grade_id: str) -> dict[str, Any]:
    """``cell`` marked read-only for nbgrader."""
    metadata = {**cell.get("metadata", {}), "nbgrader": _nbgrader(grade_id, locked=True)}
    return {**cell, "metadata": metadata}


def _exercise_cells(
    cell: dict[str, Any], exercise: exercises.Exercise, alias: str, check: re.Pattern[str]
) -> list[dict[str, Any]]:
    """The solution cell and the autograder test cell that replace one stub cell."""
    name, answer = exercise.name, exercise.answer_name
    solution = _solution_source(_source(cell), exercise, check)
    metadata = {k: v for k, v in cell.get("metadata", {}).items() if k != "nbgrader"}
    cell_id = cell.get("id")
    test_id = f"{cell_id[:58]}-grade" if cell_id else None  # deterministic: re-exports diff cleanly
    return [
        _code_cell(solution, {**metadata, "nbgrader": _nbgrader(name, solution=True)}, cell_id),
        _code_cell(
            f"{alias}.{name}.grade({answer})",
            {"nbgrader": _nbgrader(f"{name}_test", grade=True, locked=True)},
            test_id,
        ),
    ]


def _exercise_for(
    index: int, calls: list[tuple[str, str]], available: dict[str, exercises.Exercise]
) -> exercises.Exercise:
    """The exercise an exercise cell checks; ``ValueError`` if the cell does not fit it."""
    if len(calls) > 1:
        raise ValueError(
            f"exercise cell {index}: expected one .check(...) per cell, got {len(calls)}"
        )
    ((qname, answer_name),) = calls
    if qname not in available:
        raise ValueError(
            f"exercise cell {index}: there is no exercise {qname}; the module has {list(available)}"
        )
    exercise = available[qname]
    if answer_name != exercise.answer_name:
        raise ValueError(
            f"exercise cell {index}: {qname}.check expects {exercise.answer_name!r}, "
            f"the cell passes {answer_name!r}"
        )
    return exercise


def instructor_notebook(nb: dict[str, Any]) -> dict[str, Any] | None:
    """The nbgrader source version of notebook ``nb`` (parsed JSON); ``None`` without exercises.

    Raises ``ValueError`` when an exercise cell names an exercise the module lacks, passes a name
    other than the exercise's ``answer_name``, or calls ``check`` more than once.
    """
    cells = nb.get("cells", [])
    found = _find_import(cells)
    if found is None:
        return None
    import_index, module_name, alias = found
    available = exercises.exercises_in(exercises.load(module_name))
    check = re.compile(_CHECK.format(alias=re.escape(alias)), re.M)

    out_cells: list[dict[str, Any]] = []
    for i, cell in enumerate(cells):
        calls = check.findall(_source(cell)) if cell.get("cell_type") == "code" else []
        if i == import_index:
            out_cells.append(_locked(cell, "exercises_import"))
        elif calls:
            out_cells += _exercise_cells(cell, _exercise_for(i, calls, available), alias, check)
        else:
            out_cells.append(cell)
    if len(out_cells) == len(cells):  # no exercise cell: nothing to convert
        return None
    return {**nb, "cells": out_cells}


def _atomic_write(path: Path, write: Any) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export(out_dir: Path | str, notebooks_dir: Path | str = Path("notebooks")) -> list[Path]:
    """Write the instructor version of every ``notebooks_dir/NN_*.ipynb`` into ``out_dir``.

    Returns the written paths, in course order. Notebooks with exercises are converted (see the
    module docstring); the others are copied byte for byte.
    """
    out_dir, notebooks_dir = Path(out_dir), Path(notebooks_dir)
    if not notebooks_dir.is_dir():
        raise FileNotFoundError(f"export: notebooks_dir {str(notebooks_dir)!r} is not a folder")
    if out_dir.resolve() == notebooks_dir.resolve():
        raise ValueError(
            f"export: out_dir must differ from notebooks_dir (would overwrite the course): {out_dir}"
        )
    sources = sorted(p for p in notebooks_dir.iterdir() if _NOTEBOOK_NAME.fullmatch(p.name))
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for src in sources:
        target = out_dir / src.name
        nb = json.loads(src.read_text(encoding="utf-8"))
        converted = instructor_notebook(nb)
        if converted is None:
            _atomic_write(target, lambda fh, src=src: fh.write(src.read_bytes()))
        else:
            text = json.dumps(converted, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
            _atomic_write(target, lambda fh, text=text: fh.write(text.encode("utf-8")))
        written.append(target)
    return written
