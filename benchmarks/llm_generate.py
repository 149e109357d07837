"""Text generation speed: labkit's Llama decoder vs Hugging Face transformers on the same weights.

SmolLM2-135M-Instruct from its GGUF file (dequantised to float32), greedy decoding of
``--new-tokens`` tokens after a ``--prompt-tokens`` prompt, both with their KV cache, in one
process. labkit runs first, and its peak resident memory (``ru_maxrss``: the process's high-water
mark, which covers importing torch, loading the model and generating) is read before transformers
is even imported, so it is labkit's own. Then transformers loads the same file with its own GGUF
code (``load_gguf_checkpoint``: dequantise, undo llama.cpp's Q/K order, rename) and generates the
same way; the two token sequences must be equal.

    OMP_NUM_THREADS=2 python benchmarks/llm_generate.py --threads 2

Prints a table of the timed repeats and, as its last line,
``labkit_tok_s=… transformers_tok_s=… ratio=… peak_rss_mb=…`` (medians; ratio = labkit / transformers).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time

import torch

PROMPT = (
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
    "combined movable metal type, oil-based ink and a wooden screw press into a system that could "
    "produce books far faster than any scribe."
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timed(fn, repeats: int) -> tuple[list[float], torch.Tensor]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return times, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from labkit import generate
    from labkit.pretrained import registry
    from labkit.pretrained.llama import from_gguf

    path = registry.fetch("smollm2-135m-instruct")
    start = time.perf_counter()
    model, tok = from_gguf(path)
    load_s = time.perf_counter() - start
    ids = torch.tensor([tok.encode(PROMPT)[: args.prompt_tokens]])
    if ids.shape[1] != args.prompt_tokens:
        raise SystemExit(f"the prompt has only {ids.shape[1]} tokens; ask for fewer")
    generate.greedy(model, ids, 4)  # warm-up
    ours_t, ours = timed(lambda: generate.greedy(model, ids, args.new_tokens), args.repeats)
    ours_rss = peak_rss_mb()
    model = None  # free it before transformers loads

    from transformers import AutoConfig, LlamaForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    start = time.perf_counter()
    config = AutoConfig.from_pretrained(path.parent, gguf_file=path.name)
    with torch.device("meta"):
        ref = LlamaForCausalLM(config)
    tensors = load_gguf_checkpoint(path, return_tensors=True, model_to_load=ref)["tensors"]
    tensors.setdefault("lm_head.weight", tensors["model.embed_tokens.weight"])
    ref.load_state_dict(tensors, strict=True, assign=True)
    ref.tie_weights()
    ref.model.rotary_emb = type(ref.model.rotary_emb)(config=config)
    ref = ref.float().eval()
    ref_load_s = time.perf_counter() - start

    def hf() -> torch.Tensor:
        with torch.no_grad():
            return ref.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=args.new_tokens,
                min_new_tokens=args.new_tokens,
                do_sample=False,
                pad_token_id=config.eos_token_id,
            )

    hf()  # warm-up
    ref_t, theirs = timed(hf, args.repeats)
    same = torch.equal(ours, theirs)

    n = args.new_tokens
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, {args.threads} threads"
    )
    print(
        f"{'':14} {'load s':>8} "
        + " ".join(f"{f'run {i + 1} tok/s':>12}" for i in range(args.repeats))
    )
    for name, load, ts in (("labkit", load_s, ours_t), ("transformers", ref_load_s, ref_t)):
        print(f"{name:14} {load:8.1f} " + " ".join(f"{n / t:12.1f}" for t in ts))
    print(
        f"greedy tokens equal: {same}; continuation: {tok.decode(ours[0, ids.shape[1] :])[:80]!r}"
    )
    ours_s, ref_s = n / statistics.median(ours_t), n / statistics.median(ref_t)
    print(
        f"labkit_tok_s={ours_s:.1f} transformers_tok_s={ref_s:.1f} ratio={ours_s / ref_s:.2f} "
        f"peak_rss_mb={ours_rss:.0f}"
    )
    if not same:
        raise SystemExit("labkit and transformers generated different tokens")


if __name__ == "__main__":
    main()
