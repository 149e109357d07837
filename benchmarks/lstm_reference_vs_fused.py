"""The readable LSTM (``impl="reference"``, a Python loop over time steps) vs the fast path
(``impl="fast"``: the same parameters through torch's fused ``torch.lstm``, what ``nn.LSTM`` runs).

The model is labkit's character-level LM at char-rnn size: vocabulary 65, embedding 64, hidden
256, 2 LSTM layers, sequences of 64 characters, batches of 32. One step = forward + loss +
backward (no optimiser). Both implementations run in one process, alternating, on the same
batch; the table shows the median over ``--repeat`` timed steps after ``--warmup`` untimed ones.

    .venv/bin/python benchmarks/lstm_reference_vs_fused.py
    .venv/bin/python benchmarks/lstm_reference_vs_fused.py --device cuda --repeat 50
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from labkit.device import as_device  # noqa: E402
from labkit.rnn import CharRNN, CharRNNConfig  # noqa: E402

VOCAB, EMBD, HIDDEN, LAYERS, SEQ, BATCH = 65, 64, 256, 2, 64, 32


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=15, help="timed steps per implementation")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, mps")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = as_device(args.device)

    torch.manual_seed(0)
    cfg = CharRNNConfig(VOCAB, "lstm", EMBD, HIDDEN, LAYERS, impl="fast")
    model = CharRNN(cfg).to(device)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(VOCAB, (BATCH, SEQ), generator=g).to(device)
    y = torch.randint(VOCAB, (BATCH, SEQ), generator=g).to(device)

    def forward(impl: str) -> None:
        model.impl = impl
        with torch.no_grad():
            model(x, y)

    def step(impl: str) -> None:
        model.impl = impl
        model.zero_grad(set_to_none=True)
        model(x, y)[1].backward()

    # the two give the same numbers (the tests check this at 1e-5; here, at this size)
    model.impl = "reference"
    logits_ref, loss_ref = model(x, y)
    model.impl = "fast"
    logits_fast, loss_fast = model(x, y)
    max_diff = (logits_ref - logits_fast).abs().max().item()

    impls = ("reference", "fast")
    fwd: dict[str, list[float]] = {i: [] for i in impls}
    both: dict[str, list[float]] = {i: [] for i in impls}
    for _ in range(args.warmup):
        for impl in impls:
            step(impl)
    for _ in range(args.repeat):
        for impl in impls:  # alternate, so drifting machine load hits both alike
            fwd[impl].append(timed(lambda impl=impl: forward(impl), device))
            both[impl].append(timed(lambda impl=impl: step(impl), device))

    med_f = {i: statistics.median(fwd[i]) for i in impls}
    med_b = {i: statistics.median(both[i]) for i in impls}
    print(
        f"# machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"device {device}"
    )
    print(
        f"# CharRNN LSTM: vocab {VOCAB}, embedding {EMBD}, hidden {HIDDEN}, {LAYERS} layers, "
        f"seq {SEQ}, batch {BATCH} ({model.num_params():,} parameters); median of "
        f"{args.repeat} steps after {args.warmup} warm-up; max |logits diff| = {max_diff:.1e}"
    )
    header = (
        f"{'impl':10s} {'forward ms':>11s} {'fwd+bwd ms':>11s} {'tokens/s':>10s} {'vs fast':>8s}"
    )
    print(header)
    print("-" * len(header))
    for impl in impls:
        tps = BATCH * SEQ / (med_b[impl] / 1000)
        ratio = med_b[impl] / med_b["fast"]
        print(f"{impl:10s} {med_f[impl]:11.1f} {med_b[impl]:11.1f} {tps:10,.0f} {ratio:7.1f}x")


if __name__ == "__main__":
    main()
