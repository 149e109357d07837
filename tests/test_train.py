"""labkit.train: the Trainer learns, repeats itself, resumes exactly, stops, clips and checks input."""

import errno
import hashlib
import json
import math
import os
import re
import shutil
import signal

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import labkit
import labkit.device
import labkit.train
from labkit import checkpoint, runs
from labkit.data import get_batch
from labkit.nn import MLPConfig, MLPLanguageModel
from labkit.train import Callback, TrainConfig, Trainer, learning_rate

TEXT = "the cat sat on the mat. the dog sat on the log. a cat and a dog met on a mat. " * 12
VOCAB = sorted(set(TEXT))
DATA = torch.tensor([VOCAB.index(c) for c in TEXT])
TRAIN, VAL = DATA[: int(0.9 * len(DATA))], DATA[int(0.9 * len(DATA)) :]
CHECKED = ["step", "lr", "train_loss", "val_loss", "grad_norm", "tokens_seen"]  # not elapsed


pytestmark = pytest.mark.usefixtures("one_thread")


def model(seed=0, dropout=0.0):
    labkit.seed(seed)
    cfg = MLPConfig(vocab_size=len(VOCAB), context=4, n_embd=8, n_hidden=48, dropout=dropout)
    return MLPLanguageModel(cfg)


def config(**kw):
    base = {
        "max_steps": 20,
        "batch_size": 8,
        "block_size": 16,
        "lr": 3e-3,
        "eval_every": 5,
        "eval_batches": 2,
        "progress": False,
    }
    return TrainConfig(**(base | kw))


def trainer(cfg=None, m=None, **kw):
    return Trainer(m or model(), TRAIN, VAL, cfg or config(), device="cpu", **kw)


def same_curve(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a[CHECKED].reset_index(drop=True), b[CHECKED].reset_index(drop=True)
    )


# ------------------------------------------------------------------------------------- learning


def test_mlp_language_model_learns_tiny_text():
    t = trainer(config(max_steps=100, lr=1e-2, eval_every=50, batch_size=16))
    h = t.fit()
    assert list(h.columns) == [
        "step",
        "lr",
        "train_loss",
        "val_loss",
        "grad_norm",
        "tokens_seen",
        "elapsed",
    ]
    assert len(h) == 100 and h["step"].tolist() == list(range(1, 101))
    assert h["tokens_seen"].iloc[-1] == 100 * 16 * 16
    assert h["val_loss"].notna().sum() == 2  # steps 50 and 100
    ln_v = math.log(len(VOCAB))
    assert abs(h["train_loss"].iloc[0] - ln_v) < 0.3  # starts near uniform
    assert h["train_loss"].iloc[-10:].mean() < 0.5 * ln_v
    assert t.evaluate()["val"] < 0.5 * ln_v


def test_same_seed_same_loss_curve():
    a = trainer(config(), m=model(dropout=0.2)).fit()
    b = trainer(config(), m=model(dropout=0.2)).fit()
    same_curve(a, b)
    c = trainer(config(seed=1), m=model(dropout=0.2)).fit()
    assert not a["train_loss"].equals(c["train_loss"])


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_each_optimizer_lowers_the_loss(name):
    lr = {"sgd": 0.5, "adam": 1e-2, "adamw": 1e-2}[name]
    t = trainer(
        config(
            optimizer=name,
            lr=lr,
            momentum=0.9 if name == "sgd" else 0.0,
            max_steps=40,
            weight_decay=0.01,
        )
    )
    assert type(t.optimizer).__name__.lower() == name
    h = t.fit()
    assert h["train_loss"].iloc[-5:].mean() < h["train_loss"].iloc[:5].mean() - 0.5


def test_weight_decay_only_on_matrices():
    t = trainer(config(weight_decay=0.1))
    groups = t.optimizer.param_groups
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
    assert all(p.dim() >= 2 for p in groups[0]["params"])
    assert all(p.dim() == 1 for p in groups[1]["params"])


def test_device_is_respected():
    seen = []

    def batch_fn(split, g):
        x, y = get_batch(TRAIN, 16, 8, generator=g)
        return x, y

    class Spy(Callback):
        def on_step(self, trainer, row):
            seen.append(next(trainer.model.parameters()).device)

    t = Trainer(
        model(), TRAIN, VAL, config(max_steps=2), device="cpu", batch_fn=batch_fn, callbacks=[Spy()]
    )
    assert t.device == torch.device("cpu")
    t.fit()
    assert seen == [torch.device("cpu")] * 2
    x, y = t.get_batch("train", torch.Generator().manual_seed(0))
    assert x.device.type == "cpu" and y.device.type == "cpu"


# --------------------------------------------------------------------------------------- resume


RESUME = {
    "optimizer": "adamw",
    "weight_decay": 0.1,
    "schedule": "cosine",
    "warmup_steps": 4,
    "min_lr": 1e-4,
    "grad_clip": 1.0,
}


def test_resume_gives_the_unbroken_loss_curve(tmp_path):
    cfg = config(**RESUME, out_dir=str(tmp_path / "run"))
    unbroken = trainer(cfg, model(dropout=0.1)).fit()

    half = trainer(config(**RESUME, out_dir=str(tmp_path / "half")), model(dropout=0.1))
    first = half.fit(steps=10)
    assert len(first) == 10 and half.step == 10
    del half
    # a brand-new model (different init) and trainer, all state from the checkpoint
    resumed = Trainer.resume(tmp_path / "half" / "last", TRAIN, VAL, device="cpu")
    assert resumed.step == 10 and resumed.config.max_steps == 20
    same_curve(resumed.fit(), unbroken)

    # the same through fit(resume_from=...) into a freshly made trainer with a fresh model
    again = trainer(config(**RESUME), model(seed=5, dropout=0.1))
    same_curve(again.fit(resume_from=tmp_path / "half" / "last"), unbroken)


def test_keyboard_interrupt_saves_last_and_resumes_exactly(tmp_path):
    unbroken = trainer(config(**RESUME), model(dropout=0.1)).fit()

    class Interrupt(Callback):
        def on_step(self, trainer, row):
            if row["step"] == 7:
                raise KeyboardInterrupt

    out = tmp_path / "run"
    t = trainer(config(**RESUME, out_dir=str(out)), model(dropout=0.1), callbacks=[Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        t.fit()
    assert checkpoint.load_trainer_state(out / "last")["step"] == 7
    same_curve(Trainer.resume(out / "last", TRAIN, VAL, device="cpu").fit(), unbroken)


def test_interrupt_in_the_middle_of_a_step_is_undone(tmp_path):
    unbroken = trainer(config(**RESUME), model(dropout=0.1)).fit()
    calls = {"train": 0}

    def batch_fn(split, g):
        batch = get_batch(TRAIN if split == "train" else VAL, 16, 8, generator=g)
        if split == "train":
            calls["train"] += 1
            if calls["train"] == 13:  # after the batch is drawn, before the update
                raise KeyboardInterrupt
        return batch

    out = tmp_path / "run"
    t = trainer(config(**RESUME, out_dir=str(out)), model(dropout=0.1), batch_fn=batch_fn)
    with pytest.raises(KeyboardInterrupt):
        t.fit()
    assert t.step == 12
    same_curve(Trainer.resume(out / "last", TRAIN, VAL, device="cpu").fit(), unbroken)


def test_optimizer_kernels_follow_this_machine_not_the_saving_one(tmp_path):
    t = trainer(config(max_steps=3))
    t.fit()
    t.save(tmp_path)
    here = {(g["fused"], g["foreach"]) for g in t.optimizer.param_groups}
    elsewhere = {(None, True)} if here == {(True, None)} else {(True, None)}
    state = torch.load(tmp_path / "trainer_state.pt", weights_only=True)
    for group in state["optimizer"]["param_groups"]:  # as if saved on another kind of machine
        group["fused"], group["foreach"] = next(iter(elsewhere))
    torch.save(state, tmp_path / "trainer_state.pt")
    info = json.loads((tmp_path / "config.json").read_text())  # the sha256 of the new file
    data = (tmp_path / "trainer_state.pt").read_bytes()
    info["files"]["trainer_state.pt"] = {"sha256": hashlib.sha256(data).hexdigest()}
    (tmp_path / "config.json").write_text(json.dumps(info))
    resumed = Trainer.resume(tmp_path, TRAIN, VAL, device="cpu", config=config(max_steps=5))
    assert {(g["fused"], g["foreach"]) for g in resumed.optimizer.param_groups} == here
    assert len(resumed.fit()) == 5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_run_is_fused_and_resumes_from_a_cpu_checkpoint(tmp_path):
    half = trainer(config(**RESUME, out_dir=str(tmp_path / "cpu")), model(dropout=0.1))
    half.fit(steps=10)
    t = Trainer.resume(tmp_path / "cpu" / "last", TRAIN, VAL, device="cuda")
    assert next(t.model.parameters()).is_cuda and t.train_data.is_cuda
    assert all(g["fused"] for g in t.optimizer.param_groups)
    h = t.fit()
    assert len(h) == 20 and h["train_loss"].iloc[-5:].mean() < h["train_loss"].iloc[:5].mean()
    t.save(tmp_path / "gpu")
    back = Trainer.resume(
        tmp_path / "gpu", TRAIN, VAL, device="cpu", config=config(**RESUME, max_steps=25)
    )
    assert len(back.fit()) == 25


def test_best_checkpoint_holds_the_lowest_validation_loss(tmp_path):
    out = tmp_path / "run"
    saved_steps = []

    class Peek(Callback):
        def on_step(self, trainer, row):
            if row["step"] in (11, 21):  # checkpoint_every=10 wrote last/ one step earlier
                saved_steps.append(checkpoint.load_trainer_state(out / "last")["step"])

    t = trainer(
        config(max_steps=30, lr=1e-2, out_dir=str(out), checkpoint_every=10), callbacks=[Peek()]
    )
    h = t.fit()
    assert saved_steps == [10, 20]
    best = h["val_loss"].min()
    assert t.best_val_loss == best
    best_model = checkpoint.load(out / "best", device="cpu")
    check = trainer(m=best_model)
    assert check.evaluate()["val"] == pytest.approx(best, abs=1e-6)
    assert (
        checkpoint.load_trainer_state(out / "best")["step"] == h.loc[h["val_loss"].idxmin(), "step"]
    )
    assert (out / "last" / "trainer_state.pt").is_file()


# ---------------------------------------------------------------------------- stopping, clipping


def test_early_stopping_when_validation_cannot_improve():
    t = trainer(config(lr=0.0, eval_every=1, early_stopping_patience=3, max_steps=50))
    h = t.fit()
    assert t.stopped_early
    assert len(h) == 4  # step 1 sets the best; 2, 3, 4 do not improve on it
    assert h["val_loss"].nunique() == 1


def test_callback_can_stop_and_sees_every_step_and_eval():
    steps, evals = [], []

    class Watch(Callback):
        def on_step(self, trainer, row):
            steps.append(row["step"])
            if row["step"] == 12:
                trainer.should_stop = True

        def on_eval(self, trainer, row):
            evals.append((row["step"], row["val_loss"]))

    h = trainer(callbacks=[Watch()]).fit()
    assert steps == list(range(1, 13)) and len(h) == 12
    assert [s for s, _ in evals] == [5, 10] and all(math.isfinite(v) for _, v in evals)


def test_gradient_clipping_bounds_the_norm_and_reports_it_before():
    max_norm = 0.05
    after = []

    class Measure(Callback):
        def on_step(self, trainer, row):
            squares = sum(p.grad.double().pow(2).sum() for p in trainer.model.parameters())
            after.append(math.sqrt(squares))

    h = trainer(config(grad_clip=max_norm, max_steps=10), callbacks=[Measure()]).fit()
    assert all(a <= max_norm * (1 + 1e-5) for a in after)
    assert (h["grad_norm"] > max_norm).all()  # the reported norm is the one before clipping


def test_evaluate_is_deterministic_and_leaves_training_alone():
    t = trainer()
    state = t.batch_generator.get_state()
    assert t.evaluate() == t.evaluate()
    assert torch.equal(t.batch_generator.get_state(), state)
    both = t.evaluate(("train", "val"))
    assert set(both) == {"train", "val"}


def test_divergence_is_reported():
    class Nan(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, x, y):
            return None, self.w.sum() * float("nan")

    with pytest.raises(FloatingPointError, match="diverged.*step 1"):
        Trainer(Nan(), TRAIN, None, config(), device="cpu").fit()


def test_custom_batch_fn_for_other_tasks():
    # a copy task with no token stream: learn y = x
    def batch_fn(split, g):
        x = torch.randint(0, len(VOCAB), (8, 6), generator=g)
        return x, x

    labkit.seed(0)
    m = MLPLanguageModel(MLPConfig(vocab_size=len(VOCAB), context=1, n_embd=8, n_hidden=32))
    h = Trainer(m, config=config(lr=3e-2, max_steps=60), device="cpu", batch_fn=batch_fn).fit()
    assert h["val_loss"].dropna().iloc[-1] < 0.5


# ----------------------------------------------------------------------------------- schedule


def closed_form(step, lr, warmup, total, min_lr):
    if step < warmup:
        return lr * step / warmup
    return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * (step - warmup) / (total - warmup))) / 2


def test_cosine_schedule_matches_the_closed_form():
    cfg = config(schedule="cosine", lr=1.0, warmup_steps=10, min_lr=0.1, max_steps=110)
    for step in [1, 5, 9, 10, 11, 35, 60, 85, 109, 110]:
        assert learning_rate(step, cfg) == pytest.approx(closed_form(step, 1.0, 10, 110, 0.1))
    assert learning_rate(10, cfg) == 1.0 and learning_rate(60, cfg) == pytest.approx(0.55)
    assert learning_rate(110, cfg) == pytest.approx(0.1)
    constant = config(schedule="constant", lr=0.5, warmup_steps=4)
    assert [learning_rate(s, constant) for s in (1, 2, 4, 20)] == [0.125, 0.25, 0.5, 0.5]


def test_wsd_schedule_warms_up_holds_then_decays_linearly():
    # T = 110, W = 10, decay over the last round(0.2 * 110) = 22 updates: from step 88 to 110
    cfg = config(
        schedule="wsd", lr=1.0, warmup_steps=10, min_lr=0.1, max_steps=110, decay_fraction=0.2
    )
    lrs = {s: learning_rate(s, cfg) for s in range(1, 111)}
    assert [lrs[s] for s in (1, 5, 9)] == pytest.approx([0.1, 0.5, 0.9])  # warm-up
    assert all(lrs[s] == 1.0 for s in range(10, 89))  # stable: the peak, from W to T - D
    for s in range(88, 111):  # decay: a straight line from (88, 1.0) to (110, 0.1)
        assert lrs[s] == pytest.approx(0.1 + 0.9 * (110 - s) / 22)
    assert lrs[110] == pytest.approx(0.1)
    # a decay longer than the run after warm-up starts right after warm-up
    whole = config(schedule="wsd", lr=1.0, warmup_steps=10, max_steps=20, decay_fraction=1.0)
    assert [learning_rate(s, whole) for s in (10, 15, 20)] == pytest.approx([1.0, 0.5, 0.0])


def test_history_lr_follows_the_schedule_and_reaches_the_optimizer():
    cfg = config(schedule="cosine", lr=1e-2, warmup_steps=5, min_lr=1e-3, max_steps=12)
    seen = []

    class Lr(Callback):
        def on_step(self, trainer, row):
            seen.append(trainer.optimizer.param_groups[0]["lr"])

    h = trainer(cfg, callbacks=[Lr()]).fit()
    expected = [closed_form(s, 1e-2, 5, 12, 1e-3) for s in range(1, 13)]
    assert h["lr"].tolist() == pytest.approx(expected)
    assert seen == pytest.approx(expected)


# --------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lr", -1e-3),
        ("optimizer", "adagrad"),
        ("schedule", "linear"),
        ("warmup_steps", 30),
        ("max_steps", 0),
        ("batch_size", 2.5),
        ("grad_clip", 0.0),
        ("betas", (0.9, 1.5)),
        ("early_stopping_patience", 0),
        ("min_lr", 1.0),
        ("decay_fraction", 0.0),
        ("decay_fraction", 1.5),
        ("amp", "yes"),
    ],
)
def test_bad_config_values_name_the_field(field, value):
    with pytest.raises(
        ValueError, match=rf"TrainConfig\.{field} must be .*got {re.escape(repr(value))}"
    ):
        config(**{field: value})


@settings(max_examples=20, deadline=None)
@given(st.floats(max_value=-1e-12, allow_nan=False, allow_infinity=False))
def test_any_negative_lr_is_refused(lr):
    with pytest.raises(ValueError, match="TrainConfig.lr"):
        TrainConfig(lr=lr)


def test_bad_data_is_refused():
    with pytest.raises(ValueError, match=r"block_size must be < len\(val_data\) = 5.*got 16"):
        Trainer(model(), TRAIN, VAL[:5], config(), device="cpu")
    with pytest.raises(TypeError, match="train_data must hold integer token ids"):
        Trainer(model(), TRAIN.float(), VAL, config(), device="cpu")
    with pytest.raises(ValueError, match="train_data must be 1-D"):
        Trainer(model(), TRAIN.reshape(2, -1), VAL, config(), device="cpu")
    with pytest.raises(ValueError, match="train_data is required"):
        Trainer(model(), None, VAL, config(), device="cpu")
    with pytest.raises(TypeError, match="callback"):
        Trainer(model(), TRAIN, VAL, config(), device="cpu", callbacks=[object()])


# ------------------------------------------------------------------------- interrupts, damage


def _interrupt_inside_optimizer_step(t: Trainer, at_call: int) -> None:
    """Send a real SIGINT to this process right after the ``at_call``-th update is applied, while
    still inside ``optimizer.step()`` (where a Ctrl-C lands during a fused kernel)."""
    real_step = t.optimizer.step
    calls = {"n": 0}

    def step(*args, **kwargs):
        out = real_step(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == at_call:
            os.kill(os.getpid(), signal.SIGINT)
        return out

    t.optimizer.step = step


def _same_state(a: Trainer, b: Trainer) -> None:
    wa, wb = a.model.state_dict(), b.model.state_dict()
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    oa, ob = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert oa["param_groups"] == ob["param_groups"] and oa["state"].keys() == ob["state"].keys()
    for i, slots in oa["state"].items():
        assert all(torch.equal(slots[k], ob["state"][i][k]) for k in slots), i


def test_ctrl_c_inside_the_optimizer_step_resumes_bit_identical(tmp_path):
    whole = trainer(config(**RESUME), model(dropout=0.1))
    unbroken = whole.fit()
    out = tmp_path / "run"
    t = trainer(config(**RESUME, out_dir=str(out)), model(dropout=0.1))
    _interrupt_inside_optimizer_step(t, at_call=8)
    with pytest.raises(KeyboardInterrupt):
        t.fit()
    assert t.step == 8  # the update that was applied is counted, not repeated
    assert checkpoint.load_trainer_state(out / "last")["step"] == 8
    resumed = Trainer.resume(out / "last", TRAIN, VAL, device="cpu")
    same_curve(resumed.fit(), unbroken)
    _same_state(resumed, whole)


def test_sigint_handler_is_only_installed_while_fit_runs():
    before = signal.getsignal(signal.SIGINT)
    seen = []

    class Peek(Callback):
        def on_step(self, trainer, row):
            seen.append(signal.getsignal(signal.SIGINT))

    trainer(config(max_steps=2), callbacks=[Peek()]).fit()
    assert seen[0] is not before  # Ctrl-C waits for the end of an update while training ...
    assert signal.getsignal(signal.SIGINT) is before  # ... and behaves as before afterwards


def test_checkpoint_mixing_two_saves_is_refused_by_trainer_load(tmp_path):
    t = trainer(config(max_steps=6))
    t.fit(steps=3)
    t.save(tmp_path / "a")
    t.fit(steps=3)
    t.save(tmp_path / "b")
    (tmp_path / "b" / "model.safetensors").replace(tmp_path / "a" / "model.safetensors")
    with pytest.raises(ValueError, match="different saves"):
        trainer(config(max_steps=6)).fit(resume_from=tmp_path / "a")
    with pytest.raises(ValueError, match="different saves"):
        Trainer.resume(tmp_path / "a", TRAIN, VAL, model=model(), device="cpu")


def test_a_failed_save_of_last_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    out = tmp_path / "run"
    t = trainer(config(max_steps=10, eval_every=10, out_dir=str(out)))
    t.fit(steps=4)
    real_save = torch.save

    def disk_full(obj, f, *args, **kwargs):  # the weights file is written, then the disk fills
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        t.fit(steps=2)
    monkeypatch.setattr(torch, "save", real_save)
    assert sorted(p.name for p in out.iterdir()) == ["last"]  # no temporary leftovers
    assert checkpoint.load_trainer_state(out / "last")["step"] == 4
    again = trainer(config(max_steps=10, eval_every=10))
    again.fit(resume_from=out / "last")  # the step-4 checkpoint is whole, and continues
    same_curve(again.history, trainer(config(max_steps=10, eval_every=10)).fit())


def test_ctrl_c_while_best_is_written_still_leaves_a_whole_best(tmp_path, monkeypatch):
    out = tmp_path / "run"
    real_save = torch.save
    fired = []

    def interrupted(obj, f, *args, **kwargs):  # Ctrl-C after best/'s weights file, at step 10
        if obj.get("val_loss") is not None and obj.get("step") == 10 and not fired:
            fired.append(True)
            raise KeyboardInterrupt
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", interrupted)
    t = trainer(config(max_steps=20, lr=1e-2, out_dir=str(out)))
    with pytest.raises(KeyboardInterrupt):
        t.fit()
    assert fired and t.step == 10
    h = t.history
    assert h["val_loss"].min() < h.loc[h["step"] == 5, "val_loss"].item()  # step 10 is the best
    best = checkpoint.load(out / "best", device="cpu")
    assert checkpoint.load_trainer_state(out / "best")["step"] == 10
    now = t.model.state_dict()
    assert all(torch.equal(v, now[k]) for k, v in best.state_dict().items())


def test_a_missing_best_is_rewritten_at_the_next_validation(tmp_path):
    out = tmp_path / "run"
    cfg = config(max_steps=20, lr=0.0, out_dir=str(out))  # lr 0: no validation is ever better
    t = trainer(cfg)
    t.fit(steps=7)
    shutil.rmtree(out / "best")
    t.fit()
    assert checkpoint.load_trainer_state(out / "best")["step"] == 10
    assert t.best_val_loss == t.history["val_loss"].min()


def test_missing_best_after_validation_is_named_not_called_no_validation(tmp_path):
    out = tmp_path / "run"
    t = trainer(config(max_steps=6, out_dir=str(out)))
    t.fit()
    (out / "vocab.json").write_text('{"kind": "char", "chars": []}')
    shutil.rmtree(out / "best")
    with pytest.raises(FileNotFoundError) as err:
        runs.find_checkpoint(out, "best")
    msg = str(err.value)
    assert "no validation has run yet" not in msg
    assert "best/" in msg and "--which last" in msg


def test_resuming_with_another_optimizer_names_both(tmp_path):
    t = trainer(config(max_steps=6))
    t.fit(steps=3)
    t.save(tmp_path)
    sgd = trainer(config(max_steps=6, optimizer="sgd", momentum=0.9))
    with pytest.raises(ValueError, match=r"optimizer 'adamw'.*'sgd'"):
        sgd.fit(resume_from=tmp_path)


# ------------------------------------------------------------------------------ mixed precision


@pytest.mark.parametrize(("kind", "scaled"), [("fp16", True), ("bf16", False), ("fp32", False)])
def test_the_gradient_scaler_is_on_exactly_for_fp16(monkeypatch, kind, scaled):
    monkeypatch.setattr(labkit.device, "precision", lambda device=None: kind)
    t = trainer(config(max_steps=3))
    assert t.scaler.is_enabled() is scaled
    h = t.fit()  # the whole step runs through the scaler (a pass-through when it is off)
    assert len(h) == 3 and h["train_loss"].notna().all()
    assert not trainer(config(max_steps=3, amp=False)).scaler.is_enabled()


def test_fp16_run_with_skipped_steps_resumes_exactly(tmp_path, monkeypatch):
    # fp16 autocast on the CPU, and a scale that doubles every step until the gradients
    # overflow: those steps are skipped and the scale halves, the state a resume must restore
    monkeypatch.setattr(labkit.device, "precision", lambda device=None: "fp16")
    eager = lambda device: torch.amp.GradScaler("cpu", init_scale=2.0**14, growth_interval=1)  # noqa: E731
    monkeypatch.setattr(labkit.train, "grad_scaler", eager)
    whole = trainer(config(**RESUME))
    unbroken = whole.fit()
    assert not np.isfinite(unbroken["grad_norm"]).all()  # some steps overflowed and were skipped
    half = trainer(config(**RESUME))
    half.fit(steps=9)
    half.save(tmp_path)
    assert (
        checkpoint.load_trainer_state(tmp_path)["grad_scaler"]["scale"] == half.scaler.get_scale()
    )
    resumed = Trainer.resume(tmp_path, TRAIN, VAL, device="cpu")
    same_curve(resumed.fit(), unbroken)
    _same_state(resumed, whole)
    assert resumed.scaler.get_scale() == whole.scaler.get_scale()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_mixed_precision_run_resumes_exactly(tmp_path):
    cfg = config(**RESUME)
    whole = Trainer(model(), TRAIN, VAL, cfg, device="cuda")
    unbroken = whole.fit()
    assert whole.scaler.is_enabled() is (labkit.device.precision("cuda") == "fp16")
    half = Trainer(model(), TRAIN, VAL, cfg, device="cuda")
    half.fit(steps=9)
    half.save(tmp_path)
    saved = checkpoint.load_trainer_state(tmp_path)["grad_scaler"]
    assert bool(saved) is whole.scaler.is_enabled()  # the scale travels with the checkpoint
    resumed = Trainer.resume(tmp_path, TRAIN, VAL, device="cuda")
    # GPU kernels with atomic adds (embedding backward) may round differently from run to run
    pd.testing.assert_frame_equal(
        resumed.fit()[CHECKED], unbroken[CHECKED], check_exact=False, rtol=1e-3
    )


def test_one_process_makes_no_collective_call(tmp_path, monkeypatch):
    # the data-parallel plumbing stays out of a plain run: no process group, no DDP, no
    # collective (each would be a host sync, or a hang without a group)
    def refuse(*args, **kwargs):
        raise AssertionError("a torch.distributed call in a single-process run")

    for name in ("all_reduce", "broadcast_object_list", "all_gather_object", "barrier"):
        monkeypatch.setattr(torch.distributed, name, refuse)
    cfg = config(**RESUME, out_dir=str(tmp_path / "run"), checkpoint_every=5)
    t = trainer(cfg, model(dropout=0.1))
    assert t.world is None and t._net is t.model
    t.fit(steps=10)
    resumed = Trainer.resume(tmp_path / "run" / "last", TRAIN, VAL, device="cpu")
    same_curve(resumed.fit(), trainer(config(**RESUME), model(dropout=0.1)).fit())
    assert "rank_torch_rng" not in checkpoint.load_trainer_state(tmp_path / "run" / "last")
