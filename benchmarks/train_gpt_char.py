"""Character-level GPT training: labkit's Trainer vs a plain PyTorch loop, same model, same run.

The shape is nanoGPT's documented CPU run of ``config/train_shakespeare_char.py`` (its README:
``--device=cpu --compile=False --eval_iters=20 --block_size=64 --batch_size=12 --n_layer=4
--n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0``, val loss ≈ 1.88)
on ``tinyshakespeare`` (65 characters, first 90 % train, last 10 % validation):

- GPT: 4 layers, 4 heads, 128-dim embeddings, context 64, dropout 0, no biases (nanoGPT's
  default ``bias=False``), tied embedding/LM head;
- AdamW, lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on matrices/embeddings, 100 warm-up steps
  then cosine decay to 1e-4 at the last iteration, gradients clipped to norm 1.0;
- batch 12, 2000 iterations, seed fixed.

Two sides train the same initial weights on the same batches:

- **labkit**: :class:`labkit.train.Trainer` with everything on (progress bar, per-step history,
  validation every ``--eval-every`` steps on ``--trainer-eval-batches`` batches);
- **plain**: a loop written here: random windows, ``model(x, y)``, ``backward``,
  ``clip_grad_norm_``, ``torch.optim.AdamW`` with default settings (no Trainer).

To keep a loaded machine's noise out of the ratio, the two sides take turns in chunks of
``--chunk`` iterations inside one process. ``tokens/s`` = every training iteration's tokens over
the whole training wall time (warm-up included, validation excluded) for each side. The final
validation loss of both models is measured the same way afterwards: the mean loss over
``--eval-batches`` fixed random validation windows.

    export LABKIT_DATA_MIRROR=/work/shared/data        # a folder holding tinyshakespeare.txt
    .venv/bin/python benchmarks/train_gpt_char.py                 # the full 2000 iterations
    .venv/bin/python benchmarks/train_gpt_char.py --iters 200     # a quick look
    .venv/bin/python benchmarks/train_gpt_char.py --compile       # torch.compile both models

The last line is ``tokens_per_s=<labkit> ref_tokens_per_s=<plain> ratio=<labkit/plain>
val_loss=<labkit>``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
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


def lr_at(step: int, max_steps: int) -> float:
    """Learning rate of update ``step`` (1-based): linear warm-up, then cosine to ``MIN_LR``.

    The formula of :func:`labkit.train.learning_rate`, written out so the plain loop needs no
    labkit training code.
    """
    if step < WARMUP:
        return LR * step / WARMUP
    progress = min(1.0, (step - WARMUP) / max(1, max_steps - WARMUP))
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


class PlainLoop:
    """The reference: the textbook PyTorch training loop, nothing else."""

    def __init__(self, model: torch.nn.Module, train: torch.Tensor, seed: int, iters: int) -> None:
        self.model, self.train, self.iters = model, train, iters
        decay = [p for p in model.parameters() if p.dim() >= 2]
        rest = [p for p in model.parameters() if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": WEIGHT_DECAY},
                {"params": rest, "weight_decay": 0.0},
            ],
            lr=LR,
            betas=BETAS,
        )
        self.generator = torch.Generator().manual_seed(seed)
        self.step = 0
        self.seconds = 0.0
        self.last_loss = math.nan

    def run(self, n: int) -> None:
        """Train ``n`` more iterations, adding their wall time to ``seconds``."""
        start = time.perf_counter()
        self.model.train()
        for _ in range(n):
            self.step += 1
            for group in self.optimizer.param_groups:
                group["lr"] = lr_at(self.step, self.iters)
            x, y = random_windows(self.train, self.generator)
            _, loss = self.model(x, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), GRAD_CLIP)
            self.optimizer.step()
        self.last_loss = float(loss.detach())
        self.seconds += time.perf_counter() - start


class TimedTrainer:
    """labkit's Trainer, with the time its validations take kept apart from training time."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.seconds = 0.0
        self.eval_seconds = 0.0
        evaluate = trainer.evaluate

        def timed_evaluate(*args: object, **kwargs: object) -> dict[str, float]:
            start = time.perf_counter()
            try:
                return evaluate(*args, **kwargs)
            finally:
                self.eval_seconds += time.perf_counter() - start

        trainer.evaluate = timed_evaluate  # type: ignore[method-assign]

    def run(self, n: int) -> None:
        """Train ``n`` more iterations; ``seconds`` grows by their wall time minus validation."""
        eval_before = self.eval_seconds
        start = time.perf_counter()
        self.trainer.fit(steps=n)
        self.seconds += time.perf_counter() - start - (self.eval_seconds - eval_before)


def build_model(vocab_size: int, seed: int, compile_model: bool) -> torch.nn.Module:
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
    )
    model = GPT(config)
    return torch.compile(model) if compile_model else model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=2000, help="training iterations (2000)")
    parser.add_argument("--compile", action="store_true", help="torch.compile both models")
    parser.add_argument("--seed", type=int, default=1337, help="initial weights and batches")
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
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: torch's); use 1 on a machine busy with other work, where "
        "OpenMP threads that wait for each other can make a step many times slower",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    text = data.load_text("tinyshakespeare", progress=False)
    vocab = data.CharVocab.from_text(text)
    train, val = data.split(vocab.encode(text, as_tensor=True), 0.1)
    device = torch.device("cpu")

    plain = PlainLoop(
        build_model(len(vocab), args.seed, args.compile), train, args.seed, args.iters
    )
    config = TrainConfig(
        max_steps=args.iters,
        batch_size=BATCH,
        block_size=BLOCK,
        optimizer="adamw",
        lr=LR,
        weight_decay=WEIGHT_DECAY,
        betas=BETAS,
        schedule="cosine",
        warmup_steps=min(WARMUP, args.iters),
        min_lr=MIN_LR,
        grad_clip=GRAD_CLIP,
        eval_every=args.eval_every,
        eval_batches=args.trainer_eval_batches,
        seed=args.seed,
        progress=True,
    )
    model = build_model(len(vocab), args.seed, args.compile)
    labkit_side = TimedTrainer(Trainer(model, train, val, config, device=device))

    load_before = os.getloadavg()
    turn = 0
    while plain.step < args.iters:
        n = min(args.chunk, args.iters - plain.step)
        sides = (plain, labkit_side) if turn % 2 == 0 else (labkit_side, plain)
        for side in sides:
            side.run(n)
        turn += 1
    load_after = os.getloadavg()

    eval_seed = args.seed + 1
    tokens = args.iters * BATCH * BLOCK
    hist = labkit_side.trainer.history
    rows = [
        (
            "labkit Trainer",
            labkit_side.seconds,
            float(hist["train_loss"].iloc[-1]),
            val_loss(labkit_side.trainer.model, val, args.eval_batches, eval_seed),
        ),
        (
            "plain loop",
            plain.seconds,
            plain.last_loss,
            val_loss(plain.model, val, args.eval_batches, eval_seed),
        ),
    ]
    (_, lab_s, _, lab_val), (_, ref_s, _, _) = rows
    lab_tps, ref_tps = tokens / lab_s, tokens / ref_s

    print(
        f"# machine: {platform.platform()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after (other work on the machine)"
    )
    print(
        f"# tinyshakespeare, vocab {len(vocab)}, {len(train):,} train / {len(val):,} val tokens; "
        f"GPT {model.num_params() if hasattr(model, 'num_params') else '?':,} params; "
        f"{args.iters} iters x {BATCH}x{BLOCK} = {tokens:,} tokens; compile={args.compile}; "
        f"turns of {args.chunk} iters; Trainer validation time excluded: "
        f"{labkit_side.eval_seconds:.1f} s"
    )
    header = (
        f"{'side':16s} {'train s':>9s} {'tokens/s':>10s} {'last train loss':>16s} {'val loss':>9s}"
    )
    print(header)
    print("-" * len(header))
    for name, seconds, train_loss, v in rows:
        print(f"{name:16s} {seconds:9.1f} {tokens / seconds:10.0f} {train_loss:16.4f} {v:9.4f}")
    print(
        f"tokens_per_s={lab_tps:.0f} ref_tokens_per_s={ref_tps:.0f} "
        f"ratio={lab_tps / ref_tps:.3f} val_loss={lab_val:.4f}"
    )


if __name__ == "__main__":
    main()
