"""Rerun notebooks under several seed offsets and print every claim's margin.

A notebook's claims about random outcomes are written ``labkit.claim(statement, value,
above=/below=)`` (see ``labkit/claims.py``); plain ``assert`` lines are identities. This script
runs each notebook under nbval once per seed offset (``LABKIT_SEED_OFFSET``), with
``LABKIT_CLAIMS_LOG`` set so every claim records its margin, and prints one row per claim: its
smallest, median and largest margin over the offsets, and how many runs failed it.

    .venv/bin/python benchmarks/seed_sweep.py                      # fast mode, offsets 0-9
    .venv/bin/python benchmarks/seed_sweep.py --full --offsets 0-2 --notebooks 04 05
    .venv/bin/python benchmarks/seed_sweep.py --list [--show]      # identities vs claims, counted [listed]

The exit status is 1 when any run failed (a claim or anything else), else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def parse_offsets(text: str) -> list[int]:
    """'0-9' → [0, ..., 9]; '0,3,5' → [0, 3, 5]; the two forms mix: '0-2,7'."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if re.fullmatch(r"\d+-\d+", part):
            lo, hi = map(int, part.split("-"))
            out.extend(range(lo, hi + 1))
        elif part.isdigit():
            out.append(int(part))
        else:
            raise argparse.ArgumentTypeError(f"--offsets: expected e.g. 0-9 or 0,1,2; got {text!r}")
    return out


def pick_notebooks(prefixes: list[str] | None) -> list[Path]:
    books = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if prefixes:
        books = [b for b in books if any(b.name.startswith(p) for p in prefixes)]
        if not books:
            raise SystemExit(f"no notebook matches {prefixes}")
    return books


def code_cells(book: Path) -> list[str]:
    cells = json.loads(book.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def checks(book: Path) -> tuple[list[str], list[str]]:
    """The identities (``assert`` lines) and claims (``claim(`` calls, their first line) of a
    notebook, in order."""
    identities: list[str] = []
    claims: list[str] = []
    for src in code_cells(book):
        identities += [m.strip() for m in re.findall(r"^\s*assert\b.*$", src, flags=re.M)]
        claims += [m.strip() for m in re.findall(r"^.*\bclaim\(.*$", src, flags=re.M)]
    return identities, claims


def run_one(book: Path, offset: int, full: bool, log_dir: Path, timeout: int) -> dict:
    log = log_dir / f"{book.stem}-{offset}.jsonl"
    env = dict(os.environ)
    env.update(
        LABKIT_FAST="0" if full else "1",
        LABKIT_SEED_OFFSET=str(offset),
        LABKIT_CLAIMS_LOG=str(log),
        OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"),
    )
    cmd = [sys.executable, "-m", "pytest", str(book), "--nbval-lax", "--nbval-current-env",
           "-p", "no:cacheprovider", "-q", f"--nbval-cell-timeout={timeout}"]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else [""]
    return {
        "notebook": book.stem,
        "offset": offset,
        "ok": proc.returncode == 0,
        "seconds": round(seconds, 1),
        "result": tail[0],
        "claims": [json.loads(x) for x in lines],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="full mode (LABKIT_FAST=0); default fast mode")
    ap.add_argument("--offsets", type=parse_offsets, default=None, help="seed offsets, e.g. 0-9 or 0,1,2")
    ap.add_argument("--notebooks", nargs="*", help="notebook number prefixes, e.g. 04 05 (default: all)")
    ap.add_argument("--workers", type=int, default=2, help="notebook runs at a time (default 2)")
    ap.add_argument("--cell-timeout", type=int, default=3600, help="seconds one cell may run")
    ap.add_argument("--csv", type=Path, help="also write the per-run margins to this CSV file")
    ap.add_argument("--list", action="store_true", help="only count identities and claims per notebook")
    ap.add_argument("--show", action="store_true", help="with --list: print every check, sorted by kind")
    args = ap.parse_args(argv)

    books = pick_notebooks(args.notebooks)
    if args.list:
        found = {b.stem: checks(b) for b in books}
        if args.show:
            for stem, (identities, claims) in found.items():
                print(f"## {stem}\nidentities:")
                print("\n".join(f"  {line}" for line in identities) or "  (none)")
                print("claims:")
                print("\n".join(f"  {line}" for line in claims) or "  (none)")
        rows = [(stem, len(i), len(c)) for stem, (i, c) in found.items()]
        table = pd.DataFrame(rows, columns=["notebook", "identities (assert)", "claims (claim)"])
        print(table.to_string(index=False))
        print(f"total: {table.iloc[:, 1].sum()} identities, {table.iloc[:, 2].sum()} claims")
        return 0

    offsets = args.offsets if args.offsets is not None else list(range(10 if not args.full else 3))
    mode = "full" if args.full else "fast"
    print(f"seed sweep, {mode} mode: {len(books)} notebooks x offsets {offsets}", flush=True)
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max(1, args.workers)) as pool:
        jobs = [pool.submit(run_one, b, o, args.full, Path(tmp), args.cell_timeout) for b in books for o in offsets]
        results = []
        for job in jobs:
            r = job.result()
            results.append(r)
            status = "ok" if r["ok"] else "FAILED"
            print(f"  {r['notebook']} offset {r['offset']}: {status} in {r['seconds']} s  {r['result']}", flush=True)

    rows = [
        {"notebook": r["notebook"], "offset": r["offset"], "claim": c["statement"], "margin": float(c["margin"])}
        for r in results
        for c in r["claims"]
    ]
    if args.csv:
        pd.DataFrame(rows).to_csv(args.csv, index=False)
    if rows:
        df = pd.DataFrame(rows)
        table = (
            df.groupby(["notebook", "claim"], sort=False)["margin"]
            .agg(seeds="count", min="min", median="median", max="max", failed=lambda m: int((~(m > 0)).sum()))
            .reset_index()
        )
        with pd.option_context("display.max_colwidth", 70, "display.width", 200):
            print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    failed = [r for r in results if not r["ok"]]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
