"""Ctrl-C at random moments, inside the optimiser's fused kernel and during saves: a run that is
interrupted again and again, and continued each time with the same command, ends bit-identical
(weights, optimiser state, history without the wall-clock column) to a run trained in one go.

Every interrupted run is a real ``python -m labkit train gpt`` process that gets a real SIGINT:
from this test after a seeded random delay, or from itself at a chosen point (right after the
fused AdamW kernel returns, or right after a checkpoint's weights file is written), which timing
alone cannot hit. The corpus is the default one from the data cache, copied into a private one.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from labkit import checkpoint, cli, runs

ROOT = Path(__file__).resolve().parents[1]
STEPS = 80
ARGS = [
    "train", "gpt", "--data", "shakespeare", "--max-chars", "20000", "--preset", "tiny",
    "--max-steps", str(STEPS), "--batch-size", "4", "--eval-every", "10", "--eval-batches", "2",
    "--checkpoint-every", "5", "--device", "cpu", "--no-progress",
]  # fmt: skip

# Runs `python -m labkit ...` and sends this process a SIGINT at the point SIGINT_AT names:
#   update:N     right after the N-th fused AdamW kernel returns (still inside optimizer.step;
#                one kernel per parameter group, two groups: step 13 runs the 25th and 26th)
#   save-last:N  right after the weights file of the N-th save of last/ is written
#   save-best:N  the same for best/
# and touches the file FIT_STARTED when Trainer.fit begins (the test's clock for random delays).
DRIVER = r"""
import os, runpy, signal, sys
from pathlib import Path

import torch

import labkit.checkpoint, labkit.train

kind, _, n = os.environ.get("SIGINT_AT", ":0").partition(":")
calls = {"n": 0}

def ctrl_c_at_the_nth_call():
    calls["n"] += 1
    if calls["n"] == int(n):
        os.kill(os.getpid(), signal.SIGINT)

if kind == "update":
    kernel = torch._fused_adamw_

    def fused_adamw(*args, **kwargs):
        out = kernel(*args, **kwargs)
        ctrl_c_at_the_nth_call()
        return out

    torch._fused_adamw_ = fused_adamw
elif kind.startswith("save-"):
    write = labkit.checkpoint._write_file
    folder = "." + kind.removeprefix("save-") + ".new-"

    def write_then_ctrl_c(path, data):
        write(path, data)
        if path.name == "model.safetensors" and path.parent.name.startswith(folder):
            ctrl_c_at_the_nth_call()

    labkit.checkpoint._write_file = write_then_ctrl_c

fit = labkit.train.Trainer.fit

def fit_and_tell(self, *args, **kwargs):
    Path(os.environ["FIT_STARTED"]).touch()
    return fit(self, *args, **kwargs)

labkit.train.Trainer.fit = fit_and_tell
sys.argv = ["labkit", *sys.argv[1:]]
runpy.run_module("labkit", run_name="__main__", alter_sys=True)
"""


@pytest.fixture(scope="module")
def env(corpus_cache) -> dict[str, str]:
    """A private data cache holding the default corpus; one torch thread, here and in children."""
    cache = corpus_cache
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_DATA_DIR", str(cache))
        yield {
            **os.environ,
            "LABKIT_DATA_DIR": str(cache),
            "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
    torch.set_num_threads(threads)


def run(out: Path, env: dict[str, str], at: str = "", delay: float | None = None) -> int:
    """One training process on ``out``: Ctrl-C from inside (``at``), or from here ``delay``
    seconds after its ``fit`` began; returns its exit code."""
    started = out.parent / f"{out.name}.fit-started"
    started.unlink(missing_ok=True)
    driver = out.parent / "driver.py"
    driver.write_text(DRIVER)
    child_env = {**env, "SIGINT_AT": at or ":0", "FIT_STARTED": str(started)}
    proc = subprocess.Popen(
        [sys.executable, str(driver), *ARGS, "--out", str(out)],
        env=child_env,
        cwd=out.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if delay is not None:
        deadline = time.monotonic() + 120
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode in (0, cli.EXIT_INTERRUPTED, -signal.SIGINT), stdout + stderr
    return proc.returncode


def state(ckpt: Path) -> dict:
    return checkpoint.load_trainer_state(ckpt)


def assert_consistent(out: Path) -> None:
    """After an interrupt: last/ loads whole, and history.csv is never ahead of it."""
    step = state(out / "last")["step"]
    checkpoint.load(out / "last", device="cpu")
    if (out / runs.HISTORY_FILE).is_file():
        assert len(pd.read_csv(out / runs.HISTORY_FILE)) <= step


def assert_same_run(a: Path, b: Path) -> None:
    for name in ("last", "best"):
        wa = checkpoint.load(a / name, device="cpu").state_dict()
        wb = checkpoint.load(b / name, device="cpu").state_dict()
        assert all(torch.equal(wa[k], wb[k]) for k in wa), name
    sa, sb = state(a / "last"), state(b / "last")
    assert sa["step"] == sb["step"] == STEPS
    ha, hb = (pd.DataFrame(s["history"]).drop(columns="elapsed") for s in (sa, sb))
    pd.testing.assert_frame_equal(ha, hb, check_exact=True)
    csv = pd.read_csv(a / runs.HISTORY_FILE).drop(columns="elapsed")
    pd.testing.assert_frame_equal(csv, pd.read_csv(b / runs.HISTORY_FILE).drop(columns="elapsed"))
    for i, slots in sa["optimizer"]["state"].items():
        assert all(torch.equal(v, sb["optimizer"]["state"][i][k]) for k, v in slots.items())
    assert state(a / "best")["step"] == state(b / "best")["step"]


def test_every_interrupted_run_resumes_to_the_unbroken_one(tmp_path, env):
    unbroken = tmp_path / "unbroken"
    assert cli.main([*ARGS, "--out", str(unbroken)]) == 0
    seconds = pd.read_csv(unbroken / runs.HISTORY_FILE)["elapsed"].iloc[-1]  # training time

    out = tmp_path / "run"
    # Ctrl-C between the two kernels of update 13: it must be finished and counted, not repeated
    assert run(out, env, at="update:25") == cli.EXIT_INTERRUPTED
    assert state(out / "last")["step"] == 13
    assert_consistent(out)
    # Ctrl-C while last/ is written (its 2nd save in this process: step 20), then best/ (step 30)
    assert run(out, env, at="save-last:2") == cli.EXIT_INTERRUPTED
    assert state(out / "last")["step"] == 20
    assert_consistent(out)
    assert run(out, env, at="save-best:1") == cli.EXIT_INTERRUPTED
    assert state(out / "last")["step"] == state(out / "best")["step"] == 30
    assert_consistent(out)
    # Ctrl-C at seeded random moments of the 50 steps left, until a run gets to the end
    rng = random.Random(0)
    for _ in range(3):
        if run(out, env, delay=rng.uniform(0.0, 0.3 * seconds)) == 0:
            break
        assert_consistent(out)
    assert run(out, env) == 0  # the same command once more: finishes (or is already finished)
    assert_same_run(out, unbroken)
