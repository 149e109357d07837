"""Character-level GPT training: labkit's Trainer vs a plain PyTorch loop, same model, same run.

The shape is nanoGPT's documented CPU run of ``config/train_shakespeare_char.py`` (its README:
``--device=cpu --compile=False --eval_iters=20 --block_size=64 --batch_size=12 --n_layer=4
--n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0``, val loss ≈ 1.88)
on ``tinyshakespeare`` (65 characters, first 90 % train, last 10 % validation):

- GPT: 4 layers, 4 heads, 128-dim embeddings, context 64, dropout 0, no biases (nanoGPT's
  default ``bias=False``), exact GELU (nanoGPT's ``nn.GELU()``; ``--gelu tanh`` for GPT-2's
  approximation, labkit's default), tied embedding/LM head, GPT-2 initialisation (labkit's GPT,
  as nanoGPT: N(0, 0.02²), residual projections 0.02/√(2·n_layer));
- AdamW, peak lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on matrices/embeddings only, 100
  warm-up steps, gradients clipped to norm 1.0;
- after warm-up, by default the wsd schedule (warm-up, stable, decay): lr 1e-3 held until the
  last 20 % of the run, then a linear decay to 1e-4 (validation 1.84 at seed 1337);
  ``--schedule cosine`` is nanoGPT's own, cosine from 1e-3 to 1e-4 (validation 1.90);
- batch 12, 2000 iterations, seed fixed.

Two sides train the same initial weights on the same batches:

- **labkit**: :class:`labkit.train.Trainer` with everything on (progress bar, per-step history,
  validation every ``--eval-every`` steps on ``--trainer-eval-batches`` batches);
- **plain**: the loop a learner writes, here: random windows, ``model(x, y)``, ``backward``,
  ``clip_grad_norm_``, ``torch.optim.AdamW`` with the same hyperparameters and torch's default
  kernel choice (no Trainer).

To keep a loaded machine's noise out of the ratio, the two sides take turns in chunks of
``--chunk`` iterations inside one process. ``tokens/s`` = every training iteration's tokens over
the whole training wall time (warm-up and any compilation included, validation excluded) for
each side; ``cpu s`` is the process CPU time of the same iterations (on a machine shared with
other work, wall time includes waiting for a core, CPU time does not). Afterwards both models'
validation loss is measured the same way: the mean loss over ``--eval-batches`` random windows
of the validation text (nanoGPT's ``estimate_loss`` with ``eval_iters=200``), and over every
non-overlapping window of it.

The steady-state table (``--steady`` iterations after ``--steady-warmup`` untimed ones, fresh
models, in rotating chunks) separates the kernels: the plain loop with torch's default AdamW
(a for-loop over parameters on the CPU), the plain loop with ``fused=True``, and the Trainer;
``--steady-compile`` adds the three with ``torch.compile`` (its compilation time is in the
warm-up column).

    export LABKIT_DATA_MIRROR=/work/shared/data        # a folder holding tinyshakespeare.txt
    .venv/bin/python benchmarks/train_gpt_char.py --threads 1          # the full 2000 iterations
    .venv/bin/python benchmarks/train_gpt_char.py --iters 200 --steady 0     # a quick look
    .venv/bin/python benchmarks/train_gpt_char.py --compile            # torch.compile both sides
    .venv/bin/python benchmarks/train_gpt_char.py --steady-compile     # compiled steady state

The last line is ``tokens_per_s=<labkit> ref_tokens_per_s=<plain> ratio=<labkit/plain>
val_loss=<labkit>``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import labkit  # noqa: E402
from labkit import data  # noqa: E402
from labkit.gpt import GPT, GPTConfig  # noqa: E402
from labkit.train import TrainConfig, Trainer  # noqa: E402

# nanoGPT's shakespeare_char recipe at its documented CPU size
N_LAYER, N_HEAD, N_EMBD, BLOCK, BATCH = 4, 4, 128, 64, 12
LR, MIN_LR, WARMUP, BETAS, WEIGHT_DECAY, GRAD_CLIP = 1e-3, 1e-4, 100, (0.9, 0.99), 0.1, 1.0
GELU = "exact"
# The learning-rate schedule after warm-up: nanoGPT's cosine, or (the default) warm-up, stable,
# decay: the peak held until the last DECAY_FRACTION of the run, then a linear decay.
SCHEDULE, DECAY_FRACTION = "wsd", 0.2


def lr_at(step: int, max_steps: int, schedule: str = SCHEDULE) -> float:
    """Learning rate of update ``step`` (1-based): linear warm-up, then ``"cosine"`` to ``MIN_LR``
    or ``"wsd"``: the peak until the last ``DECAY_FRACTION`` of the run, then linear to ``MIN_LR``.

    The formulas of :func:`labkit.train.learning_rate`, written out so the plain loop needs no
    labkit training code. The warm-up is ``min(WARMUP, max_steps)`` steps, as the Trainer's.
    """
    warmup = min(WARMUP, max_steps)
    if step < warmup:
        return LR * step / warmup
    if max_steps == warmup:
        return LR
    if schedule == "wsd":
        start = max(warmup, max_steps - round(DECAY_FRACTION * max_steps))
        if step <= start:
            return LR
        return MIN_LR + (LR - MIN_LR) * max(0, max_steps - step) / (max_steps - start)
    progress = min(1.0, (step - warmup) / (max_steps - warmup))
    return MIN_LR + 0.5 * (LR - MIN_LR) * (1.0 + math.cos(math.pi * progress))


def random_windows(
    tokens: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``BATCH`` random windows of ``BLOCK`` tokens and their next tokens (as nanoGPT draws them,
    vectorised; the same draws as :func:`labkit.data.get_batch` with the same generator)."""
    starts = torch.randint(len(tokens) - BLOCK, (BATCH,), generator=generator)
    windows = tokens[starts[:, None] + torch.arange(BLOCK + 1)]
    return windows[:, :-1], windows[:, 1:]


@torch.no_grad()
def val_loss(model: torch.nn.Module, val: torch.Tensor, batches: int, seed: int) -> float:
    """Mean loss over ``batches`` random validation windows (the same windows for every model)."""
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    total = sum(float(model(*random_windows(val, g))[1]) for _ in range(batches))
    model.train(was_training)
    return total / batches


@torch.no_grad()
def val_loss_all_windows(model: torch.nn.Module, val: torch.Tensor) -> tuple[float, int]:
    """Mean loss over every non-overlapping ``BLOCK``-token window of ``val`` (no sampling noise);
    returns the loss and the number of windows."""
    was_training = model.training
    model.eval()
    n = (len(val) - 1) // BLOCK
    x = val[: n * BLOCK].view(n, BLOCK)
    y = val[1 : n * BLOCK + 1].view(n, BLOCK)
    total = 0.0
    for i in range(0, n, BATCH):  # the last batch may be smaller: weight by windows
        total += float(model(x[i : i + BATCH], y[i : i + BATCH])[1]) * len(x[i : i + BATCH])
    model.train(was_training)
    return total / n, n


class Clock:
    """Wall and process CPU seconds, added up over the timed calls of :meth:`time`."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def time(self, fn: Callable[[], object]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        self.seconds += time.perf_counter() - wall
        self.cpu_seconds += time.process_time() - cpu


class PlainLoop(Clock):
    """The reference: the textbook PyTorch training loop, nothing else. ``fused=True`` only for
    the steady-state comparison of kernels."""

    def __init__(
        self,
        model: torch.nn.Module,
        train: torch.Tensor,
        seed: int,
        iters: int,
        fused: bool = False,
        schedule: str = SCHEDULE,
    ) -> None:
        super().__init__()
        self.model, self.train, self.iters, self.schedule = model, train, iters, schedule
        decay = [p for p in model.parameters() if p.dim() >= 2]
        rest = [p for p in model.parameters() if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": WEIGHT_DECAY},
                {"params": rest, "weight_decay": 0.0},
            ],
            lr=LR,
            betas=BETAS,
            **({"fused": True} if fused else {}),
        )
        self.generator = torch.Generator().manual_seed(seed)
        self.step = 0
        self.last_loss = math.nan

    def _train(self, n: int) -> None:
        self.model.train()
        for _ in range(n):
            self.step += 1
            for group in self.optimizer.param_groups:
                group["lr"] = lr_at(self.step, self.iters, self.schedule)
            x, y = random_windows(self.train, self.generator)
            _, loss = self.model(x, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), GRAD_CLIP)
            self.optimizer.step()
        self.last_loss = float(loss.detach())

    def run(self, n: int) -> None:
        """Train ``n`` more iterations, adding their time to the clock."""
        self.time(lambda: self._train(n))


class TimedTrainer(Clock):
    """labkit's Trainer, with the time its validations take kept apart from training time."""

    def __init__(self, trainer: Trainer) -> None:
        super().__init__()
        self.trainer = trainer
        self.eval_clock = Clock()
        evaluate = trainer.evaluate

        def timed_evaluate(*args: object, **kwargs: object) -> dict[str, float]:
            out: dict[str, float] = {}
            self.eval_clock.time(lambda: out.update(evaluate(*args, **kwargs)))
            return out

        trainer.evaluate = timed_evaluate  # type: ignore[method-assign]

    @property
    def step(self) -> int:
        return self.trainer.step

    def run(self, n: int) -> None:
        """Train ``n`` more iterations; the clock grows by their time minus validation."""
        wall, cpu = self.eval_clock.seconds, self.eval_clock.cpu_seconds
        self.time(lambda: self.trainer.fit(steps=n))
        self.seconds -= self.eval_clock.seconds - wall
        self.cpu_seconds -= self.eval_clock.cpu_seconds - cpu


def build_model(
    vocab_size: int, seed: int, compile_model: bool, gelu: str = GELU
) -> torch.nn.Module:
    """The benchmark's GPT, initialised from ``seed`` (both sides start from the same weights)."""
    labkit.seed(seed)
    config = GPTConfig(
        vocab_size=vocab_size,
        block_size=BLOCK,
        n_layer=N_LAYER,
        n_head=N_HEAD,
        n_embd=N_EMBD,
        dropout=0.0,
        bias=False,
        gelu=gelu,
    )
    model = GPT(config)
    return torch.compile(model) if compile_model else model


def train_config(
    iters: int, seed: int, eval_every: int, eval_batches: int, schedule: str = SCHEDULE
) -> TrainConfig:
    """The Trainer's settings: the recipe above, progress bar on."""
    return TrainConfig(
        max_steps=iters,
        batch_size=BATCH,
        block_size=BLOCK,
        optimizer="adamw",
        lr=LR,
        weight_decay=WEIGHT_DECAY,
        betas=BETAS,
        schedule=schedule,
        warmup_steps=min(WARMUP, iters),
        min_lr=MIN_LR,
        decay_fraction=DECAY_FRACTION,
        grad_clip=GRAD_CLIP,
        eval_every=eval_every,
        eval_batches=eval_batches,
        seed=seed,
        progress=True,
    )


def take_turns(sides: list, iters: int, chunk: int) -> list[list[float]]:
    """Run every side ``iters`` iterations in turns of ``chunk`` (rotating who goes first);
    returns each side's wall milliseconds per iteration in every turn."""
    per_turn: list[list[float]] = [[] for _ in sides]
    done, turn = 0, 0
    while done < iters:
        n = min(chunk, iters - done)
        order = list(range(len(sides)))
        k = turn % len(sides)
        for i in order[k:] + order[:k]:
            before = sides[i].seconds
            sides[i].run(n)
            per_turn[i].append((sides[i].seconds - before) * 1000 / n)
        done += n
        turn += 1
    return per_turn


def steady_state(
    args: argparse.Namespace, vocab_size: int, train: torch.Tensor
) -> list[tuple[str, float, float]]:
    """(name, warm-up seconds, median ms per iteration) of each variant after warm-up."""
    total = args.steady_warmup + args.steady
    variants: list[tuple[str, Callable[[], Clock]]] = []
    for compiled in (False, True) if args.steady_compile else (False,):
        tag = ", compiled" if compiled else ""

        def plain(fused: bool, compiled: bool = compiled) -> Clock:
            model = build_model(vocab_size, args.seed, compiled, args.gelu)
            return PlainLoop(model, train, args.seed, total, fused=fused)

        def trainer(compiled: bool = compiled) -> Clock:
            model = build_model(vocab_size, args.seed, compiled, args.gelu)
            config = train_config(total, args.seed, eval_every=total, eval_batches=1)
            return TimedTrainer(Trainer(model, train, None, config, device="cpu"))

        variants += [
            (f"plain, AdamW defaults{tag}", lambda p=plain: p(False)),
            (f"plain, fused AdamW{tag}", lambda p=plain: p(True)),
            (f"labkit Trainer{tag}", trainer),
        ]
    sides = []
    for _, make in variants:
        side = make()
        side.run(args.steady_warmup)  # includes compilation
        sides.append(side)
    warmups = [side.seconds for side in sides]
    per_turn = take_turns(sides, args.steady, args.steady_chunk)
    return [
        (name, w, statistics.median(ms))
        for (name, _), w, ms in zip(variants, warmups, per_turn, strict=True)
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=2000, help="training iterations (2000)")
    parser.add_argument("--compile", action="store_true", help="torch.compile both models")
    parser.add_argument("--seed", type=int, default=1337, help="initial weights and batches")
    parser.add_argument(
        "--gelu", choices=("exact", "tanh"), default=GELU, help="the GELU (exact, nanoGPT's)"
    )
    parser.add_argument(
        "--schedule",
        choices=("wsd", "cosine"),
        default=SCHEDULE,
        help="after warm-up: hold the peak, then decay linearly over the last 20%% (wsd, the "
        "default), or nanoGPT's cosine",
    )
    parser.add_argument("--chunk", type=int, default=100, help="iterations per turn (100)")
    parser.add_argument(
        "--eval-every", type=int, default=250, help="the Trainer validates this often (250)"
    )
    parser.add_argument(
        "--trainer-eval-batches", type=int, default=20, help="batches per Trainer validation (20)"
    )
    parser.add_argument(
        "--eval-batches", type=int, default=200, help="batches for the final val loss (200)"
    )
    parser.add_argument(
        "--steady", type=int, default=300, help="steady-state iterations per variant (300; 0: none)"
    )
    parser.add_argument(
        "--steady-warmup", type=int, default=30, help="untimed iterations first (30)"
    )
    parser.add_argument("--steady-chunk", type=int, default=25, help="iterations per turn (25)")
    parser.add_argument(
        "--steady-compile", action="store_true", help="also time torch.compile'd variants"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: torch's); use 1 on a machine busy with other work, where "
        "OpenMP threads that wait for each other can make a step many times slower",
    )
    args = parser.parse_args(argv)
    for name in ("iters", "chunk", "eval_every", "trainer_eval_batches", "eval_batches"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.steady < 0 or args.steady_warmup < 1 or args.steady_chunk < 1:
        parser.error("--steady must be >= 0, --steady-warmup and --steady-chunk >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)

    text = data.load_text("tinyshakespeare", progress=False)
    vocab = data.CharVocab.from_text(text)
    train, val = data.split(vocab.encode(text, as_tensor=True), 0.1)

    load_before = os.getloadavg()
    plain = PlainLoop(
        build_model(len(vocab), args.seed, args.compile, args.gelu),
        train,
        args.seed,
        args.iters,
        schedule=args.schedule,
    )
    config = train_config(
        args.iters, args.seed, args.eval_every, args.trainer_eval_batches, args.schedule
    )
    model = build_model(len(vocab), args.seed, args.compile, args.gelu)
    labkit_side = TimedTrainer(Trainer(model, train, val, config, device="cpu"))
    take_turns([plain, labkit_side], args.iters, args.chunk)
    load_after = os.getloadavg()

    eval_seed = args.seed + 1
    hist = labkit_side.trainer.history
    rows = []
    for name, side, last in (
        ("labkit Trainer", labkit_side, float(hist["train_loss"].iloc[-1])),
        ("plain loop", plain, plain.last_loss),
    ):
        m = side.trainer.model if side is labkit_side else side.model
        full, n_windows = val_loss_all_windows(m, val)
        rows.append((name, side, last, val_loss(m, val, args.eval_batches, eval_seed), full))
    steady = steady_state(args, len(vocab), train) if args.steady else []
    load_end = os.getloadavg()

    tokens = args.iters * BATCH * BLOCK
    lab_tps, ref_tps = tokens / labkit_side.seconds, tokens / plain.seconds
    lab_val = rows[0][3]
    clipped = float((hist["grad_norm"] > GRAD_CLIP).mean())
    n_params = sum(p.numel() for p in plain.model.parameters())
    print(
        f"# machine: {platform.platform()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}; load average "
        f"(1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after the run, "
        f"{load_end[0]:.2f} at the end (other work on the machine)"
    )
    print(
        f"# tinyshakespeare, vocab {len(vocab)}, {len(train):,} train / {len(val):,} val tokens; "
        f"GPT {n_params:,} params; {args.iters} iters x {BATCH}x{BLOCK} = {tokens:,} tokens; "
        f"GELU {args.gelu}; schedule {args.schedule}; compile={args.compile}; turns of {args.chunk} iters; Trainer validation time "
        f"excluded: {labkit_side.eval_clock.seconds:.1f} s; gradient clipped in "
        f"{clipped:.0%} of the Trainer's steps"
    )
    if steady:
        print(
            f"# steady state: median ms/iteration over turns of {args.steady_chunk}, "
            f"{args.steady} iterations after {args.steady_warmup} untimed (warm-up s)"
        )
        header = (
            f"{'variant':34s} {'warm-up s':>9s} {'ms/iter':>8s} {'tokens/s':>9s} {'vs plain':>8s}"
        )
        print(header)
        print("-" * len(header))
        base = steady[0][2]
        for name, warm, ms in steady:
            tps = BATCH * BLOCK / (ms / 1000)
            print(f"{name:34s} {warm:9.1f} {ms:8.2f} {tps:9.0f} {base / ms:7.3f}x")
    print(
        f"# {args.iters} iterations, whole training time; val loss: mean over "
        f"{args.eval_batches} random batches of {BATCH} windows (seed {eval_seed}), and over all "
        f"{n_windows:,} non-overlapping windows of the val text"
    )
    header = (
        f"{'side':16s} {'train s':>8s} {'cpu s':>7s} {'tokens/s':>9s} {'ms/iter':>8s} "
        f"{'last train loss':>15s} {'val loss':>8s} {'val (all)':>9s}"
    )
    print(header)
    print("-" * len(header))
    for name, side, last, v, full in rows:
        print(
            f"{name:16s} {side.seconds:8.1f} {side.cpu_seconds:7.1f} "
            f"{tokens / side.seconds:9.0f} {side.seconds * 1000 / args.iters:8.2f} "
            f"{last:15.4f} {v:8.4f} {full:9.4f}"
        )
    print(
        f"tokens_per_s={lab_tps:.0f} ref_tokens_per_s={ref_tps:.0f} "
        f"ratio={lab_tps / ref_tps:.3f} val_loss={lab_val:.4f}"
    )


if __name__ == "__main__":
    main()
