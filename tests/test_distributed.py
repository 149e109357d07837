"""Data-parallel training under torchrun: N ranks x b windows = one process x N·b windows.

Real launches: ``python -m torch.distributed.run --standalone --nproc_per_node 2 -m labkit train
gpt ...`` on the CPU (gloo), against ``python -m labkit train gpt`` in this process with twice the
batch. The same tiny run as tests/test_cli.py (the default corpus from the data cache, copied
into a private one; the ``tiny`` preset, no dropout) for 8 steps. A second pair of launches goes
through a driver that logs every file each rank writes and sends torchrun a real SIGINT (as a
Ctrl-C in its terminal does) from inside rank 0 at a chosen step.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from labkit import checkpoint, cli, distributed, runs
from labkit.gpt import GPT, GPTConfig
from labkit.train import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]
STEPS = 8
B = 4  # windows per rank
ARGS = [
    "train", "gpt", "--data", "shakespeare", "--max-chars", "20000", "--preset", "tiny",
    "--max-steps", str(STEPS), "--eval-every", "4", "--eval-batches", "2", "--device", "cpu",
    "--no-progress",
]  # fmt: skip
RTOL = 1e-5  # float sums in another order: one process adds 2b windows, DDP averages two b's
LAUNCH = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")

# Runs `-m labkit` as torchrun's worker, logging "RANK what name" for every checkpoint and
# run-folder file the rank writes and "RANK exit CODE" at its end; with CTRL_C_AT_STEP=N, rank 0
# sends torchrun a SIGINT as step N begins (torchrun forwards it to every rank).
DRIVER = r"""
import os, runpy, signal, sys
from pathlib import Path

import labkit.checkpoint, labkit.runs, labkit.train

rank, log = os.environ["RANK"], Path(os.environ["WRITES_LOG"])

def note(line):
    with log.open("a") as f:
        f.write(f"{rank} {line}\n")

def logged(write, what):
    def wrapper(path, *args, **kwargs):
        note(f"{what} {Path(path).name}")
        return write(path, *args, **kwargs)
    return wrapper

labkit.checkpoint.save = logged(labkit.checkpoint.save, "checkpoint")
labkit.runs._atomic_write_text = logged(labkit.runs._atomic_write_text, "file")
at = int(os.environ.get("CTRL_C_AT_STEP", "0"))
step = labkit.train.Trainer._train_step

def ctrl_c_to_torchrun(self):
    if rank == "0" and self.step + 1 == at:
        os.kill(os.getppid(), signal.SIGINT)
    step(self)

labkit.train.Trainer._train_step = ctrl_c_to_torchrun
sys.argv = ["labkit", *sys.argv[1:]]
try:
    runpy.run_module("labkit", run_name="__main__", alter_sys=True)
except SystemExit as done:
    note(f"exit {done.code}")
    raise
"""


@pytest.fixture(scope="module")
def env(corpus_cache) -> dict[str, str]:
    """A private data cache holding the default corpus; one torch thread, here and in the ranks;
    no launch variables inherited from outside."""
    cache = corpus_cache
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_DATA_DIR", str(cache))
        mp.delenv("LABKIT_DATA_MIRROR", raising=False)
        mp.delenv(cli.DEBUG_ENV, raising=False)
        for name in LAUNCH:
            mp.delenv(name, raising=False)
        yield {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
    torch.set_num_threads(threads)


def torchrun(out: Path, env: dict[str, str], *, driver: bool = False, **extra_env: str):
    """``torchrun --nproc_per_node 2`` of ``-m labkit`` (or of the driver) training into ``out``."""
    if driver:
        script = out.parent / "driver.py"
        script.write_text(DRIVER)
        target = [str(script)]
    else:
        target = ["-m", "labkit"]
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        *target, *ARGS, "--batch-size", str(B), "--out", str(out),
    ]  # fmt: skip
    return subprocess.run(
        command,
        env={**env, **extra_env},
        cwd=out.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


def history(run: Path) -> pd.DataFrame:
    return pd.read_csv(run / runs.HISTORY_FILE).drop(columns="elapsed")


def weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return checkpoint.load(ckpt, device="cpu").state_dict()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory, env) -> tuple[Path, subprocess.CompletedProcess]:
    """2 ranks x 4 windows, launched by torchrun with `-m labkit`."""
    out = tmp_path_factory.mktemp("two") / "run"
    done = torchrun(out, env)
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, env) -> Path:
    """1 process x 8 windows, in this process."""
    out = tmp_path_factory.mktemp("one") / "run"
    assert cli.main([*ARGS, "--batch-size", str(2 * B), "--out", str(out)]) == 0
    return out


def relative_gap(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a − b| / max |b|: the largest difference relative to the values' scale."""
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def test_two_ranks_of_b_train_like_one_process_of_2b(two_ranks, one_process):
    two, one = history(two_ranks[0]), history(one_process)
    assert len(two) == len(one) == STEPS
    for exact in ("step", "lr", "tokens_seen"):  # tokens_seen counts both ranks' windows
        assert two[exact].tolist() == one[exact].tolist(), exact
    gaps = {}
    for column in ("train_loss", "val_loss", "grad_norm"):
        a, b = (torch.tensor(h[column].dropna().to_numpy()) for h in (two, one))
        assert len(a) == len(b) > 0, column
        gaps[column] = relative_gap(a, b)
    # weights: relative to the model's largest weight, not tensor by tensor. The key bias of
    # attention has a zero gradient in exact arithmetic (softmax ignores a shift shared by all
    # keys): it holds rounding noise only (~1e-6), different in every order of summation.
    for which in ("best", "last"):
        wa, wb = weights(two_ranks[0] / which), weights(one_process / which)
        assert wa.keys() == wb.keys()
        a, b = (torch.cat([w[k].flatten() for k in sorted(w)]) for w in (wa, wb))
        gaps[f"{which} weights"] = relative_gap(a, b)
    assert max(gaps.values()) < RTOL, gaps
    # the curves do move: equal because of the sharding, not because nothing happened
    assert two["train_loss"].iloc[-1] < two["train_loss"].iloc[0] - 0.05


def test_rank_0_alone_writes_the_run_folder_and_talks(two_ranks, resumed):
    out, done = two_ranks
    assert sorted(p.name for p in out.iterdir()) == [
        "best", "history.csv", "last", "run.json", "vocab.json",
    ]  # fmt: skip
    info = runs.read_run(out)
    assert info["settings"]["world_size"] == 2 and info["settings"]["batch_size"] == B
    assert info["command"].startswith("torchrun --nproc_per_node 2 -m labkit train gpt")
    assert checkpoint.load_trainer_state(out / "last")["step"] == STEPS
    # one voice: rank 1 prints nothing
    assert done.stdout.count("new run in") == 1 and done.stdout.count("finished at step 8") == 1
    assert "2 processes x 4 x 32 tokens" in done.stdout
    # every write of both launches (checkpoints, run.json, vocab.json, history.csv) is rank 0's
    writes = [line.split() for line in resumed["log"] if " exit " not in line]
    assert {name for _, _, name in writes} == {
        "best", "last", "run.json", "vocab.json", "history.csv",
    }  # fmt: skip
    assert {rank for rank, _, _ in writes} == {"0"}


@pytest.fixture(scope="module")
def resumed(tmp_path_factory, env) -> dict:
    """A 2-rank run interrupted by a SIGINT to torchrun as step 3 begins, then run again."""
    out = tmp_path_factory.mktemp("resumed") / "run"
    log = out.parent / "writes.log"
    stopped = torchrun(out, env, driver=True, CTRL_C_AT_STEP="3", WRITES_LOG=str(log))
    interrupted_log = log.read_text().splitlines()
    step = checkpoint.load_trainer_state(out / "last")["step"]
    history_after_ctrl_c = history(out)
    again = torchrun(out, env, driver=True, WRITES_LOG=str(log))
    assert again.returncode == 0, again.stdout + again.stderr
    return {
        "out": out,
        "stopped": stopped,
        "step": step,
        "history_after_ctrl_c": history_after_ctrl_c,
        "interrupted_log": interrupted_log,
        "again": again,
        "log": log.read_text().splitlines(),
    }


def test_ctrl_c_stops_every_rank_at_one_step_saves_last_and_resumes_exactly(resumed, two_ranks):
    step, stopped = resumed["step"], resumed["stopped"]
    # every rank finished its Ctrl-C cleanly (130), none hung or was killed; rank 0 saved last/
    exits = sorted(line for line in resumed["interrupted_log"] if " exit " in line)
    assert exits == ["0 exit 130", "1 exit 130"], stopped.stdout + stopped.stderr
    assert 3 <= step < STEPS
    assert f"interrupted at step {step};" in stopped.stderr
    assert f"last holds step {step}" in stopped.stderr
    assert stopped.stderr.count("interrupted at step") == 1
    assert len(resumed["history_after_ctrl_c"]) == step
    assert f"from step {step}" in resumed["again"].stdout
    # ... and continuing gives the unbroken 2-rank run bit for bit
    out, unbroken = resumed["out"], two_ranks[0]
    pd.testing.assert_frame_equal(history(out), history(unbroken), check_exact=True)
    for which in ("best", "last"):
        wa, wb = weights(out / which), weights(unbroken / which)
        assert all(torch.equal(wa[k], wb[k]) for k in wa), which


def test_resuming_a_two_rank_run_in_one_process_names_the_number_of_processes(
    two_ranks, capsys
):
    out = two_ranks[0]
    before = (out / "last" / checkpoint.CONFIG).read_bytes()
    assert cli.main([*ARGS, "--batch-size", str(B), "--out", str(out)]) == cli.EXIT_ERROR
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "torchrun --nnodes x --nproc_per_node" in err, err
    assert "2 in the run folder, 1 now" in err, err
    assert (out / "last" / checkpoint.CONFIG).read_bytes() == before


@pytest.mark.parametrize(
    ("launch", "words"),
    [
        ({"WORLD_SIZE": "2"}, ["WORLD_SIZE=2", "MASTER_ADDR", "MASTER_PORT", "torchrun"]),
        (
            {"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
             "MASTER_PORT": "29999"},
            ["RANK", "in [0, 2)", "'2'", "torchrun"],
        ),  # fmt: skip
    ],
    ids=["world-size-without-master", "rank-out-of-range"],
)
def test_a_wrong_launch_is_one_clear_line(env, tmp_path, monkeypatch, capsys, launch, words):
    for name, value in launch.items():
        monkeypatch.setenv(name, value)
    assert distributed.launched()
    with pytest.raises(ValueError) as caught, distributed.session("cpu"):
        pass
    assert all(w in str(caught.value) for w in words), caught.value
    assert cli.main([*ARGS, "--batch-size", str(B), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error") and "torchrun" in err[0], err
    assert not (tmp_path / "run").exists()
    assert not torch.distributed.is_initialized()


def test_outside_a_launch_nothing_is_distributed(env):
    assert not distributed.launched() and distributed.world() is None
    with distributed.session("cpu") as world:
        assert world is None
    assert distributed.on_main(lambda: 42) == 42


def sharded_trainer(monkeypatch, rank: int, size: int, batch: int, batch_fn=None) -> Trainer:
    """A Trainer that believes it is rank ``rank`` of ``size`` (no process group: only batches)."""
    here = None if size == 1 else distributed.World(rank, size, rank, torch.device("cpu"))
    monkeypatch.setattr(distributed, "world", lambda: here)
    monkeypatch.setattr(distributed, "wrap", lambda model, device: model)
    model = GPT(GPTConfig.preset("tiny", vocab_size=50))
    config = TrainConfig(batch_size=batch, block_size=16, progress=False)
    return Trainer(model, torch.arange(500) % 50, None, config, "cpu", batch_fn)


def test_the_ranks_shards_make_up_the_one_process_batch(monkeypatch):
    def two_steps(trainer):
        g = torch.Generator().manual_seed(7)
        return [trainer.get_batch("train", g) for _ in range(2)]

    one = two_steps(sharded_trainer(monkeypatch, 0, 1, 2 * B))
    shards = [two_steps(sharded_trainer(monkeypatch, r, 2, B)) for r in range(2)]
    for step in range(2):
        for part in range(2):  # x, y
            union = torch.cat([shards[r][step][part] for r in range(2)])
            assert torch.equal(union, one[step][part]), (step, part)
    assert not torch.equal(shards[0][0][0], shards[1][0][0])  # each rank its own windows


def test_with_batch_fn_rank_r_keeps_the_r_th_of_n_draws(monkeypatch):
    def batch_fn(split, g):
        x = torch.randint(0, 50, (B, 16), generator=g)
        return x, x

    def draws(trainer, n):
        g = torch.Generator().manual_seed(7)
        return [trainer.get_batch("train", g)[0] for _ in range(n)]

    one = draws(sharded_trainer(monkeypatch, 0, 1, B, batch_fn), 4)
    for r in range(2):
        mine = draws(sharded_trainer(monkeypatch, r, 2, B, batch_fn), 2)
        assert torch.equal(mine[0], one[r]) and torch.equal(mine[1], one[2 + r]), r


def test_ctrl_c_is_only_noted_until_the_ranks_agree_and_a_second_one_raises():
    guard = distributed.AgreedInterrupt()
    assert guard.install()
    try:
        with guard:
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(1000))  # the handler runs here: noted, nothing raised
        assert guard.noted and not guard.agreed
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(1000))
    finally:
        guard.restore()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler and not guard.noted
