"""Text generation speed: labkit's Llama decoder vs Hugging Face transformers on the same weights.

SmolLM2-135M-Instruct from its GGUF file (dequantised to float32), greedy decoding of
``--new-tokens`` tokens after a ``--prompt-tokens`` prompt, both with their KV cache, both in one
process. transformers loads the same file with its own GGUF code (``load_gguf_checkpoint``:
dequantise, undo llama.cpp's Q/K order, rename); the two must generate the same tokens. The timed
runs alternate (labkit, transformers, transformers, labkit, ...), so that other work on the machine
slows both alike; the result is the median of each.

Peak memory of labkit's own path is measured in a separate process that imports torch and labkit,
loads the model and generates the same tokens, and nothing else: its ``ru_maxrss`` (the process's
high-water resident set size) is ``peak_rss_mb``.

    OMP_NUM_THREADS=2 python benchmarks/llm_generate.py --threads 2

Prints a table of the timed repeats and, as its last line,
``labkit_tok_s=… transformers_tok_s=… ratio=… peak_rss_mb=…`` (ratio = labkit / transformers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch

PROMPT = (
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
    "combined movable metal type, oil-based ink and a wooden screw press into a system that could "
    "produce books far faster than any scribe."
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def load_labkit(prompt_tokens: int):
    from labkit.pretrained import registry
    from labkit.pretrained.llama import from_gguf

    path = registry.fetch("smollm2-135m-instruct", progress=False)
    start = time.perf_counter()
    model, tok = from_gguf(path)
    load_s = time.perf_counter() - start
    ids = torch.tensor([tok.encode(PROMPT)[:prompt_tokens]])
    if ids.shape[1] != prompt_tokens:
        raise SystemExit(f"the prompt has only {ids.shape[1]} tokens; ask for fewer")
    return path, model, tok, ids, load_s


def labkit_only(args: argparse.Namespace) -> None:
    """The child process: labkit's path alone, for its peak memory."""
    from labkit import generate

    _, model, _, ids, _ = load_labkit(args.prompt_tokens)
    start = time.perf_counter()
    generate.greedy(model, ids, args.new_tokens)
    seconds = time.perf_counter() - start
    print(json.dumps({"peak_rss_mb": peak_rss_mb(), "tok_s": args.new_tokens / seconds}))


def load_transformers(path):
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
    return ref.float().eval(), config, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--labkit-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.labkit_only:
        return labkit_only(args)

    child = subprocess.run(
        [sys.executable, __file__, "--labkit-only", *sys.argv[1:]],
        capture_output=True,
        text=True,
        check=True,
    )
    memory = json.loads(child.stdout.strip().splitlines()[-1])

    from labkit import generate

    path, model, tok, ids, load_s = load_labkit(args.prompt_tokens)
    ref, config, ref_load_s = load_transformers(path)
    n = args.new_tokens

    def ours() -> torch.Tensor:
        return generate.greedy(model, ids, n)

    def theirs() -> torch.Tensor:
        with torch.no_grad():
            return ref.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=n,
                min_new_tokens=n,
                do_sample=False,
                pad_token_id=config.eos_token_id,
                eos_token_id=None,
            )

    generate.greedy(model, ids, 4)  # warm-up
    ref.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=4, do_sample=False)
    times: dict[str, list[float]] = {"labkit": [], "transformers": []}
    cpu: dict[str, list[float]] = {"labkit": [], "transformers": []}
    outputs = {}
    for r in range(args.repeats):
        order = (("labkit", ours), ("transformers", theirs))
        for name, fn in order if r % 2 == 0 else order[::-1]:
            start, start_cpu = time.perf_counter(), time.process_time()
            outputs[name] = fn()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    same = torch.equal(outputs["labkit"], outputs["transformers"])

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{args.threads} thread(s), load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'':14} {'load s':>7} "
        + " ".join(f"{f'run {i + 1} tok/s':>12}" for i in range(args.repeats))
    )
    for name, load in (("labkit", load_s), ("transformers", ref_load_s)):
        print(f"{name:14} {load:7.1f} " + " ".join(f"{n / t:12.1f}" for t in times[name]))
    print(
        f"labkit alone (separate process): {memory['tok_s']:.1f} tok/s, peak RSS {memory['peak_rss_mb']:.0f} MB"
    )
    print(
        f"greedy tokens equal: {same}; continuation: {tok.decode(outputs['labkit'][0, ids.shape[1] :])[:70]!r}"
    )
    ours_cpu, ref_cpu = (n / statistics.median(cpu[k]) for k in ("labkit", "transformers"))
    print(
        f"per CPU second (less sensitive to other work on the machine): labkit {ours_cpu:.1f}, "
        f"transformers {ref_cpu:.1f} tokens, ratio {ours_cpu / ref_cpu:.2f}"
    )
    ours_s = n / statistics.median(times["labkit"])
    ref_s = n / statistics.median(times["transformers"])
    print(
        f"labkit_tok_s={ours_s:.1f} transformers_tok_s={ref_s:.1f} ratio={ours_s / ref_s:.2f} "
        f"peak_rss_mb={memory['peak_rss_mb']:.0f}"
    )
    if not same:
        raise SystemExit("labkit and transformers generated different tokens")


if __name__ == "__main__":
    main()
