"""Notebook 12's exercises: the reference solutions agree with labkit.pretrained.llama (RoPE,
repeat_kv and grouped-query attention, a KV cache of the model q3 names), every wrong answer is
rejected on every seed (not only on a lucky draw of random inputs), and the experiment's right
option is what SmolLM2 does.

q4 runs the real SmolLM2-135M-Instruct, loaded as the notebook loads it (the full 30 blocks from
the cached GGUF file, about 3 s): what the option claims is a fact about those weights, which a
random model could not show."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labkit import exercises
from labkit.exercises import ExplainExercise, nb12
from labkit.exercises.tensors import tensor_io
from labkit.pretrained import llama, registry

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "12_run_a_real_llm.ipynb"


def _notebook_cell(marker: str) -> str:
    """The source of the one code cell of notebook 12 that contains ``marker``."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    found = [
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "code" and marker in "".join(c["source"])
    ]
    assert len(found) == 1, marker
    return found[0]


def test_five_exercises_one_of_them_an_experiment() -> None:
    assert list(exercises.exercises_in(nb12)) == ["q1", "q2", "q3", "q4", "q5"]
    assert isinstance(nb12.q4, exercises.ChoiceExercise) and isinstance(nb12.q5, ExplainExercise)
    assert sum(ex.points for ex in exercises.exercises_in(nb12).values()) == 9


# ----------------------------------------------------------------------------------- q1


def _labkit_rope(x: list[float], t: int, base: float) -> torch.Tensor:
    cos, sin = llama.rope_angles(len(x), torch.tensor([t]), base)  # float32 angles
    return llama.apply_rope(torch.tensor([x], dtype=torch.float64), cos, sin)[0]


def test_q1_is_labkits_rope() -> None:
    f = nb12.q1.reference_function()
    for seed in range(10):
        for x, t, base in nb12.q1.inputs(seed=seed):
            got = torch.tensor(f(list(x), t, base), dtype=torch.float64)
            # labkit's angles are float32: t·θ up to 60 carries ~1e-5 of rounding
            assert torch.allclose(got, _labkit_rope(list(x), t, base), atol=1e-4), (x, t, base)
    assert f([1.0, 0.0], 1, 10000.0) == pytest.approx([np.cos(1.0), np.sin(1.0)], abs=1e-15)


def test_q1_adjacent_pairs_answer_is_llama_cpps_layout() -> None:
    """The first wrong answer's diagnosis: it is the right rotation on llama.cpp's row order
    (place 2i + c holds coordinate c·d/2 + i), which ``unpermute_qk`` turns back into ours."""
    f, adjacent = nb12.q1.reference_function(), nb12.q1.run_solution(nb12.q1.wrong_answers[0].code)
    for x, t, base in nb12.q1.inputs(seed=3)[len(nb12.q1.edge_cases) :]:
        half = len(x) // 2
        stored = np.array([x[c * half + i] for i in range(half) for c in (0, 1)])[:, None]
        assert np.array_equal(llama.unpermute_qk(stored, 1)[:, 0], x)
        turned = np.array(adjacent(stored[:, 0].tolist(), t, base))[:, None]
        assert np.allclose(llama.unpermute_qk(turned, 1)[:, 0], f(list(x), t, base), atol=1e-12)


# ----------------------------------------------------------------------------------- q2


def test_q2_is_labkits_repeat_kv() -> None:
    f = tensor_io(nb12.q2.reference_function())
    for seed in range(10):
        for kv, n_rep in nb12.q2.inputs(seed=seed):
            expected = llama.repeat_kv(torch.tensor(kv, dtype=torch.float64), n_rep)
            assert torch.equal(torch.tensor(f(kv, n_rep), dtype=torch.float64), expected)


def test_q2_first_wrong_answer_is_the_notebooks_given_function() -> None:
    body = nb12.q2.wrong_answers[0].code.splitlines()[-1].strip()
    assert body == "return kv.repeat(1, n_rep, 1, 1)" and body in _notebook_cell("def repeat_kv_given")


def _attention_pair(seed: int) -> tuple[llama.Attention, llama.Attention]:
    """One layer's attention twice, the same weights: the formula (which calls ``repeat_kv``) and
    the fused kernel (which shares K/V heads itself, ``enable_gqa``)."""
    sizes = dict(vocab_size=8, block_size=16, n_layer=1, n_head=6, n_kv_head=2, n_embd=24,
                 ffn_hidden=8)  # fmt: skip
    torch.manual_seed(seed)
    reference = llama.Attention(llama.LlamaConfig(**sizes, attn_impl="reference"))
    fast = llama.Attention(llama.LlamaConfig(**sizes, attn_impl="fast"))
    fast.load_state_dict(reference.state_dict())
    return reference, fast


def test_q2_fix_gives_labkits_grouped_query_attention(monkeypatch) -> None:
    fixed = nb12.q2.reference_function()
    given = nb12.q2.run_solution(nb12.q2.wrong_answers[0].code)
    reference, fast = _attention_pair(seed=0)
    x = torch.randn(2, 7, 24, generator=torch.Generator().manual_seed(1))
    cos, sin = llama.rope_angles(4, torch.arange(7))
    with torch.no_grad():
        expected = fast(x, cos, sin)
        outputs = {}
        for name, repeat in [("fixed", fixed), ("given", given)]:
            monkeypatch.setattr(llama, "repeat_kv", repeat)
            outputs[name] = reference(x, cos, sin)
    assert torch.allclose(outputs["fixed"], expected, atol=1e-6)
    assert (outputs["given"] - expected).abs().max() > 1e-3  # the bug changes the output


# ----------------------------------------------------------------------------------- q3

# Llama 2 70B (Touvron et al. 2023b), as its published config gives it
LLAMA2_70B = llama.LlamaConfig(vocab_size=32000, block_size=4096, n_layer=80, n_head=64,
                               n_kv_head=8, n_embd=8192, ffn_hidden=28672, rope_base=10000.0)  # fmt: skip


def _cache_bytes(cfg: llama.LlamaConfig, n_kv_head: int, dtype: torch.dtype) -> int:
    """The bytes labkit's KVCache holds after one full context (tensors on the meta device:
    shapes and dtypes only, no memory)."""
    cache = llama.KVCache(cfg.n_layer)
    kv = torch.empty(1, n_kv_head, cfg.block_size, cfg.head_dim, dtype=dtype, device="meta")
    for layer in range(cfg.n_layer):
        cache.append(layer, kv, kv)
    return sum(t.numel() * t.element_size() for t in [*cache.keys, *cache.values])


def test_q3_given_is_llama2_70b_as_the_notebook_writes_it() -> None:
    given = nb12.q3.given()
    assert given == {"n_layer": LLAMA2_70B.n_layer, "n_head": LLAMA2_70B.n_head,
                     "n_kv_head": LLAMA2_70B.n_kv_head, "head_dim": LLAMA2_70B.head_dim,
                     "context": LLAMA2_70B.block_size, "bytes_per_value": 2}  # fmt: skip
    cell = {}
    exec(_notebook_cell("ex.q3.check").splitlines()[0], cell)
    assert {k: cell[k] for k in given} == given


def test_q3_is_the_bytes_of_a_full_kv_cache() -> None:
    answer = nb12.q3.expected_value()
    assert answer == {
        "with_gqa": _cache_bytes(LLAMA2_70B, LLAMA2_70B.n_kv_head, torch.float16),
        "without_gqa": _cache_bytes(LLAMA2_70B, LLAMA2_70B.n_head, torch.float16),
    }
    assert answer == {"with_gqa": 1.25 * 2**30, "without_gqa": 10 * 2**30}  # 1.25 GiB and 10 GiB
    assert all(type(v) is int for v in answer.values())


# ----------------------------------------------------------------------------------- q4


@pytest.fixture(scope="module")
def smollm2(one_thread):
    """SmolLM2 and the ids of section 8's prompt, as notebook 12 has them."""
    model, tok = llama.from_gguf(registry.fetch("smollm2-135m-instruct", progress=False))
    prompt = tok.chat_prompt([{"role": "user", "content": "What is the capital of France?"}])
    return model, torch.tensor([tok.encode(prompt)])


def _next_token_logp(model: llama.Llama, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """log p(next token) with the prompt's tokens at ``positions`` (no KV cache)."""
    cos, sin = llama.rope_angles(model.config.head_dim, positions, model.config.rope_base)
    with torch.no_grad():
        x = model.embed_tokens(ids)
        for i, layer in enumerate(model.layers):
            x = layer(x, cos, sin, None, i)
        return F.log_softmax(model.lm_head(model.norm(x[0, -1])), dim=-1)


def test_q4_right_option_is_what_smollm2_does(smollm2) -> None:
    """(a): the notebook's experiment (``run_blocks`` from position s) for its four shifts under
    seed offsets 0-9 and the largest shift that fits: every next-token log-probability within
    0.01 (measured: < 1e-3), the top three tokens in the same order. Not (b) (no move of a few
    percent), not (c) or (d) (shifts in the thousands change nothing either)."""
    model, ids = smollm2
    assert nb12.q4.expected_value() == "a"
    t = ids.shape[1]
    n_free = model.config.block_size - t
    shifts = {n_free}
    for offset in range(10):  # labkit.generator(12) under LABKIT_SEED_OFFSET=offset
        draw = torch.randint(1, n_free + 1, (4,), generator=torch.Generator().manual_seed(12 + offset))
        shifts.update(draw.tolist())
    assert len(shifts) > 30 and min(shifts) < 1000 and sum(s > 4000 for s in shifts) > 10

    def logp(shift: int) -> torch.Tensor:
        with torch.no_grad():
            x = model.run_blocks(model.embed_tokens(ids), 0, positions_start=shift)
            return F.log_softmax(model.lm_head(model.norm(x[0, -1])), dim=-1)

    logp0 = logp(0)
    top0 = logp0.topk(3).indices
    for s in sorted(shifts):
        shifted = logp(s)
        assert (shifted - logp0).abs().max() < 0.01, s
        assert torch.equal(shifted.topk(3).indices, top0), s
    # the check can fail: the same layers see the positions, and doubling every distance moves the
    # prediction by far more than the tolerance
    assert torch.equal(_next_token_logp(model, ids, torch.arange(t)), logp0)
    assert (_next_token_logp(model, ids, 2 * torch.arange(t)) - logp0).abs().max() > 1.0
