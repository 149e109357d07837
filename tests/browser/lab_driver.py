"""Drive JupyterLab in headless Chromium: start a server, open a notebook, run it, inspect it.

Shared by the browser test (``test_jupyterlab.py``) and the README pictures (``screenshots.py``).

- ``jupyterlab()`` starts JupyterLab from this Python's environment (the project's ``.venv``) on
  127.0.0.1, a free port and a random token, serving a *copy* of ``notebooks/`` (so nothing the
  browser does is ever saved into the repository), with its own config/settings/runtime folders
  and ``LABKIT_FAST=1``; on exit it shuts the server and its kernels down, even after a failure.
- ``chromium()`` launches headless Chromium through playwright (``$LABKIT_CHROMIUM``, else
  ``/usr/bin/chromium`` when present, else playwright's own browser).
- ``RequestLog`` records every request a browser context makes and aborts any that would leave
  127.0.0.1 / localhost.
- ``Notebook`` opens one notebook in a page, runs all cells and reports what the page shows.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
SCREENSHOTS = REPO / "screenshots" / "browser"  # git-ignored

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
# Schemes that never reach the network.
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    # Belt and braces: Chromium itself cannot resolve any host but the local ones. Pages' requests
    # to other hosts are still *seen* (and failed) by RequestLog, so this hides nothing.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]

# No news pop-up and no update check (both would fetch from the internet). JupyterLab 4's schema:
# fetchNews is a *string* ("true" | "false" | "none"), checkForUpdates a boolean.
NEWS_OFF = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}
}
# Test-only user settings (in the server's private settings folder, never the venv's):
# every cell attached to the DOM (plots and widgets render off-screen too), no autosave.
TEST_USER_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": NEWS_OFF[
        "@jupyterlab/apputils-extension:notification"
    ],
}

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PLOTLY_MIME = "application/vnd.plotly.v1+json"

# What ipywidgets shows instead of a live widget when the front end cannot render it.
WIDGET_FALLBACK = re.compile(
    r"Loading widget|Error displaying widget|model not found"
    r"|\b[A-Z][A-Za-z]*\((?:children|value|layout|description|options|outputs)="
)


def timeout_s() -> float:
    """Per-notebook time limit in seconds ($LABKIT_BROWSER_TIMEOUT, default 900)."""
    return float(os.environ.get("LABKIT_BROWSER_TIMEOUT", "900"))


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_venv_overrides(prefix: str | Path = sys.prefix) -> Path:
    """Turn off JupyterLab's news pop-up and update check for this environment (``make lab`` too).

    Written to ``<prefix>/share/jupyter/lab/settings/overrides.d/llm-lab.json``: JupyterLab reads
    every file in ``overrides.d`` (one per package) before a user's own ``overrides.json``, so this
    neither clobbers nor hides a user's choices.
    """
    path = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "llm-lab.json"
    text = json.dumps(NEWS_OFF, indent=2) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return path


def _write_user_settings(settings_dir: Path) -> None:
    for plugin, values in TEST_USER_SETTINGS.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")


@dataclass
class LabServer:
    url: str  # http://127.0.0.1:PORT/
    token: str
    root: Path  # the served folder; notebooks are under root / "notebooks"
    log: Path
    process: subprocess.Popen = field(repr=False)

    def lab_url(self, notebook: str) -> str:
        return f"{self.url}lab/tree/notebooks/{quote(notebook)}?reset&token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(
            self.url + path.lstrip("/"),
            method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method == "POST" else None,
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def _kill_leftovers(marker: str) -> None:
    """Kill processes whose command line names our private folder (kernels we started)."""
    try:
        import psutil
    except ImportError:  # psutil comes with ipykernel; without it rely on /api/shutdown
        return
    me = os.getpid()
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if p.info["pid"] != me and any(marker in a for a in (p.info["cmdline"] or [])):
                p.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


@contextlib.contextmanager
def jupyterlab(
    source: Path = NOTEBOOKS, startup_timeout: float = 300, fast: bool = True
) -> Iterator[LabServer]:
    """Start JupyterLab serving a copy of ``source`` as ``notebooks/``; stop it on exit.
    Its kernels run in fast mode (``LABKIT_FAST=1``) unless ``fast=False``."""
    tmp = Path(tempfile.mkdtemp(prefix="llm-lab-browser-"))
    proc: subprocess.Popen | None = None
    server: LabServer | None = None
    try:
        root = tmp / "root"
        shutil.copytree(source, root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_*"))
        write_venv_overrides()
        _write_user_settings(tmp / "lab-settings")
        port, token = _free_port(), secrets.token_hex(24)
        env = dict(
            os.environ,
            LABKIT_FAST="1" if fast else "0",
            JUPYTER_CONFIG_DIR=str(tmp / "config"),  # ignore a user's jupyter_server_config
            JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(tmp / "lab-settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(tmp / "lab-workspaces"),
            PYTHONUNBUFFERED="1",
        )
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.open_browser=False",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, to run commands
            "--LabApp.news_url=None",  # the server fetches no news feed
            "--LabApp.extension_manager=readonly",  # ... and asks no package index
        ]  # fmt: skip
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        log = tmp / "jupyterlab.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        server = LabServer(f"http://127.0.0.1:{port}/", token, root, log, proc)
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with {proc.returncode}:\n{server.log_tail()}"
                )
            try:
                server.api("api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"JupyterLab did not answer within {startup_timeout:.0f} s:\n"
                        f"{server.log_tail()}"
                    ) from None
                time.sleep(0.5)
        yield server
    finally:
        if proc is not None:
            if proc.poll() is None and server is not None:
                with contextlib.suppress(OSError):
                    server.api("api/shutdown", method="POST")  # also shuts the kernels down
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=30)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=15)
            _kill_leftovers(str(tmp))
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The browser
# --------------------------------------------------------------------------------------------


def chromium_executable() -> str | None:
    exe = os.environ.get("LABKIT_CHROMIUM", "").strip()
    if exe:
        return exe
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (playwright ``Browser``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname in LOCAL_HOSTS


class RequestLog:
    """Every request (and WebSocket) a browser context makes; non-local ones are aborted."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def attach(self, context: Any) -> None:
        context.on("request", lambda request: self.urls.append(request.url))
        context.on("page", lambda page: page.on("websocket", lambda ws: self.urls.append(ws.url)))
        context.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        if is_local(route.request.url):
            route.fallback()
        else:
            route.abort("blockedbyclient")

    def hosts(self) -> Counter:
        return Counter(urlsplit(u).hostname or urlsplit(u).scheme + ":" for u in self.urls)

    def external(self) -> list[str]:
        return [u for u in self.urls if not is_local(u)]


def new_context(browser: Any, log: RequestLog, width: int = 1280, height: int = 900) -> Any:
    context = browser.new_context(
        viewport={"width": width, "height": height}, service_workers="block"
    )
    log.attach(context)
    return context


# --------------------------------------------------------------------------------------------
# A notebook in the page
# --------------------------------------------------------------------------------------------

# Runs in the page; finds the notebook panel by path (window.jupyterapp is exposed by the server).
_JS_PANEL = """
(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.content && w.sessionContext) return w;
  }
  return null;
}
"""

_JS_READY = f"""
(path) => {{
  const panel = ({_JS_PANEL})(path);
  if (!panel || !panel.context.isReady || !panel.sessionContext.isReady) return null;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return kernel ? kernel.status : null;
}}
"""

_JS_RUN_ALL = f"""
(path) => {{
  const app = window.jupyterapp;
  const panel = ({_JS_PANEL})(path);
  app.shell.activateById(panel.id);
  const id = app.commands.hasCommand('runmenu:run-all') ? 'runmenu:run-all' : 'notebook:run-all-cells';
  window.__llmLabRun = {{id, done: false, error: null}};
  app.commands.execute(id).then(
    () => {{ window.__llmLabRun.done = true; }},
    (e) => {{ window.__llmLabRun.error = String(e); }});
  return id;
}}
"""

# A snapshot of the notebook: kernel status, per code cell its execution count, whether it is
# running, its errors, and what its outputs are (from the model) and how they rendered (the DOM).
_JS_STATE = f"""
(args) => {{
  const [path, widgetMime, plotlyMime] = args;
  const panel = ({_JS_PANEL})(path);
  if (!panel) return null;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = [];
  panel.content.widgets.forEach((cell, index) => {{
    const model = cell.model;
    if (model.type !== 'code') return;
    const outputs = model.outputs.toJSON();
    const errors = outputs.filter(o => o.output_type === 'error')
      .map(o => ({{ename: o.ename, evalue: o.evalue, traceback: (o.traceback || []).join('\\n')}}));
    const has = (mime) => outputs.filter(o => o.data && mime in o.data).length;
    const node = cell.node;
    // The output area's direct children are the model's outputs, in order. (Widget and plotly
    // renderers set no data-mime-type, so match by position, not by attribute.)
    const children = Array.from(cell.outputArea.node.children)
      .filter(el => el.classList.contains('jp-OutputArea-child'));
    const renderedAs = (mime, selector) => outputs
      .map((o, i) => (o.data && mime in o.data && children[i] && children[i].querySelector(selector)) ? 1 : 0)
      .reduce((a, b) => a + b, 0);
    const widgetsOk = renderedAs(widgetMime, '.jupyter-widgets');
    const plotsOk = renderedAs(plotlyMime, '.js-plotly-plot .main-svg');
    const allPlots = Array.from(node.querySelectorAll('.js-plotly-plot'));
    const outText = Array.from(node.querySelectorAll('.jp-OutputArea-output'))
      .map(el => el.innerText).join('\\n');
    cells.push({{
      index,
      source: model.sharedModel.getSource().slice(0, 200),
      empty: !model.sharedModel.getSource().trim(),  // JupyterLab does not number empty cells
      count: model.executionCount,
      running: model.executionState === 'running' || /\\*/.test(
        (node.querySelector('.jp-InputPrompt') || {{}}).textContent || ''),
      errors,
      widgets: has(widgetMime), widgetsRendered: widgetsOk,
      plots: has(plotlyMime), plotsRendered: plotsOk,
      nestedPlots: allPlots.length,
      nestedPlotsRendered: allPlots.filter(el => el.querySelector('.main-svg')).length,
      outText: outText.slice(0, 20000),
    }});
  }});
  return {{kernel: kernel ? kernel.status : null, run: window.__llmLabRun || null, cells}};
}}
"""

_JS_MARK_CELL = f"""
(args) => {{
  const [path, needle, mark] = args;
  const panel = ({_JS_PANEL})(path);
  const cell = panel.content.widgets.find(
    c => c.model.type === 'code' && c.model.sharedModel.getSource().includes(needle));
  if (!cell) return false;
  cell.node.setAttribute('data-llm-lab', mark);
  const outputs = Array.from(cell.outputArea.node.children)
    .filter(el => el.classList.contains('jp-OutputArea-child'));
  const last = outputs.length && outputs[outputs.length - 1].querySelector('.jp-OutputArea-output');
  if (last) last.setAttribute('data-llm-lab-last-output', mark);
  return true;
}}
"""


class NotebookError(AssertionError):
    pass


def _strip_ansi(s: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", s)


@dataclass
class Notebook:
    """One notebook open in a page: ``open()``, ``run_all()``, then look at ``state()``."""

    page: Any
    server: LabServer
    name: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"notebooks/{self.name}"

    def _poll(self, fn: Any, what: str, timeout: float, interval: float = 0.5) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = fn()
            if value:
                return value
            if time.monotonic() > deadline:
                raise NotebookError(
                    f"{self.name}: timed out after {timeout:.0f} s waiting for {what}\n"
                    f"JupyterLab log:\n{self.server.log_tail()}"
                )
            self.page.wait_for_timeout(interval * 1000)

    def open(self, timeout: float = 300) -> None:
        t0 = time.monotonic()
        self.page.goto(self.server.lab_url(self.name), wait_until="domcontentloaded",
                       timeout=timeout * 1000)  # fmt: skip
        self._poll(lambda: self.page.evaluate(_JS_READY, self.path) == "idle",
                   "the notebook to open and its kernel to be idle", timeout)  # fmt: skip
        self.timings["open"] = time.monotonic() - t0

    def state(self) -> dict[str, Any]:
        return self.page.evaluate(_JS_STATE, [self.path, WIDGET_MIME, PLOTLY_MIME])

    def run_all(self, timeout: float | None = None) -> dict[str, Any]:
        """Run All Cells; wait until the kernel is idle and every code cell has run (or one
        failed). Returns the final ``state()``."""
        timeout = timeout_s() if timeout is None else timeout
        t0 = time.monotonic()
        self.page.evaluate(_JS_RUN_ALL, self.path)
        settled = 0

        def finished() -> dict[str, Any] | None:
            nonlocal settled
            s = self.state()
            if s["run"] and s["run"]["error"]:
                raise NotebookError(f"{self.name}: Run All failed: {s['run']['error']}")
            idle = s["kernel"] == "idle" and not any(c["running"] for c in s["cells"])
            failed = any(c["errors"] for c in s["cells"])
            complete = all(c["count"] is not None or c["empty"] for c in s["cells"])
            settled = settled + 1 if idle and (failed or complete) else 0
            return s if settled >= 3 else None  # idle for three polls in a row

        state = self._poll(finished, "all cells to run", timeout)
        self.timings["run"] = time.monotonic() - t0
        return state

    # ---- checks --------------------------------------------------------------------------

    def errors(self, state: dict[str, Any]) -> list[str]:
        out = []
        for c in state["cells"]:
            for e in c["errors"]:
                tb = _strip_ansi(e["traceback"]).strip().splitlines()[-15:]
                out.append(f"cell {c['index']} ({c['source'][:60]!r}…): {e['ename']}: "
                           f"{e['evalue']}\n" + "\n".join(tb))  # fmt: skip
        unrun = [c["index"] for c in state["cells"] if c["count"] is None and not c["empty"]]
        if unrun and not out:
            out.append(f"cells {unrun} never ran")
        return out

    def render_problems(self, state: dict[str, Any]) -> list[str]:
        """Widgets that did not render live, plotly figures that did not render as plots."""
        problems = []
        for c in state["cells"]:
            where = f"cell {c['index']} ({c['source'][:60]!r}…)"
            if c["widgets"] != c["widgetsRendered"]:
                problems.append(f"{where}: {c['widgets']} widget output(s), "
                                f"{c['widgetsRendered']} rendered as live widgets")  # fmt: skip
            if c["plots"] != c["plotsRendered"]:
                problems.append(f"{where}: {c['plots']} plotly figure(s), "
                                f"{c['plotsRendered']} rendered as interactive plots")  # fmt: skip
            if c["nestedPlots"] != c["nestedPlotsRendered"]:
                problems.append(f"{where}: a plotly plot without its SVG")
            m = WIDGET_FALLBACK.search(c["outText"]) if c["widgets"] else None
            if m:
                problems.append(f"{where}: widget shown as text: {m.group(0)!r}")
        return problems

    def wait_rendered(self, timeout: float = 120) -> dict[str, Any]:
        """Wait (widgets and plots render after the cell finishes) until nothing is missing;
        returns the last state; ``render_problems(state)`` says what is still wrong."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        while True:
            state = self.state()
            if not self.render_problems(state) or time.monotonic() > deadline:
                self.timings["render"] = time.monotonic() - t0
                return state
            self.page.wait_for_timeout(500)

    # ---- interactions ----------------------------------------------------------------------

    # A widget panel: an outermost VBox in a cell's output (the labkit Panel, the generation
    # playground, the chat); nested boxes are parts of one.
    PANEL = ".jp-OutputArea-output .widget-vbox:not(.widget-vbox .widget-vbox)"
    # Where a panel shows its result: Output areas and HTML widgets (not the controls' labels).
    SHOWN = ".widget-output, .widget-html"

    def interact(self, timeout: float = 180) -> list[str]:
        """Turn one knob of every widget panel and check that what the panel shows changes.

        Per panel, the first of: type into its text box and press its primary button (the chat's
        Send, the playground's Generate); move its slider one step (ArrowLeft, or ArrowRight at
        the minimum); pick the next option of its drop-down; edit its text box and submit.
        Returns what was done, one line per panel (empty when the notebook has no panel); a panel
        with no output area or no knob of these kinds fails.
        """
        panels = self.page.locator(self.PANEL)
        done = []
        t0 = time.monotonic()
        for i in range(panels.count()):
            panel = panels.nth(i)
            panel.scroll_into_view_if_needed()
            shown = panel.locator(self.SHOWN)
            if not shown.count():
                raise NotebookError(f"{self.name}: widget panel {i + 1} shows no output area")

            before = self._shown_html(shown)
            did = self._turn_knob(panel)
            if did is None:
                raise NotebookError(f"{self.name}: widget panel {i + 1} has no knob to turn")
            what = f"panel {i + 1}'s output to change after: {did}"
            self._poll(lambda s=shown, b=before: self._changed(s, b), what, timeout)
            done.append(f"panel {i + 1}: {did}")
        self.timings["interact"] = time.monotonic() - t0
        return done

    @staticmethod
    def _shown_html(shown: Any) -> str:
        return "".join(shown.nth(j).inner_html() for j in range(shown.count()))

    def _changed(self, shown: Any, before: str) -> bool:
        html = self._shown_html(shown)
        return (
            html != before
            and "Loading widget" not in html
            and ("js-plotly-plot" not in before or "main-svg" in html)
        )

    def _turn_knob(self, panel: Any) -> str | None:
        texts = panel.locator("textarea, input[type=text]")
        button = panel.locator("button.mod-primary")
        handle = panel.locator(".widget-hslider .noUi-handle")
        select = panel.locator("select")
        if texts.count() and button.count():
            box = texts.first
            old = box.input_value()
            new = old[:-1] if old.strip() else "Say hello in three words."
            box.fill(new)
            button.first.click()
            return f"typed {new!r}, pressed {button.first.inner_text().strip()!r}"
        if handle.count():
            readout = panel.locator(".widget-hslider .widget-readout").first
            old = readout.inner_text().strip()
            handle.first.focus()
            self.page.keyboard.press("ArrowLeft")
            key = "ArrowLeft"
            if readout.inner_text().strip() == old:  # already at the minimum
                self.page.keyboard.press("ArrowRight")
                key = "ArrowRight"
            return f"slider {key} ({old} -> {readout.inner_text().strip()})"
        if select.count():
            options = select.first.locator("option")
            if options.count() < 2:
                return None
            old = select.first.input_value()
            index = 1 if options.nth(0).get_attribute("value") == old else 0
            select.first.select_option(index=index)
            return f"drop-down {old!r} -> {select.first.input_value()!r}"
        if texts.count():
            box = texts.first
            old = box.input_value()
            # a small edit of what the notebook put there (its last character deleted), so the
            # text stays valid for the box (a date, a sentence); an empty box gets two words
            new = old[:-1] if old.strip() else "king queen"
            box.fill(new)
            # Enter submits a Text with continuous_update=False; Tab (blur) a Textarea
            box.press("Tab" if box.evaluate("el => el.tagName") == "TEXTAREA" else "Enter")
            return f"text box {old!r} -> {new!r}"
        return None

    # ---- pictures --------------------------------------------------------------------------

    def screenshot_all(self, path: Path, width: int = 1280, max_height: int = 16000) -> Path:
        """The whole notebook in one PNG (the viewport is stretched to the notebook's height)."""
        height = self.page.evaluate(
            f"""(path) => {{
                 const app = window.jupyterapp;
                 app.shell.collapseLeft();
                 app.shell.collapseRight();
                 const panel = ({_JS_PANEL})(path);
                 const outer = panel.node.querySelector('.jp-WindowedPanel-outer');
                 if (outer) outer.scrollTop = 0;
                 const inner = panel.node.querySelector('.jp-WindowedPanel-inner');
                 return (inner || panel.content.node).scrollHeight; }}""",
            self.path,
        )
        old = self.page.viewport_size
        self.page.set_viewport_size(
            {"width": width, "height": min(max(900, height + 200), max_height)}
        )
        self.page.wait_for_timeout(1000)  # let plotly re-layout
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))
        self.page.set_viewport_size(old)
        return path

    def screenshot_cell(self, needle: str, path: Path, selector: str | None = None) -> Path:
        """A PNG of ``selector`` inside the first code cell whose source contains ``needle``
        (default: the cell's last output)."""
        mark = re.sub(r"\W+", "-", path.stem)
        if not self.page.evaluate(_JS_MARK_CELL, [self.path, needle, mark]):
            raise NotebookError(f"{self.name}: no code cell contains {needle!r}")
        if selector:
            target = self.page.locator(f'[data-llm-lab="{mark}"] {selector}').first
        else:
            target = self.page.locator(f'[data-llm-lab-last-output="{mark}"]')
        target.scroll_into_view_if_needed()
        self.page.mouse.move(0, 0)  # no hover labels in the picture
        self.page.wait_for_timeout(500)
        path.parent.mkdir(parents=True, exist_ok=True)
        target.screenshot(path=str(path))
        return path

    def shutdown_kernel(self) -> None:
        with contextlib.suppress(Exception):
            self.page.evaluate(
                f"(path) => {{ const p = ({_JS_PANEL})(path); "
                "return p ? p.sessionContext.shutdown() : null; }",
                self.path,
            )
