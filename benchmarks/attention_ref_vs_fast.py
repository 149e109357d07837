"""Causal self-attention: the readable formula vs torch's fused kernel, on the same q, k, v.

- **reference**: :func:`labkit.attention.scaled_dot_product_attention`, ``softmax(Q Kᵀ/√d_k) V``
  written out (scores, mask, softmax, weights · V), with :func:`labkit.attention.causal_mask`;
- **fast**: ``torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)``, what
  ``MultiHeadAttention(impl="fast")`` and so :class:`labkit.gpt.GPT` run by default.

Shapes are the char-level GPT's: batch 12, 4 heads, head dimension 32, at sequence lengths 64
(nanoGPT's CPU run) and 256 (its full Shakespeare run) by default. One step is the attention
alone, forward, or forward + backward of ``out.sum()`` into q, k and v. The two run alternately
in one process; the table shows the median over ``--repeat`` timed rounds of ``--number`` calls
each, after ``--warmup`` untimed calls, and the largest difference between the two outputs.

    .venv/bin/python benchmarks/attention_ref_vs_fast.py --threads 1
    .venv/bin/python benchmarks/attention_ref_vs_fast.py --seq 64 256 1024 --device cuda
"""

from __future__ import annotations

import argparse
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
import torch.nn.functional as F  # noqa: E402

from labkit.attention import causal_mask, scaled_dot_product_attention  # noqa: E402
from labkit.device import as_device  # noqa: E402

IMPLS = ("reference", "fast")


def attend(impl: str, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Causal attention of ``q``, ``k``, ``v`` (B, h, T, d_k) with implementation ``impl``."""
    if impl == "reference":
        mask = causal_mask(q.shape[-2], device=q.device)
        return scaled_dot_product_attention(q, k, v, mask=mask)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def ms_per_call(fn: Callable[[], None], number: int, device: torch.device) -> float:
    """Wall milliseconds per call of ``fn``, averaged over ``number`` calls."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(number):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) * 1000 / number


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=12, help="sequences per batch (12)")
    parser.add_argument("--heads", type=int, default=4, help="attention heads (4)")
    parser.add_argument("--head-dim", type=int, default=32, help="d_k per head (32)")
    parser.add_argument(
        "--seq", type=int, nargs="+", default=[64, 256], help="sequence lengths (64 256)"
    )
    parser.add_argument("--repeat", type=int, default=15, help="timed rounds (15)")
    parser.add_argument("--number", type=int, default=20, help="calls per round (20)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls first (10)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, mps")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    for name in ("batch", "heads", "head_dim", "repeat", "number"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = as_device(args.device)

    rows = []
    for T in args.seq:
        g = torch.Generator().manual_seed(T)
        shape = (args.batch, args.heads, T, args.head_dim)
        q, k, v = (torch.randn(shape, generator=g).to(device).requires_grad_() for _ in range(3))

        def forward(impl: str, q=q, k=k, v=v) -> None:
            with torch.no_grad():
                attend(impl, q, k, v)

        def step(impl: str, q=q, k=k, v=v) -> None:
            for t in (q, k, v):
                t.grad = None
            attend(impl, q, k, v).sum().backward()

        with torch.no_grad():
            diff = (attend("reference", q, k, v) - attend("fast", q, k, v)).abs().max().item()
        for _ in range(args.warmup):
            for impl in IMPLS:
                step(impl)
        fwd: dict[str, list[float]] = {i: [] for i in IMPLS}
        both: dict[str, list[float]] = {i: [] for i in IMPLS}
        for r in range(args.repeat):
            for impl in IMPLS if r % 2 == 0 else IMPLS[::-1]:  # alternate: load hits both alike
                fwd[impl].append(ms_per_call(lambda i=impl: forward(i), args.number, device))
                both[impl].append(ms_per_call(lambda i=impl: step(i), args.number, device))
        for impl in IMPLS:
            rows.append(
                (T, impl, statistics.median(fwd[impl]), statistics.median(both[impl]), diff)
            )

    load = os.getloadavg()[0]
    print(
        f"# machine: {platform.platform()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), device {device}; load average {load:.2f}"
    )
    print(
        f"# causal attention, batch {args.batch}, {args.heads} heads, head dim {args.head_dim}; "
        f"median of {args.repeat} rounds of {args.number} calls after {args.warmup} warm-up"
    )
    header = (
        f"{'seq':>5s} {'impl':10s} {'forward ms':>11s} {'fwd+bwd ms':>11s} "
        f"{'fwd+bwd vs fast':>16s} {'max |diff|':>11s}"
    )
    print(header)
    print("-" * len(header))
    fast = {T: b for T, impl, _, b, _ in rows if impl == "fast"}
    for T, impl, f, b, diff in rows:
        print(f"{T:5d} {impl:10s} {f:11.3f} {b:11.3f} {b / fast[T]:15.2f}x {diff:11.1e}")


if __name__ == "__main__":
    main()
