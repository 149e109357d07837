"""A character LSTM trained on ``tinyshakespeare`` with labkit's Trainer (the fast path).

The model is the char-rnn shape of ``lstm_reference_vs_fused.py`` (embedding 64, hidden 256,
2 LSTM layers) on tinyshakespeare's 65 characters, split 90 % / 10 % by position. Training runs
truncated BPTT: ``StatefulBatches`` serves consecutive 64-character chunks of 32 parallel
streams and the model carries its (detached) state from one batch to the next. AdamW, learning
rate 2e-3 with 100 warm-up steps (a tenth of a short run) and a cosine decay to 2e-4, gradient clipping at norm 1,
seed 0.

Printed: the validation loss (nats per character, the mean over ``--eval-batches`` random
64-character windows of the validation text, each read from a zero state) after ``--steps``
optimiser steps, and the training throughput of the fast path over the whole training wall
time, evaluation excluded. The last line is
``steps=… val_loss=… tokens_per_s=… seconds=…``.

    LABKIT_DATA_MIRROR=../shared/data .venv/bin/python benchmarks/char_lstm_tinyshakespeare.py
    .venv/bin/python benchmarks/char_lstm_tinyshakespeare.py --steps 300 --threads 1
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import labkit  # noqa: E402
from labkit import data  # noqa: E402
from labkit.device import as_device  # noqa: E402
from labkit.rnn import CharRNN, CharRNNConfig, StatefulBatches  # noqa: E402
from labkit.train import TrainConfig, Trainer  # noqa: E402

EMBD, HIDDEN, LAYERS, SEQ, BATCH = 64, 256, 2, 64, 32


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=1000, help="optimiser steps (default 1000)")
    parser.add_argument("--eval-batches", type=int, default=100, help="validation windows / 32")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, mps")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = as_device(args.device)

    text = data.load_text("tinyshakespeare")
    vocab = data.CharVocab.from_text(text)
    train_ids, val_ids = data.split(vocab.encode(text, as_tensor=True), val_fraction=0.1)

    labkit.seed(0)
    model = CharRNN(
        CharRNNConfig(len(vocab), "lstm", EMBD, HIDDEN, LAYERS, impl="fast", carry_state=True)
    )
    batches = StatefulBatches(train_ids, SEQ, BATCH, val_data=val_ids, on_wrap=model.reset_state)
    config = TrainConfig(
        max_steps=args.steps,
        batch_size=BATCH,
        block_size=SEQ,
        optimizer="adamw",
        lr=2e-3,
        weight_decay=0.01,
        schedule="cosine",
        warmup_steps=min(100, args.steps // 10),
        min_lr=2e-4,
        grad_clip=1.0,
        eval_every=args.steps,
        eval_batches=args.eval_batches,
        progress=False,
    )
    trainer = Trainer(model, config=config, batch_fn=batches, device=device)
    history = trainer.fit()
    # the only validation runs after the last step, and that row's clock stops before it
    seconds = float(history["elapsed"].iloc[-1])
    val_loss = float(history["val_loss"].dropna().iloc[-1])
    tokens_per_s = args.steps * BATCH * SEQ / seconds

    print(
        f"# machine: {platform.platform()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), device {device}; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(
        f"# char-LSTM: vocab {len(vocab)}, embedding {EMBD}, hidden {HIDDEN}, {LAYERS} layers "
        f"({model.num_params():,} parameters); {len(train_ids):,} training characters; "
        f"{args.steps} steps × {BATCH}×{SEQ} = {args.steps / batches.chunks_per_epoch:.2f} epochs; "
        f"validation on {args.eval_batches}×{BATCH} windows"
    )
    print(
        f"steps={args.steps} val_loss={val_loss:.4f} tokens_per_s={tokens_per_s:.0f} "
        f"seconds={seconds:.1f}"
    )


if __name__ == "__main__":
    main()
