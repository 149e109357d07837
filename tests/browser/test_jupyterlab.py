"""Every notebook, run in a real JupyterLab in headless Chromium, the way a learner runs it.

For each ``notebooks/*.ipynb`` (new notebooks are picked up automatically): open it, Run All
Cells, wait until the kernel is idle and every code cell has run, then check that

- no cell produced an error output;
- every ipywidget rendered as a live widget (not "Loading widget..." or its text fallback);
- every plotly figure rendered as an interactive plot (``.js-plotly-plot`` with its SVG);
- turning a knob works: in every widget panel (explorers, the generation playground, the chat)
  a slider, drop-down, text box or Send/Generate button changes what the panel shows;
- the page made no request to any host but 127.0.0.1 / localhost (plotly.js, MathJax, fonts:
  all served by the local JupyterLab; non-local requests are aborted and fail the test).

A screenshot of each notebook goes to ``screenshots/browser/`` (git-ignored).
Per-notebook timings and the request count by host are printed at the end.
"""

from __future__ import annotations

import contextlib
import json
import time

import lab_driver
import pytest

NOTEBOOKS = [p.name for p in lab_driver.notebooks()]
# labkit.widgets calls that show a panel with knobs (so the notebook must have one to turn)
PANEL_CALLS = ("_explorer(", "generation_playground(", "chat_panel(")


def has_panel(name: str) -> bool:
    cells = json.loads((lab_driver.NOTEBOOKS / name).read_text(encoding="utf-8"))["cells"]
    return any(
        call in "".join(c["source"])
        for c in cells
        if c["cell_type"] == "code"
        for call in PANEL_CALLS
    )


@pytest.mark.parametrize("name", NOTEBOOKS, ids=[n.removesuffix(".ipynb") for n in NOTEBOOKS])
def test_notebook_in_jupyterlab(name, lab_server, browser, browser_report):
    log = lab_driver.RequestLog()
    context = lab_driver.new_context(browser, log)
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    nb = lab_driver.Notebook(page, lab_server, name)
    report = browser_report.setdefault(name, {})
    t0 = time.monotonic()
    try:
        nb.open()
        state = nb.run_all()
        errors = nb.errors(state)
        assert not errors, f"{name}: cells failed in JupyterLab:\n" + "\n\n".join(errors)

        state = nb.wait_rendered()
        problems = nb.render_problems(state)
        assert not problems, f"{name}: did not render in JupyterLab:\n" + "\n".join(problems)
        report["widgets"] = sum(c["widgets"] for c in state["cells"])
        report["plots"] = sum(c["plots"] + c["nestedPlots"] for c in state["cells"])

        report["interactions"] = nb.interact()
        if has_panel(name):
            assert report["interactions"], f"{name}: its widget panel was not found in the page"
        nb.timings["checks"] = time.monotonic() - t0 - nb.timings["open"] - nb.timings["run"]
    finally:
        nb.timings["total"] = time.monotonic() - t0
        with contextlib.suppress(Exception):
            path = lab_driver.SCREENSHOTS / name.replace(".ipynb", ".png")
            report["screenshot"] = str(nb.screenshot_all(path))
            print(f"screenshot: {path}")
        nb.shutdown_kernel()
        context.close()
        report.update(
            timings=dict(nb.timings),
            hosts=log.hosts(),
            external=log.external(),
            page_errors=page_errors,
        )
    external = log.external()
    assert not external, f"{name}: requests left 127.0.0.1:\n" + "\n".join(external)
    assert log.urls, "no requests were recorded at all: the request log is not working"
