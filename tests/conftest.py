"""Fixtures shared by the unit tests."""

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models train fastest on one thread, and it keeps them immune to other work on the
    machine (two threads fighting over busy cores made small matmuls 10-20x slower here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def corpus_cache(tmp_path_factory) -> Path:
    """A fresh data-cache folder holding a copy of the default corpus (``make data`` puts it in
    the real cache; fetched when missing), so tests never depend on a mirror folder."""
    import shutil

    from labkit import data

    try:
        corpus = data.fetch(data.DEFAULT, progress=False)
    except data.DataError as err:
        pytest.fail(f"the default corpus could not be fetched; run `make data` first. {err}")
    cache = tmp_path_factory.mktemp("cache")
    shutil.copyfile(corpus, cache / corpus.name)
    return cache


# A Jupyter kernel as a class's students have it: labkit without the exercises package (which
# holds every answer key). Imports of labkit_exercises fail in it as they do where it is not
# installed; the kernel is named python3 so nbclient and nbgrader pick it for course notebooks.
_STUDENT_KERNEL = """\
import sys


class NoAnswerKeys:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] == "labkit_exercises":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoAnswerKeys)
from ipykernel import kernelapp

kernelapp.launch_new_instance()
"""


@pytest.fixture(scope="session")
def student_kernel_root(tmp_path_factory) -> Path:
    """A JUPYTER_PATH folder with a ``python3`` kernel that cannot import the answer keys."""
    import json
    import sys

    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", _STUDENT_KERNEL, "-f", "{connection_file}"],
        "display_name": "Python 3 (a student's labkit)",
        "language": "python",
    }), encoding="utf-8")  # fmt: skip
    return root


@pytest.fixture
def student_kernel(student_kernel_root, monkeypatch) -> Path:
    """JUPYTER_PATH set to :func:`student_kernel_root` for this test."""
    monkeypatch.setenv("JUPYTER_PATH", str(student_kernel_root))
    return student_kernel_root
