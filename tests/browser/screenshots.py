"""``make screenshots``: small PNGs of notebook outputs for the README, written to docs/img/.

Runs each notebook that a target names in JupyterLab (headless Chromium, fast mode, no network;
see lab_driver.py) and crops a picture to one cell's output.

    python tests/browser/screenshots.py                # the TARGETS below
    python tests/browser/screenshots.py --out DIR 00_setup.ipynb::char_frequency_bar::chars.png

A target is NOTEBOOK::CELL_TEXT::FILE[::SELECTOR]: the first code cell whose source contains
CELL_TEXT, the element SELECTOR inside it (default: the cell's last output). A notebook that does
not exist (yet) is skipped with a note; a picture over MAX_BYTES is an error (crop tighter).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lab_driver  # noqa: E402

MAX_BYTES = 200_000


@dataclass(frozen=True)
class Target:
    notebook: str
    cell: str  # text in the cell's source
    file: str  # PNG name under --out
    selector: str | None = None  # CSS inside the cell; None: its last output

    @classmethod
    def parse(cls, spec: str) -> Target:
        parts = spec.split("::")
        if len(parts) not in (3, 4) or not all(parts):
            raise argparse.ArgumentTypeError(
                f"expected NOTEBOOK::CELL_TEXT::FILE[::SELECTOR]; got {spec!r}"
            )
        return cls(*parts)


TARGETS = [
    Target("01_nlp_basics.ipynb", "widgets.tokenizer_explorer(", "tokenizer-explorer.png"),
    Target("11_pretrained_encoders.ipynb", "widgets.bert_attention_explorer(", "bert-attention.png"),
    Target("08_transformer_gpt.ipynb", "viz.loss_curves(history", "loss-curve.png"),
    Target("12_run_a_real_llm.ipynb", "widgets.chat_panel(", "chat-panel.png"),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=lab_driver.REPO / "docs" / "img")
    ap.add_argument("--width", type=int, default=1100, help="browser width in CSS pixels")
    ap.add_argument("--full", action="store_true", help="full mode (LABKIT_FAST=0): slow")
    ap.add_argument("targets", nargs="*", type=Target.parse, help="default: the README's")
    args = ap.parse_args(argv)
    targets = args.targets or TARGETS

    by_notebook: dict[str, list[Target]] = {}
    for t in targets:
        by_notebook.setdefault(t.notebook, []).append(t)
    failed: list[str] = []
    for name in list(by_notebook):
        if not (lab_driver.NOTEBOOKS / name).exists():
            print(f"skipped: notebooks/{name} does not exist (yet)")
            del by_notebook[name]

    t_all = time.monotonic()
    with lab_driver.jupyterlab(fast=not args.full) as server, lab_driver.chromium() as browser:
        for name, group in by_notebook.items():
            t0 = time.monotonic()
            log = lab_driver.RequestLog()
            context = lab_driver.new_context(browser, log, width=args.width, height=1400)
            page = context.new_page()
            nb = lab_driver.Notebook(page, server, name)
            try:
                nb.open()
                errors = nb.errors(nb.run_all())
                if errors:
                    failed += [f"{name}: {e}" for e in errors]
                    continue
                nb.wait_rendered()
                page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
                for t in group:
                    try:
                        path = nb.screenshot_cell(t.cell, args.out / t.file, t.selector)
                    except Exception as e:  # noqa: BLE001 - report, go on with the others
                        failed.append(f"{name} {t.file}: {e}")
                        continue
                    size = path.stat().st_size
                    rel = path.relative_to(lab_driver.REPO) if path.is_relative_to(
                        lab_driver.REPO) else path  # fmt: skip
                    print(f"wrote {rel} ({size / 1000:.0f} KB)")
                    if size > MAX_BYTES:
                        failed.append(f"{rel}: {size:,} bytes > {MAX_BYTES:,}; crop tighter")
            finally:
                nb.shutdown_kernel()
                context.close()
            if log.external():
                failed.append(f"{name}: requests left 127.0.0.1: {log.external()}")
            print(
                f"{name}: {time.monotonic() - t0:.0f} s, {len(log.urls)} requests, "
                f"{len(log.external())} of them not to 127.0.0.1"
            )
    print(f"screenshots: {time.monotonic() - t_all:.0f} s")
    for f in failed:
        print(f"FAILED {f}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
