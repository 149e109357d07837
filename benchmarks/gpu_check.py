"""The whole kit on a GPU, in one table: unit tests, every notebook in full mode, the benchmarks.

    make gpu-check                       # = .venv/bin/python benchmarks/gpu_check.py
    .venv/bin/python benchmarks/gpu_check.py --skip-notebooks 09 --out gpu_check.md

Runs, each in its own child process with ``LABKIT_DEVICE=cuda`` (so ``labkit.device.best()``
and every notebook pick the GPU):

1. the unit tests (``pytest tests``; the notebooks are run below, one at a time);
2. every notebook in full mode (``LABKIT_FAST=0``) under nbval, timed;
3. the speed benchmarks that take ``--device cuda`` (``train_gpt_char.py`` is nanoGPT's CPU
   recipe and stays on the CPU).

It prints the machine (``labkit.device.report()``: GPU, compute capability and the mixed precision
labkit chose) and one Markdown table (step, result, seconds, last line of output), and writes the
same to ``--out``. It refuses to run without a CUDA GPU, since every row would then be a CPU number.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCHMARKS = [
    ("attention reference vs fused", ["benchmarks/attention_ref_vs_fast.py", "--device", "cuda", "--seq", "64", "256", "1024"]),
    ("LSTM reference vs fused", ["benchmarks/lstm_reference_vs_fused.py", "--device", "cuda"]),
    ("char LSTM on tinyshakespeare", ["benchmarks/char_lstm_tinyshakespeare.py", "--device", "cuda"]),
]  # fmt: skip


def run(label: str, args: list[str], env: dict[str, str], timeout: int) -> dict[str, str]:
    start = time.perf_counter()
    try:
        proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        ok, out = proc.returncode == 0, (proc.stdout + proc.stderr).strip()
    except subprocess.TimeoutExpired as err:
        ok, out = False, f"timed out after {timeout} s " + str(err.stdout or "")[-200:]
    seconds = time.perf_counter() - start
    last = out.splitlines()[-1] if out else ""
    row = {"step": label, "result": "ok" if ok else "FAILED", "seconds": f"{seconds:.0f}", "last line": last}
    print(f"{row['result']:>6}  {seconds:7.0f} s  {label}: {last}", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "gpu_check.md", help="Markdown report (gpu_check.md)")
    parser.add_argument("--skip-notebooks", nargs="*", default=[], help="notebook number prefixes to leave out")
    parser.add_argument("--no-tests", action="store_true", help="leave out the unit tests")
    parser.add_argument("--no-benchmarks", action="store_true", help="leave out the benchmarks")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per step (3600)")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("gpu_check: torch sees no CUDA GPU on this machine; nothing to check", file=sys.stderr)
        return 2
    from labkit import device

    env = dict(os.environ, LABKIT_DEVICE="cuda", LABKIT_FAST="0", PYTHONUNBUFFERED="1")
    machine = device.report()
    print("\n".join(f"{k}: {v}" for k, v in machine.items()), flush=True)

    rows = []
    if not args.no_tests:
        rows.append(run("unit tests (LABKIT_DEVICE=cuda)", [sys.executable, "-m", "pytest", "tests", "-q", "-p",
                        "no:cacheprovider", "--ignore=tests/browser"], dict(env, LABKIT_FAST="1"), args.timeout))  # fmt: skip
    for book in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if any(book.name.startswith(p) for p in args.skip_notebooks):
            continue
        cmd = [sys.executable, "-m", "pytest", str(book), "--nbval-lax", "--nbval-current-env", "-q",
               "-p", "no:cacheprovider", f"--nbval-cell-timeout={args.timeout}"]  # fmt: skip
        rows.append(run(f"notebook {book.stem} (full mode)", cmd, env, args.timeout))
    if not args.no_benchmarks:
        for label, cmd in BENCHMARKS:
            rows.append(run(label, [sys.executable, *cmd], env, args.timeout))

    lines = ["| step | result | seconds | last line |", "|---|---|---|---|"]
    lines += [f"| {r['step']} | {r['result']} | {r['seconds']} | `{r['last line'][:160]}` |" for r in rows]
    report = "\n".join([*(f"- {k}: {v}" for k, v in machine.items()), "", *lines]) + "\n"
    args.out.write_text(report, encoding="utf-8")
    print("\n" + report)
    return 0 if all(r["result"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
