"""Classroom assignments: the teacher's export to nbgrader, and the students' ``ex``.

``python -m labkit classroom export DIR`` (or :func:`export`) writes an nbgrader course folder:
``DIR/source/<NN_notebook>/<NN_notebook>.ipynb``, one assignment per notebook with exercises,
and ``DIR/nbgrader_config.py``. In each notebook (one that runs
``from labkit.exercises import nbNN as ex``):

- the import cell becomes ``ex = Questions(...)``: the questions, their points and hints, and
  nothing else — students install labkit without the answer key (``labkit_exercises``), and
  their ``ex.qK.check`` only says whether an answer has the right form;
- each exercise cell (a code cell ending in ``ex.qK.check(NAME)``) keeps its instructions, its
  stub line or its ``def`` line and docstring, with the reference solution between
  ``### BEGIN SOLUTION`` / ``### END SOLUTION`` (inside the function's body), and is followed by
  a read-only grade cell worth the exercise's points whose **hidden test** (stripped from the
  students' copy by ``nbgrader generate_assignment``) carries the part of the answer key that
  question needs and grades with :func:`labkit.exercises.grading.grade` (see that module for
  what a solution cell can and cannot do to it);
- each answer cell of an explanation (markdown, metadata ``{"labkit": {"exercise": "qM"}}``)
  becomes a manually graded answer holding the model answer and the rubric;
- the markdown that tells a learner about ``check``, ``hint`` and ``solution`` is rewritten for
  an assignment.

An existing file is never overwritten with different content unless ``force=True``: a teacher's
edits to an exported notebook survive a second export. Files are written atomically, mode 0644.
"""

from __future__ import annotations

import ast
import json
import os
import re
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit import exercises as exercise_modules
from labkit.exercises.core import (
    ChoiceExercise,
    Exercise,
    ExplainExercise,
    Feedback,
    FunctionExercise,
    is_stub_function,
    short_repr,
    show,
)
from labkit.exercises.grading import pack

__all__ = [
    "SCHEMA_VERSION",
    "Question",
    "Questions",
    "assignment_notebook",
    "course_notebooks",
    "export",
    "question_key",
]

#: The nbgrader cell-metadata schema version written (the one nbgrader 0.9 uses).
SCHEMA_VERSION = 3

_NOTEBOOK_NAME = re.compile(r"\d\d_.*\.ipynb")
_IMPORT = re.compile(
    r"^\s*from\s+labkit\.exercises\s+import\s+(nb\d\d)\s+as\s+([A-Za-z_]\w*)\s*$", re.M
)
_CHECK = r"^\s*{alias}\.(q\d+)\.check\(\s*([A-Za-z_]\w*)\s*\)\s*;?\s*$"

# --------------------------------------------------------------------------- the students' ex


@dataclass
class Question:
    """One question of an assignment as a student's kernel knows it: no answer, no solution."""

    name: str
    answer: str
    kind: str
    points: float
    hint_text: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def check(self, answer: Any = Ellipsis) -> None:
        """Say whether ``answer`` has the right form; it is graded when the work is submitted."""
        feedback = self._precheck(answer)
        show(str(feedback), html=feedback.to_html())

    def _precheck(self, answer: Any) -> Feedback:
        later = "It is graded when you submit, on tests you do not see."
        if self.kind == "explain":
            return Feedback(True, "a person reads this answer when you submit.")
        if answer is Ellipsis or (callable(answer) and is_stub_function(answer)):
            return Feedback(False, f"replace `...` in `{self.answer}`, then run the cell again.", False)
        if self.kind == "function" and not callable(answer):
            return Feedback(False, f"expected a function, got {type(answer).__name__} {short_repr(answer)}.")
        if self.kind == "choice" and answer not in self.options:
            letters = ", ".join(repr(k) for k in self.options)
            return Feedback(False, f"`{self.answer}` must be one of {letters}, got {short_repr(answer)}.")
        return Feedback(True, f"`{self.answer}` is ready. {later}")

    def hint(self) -> None:
        """Show the hint."""
        show(f"Hint: {self.hint_text}", markdown=f"**Hint:** {self.hint_text}")

    def __repr__(self) -> str:
        return f"<Question {self.name} ({self.points:g} points): check({self.answer}), hint()>"


class Questions:
    """The ``ex`` of an assignment: ``ex.q1.check(answer)`` and ``ex.q1.hint()``, nothing more."""

    def __init__(self, module: str, spec: dict[str, dict[str, Any]]) -> None:
        self.module = module
        self._questions = {
            name: Question(
                name=name,
                answer=item.get("answer", ""),
                kind=item["kind"],
                points=item["points"],
                hint_text=item.get("hint", ""),
                options=item.get("options", {}),
            )
            for name, item in spec.items()
        }

    def __getattr__(self, name: str) -> Question:
        questions = self.__dict__.get("_questions", {})
        if name in questions:
            return questions[name]
        raise AttributeError(
            f"this assignment has questions {list(questions)} (each with check and hint); "
            f"there is no {name!r}"
        )

    def __dir__(self) -> list[str]:
        return [*self._questions, "module"]

    def __repr__(self) -> str:
        return f"<Questions of {self.module}: {', '.join(self._questions)}>"


# --------------------------------------------------------------------------- answer keys


def question_key(source: str, question: str) -> str:
    """The part of an exercise module's source that defines ``question``: its imports, the
    statement that builds it and every top-level statement that one needs, recursively.

    Each hidden test carries only its own question's key, so a cell that runs later cannot
    find another question's answer in the notebook's history.
    """
    tree = ast.parse(source)
    body = [s for s in tree.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    defines: dict[str, ast.stmt] = {}
    for stmt in body:
        for name in _defined(stmt):
            defines[name] = stmt
    if question not in defines:
        raise ValueError(f"question_key: the module defines no {question!r}")
    keep: set[int] = set()
    todo = [defines[question]]
    while todo:
        stmt = todo.pop()
        if id(stmt) in keep:
            continue
        keep.add(id(stmt))
        used = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
        todo += [defines[n] for n in used if n in defines and id(defines[n]) not in keep]
    kept = [s for s in body if id(s) in keep or isinstance(s, ast.Import | ast.ImportFrom)]
    lines = source.splitlines()

    def segment(stmt: ast.stmt) -> str:  # with its decorators, which ast's segment leaves out
        start = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
        return "\n".join(lines[start - 1 : stmt.end_lineno])

    return "\n\n\n".join(segment(s) for s in kept) + "\n"


def _defined(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(stmt, ast.AnnAssign | ast.AugAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    return []


# --------------------------------------------------------------------------- notebook cells


def _nbgrader(
    grade_id: str,
    *,
    solution: bool = False,
    grade: bool = False,
    locked: bool = False,
    points: float = 0,
) -> dict[str, Any]:
    """nbgrader cell metadata (schema 3): a solution, a grade cell, or a read-only cell."""
    meta: dict[str, Any] = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": SCHEMA_VERSION,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return meta


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _with_source(cell: dict[str, Any], source: str, nbgrader: dict[str, Any] | None) -> dict[str, Any]:
    metadata = {k: v for k, v in cell.get("metadata", {}).items() if k not in ("nbgrader", "labkit")}
    if nbgrader is not None:
        metadata["nbgrader"] = nbgrader
    out = {**cell, "metadata": metadata, "source": source.rstrip("\n").splitlines(keepends=True)}
    if out.get("cell_type") == "code":
        out.update(outputs=[], execution_count=None)
    return out


def _code_cell(source: str, nbgrader: dict[str, Any], cell_id: str | None) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"nbgrader": nbgrader},
        "outputs": [],
        "source": source.rstrip("\n").splitlines(keepends=True),
    }
    if cell_id is not None:
        cell["id"] = cell_id
    return cell


def _function_solution(stub: str, node: ast.FunctionDef, solution_code: str, name: str) -> list[str]:
    """The stub (``def`` line, docstring, ``...``), then the solution's body between the markers."""
    stub_lines = stub.splitlines()
    sol_tree = ast.parse(solution_code)
    sol_lines = solution_code.splitlines()
    sol_def = next(
        (s for s in sol_tree.body if isinstance(s, ast.FunctionDef) and s.name == name), None
    )
    if sol_def is None:
        raise ValueError(f"exercise {name}: the solution does not define {name}()")
    stub_args = [a.arg for a in node.args.args]
    if [a.arg for a in sol_def.args.args] != stub_args:
        raise ValueError(
            f"exercise {name}: the stub takes {stub_args}, the solution "
            f"{[a.arg for a in sol_def.args.args]}"
        )
    # the stub's def line, docstring and `...` stay: an untouched copy is still a valid stub
    head = stub_lines[node.lineno - 1 - len(node.decorator_list) : node.end_lineno]
    indent = " " * node.body[0].col_offset
    sol_first = sol_def.body[0]
    sol_has_doc = isinstance(sol_first, ast.Expr) and isinstance(getattr(sol_first, "value", None), ast.Constant) and isinstance(sol_first.value.value, str)
    body_start = sol_def.body[1].lineno if sol_has_doc and len(sol_def.body) > 1 else sol_first.lineno
    body = textwrap.dedent("\n".join(sol_lines[body_start - 1 : sol_def.end_lineno]))
    prelude = [
        ast.get_source_segment(solution_code, s) or ""
        for s in sol_tree.body
        if s is not sol_def
    ]  # imports and helpers the solution needs, moved into the body
    inner = "\n".join([*prelude, body]).strip("\n")
    return [
        *head,
        f"{indent}### BEGIN SOLUTION",
        textwrap.indent(inner, indent),
        f"{indent}### END SOLUTION",
    ]


def _solution_source(source: str, exercise: Any, check: re.Pattern[str]) -> str:
    """The exercise cell with the reference solution between the markers (the check line stays)."""
    name = exercise.answer_name
    lines = source.splitlines()
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise ValueError(f"exercise cell for {exercise.name}: not valid Python ({err.msg})") from None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            start = node.lineno - len(node.decorator_list)
            middle = _function_solution(source, node, exercise.solution_code, name)
            return "\n".join([*lines[: start - 1], *middle, *lines[node.end_lineno :]])
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if isinstance(node, ast.Assign | ast.AnnAssign) and any(
            isinstance(t, ast.Name) and t.id == name for t in targets
        ):
            marked = ["### BEGIN SOLUTION", exercise.solution_code.strip("\n"), "### END SOLUTION"]
            return "\n".join([*lines[: node.end_lineno], *marked, *lines[node.end_lineno :]])
    raise ValueError(f"exercise cell for {exercise.name}: no stub that defines {name!r}")


def _grade_cell(module: str, exercise: Any, key: str, cell_id: str | None) -> dict[str, Any]:
    """The read-only grade cell after an exercise: a visible line, then the hidden test."""
    points = exercise.points
    source = f'''\
# {exercise.name} ({points:g} point{"s" if points != 1 else ""}) is graded here, when your work is graded, by tests you do not see.
### BEGIN HIDDEN TESTS
def _labkit_hidden_test():
    # the grader is loaded afresh from labkit's files: nothing a notebook cell patched is used
    import importlib.util

    path = importlib.util.find_spec("labkit.exercises.grading").origin
    grading = {{"__name__": "labkit_grading"}}
    with open(path, encoding="utf-8") as fh:
        exec(compile(fh.read(), path, "exec"), grading)
    key = grading["unpack"]({key!r})  # the answer key of {exercise.name}, compressed
    return grading["grade"]({module!r}, {exercise.name!r}, globals(), key, {points!r})


_labkit_score = _labkit_hidden_test()
del _labkit_hidden_test
_labkit_score
### END HIDDEN TESTS'''
    test_id = f"{cell_id[:58]}-grade" if cell_id else None  # deterministic: re-exports diff cleanly
    meta = _nbgrader(f"{exercise.name}_test", grade=True, locked=True, points=points)
    return _code_cell(source, meta, test_id)


def _explain_cell(cell: dict[str, Any], exercise: Any) -> dict[str, Any]:
    text = f"{exercise.model_answer.strip()}\n\n**Rubric ({exercise.points:g} points):** {exercise.rubric.strip()}"
    meta = _nbgrader(exercise.name, solution=True, grade=True, points=exercise.points)
    return _with_source(cell, text, meta)


_EXERCISES_INTRO = (
    "Answer each exercise in its cell: replace the `...` (or the `# YOUR CODE HERE` line) and run "
    "the cell. `ex.qK.check(...)` tells you whether your answer has the right form; it is scored "
    "when you submit, by tests you do not see (the cell after each exercise). `ex.qK.hint()` gives "
    "a hint. Write the *explain* answers in the cells marked YOUR ANSWER HERE: a person grades them."
)


def _assignment_markdown(text: str) -> str:
    """A markdown cell's text with the self-study instructions rewritten for an assignment: the
    paragraph under "## Exercises" becomes the assignment's, sentences that offer
    ``solution()`` or promise "Correct!" go."""
    heading = re.search(r"^## Exercises[^\n]*$", text, re.M)
    if heading:
        after = text[heading.end() :]
        following = re.search(r"^#", after, re.M)  # the intro runs to the next heading, if any
        rest = after[following.start() :] if following else ""
        text = f"{text[: heading.end()]}\n\n{_EXERCISES_INTRO}" + (f"\n\n{rest}" if rest else "")
    text = re.sub(r"\s*\([^()]*solution\(\)[^()]*\)", "", text)  # "(`ex.q1.solution()` shows …)"
    paragraphs = []
    for paragraph in text.split("\n\n"):
        sentences = re.split(r"(?<=[.!?])\s+", paragraph)
        kept = [x for x in sentences if "solution()" not in x and "Correct!" not in x]
        paragraphs.append(" ".join(kept) if len(kept) < len(sentences) else paragraph)
    return "\n\n".join(p for p in paragraphs if p.strip())


def _spec(exercises: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What a student's ``ex`` knows of each question: its answer's name, kind, points, hint."""
    spec: dict[str, dict[str, Any]] = {}
    for name, ex in exercises.items():
        if isinstance(ex, ExplainExercise):
            spec[name] = {"kind": "explain", "points": ex.points, "hint": ex.hint_text}
            continue
        kind = (
            "function" if isinstance(ex, FunctionExercise)
            else "choice" if isinstance(ex, ChoiceExercise)
            else "value"
        )  # fmt: skip
        item: dict[str, Any] = {"answer": ex.answer_name, "kind": kind, "points": ex.points, "hint": ex.hint_text}
        if isinstance(ex, ChoiceExercise):
            item["options"] = dict(ex.options)
        spec[name] = item
    return spec


def _import_cell(cell: dict[str, Any], module: str, alias: str, exercises: dict[str, Any]) -> dict[str, Any]:
    spec = json.dumps(_spec(exercises), indent=4, ensure_ascii=False)
    text = _IMPORT.sub(
        f"from labkit.classroom import Questions\n\n"
        f"# the questions and their hints; answers are graded when you submit\n"
        f"{alias} = Questions({module!r}, {spec})",
        _source(cell),
    )
    return _with_source(cell, text, _nbgrader("exercises_import", locked=True))


def _find_import(cells: list[dict[str, Any]]) -> tuple[int, str, str] | None:
    """(cell index, module name, alias) of the ``from labkit.exercises import nbNN as ex`` cell."""
    for i, cell in enumerate(cells):
        match = _IMPORT.search(_source(cell)) if cell.get("cell_type") == "code" else None
        if match:
            return i, match.group(1), match.group(2)
    return None


def _exercise_for(index: int, calls: list[tuple[str, str]], available: dict[str, Any]) -> Any:
    """The exercise an exercise cell checks; ``ValueError`` if the cell does not fit it."""
    if len(calls) > 1:
        raise ValueError(f"exercise cell {index}: expected one .check(...) per cell, got {len(calls)}")
    ((qname, answer_name),) = calls
    exercise = available.get(qname)
    if not isinstance(exercise, Exercise):
        checked = [n for n, e in available.items() if isinstance(e, Exercise)]
        raise ValueError(f"exercise cell {index}: there is no checked exercise {qname}; the module has {checked}")
    if answer_name != exercise.answer_name:
        raise ValueError(
            f"exercise cell {index}: {qname}.check expects {exercise.answer_name!r}, "
            f"the cell passes {answer_name!r}"
        )
    return exercise


def assignment_notebook(nb: dict[str, Any]) -> dict[str, Any] | None:
    """The nbgrader source version of notebook ``nb`` (parsed JSON); ``None`` without exercises.

    Raises ``ValueError`` when an exercise cell names an exercise the module lacks, passes a name
    other than the exercise's ``answer_name``, calls ``check`` more than once, or when an answer
    cell names an explanation the module lacks.
    """
    cells = nb.get("cells", [])
    found = _find_import(cells)
    if found is None:
        return None
    import_index, module_name, alias = found
    module = exercise_modules.load(module_name)
    source = Path(module.__file__).read_text(encoding="utf-8")
    available = exercise_modules.exercises_in(module)
    check = re.compile(_CHECK.format(alias=re.escape(alias)), re.M)

    out: list[dict[str, Any]] = []
    converted = 0
    for i, cell in enumerate(cells):
        kind = cell.get("cell_type")
        explain = cell.get("metadata", {}).get("labkit", {}).get("exercise")
        calls = check.findall(_source(cell)) if kind == "code" else []
        if i == import_index:
            out.append(_import_cell(cell, module_name, alias, available))
        elif calls:
            exercise = _exercise_for(i, calls, available)
            solution = _solution_source(_source(cell), exercise, check)
            meta = _nbgrader(exercise.name, solution=True)
            out.append(_with_source(cell, solution, meta))
            key = pack(question_key(source, exercise.name))
            out.append(_grade_cell(module_name, exercise, key, cell.get("id")))
            converted += 1
        elif explain is not None:
            exercise = available.get(explain)
            if not isinstance(exercise, ExplainExercise):
                raise ValueError(f"answer cell {i}: the module has no explanation {explain!r}")
            out.append(_explain_cell(cell, exercise))
            converted += 1
        elif kind == "markdown":
            out.append(_with_source(cell, _assignment_markdown(_source(cell)), None))
        else:
            out.append(cell)
    if not converted:
        return None
    return {**nb, "cells": out}


# --------------------------------------------------------------------------- export

NBGRADER_CONFIG = '''\
# nbgrader configuration written by `python -m labkit classroom export` (edit it freely).
import os

# Graded notebooks run in fast mode: small data and short training, so every cell finishes
# within the timeout below (full mode trains for minutes).
os.environ.setdefault("LABKIT_FAST", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# seconds one cell may run while validating and autograding (nbgrader's default is 30)
c.ExecutePreprocessor.timeout = 300
# what replaces a solution in the students' copy: a comment, so an untouched cell still runs
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# feedback shows each grade cell's verdict, not its hidden test (which holds the answer key)
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import ClearHiddenTests, GetGrades  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
'''


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def course_notebooks() -> Path:
    """The course's notebooks: ``./notebooks`` when it exists, else the folder beside labkit."""
    here = Path("notebooks")
    if here.is_dir():
        return here
    beside = Path(__file__).resolve().parents[1] / "notebooks"
    if beside.is_dir():
        return beside
    raise FileNotFoundError(
        "export: no notebooks folder here or beside labkit; pass --notebooks PATH"
    )


def export(
    out_dir: Path | str, notebooks_dir: Path | str = Path("notebooks"), force: bool = False
) -> list[Path]:
    """Write an nbgrader course folder for every ``notebooks_dir/NN_*.ipynb`` with exercises.

    Returns the written paths, in course order: ``out_dir/nbgrader_config.py`` and
    ``out_dir/source/<stem>/<stem>.ipynb``. A file that exists with other content is left alone
    and reported (``FileExistsError``, listing them all) unless ``force`` is set; identical files
    are left as they are.
    """
    out_dir, notebooks_dir = Path(out_dir), Path(notebooks_dir)
    if not notebooks_dir.is_dir():
        raise FileNotFoundError(f"export: notebooks_dir {str(notebooks_dir)!r} is not a folder")
    if out_dir.resolve() == notebooks_dir.resolve():
        raise ValueError(f"export: out_dir must differ from notebooks_dir (would overwrite the course): {out_dir}")
    sources = sorted(p for p in notebooks_dir.iterdir() if _NOTEBOOK_NAME.fullmatch(p.name))
    planned: list[tuple[Path, bytes]] = [(out_dir / "nbgrader_config.py", NBGRADER_CONFIG.encode())]
    for src in sources:
        converted = assignment_notebook(json.loads(src.read_text(encoding="utf-8")))
        if converted is not None:
            text = json.dumps(converted, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
            planned.append((out_dir / "source" / src.stem / src.name, text.encode("utf-8")))
    edited = [p for p, data in planned if p.exists() and p.read_bytes() != data]
    if edited and not force:
        raise FileExistsError(
            "export: these files exist and differ from the export (a teacher's edits?); "
            "move them away or pass --force to overwrite: " + ", ".join(map(str, edited))
        )
    written: list[Path] = []
    for path, data in planned:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not (path.exists() and path.read_bytes() == data):
            _atomic_write(path, data)
        written.append(path)
    return written
