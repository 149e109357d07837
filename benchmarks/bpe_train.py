"""Byte-level BPE training: labkit's pure-Python BPETokenizer vs Hugging Face ``tokenizers``.

Both train on the first 1 MB of the corpus to 256 + 1000 tokens (1000 merges) with a GPT-2-style
pre-split, and are scored on a held-out slice (the text after the first 1 MB, at most 200 kB):

    .venv/bin/python benchmarks/bpe_train.py                                  # labkit.data
    .venv/bin/python benchmarks/bpe_train.py --text-file /work/shared/data/tinyshakespeare.txt

Without ``--text-file`` the corpus comes from ``labkit.data.load_text("tinyshakespeare")``
(set ``LABKIT_DATA_MIRROR`` to a folder holding ``tinyshakespeare.txt`` to work offline).
labkit trains on one core (no torch involved). ``tokenizers`` is Rust and multi-threaded; it
runs in a child process, once limited to one thread (RAYON_NUM_THREADS=1) and once with all
cores. Training times are medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labkit.tokenize import BPETokenizer  # noqa: E402

TRAIN_BYTES = 1_000_000
HELD_OUT_BYTES = 200_000
MERGES = 1000


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in character for each byte (what ``tokenizers`` vocabularies hold)."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


def hf_worker(train_file: str, held_file: str, vocab_size: int, repeat: int) -> None:
    """Runs in a child process so that the thread-count environment is set before Rust starts."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    text = Path(train_file).read_text(encoding="utf-8")
    held = Path(held_file).read_text(encoding="utf-8")
    times = []
    for _ in range(repeat):
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=0,
            show_progress=False,
            special_tokens=[],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
        t0 = time.perf_counter()
        tok.train_from_iterator([text], trainer=trainer)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    ids = tok.encode(held).ids
    encode_s = time.perf_counter() - t0
    assert tok.decode(ids) == held, "tokenizers round trip failed"
    print(
        json.dumps(
            {
                "train_s": statistics.median(times),
                "vocab_size": tok.get_vocab_size(),
                "n_tokens": len(ids),
                "encode_s": encode_s,
                "tokens": list(tok.get_vocab()),
            }
        )
    )


def run_hf(
    train_file: Path, held_file: Path, vocab_size: int, repeat: int, threads: int | None
) -> dict:
    env = dict(os.environ, TOKENIZERS_PARALLELISM="true")
    if threads is not None:
        env.update(RAYON_NUM_THREADS=str(threads), RAYON_RS_NUM_CPUS=str(threads))
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--hf-worker",
            str(train_file),
            str(held_file),
            str(vocab_size),
            str(repeat),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"tokenizers worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_corpus(text_file: Path | None) -> tuple[str, str]:
    if text_file is not None:
        return str(text_file), text_file.read_text(encoding="utf-8")
    from labkit import data

    return "labkit.data tinyshakespeare", data.load_text("tinyshakespeare", progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--text-file", type=Path, default=None, help="read the corpus from this file"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="training runs per tokenizer (median)"
    )
    parser.add_argument(
        "--merges", type=int, default=MERGES, help="number of merges (default 1000)"
    )
    args = parser.parse_args()

    source, corpus = load_corpus(args.text_file)
    raw = corpus.encode("utf-8")
    train = raw[:TRAIN_BYTES].decode("utf-8", errors="ignore")  # drop a character cut in half
    held = raw[len(train.encode("utf-8")) :][:HELD_OUT_BYTES].decode("utf-8", errors="ignore")
    if not held:
        sys.exit(
            f"the corpus ({len(raw)} bytes) has nothing left after the first {TRAIN_BYTES} bytes"
        )
    vocab_size = 256 + args.merges

    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        tok = BPETokenizer().train(train, vocab_size)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    ids = tok.encode(held)
    labkit_encode_s = time.perf_counter() - t0
    assert tok.decode(ids) == held, "labkit round trip failed"

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        train_file, held_file = Path(tmp, "train.txt"), Path(tmp, "held.txt")
        train_file.write_text(train, encoding="utf-8")
        held_file.write_text(held, encoding="utf-8")
        hf1 = run_hf(train_file, held_file, vocab_size, args.repeat, threads=1)
        hfn = run_hf(train_file, held_file, vocab_size, args.repeat, threads=None)

    # how many learned tokens (as byte strings) the two vocabularies share
    b2u = bytes_to_unicode()
    ours = {"".join(b2u[b] for b in tok.token_bytes(i)) for i in range(256, tok.vocab_size)}
    shared = len(ours & set(hf1["tokens"]))

    held_bytes = len(held.encode("utf-8"))
    print(
        f"# machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"# corpus: {source}; train {len(train.encode()):,} bytes, held-out {held_bytes:,} bytes; "
        f"vocab {vocab_size} = 256 bytes + {args.merges} merges; median of {args.repeat} runs"
    )
    header = (
        f"{'tokenizer':34s} {'train s':>8s} {'vocab':>6s} {'bytes/token':>12s} {'encode MB/s':>12s}"
    )
    print(header)
    print("-" * len(header))
    rows = [
        (
            "labkit BPETokenizer (Python, 1 core)",
            statistics.median(times),
            tok.vocab_size,
            len(ids),
            labkit_encode_s,
        ),
        (
            "HF tokenizers (Rust, 1 thread)",
            hf1["train_s"],
            hf1["vocab_size"],
            hf1["n_tokens"],
            hf1["encode_s"],
        ),
        (
            f"HF tokenizers (Rust, {os.cpu_count()} threads)",
            hfn["train_s"],
            hfn["vocab_size"],
            hfn["n_tokens"],
            hfn["encode_s"],
        ),
    ]
    for name, secs, vsize, n_tok, enc_s in rows:
        print(
            f"{name:34s} {secs:8.2f} {vsize:6d} {held_bytes / n_tok:12.3f} {held_bytes / 1e6 / enc_s:12.2f}"
        )
    print(f"# learned tokens shared by labkit and HF: {shared} of {args.merges}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--hf-worker":
        hf_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
