"""Fixtures for the browser test: one JupyterLab server and one headless Chromium per session.

These tests are slow (a real JupyterLab, a real browser), so a plain ``pytest tests`` skips this
folder; they run when it is named: ``pytest tests/browser`` (``make test-browser``; ``make test``
does that too when Chromium is installed), or with ``LABKIT_BROWSER_TESTS=1``.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import lab_driver  # noqa: E402


def _asked_for(config: pytest.Config) -> bool:
    if os.environ.get("LABKIT_BROWSER_TESTS") == "1":
        return True
    for arg in config.args:
        p = Path(arg.split("::")[0]).resolve()
        if p == HERE or HERE in p.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name.startswith("test_") and not _asked_for(config):
        return True
    return None


REPORT: dict[str, dict] = {}  # notebook -> timings, request hosts, screenshot


@pytest.fixture(scope="session")
def lab_server():
    pytest.importorskip("playwright", reason="pip install -e '.[browser]' (make test-browser)")
    with lab_driver.jupyterlab() as server:  # stops JupyterLab and its kernels, even on failure
        yield server


@pytest.fixture(scope="session")
def browser(lab_server):
    with lab_driver.chromium() as b:
        yield b


@pytest.fixture(scope="session")
def browser_report():
    return REPORT


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not REPORT:
        return
    tr = terminalreporter
    tr.section("browser test: JupyterLab + headless Chromium")
    phases = ["open", "run", "render", "interact", "checks", "total"]
    tr.write_line(f"{'notebook':<28}" + "".join(f"{p:>10}" for p in phases) + "   (seconds)")
    hosts: Counter = Counter()
    for name, r in REPORT.items():
        t = r["timings"]
        tr.write_line(
            f"{name:<28}" + "".join(f"{t[p]:>10.1f}" if p in t else f"{'-':>10}" for p in phases)
        )
        hosts.update(r["hosts"])
    total = sum(r["timings"].get("total", 0) for r in REPORT.values())
    tr.write_line(f"{'all notebooks':<28}{'':>50}{total:>10.1f}")
    external = [u for r in REPORT.values() for u in r["external"]]
    tr.write_line(
        f"requests by host ({sum(hosts.values())} in all): "
        + ", ".join(f"{h}: {n}" for h, n in hosts.most_common())
    )
    tr.write_line(f"requests leaving 127.0.0.1/localhost: {len(external)}")
    for u in external[:20]:
        tr.write_line(f"  {u}")
    for name, r in REPORT.items():
        tr.write_line(
            f"{name}: {r.get('widgets', '?')} widget outputs, {r.get('plots', '?')} plots, "
            f"{len(r.get('interactions', []))} widget panels turned"
        )
        for line in r.get("interactions", []):
            tr.write_line(f"  {line}")
        if r.get("screenshot"):
            tr.write_line(f"screenshot {name}: {r['screenshot']}")
