"""labkit.pretrained.llama and its GGUF reader, checked against transformers and the gguf package.

Small random models check every piece fast; the real SmolLM2-135M-Instruct (fetched once into
the cache by labkit.pretrained.registry) checks the whole model, its tokenizer and generation.
"""

from __future__ import annotations

import gguf
import numpy as np
import pytest
import torch
from transformers import LlamaConfig as HFConfig
from transformers import LlamaForCausalLM
from transformers.models.llama import modeling_llama as hf_llama

from labkit import generate
from labkit.pretrained import llama
from labkit.pretrained.gguf_reader import read_gguf
from labkit.pretrained.llama import (
    KVCache,
    Llama,
    LlamaConfig,
    Tokenizer,
    apply_rope,
    from_gguf,
    repeat_kv,
    rms_norm,
    rope_angles,
    transformers_reference,
    unpermute_qk,
)

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(
    vocab_size=61, block_size=24, n_layer=2, n_head=4, n_kv_head=2, n_embd=32, ffn_hidden=64
)


def hf_config(cfg: LlamaConfig) -> HFConfig:
    return HFConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.n_embd,
        intermediate_size=cfg.ffn_hidden,
        num_hidden_layers=cfg.n_layer,
        num_attention_heads=cfg.n_head,
        num_key_value_heads=cfg.n_kv_head,
        max_position_embeddings=cfg.block_size,
        rope_theta=cfg.rope_base,
        rms_norm_eps=cfg.norm_eps,
        tie_word_embeddings=cfg.tie_weights,
    )


def tiny_pair(seed: int = 0, **overrides) -> tuple[Llama, LlamaForCausalLM]:
    """A random transformers Llama and labkit's Llama holding the same weights."""
    cfg = LlamaConfig(**{**TINY, **overrides})
    torch.manual_seed(seed)
    ref = LlamaForCausalLM(hf_config(cfg)).eval()
    with torch.no_grad():  # norms start at 1: make them matter
        for name, p in ref.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    ours = Llama(cfg).eval()
    ours.load_hf_state_dict(ref.state_dict())
    return ours, ref


# ------------------------------------------------------------------------------- pieces


def test_rms_norm_equals_torch_and_transformers():
    torch.manual_seed(0)
    x, g = torch.randn(3, 5, 16), torch.rand(16) + 0.5
    expected = F_rms = torch.nn.functional.rms_norm(x, (16,), g, eps=1e-5)
    torch.testing.assert_close(rms_norm(x, g, 1e-5), expected)
    ref = hf_llama.LlamaRMSNorm(16, eps=1e-5)
    ref.weight.data = g
    torch.testing.assert_close(rms_norm(x, g, 1e-5), ref(x))
    # scale-invariant: RMSNorm(c·x) = RMSNorm(x) for c > 0 (ε aside)
    torch.testing.assert_close(rms_norm(7 * x, g, 0.0), rms_norm(x, g, 0.0))
    assert F_rms.shape == x.shape


def test_rope_equals_transformers():
    torch.manual_seed(1)
    cfg = hf_config(LlamaConfig(**{**TINY, "rope_base": 500.0}))
    rotary = hf_llama.LlamaRotaryEmbedding(cfg)
    q, k = torch.randn(2, 4, 9, 8), torch.randn(2, 2, 9, 8)
    positions = torch.arange(3, 12)
    cos_ref, sin_ref = rotary(q, positions[None])
    cos, sin = rope_angles(8, positions, 500.0)
    torch.testing.assert_close(cos, cos_ref[0])
    torch.testing.assert_close(sin, sin_ref[0])
    q_ref, k_ref = hf_llama.apply_rotary_pos_emb(q, k, cos_ref, sin_ref)
    torch.testing.assert_close(apply_rope(q, cos, sin), q_ref)
    torch.testing.assert_close(apply_rope(k, cos, sin), k_ref)


def test_rope_makes_scores_depend_on_relative_position_only():
    torch.manual_seed(2)
    q, k = torch.randn(16), torch.randn(16)

    def score(t: int, s: int) -> torch.Tensor:
        cos, sin = rope_angles(16, torch.tensor([t, s]), 10000.0)
        rq, rk = apply_rope(torch.stack([q, k]), cos, sin)
        return rq @ rk

    torch.testing.assert_close(score(5, 2), score(105, 102))
    torch.testing.assert_close(score(0, 0), q @ k)  # position 0: no rotation
    assert not torch.allclose(score(5, 2), score(5, 3))
    cos, sin = rope_angles(16, torch.arange(4), 10000.0)
    x = torch.randn(4, 16)
    torch.testing.assert_close(apply_rope(x, cos, sin).norm(dim=-1), x.norm(dim=-1))  # a rotation


def test_repeat_kv_equals_transformers():
    x = torch.randn(2, 3, 5, 4)
    for n_rep in (1, 2, 3):
        torch.testing.assert_close(repeat_kv(x, n_rep), hf_llama.repeat_kv(x, n_rep))
    out = repeat_kv(x, 3)
    assert torch.equal(out[:, 3], x[:, 1]) and torch.equal(out[:, 5], x[:, 1])


def llama_cpp_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """What llama.cpp's convert_hf_to_gguf.py does to Q and K weights."""
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def test_unpermute_undoes_llama_cpp_permutation_and_matches_transformers():
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    w = np.random.default_rng(0).normal(size=(3 * 8, 5)).astype(np.float32)
    stored = llama_cpp_permute(w, 3)
    assert not np.array_equal(stored, w)
    np.testing.assert_array_equal(unpermute_qk(stored, 3), w)
    proc = LlamaTensorProcessor(config={"num_attention_heads": 3, "num_key_value_heads": 3})
    np.testing.assert_array_equal(
        unpermute_qk(stored, 3), proc.process(stored, "blk.0.attn_q.weight").weights
    )
    with pytest.raises(ValueError, match="2·n_heads"):
        unpermute_qk(np.zeros((10, 4)), 3)


# ------------------------------------------------------------------ the model, small and random


@pytest.mark.parametrize("impl", ["fast", "reference"])
def test_tiny_model_equals_transformers(impl):
    ours, ref = tiny_pair(seed=3, attn_impl=impl)
    idx = torch.randint(0, TINY["vocab_size"], (2, 17), generator=torch.Generator().manual_seed(0))
    targets = torch.randint(
        0, TINY["vocab_size"], (2, 17), generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        logits, loss = ours(idx, targets)
        expected = ref(idx, labels=None).logits
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
    ref_loss = torch.nn.functional.cross_entropy(expected.flatten(0, 1), targets.flatten())
    torch.testing.assert_close(loss, ref_loss)


def test_untied_head_and_no_gqa():
    ours, ref = tiny_pair(seed=4, tie_weights=False, n_kv_head=4)
    assert ours.lm_head.weight is not ours.embed_tokens.weight
    idx = torch.randint(0, TINY["vocab_size"], (1, 10))
    with torch.no_grad():
        torch.testing.assert_close(ours(idx)[0], ref(idx).logits, atol=1e-5, rtol=1e-5)


def test_kv_cache_gives_the_same_logits_as_the_full_sequence():
    ours, _ = tiny_pair(seed=5)
    idx = torch.randint(0, TINY["vocab_size"], (2, 20), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full = ours(idx)[0]
        cache = KVCache(TINY["n_layer"])
        pieces = [
            ours.lm_head(ours.hidden_states(idx[:, a:b], cache))
            for a, b in ((0, 7), (7, 8), (8, 20))
        ]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache.length == 20


def test_run_blocks_is_the_full_forward_and_splits_anywhere():
    ours, ref = tiny_pair(seed=7, n_layer=3)
    idx = torch.randint(0, TINY["vocab_size"], (2, 11), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        x = ours.embed_tokens(idx)
        whole = ours.run_blocks(x, 0)
        torch.testing.assert_close(ours.lm_head(ours.norm(whole)), ref(idx).logits, atol=1e-5, rtol=1e-5)
        assert torch.equal(ours.norm(whole), ours.hidden_states(idx))
        for k in range(4):  # the stream after the lower k blocks, then the rest: the same result
            torch.testing.assert_close(ours.run_blocks(ours.run_blocks(x, 0, k), k), whole)
        assert torch.equal(ours.run_blocks(x, 1, 1), x)  # no blocks: nothing changes


def test_run_blocks_with_a_cache_and_later_positions():
    ours, _ = tiny_pair(seed=8, n_layer=3)
    idx = torch.randint(0, TINY["vocab_size"], (1, 12), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        x = ours.embed_tokens(idx)
        whole = ours.run_blocks(x, 0)
        cache = KVCache(3)
        first = ours.run_blocks(x[:, :5], 0, cache=cache)
        later = ours.run_blocks(x[:, 5:], 0, cache=cache, positions_start=5)
        torch.testing.assert_close(torch.cat([first, later], 1), whole, atol=1e-5, rtol=1e-5)
        assert cache.length == 0  # hidden_states, not run_blocks, advances the length
        with pytest.raises(ValueError, match=r"positions_start must equal .*\(\[12\]\), got 5"):
            ours.run_blocks(x[:, :1], 0, cache=cache, positions_start=5)


def test_run_blocks_input_errors():
    model = Llama(LlamaConfig(**TINY))
    x = torch.zeros(1, 4, 32)
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        model.run_blocks(torch.zeros(1, 4, 32, dtype=torch.long), 0)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, time, n_embd=32\)"):
        model.run_blocks(torch.zeros(1, 4, 31), 0)
    with pytest.raises(ValueError, match=r"0 <= start <= stop <= 2, got 2, 1"):
        model.run_blocks(x, 2, 1)
    with pytest.raises(ValueError, match="stop must be an int >= 0"):
        model.run_blocks(x, 0, -1)
    with pytest.raises(ValueError, match=r"0 <= start <= stop <= 2, got 0, 3"):
        model.run_blocks(x, 0, 3)
    with pytest.raises(ValueError, match="block_size=24"):
        model.run_blocks(x, 0, positions_start=21)
    with pytest.raises(TypeError, match="cache must be a KVCache"):
        model.run_blocks(x, 0, cache={})


@pytest.mark.parametrize("impl", ["fast", "reference"])
def test_generation_with_and_without_cache_is_the_same(impl):
    ours, _ = tiny_pair(seed=6, attn_impl=impl)
    prompt = torch.randint(
        0, TINY["vocab_size"], (1, 5), generator=torch.Generator().manual_seed(3)
    )
    runs = {}
    for use_cache in (True, False):
        ours.use_cache = use_cache
        runs[use_cache] = (
            generate.greedy(ours, prompt, 30),  # 35 > block_size 24: runs past the context
            generate.sample(
                ours,
                prompt,
                15,
                temperature=0.9,
                top_k=20,
                top_p=0.9,
                generator=torch.Generator().manual_seed(7),
            ),
        )
    for a, b in zip(runs[True], runs[False], strict=True):
        assert torch.equal(a, b)
    assert runs[True][0].shape == (1, 35)


def test_greedy_through_the_cache_equals_transformers_generate():
    ours, ref = tiny_pair(seed=8)
    prompt = torch.randint(
        0, TINY["vocab_size"], (1, 6), generator=torch.Generator().manual_seed(4)
    )
    with torch.no_grad():
        expected = ref.generate(
            prompt,
            max_new_tokens=12,
            min_new_tokens=12,
            do_sample=False,
            attention_mask=torch.ones_like(prompt),
            pad_token_id=0,
            eos_token_id=None,
        )
    assert torch.equal(generate.greedy(ours, prompt, 12), expected)


def test_model_input_errors():
    model = Llama(LlamaConfig(**TINY))
    with pytest.raises(TypeError, match="idx must be an integer tensor"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"shape \(batch, time\)"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="block_size=24"):
        model(torch.zeros(1, 25, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token ids in \[0, 61\)"):
        model(torch.tensor([[0, 61]]))
    cache = KVCache(TINY["n_layer"])
    model.hidden_states(torch.zeros(1, 20, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="20 cached"):
        model.hidden_states(torch.zeros(1, 5, dtype=torch.long), cache)
    with pytest.raises(TypeError, match="LlamaConfig"):
        Llama(TINY)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("n_kv_head", 3, "divisor of n_head"),
        ("n_embd", 30, "even head size"),
        ("n_layer", 0, "positive int"),
        ("rope_base", -1.0, "number > 0"),
        ("attn_impl", "flash", "one of"),
        ("tie_weights", 1, "True or False"),
    ],
)
def test_config_errors(field, value, message):
    with pytest.raises(ValueError, match=f"LlamaConfig.{field} must be .*{message}"):
        LlamaConfig(**{**TINY, field: value})


# ---------------------------------------------------------------- GGUF files written here


def write_gguf(path, arch="llama", cfg: LlamaConfig | None = None, seed=0, tokens=None):
    """A small GGUF file like llama.cpp writes: metadata, Q8_0/Q4_1/F32 tensors, Q/K permuted.
    Returns the transformers-layout float weights that went in (before quantisation)."""
    cfg = cfg or LlamaConfig(**TINY)
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(str(path), arch)
    w.add_uint32(f"{arch}.block_count", cfg.n_layer)
    w.add_uint32(f"{arch}.context_length", cfg.block_size)
    w.add_uint32(f"{arch}.embedding_length", cfg.n_embd)
    w.add_uint32(f"{arch}.feed_forward_length", cfg.ffn_hidden)
    w.add_uint32(f"{arch}.attention.head_count", cfg.n_head)
    w.add_uint32(f"{arch}.attention.head_count_kv", cfg.n_kv_head)
    w.add_float32(f"{arch}.rope.freq_base", cfg.rope_base)
    w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", cfg.norm_eps)
    w.add_uint32(f"{arch}.vocab_size", cfg.vocab_size)
    tokens = tokens or ["<|im_end|>"] + [
        chr(ord("a") + i % 26) * (1 + i // 26) for i in range(cfg.vocab_size - 1)
    ]
    w.add_tokenizer_model("gpt2")
    w.add_token_list(tokens)
    w.add_token_types([3] + [1] * (len(tokens) - 1))
    w.add_token_merges(["a a", "aa a"])
    w.add_eos_token_id(0)
    w.add_array("test.floats", [0.5, -2.0])
    w.add_array("test.strings", ["x", "ünï", ""])
    d, kv = cfg.n_embd, cfg.n_kv_head * cfg.head_dim
    hf = {
        "model.embed_tokens.weight": rng.normal(size=(cfg.vocab_size, d)),
        "model.norm.weight": 1 + rng.random(d),
    }
    tensors = {
        "token_embd.weight": (hf["model.embed_tokens.weight"], "Q8_0"),
        "output_norm.weight": (hf["model.norm.weight"], "F32"),
    }
    shapes = {
        "q_proj": (d, d),
        "k_proj": (kv, d),
        "v_proj": (kv, d),
        "o_proj": (d, d),
        "gate_proj": (cfg.ffn_hidden, d),
        "up_proj": (cfg.ffn_hidden, d),
        "down_proj": (d, cfg.ffn_hidden),
    }
    gguf_names = {
        "q_proj": "attn_q",
        "k_proj": "attn_k",
        "v_proj": "attn_v",
        "o_proj": "attn_output",
        "gate_proj": "ffn_gate",
        "up_proj": "ffn_up",
        "down_proj": "ffn_down",
    }
    for i in range(cfg.n_layer):
        for part, shape in shapes.items():
            sub = "self_attn" if part.endswith(("q_proj", "k_proj", "v_proj", "o_proj")) else "mlp"
            x = rng.normal(size=shape) * 0.2
            hf[f"model.layers.{i}.{sub}.{part}.weight"] = x
            stored = (
                llama_cpp_permute(x, cfg.n_head if part == "q_proj" else cfg.n_kv_head)
                if part in ("q_proj", "k_proj")
                else x
            )
            tensors[f"blk.{i}.{gguf_names[part]}.weight"] = (stored, "Q4_1" if i % 2 else "Q8_0")
        for ours, theirs in (
            ("attn_norm", "input_layernorm"),
            ("ffn_norm", "post_attention_layernorm"),
        ):
            x = 1 + rng.random(d)
            hf[f"model.layers.{i}.{theirs}.weight"] = x
            tensors[f"blk.{i}.{ours}.weight"] = (x, "F32")
    for name, (x, kind) in tensors.items():
        x = x.astype(np.float32)
        qtype = gguf.GGMLQuantizationType[kind]
        if kind == "F32":
            w.add_tensor(name, x)
        else:
            w.add_tensor(name, gguf.quants.quantize(x, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return hf


def test_reader_equals_the_gguf_package(tmp_path):
    path = tmp_path / "tiny.gguf"
    write_gguf(path)
    ours, theirs = read_gguf(path), gguf.GGUFReader(path)
    for key, field in theirs.fields.items():
        if key.startswith("GGUF."):
            continue
        expected = field.contents()
        got = ours.metadata[key]
        if isinstance(expected, float) or (
            isinstance(expected, list) and expected and isinstance(expected[0], float)
        ):
            np.testing.assert_allclose(got, expected)
        else:
            assert got == expected, key
    assert ours.metadata["test.strings"] == ["x", "ünï", ""]
    assert set(ours.tensors) == {t.name for t in theirs.tensors}
    kinds = set()
    for t in theirs.tensors:
        expected = gguf.quants.dequantize(t.data, t.tensor_type)
        got = ours.load(t.name)
        assert got.dtype == np.float32 and got.shape == tuple(int(n) for n in reversed(t.shape))
        np.testing.assert_array_equal(got, expected.reshape(got.shape))
        kinds.add(t.tensor_type.name)
    assert kinds == {"F32", "Q8_0", "Q4_1"}


def test_small_gguf_model_equals_transformers_reference(tmp_path):
    path = tmp_path / "tiny.gguf"
    write_gguf(path)
    model, tok = from_gguf(path)
    ref = transformers_reference(path)
    idx = torch.randint(0, TINY["vocab_size"], (1, 16), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(model(idx)[0], ref(idx).logits, atol=1e-4, rtol=1e-4)
    assert tok.encode("aaa<|im_end|>") == [tok.tokens.index("aaa"), 0]
    two, _ = from_gguf(path, n_layer=1)
    assert len(two.layers) == 1


def test_gguf_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="existing GGUF file"):
        read_gguf(tmp_path / "missing.gguf")
    (tmp_path / "not.gguf").write_bytes(b"PK\x03\x04 a zip, not a model")
    with pytest.raises(ValueError, match="must be a GGUF file"):
        read_gguf(tmp_path / "not.gguf")
    write_gguf(tmp_path / "gpt2.gguf", arch="gpt2")
    with pytest.raises(ValueError, match="'llama' architecture.*'gpt2'"):
        from_gguf(tmp_path / "gpt2.gguf")
    write_gguf(tmp_path / "ok.gguf")
    with pytest.raises(ValueError, match=r"n_layer must be an int in \[1, 2\]"):
        from_gguf(tmp_path / "ok.gguf", n_layer=3)
    with pytest.raises(TypeError, match="dtype must be a floating-point"):
        from_gguf(tmp_path / "ok.gguf", dtype=torch.int8)
    with pytest.raises(KeyError, match="no tensor 'nope'"):
        read_gguf(tmp_path / "ok.gguf").load("nope")


# ---------------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def gguf_path():
    from labkit.pretrained import registry

    return registry.fetch("smollm2-135m-instruct", progress=False)


@pytest.fixture(scope="module")
def smol(gguf_path):
    return from_gguf(gguf_path)


@pytest.fixture(scope="module")
def smol_ref(gguf_path):
    return transformers_reference(gguf_path)


def test_smollm2_config(smol):
    model, tok = smol
    c = model.config
    assert (c.n_layer, c.n_head, c.n_kv_head, c.n_embd, c.ffn_hidden) == (30, 9, 3, 576, 1536)
    assert (c.vocab_size, c.rope_base, c.block_size, c.tie_weights) == (49152, 100000.0, 8192, True)
    assert abs(c.norm_eps - 1e-5) < 1e-10
    assert model.lm_head.weight is model.embed_tokens.weight
    assert 134e6 < model.num_params() < 135e6
    assert tok.vocab_size == 49152 and tok.eos_id == 2 and tok.decode([tok.eos_id]) == "<|im_end|>"


def test_smollm2_logits_equal_transformers(smol, smol_ref):
    model, tok = smol
    text = (
        "The quick brown fox jumps over the lazy dog. Attention is all you need, they said; "
        "rotary position embeddings turn each query and key by an angle that grows with position."
    )
    idx = torch.tensor([tok.encode(text)[:32]])
    assert idx.shape == (1, 32)
    with torch.no_grad():
        ours, theirs = model(idx)[0], smol_ref(idx).logits
    assert (ours - theirs).abs().max().item() <= 1e-3
    assert theirs.abs().max().item() > 10  # real logits, not zeros


def test_smollm2_greedy_tokens_equal_transformers(smol, smol_ref):
    model, tok = smol
    prompt = torch.tensor(
        [tok.encode(tok.chat_prompt([{"role": "user", "content": "Name three colours."}]))]
    )
    with torch.no_grad():
        expected = smol_ref.generate(
            prompt,
            max_new_tokens=16,
            min_new_tokens=16,
            do_sample=False,
            attention_mask=torch.ones_like(prompt),
            pad_token_id=2,
            eos_token_id=None,
        )
    ours = generate.greedy(model, prompt, 16)
    assert torch.equal(ours, expected)
    # streaming with a stop string gives the same text, cut before the end of the turn
    text = tok.decode(
        list(
            generate.stream(model, prompt, 16, temperature=0, stop="<|im_end|>", decode=tok.decode)
        )
    )
    assert text and "<|im_end|>" not in text
    assert tok.decode(ours[0, prompt.shape[1] :]).startswith(text)


def test_smollm2_prompt_longer_than_context(smol):
    model, _ = smol
    with pytest.raises(ValueError, match="block_size=8192"):
        model(torch.zeros(1, 8193, dtype=torch.long))


TEXTS = [
    "Hello, world!",
    "In 2024, 12,345 apples cost $3.50 (or 3,50 €).",
    "  leading spaces,\ttabs\n\nand blank lines  ",
    "naïve café — “quotes” … 日本語のテキスト 😀👍🏽",
    "it's we'll they've I'M don't",
    "def f(x):\n    return {'a': [1, 2]}  # code\r\n",
    "<|im_start|>user\nHi there<|im_end|>\n",
    "",
    "Ünïcödé Straße ΑΒΓ привет مرحبا",
]


@pytest.fixture(scope="module")
def hf_tokenizer(gguf_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)


@pytest.mark.parametrize("text", TEXTS)
def test_tokenizer_equals_transformers(smol, hf_tokenizer, text):
    _, tok = smol
    ids = tok.encode(text)
    assert ids == hf_tokenizer.encode(text, add_special_tokens=False)
    assert tok.decode(ids) == text == hf_tokenizer.decode(ids)


def test_digits_are_split_like_llama_cpp(smol, hf_tokenizer):
    """The GGUF says pre-tokenizer "smollm": every numeric character is its own piece before
    GPT-2's split (llama.cpp). transformers does not know "smollm" and uses GPT-2's split, which
    glues a space to a following number; ASCII digits come out the same (the vocabulary merges no
    digits), other numerals do not."""
    _, tok = smol
    assert tok.encode(" 42") == hf_tokenizer.encode(" 42", add_special_tokens=False)
    assert [tok.decode([i]) for i in tok.encode(" 42")] == [" ", "4", "2"]
    assert [tok.decode([i]) for i in tok.encode(" ½")] == [" ", "½"]
    assert tok.encode(" ½") != hf_tokenizer.encode(" ½", add_special_tokens=False)


def test_chat_template_equals_transformers(smol, hf_tokenizer):
    _, tok = smol
    chats = [
        [{"role": "user", "content": "What is 2+2?"}],
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Bye"},
        ],
        [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Thanks"}],
    ]
    for chat in chats:
        for gen in (True, False):
            expected = hf_tokenizer.apply_chat_template(
                chat, tokenize=False, add_generation_prompt=gen
            )
            assert tok.chat_prompt(chat, add_generation_prompt=gen) == expected
            assert tok.encode(expected) == hf_tokenizer.encode(expected, add_special_tokens=False)
    ids = tok.encode(tok.chat_prompt(chats[0]))
    assert ids[0] == 1 and ids.count(1) == 3  # <|im_start|> is one token
    with pytest.raises(TypeError, match="role"):
        tok.chat_prompt("hello")
    with pytest.raises(TypeError, match="text must be a str"):
        tok.encode(42)


def test_tokenizer_refuses_other_kinds():
    with pytest.raises(ValueError, match="tokenizer.ggml.model must be 'gpt2'"):
        Tokenizer.from_gguf_metadata({"tokenizer.ggml.model": "llama"})


def test_module_lists_its_api():
    for name in llama.__all__:
        assert hasattr(llama, name)
