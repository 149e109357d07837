"""Every notebook is committed clean and starts with the Colab install guard.

Clean means: valid nbformat 4, a python3 kernelspec, no outputs and no execution counts
(outputs belong to the learner's run, not to the repository).

The guard is the first code cell. It must install labkit on Google Colab and do nothing
anywhere else, and it must not pin torch or ipywidgets (Colab ships its own, matched to its
GPU runtime and front end). The test runs the cell with a fake ``subprocess.run``: once as it
is here (no ``google.colab`` module) and once with a fake ``google.colab`` in ``sys.modules``.
"""

import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
EXPECTED_PIP = [
    sys.executable,
    "-m",
    "pip",
    "install",
    "-q",
    "git+https://github.com/llm-lab/llm-lab",
    # the exercises and their solutions: a package of their own, which a class's students lack
    "llm-lab-exercises @ git+https://github.com/llm-lab/llm-lab#subdirectory=exercises",
]

ids = [p.name for p in NOTEBOOKS]


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def first_code_cell(nb: nbformat.NotebookNode) -> str:
    for cell in nb.cells:
        if cell.cell_type == "code":
            return cell.source
    raise AssertionError("notebook has no code cell")


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks/*.ipynb found"
    assert NOTEBOOKS[0].name == "00_setup.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_valid_nbformat_with_kernelspec(path):
    nb = read(path)
    assert nb.nbformat == 4, f"{path.name}: nbformat {nb.nbformat}, expected 4"
    nbformat.validate(nb)
    spec = nb.metadata.get("kernelspec", {})
    assert spec.get("name") == "python3", (
        f"{path.name}: kernelspec name is {spec.get('name')!r}, expected 'python3'"
    )
    assert spec.get("language") == "python" and spec.get("display_name"), (
        f"{path.name}: incomplete kernelspec {spec}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_committed_without_outputs(path):
    nb = read(path)
    dirty = [
        f"cell {i} ({'outputs' if cell.outputs else 'execution_count'})"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name} was saved with outputs: {', '.join(dirty)}; clear all outputs before committing"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_first_markdown_is_title_with_goals_and_run_time(path):
    nb = read(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {path.name[:2]} · ")
    text = first.source.lower()
    assert "prerequisites" in text and "run time" in text, (
        f"{path.name}: title cell lacks prerequisites or run time"
    )


class FakeRun:
    """Stands in for subprocess.run and records the commands it was given."""

    def __init__(self):
        self.calls = []

    def __call__(self, cmd, *args, **kwargs):
        self.calls.append((list(cmd), kwargs))
        return subprocess.CompletedProcess(cmd, 0)


def run_guard(source: str, monkeypatch, on_colab: bool) -> FakeRun:
    fake = FakeRun()
    monkeypatch.setattr(subprocess, "run", fake)
    if on_colab:
        colab = types.ModuleType("google.colab")
        google = types.ModuleType("google")
        google.colab = colab
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", colab)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "<first code cell>", "exec"), {"__name__": "__main__"})
    return fake


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_first_code_cell_is_the_colab_guard(path, monkeypatch):
    source = first_code_cell(read(path))
    assert 'if "google.colab" in sys.modules:' in source, (
        f"{path.name}: first code cell lacks the Colab guard"
    )
    assert "labkit.seed(0)" in source and "FAST = labkit.FAST" in source

    # Outside Colab: nothing is installed.
    assert run_guard(source, monkeypatch, on_colab=False).calls == []

    # On Colab: exactly one pip install of the kit, which pins neither torch nor ipywidgets.
    calls = run_guard(source, monkeypatch, on_colab=True).calls
    assert len(calls) == 1, f"{path.name}: expected one pip command on Colab, got {calls}"
    cmd, kwargs = calls[0]
    assert cmd == EXPECTED_PIP
    assert kwargs.get("check") is True  # a failed install stops the notebook here, loudly
    assert not any("torch" in arg or "ipywidgets" in arg for arg in cmd)
