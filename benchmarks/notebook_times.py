"""Run every course notebook in a fresh kernel and print its wall time and peak memory.

    .venv/bin/python benchmarks/notebook_times.py             # fast mode (LABKIT_FAST=1)
    .venv/bin/python benchmarks/notebook_times.py --full      # the full settings
    .venv/bin/python benchmarks/notebook_times.py --repeat 3 notebooks/00_setup.ipynb

Peak memory is the kernel's maximum resident set size (what Binder's 2 GB limit is about). Each
notebook runs in its own child process, so the kernel's rusage is read once it has exited. CPU
seconds (user + system, of the kernel) change far less than wall time when other work shares the
machine: on a busy machine compare those, and print `uptime`'s load with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, resource, sys, time
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
start = time.perf_counter()
client = NotebookClient(nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}})
# nbclient plays an ipywidgets front end for Output widgets and sends their state back on the
# shell channel while it waits for replies there, which can block a cell forever (nbclient
# issue 312); widget state is not needed for timing, so it is left out.
client.comm_open_handlers = {"jupyter.widget": lambda msg: None}
client.execute()
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the kernel, once it has exited
peak_kib = usage.ru_maxrss  # Linux reports KiB
print(json.dumps({"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_mib": peak_kib / 1024}))
"""


def run_once(notebook: Path, fast: bool) -> dict[str, float]:
    env = dict(os.environ, LABKIT_FAST="1" if fast else "0")
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(notebook), str(notebook.parent)],
        env=env, capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{notebook.name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--full", action="store_true", help="full settings instead of fast mode")
    parser.add_argument("--repeat", type=int, default=1, help="runs per notebook; the median is shown")
    args = parser.parse_args()
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    mode = "full" if args.full else "fast"
    print(f"# machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}; mode: {mode}")
    print(f"# load average at start: {os.getloadavg()[0]:.1f}")
    print(f"{'notebook':32s} {'median s':>9s} {'CPU s':>7s} {'peak MiB':>9s}")
    for nb in notebooks:
        runs = [run_once(nb, fast=not args.full) for _ in range(args.repeat)]
        secs = statistics.median(r["seconds"] for r in runs)
        cpu = statistics.median(r["cpu_seconds"] for r in runs)
        peak = max(r["peak_mib"] for r in runs)
        print(f"{nb.name:32s} {secs:9.1f} {cpu:7.1f} {peak:9.0f}", flush=True)


if __name__ == "__main__":
    main()
