"""labkit.widgets under Google Colab's widget stack: ipywidgets 7.7.1 and plotly 5.24.1.

JupyterLab 4 and Binder run ipywidgets 8; Colab ships ipywidgets 7.7, and the Colab install cell
of every notebook keeps it. The rest of the suite runs under the project's ipywidgets 8, so this
test installs Colab's versions once (``pip install --target``, into ``<venv>/colab-widgets/``)
and runs every test that drives ``labkit.widgets`` again, in a subprocess that puts them first
on the path and checks that they are the ones imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
COLAB_PINS = ["ipywidgets==7.7.1", "plotly==5.24.1", "ipython_genutils==0.2.0"]
CHECK_AND_RUN = """
import sys, ipywidgets, plotly, pytest
assert ipywidgets.__version__ == "7.7.1", ipywidgets.__file__
assert plotly.__version__ == "5.24.1", plotly.__file__
sys.exit(pytest.main(sys.argv[1:]))
"""


def widget_test_files() -> list[Path]:
    """The test files that build labkit widgets (explorers, playground, chat)."""
    files = [
        p
        for p in sorted(TESTS.glob("test_*.py"))
        if p.name != Path(__file__).name and "widgets." in p.read_text(encoding="utf-8")
    ]
    assert len(files) >= 10, f"expected the widget tests of every notebook, found {files}"
    return files


def colab_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = Path(sys.prefix) / "colab-widgets"
    if not os.access(sys.prefix, os.W_OK):
        target = tmp_path_factory.mktemp("colab-widgets")
    stamp = target / ("installed-" + "-".join(COLAB_PINS).replace("==", "_"))
    if not stamp.exists():
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--upgrade"]
        done = subprocess.run(
            [*cmd, "--target", str(target), *COLAB_PINS], capture_output=True, text=True
        )
        assert done.returncode == 0, (
            f"could not install Colab's widget versions {COLAB_PINS} (pip needs the package "
            f"registry):\n{done.stderr[-2000:]}"
        )
        stamp.touch()
    return target


def test_widgets_work_with_colab_ipywidgets_7(tmp_path_factory):
    site = colab_site(tmp_path_factory)
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    )
    files = [str(p) for p in widget_test_files()]
    run = subprocess.run(
        [sys.executable, "-c", CHECK_AND_RUN, *files, "-q", "-p", "no:cacheprovider", "-x"],
        env=env,
        cwd=TESTS.parent,
        capture_output=True,
        text=True,
    )
    tail = run.stdout[-3000:] + run.stderr[-2000:]
    assert run.returncode == 0, f"widget tests failed under ipywidgets 7.7.1:\n{tail}"
    assert " passed" in run.stdout and " failed" not in run.stdout, tail
