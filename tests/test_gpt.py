"""labkit.gpt: parameter count formula, positions, initial loss, reference == fast attention,
causality, learning, and working with labkit.train / labkit.checkpoint unchanged."""

from __future__ import annotations

import math

import pytest
import torch

from labkit.gpt import GPT, PRESETS, GPTConfig, sinusoidal_positions


def tiny(**overrides) -> GPTConfig:
    return GPTConfig.preset("tiny", **{"vocab_size": 11, "block_size": 16, **overrides})


def test_sinusoidal_positions_match_hand_computed_values():
    pe = sinusoidal_positions(3, 4)
    # PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...); d = 4 → rates 1, 1/100
    expected = torch.tensor(
        [
            [0.0, 1.0, 0.0, 1.0],
            [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)],
            [math.sin(2), math.cos(2), math.sin(0.02), math.cos(0.02)],
        ]
    )
    torch.testing.assert_close(pe, expected)
    odd = sinusoidal_positions(2, 3)  # an odd d drops the last cosine
    torch.testing.assert_close(
        odd[1], torch.tensor([math.sin(1), math.cos(1), math.sin(10000 ** (-2 / 3))])
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"bias": False},
        {"tie_weights": False},
        {"pos_embedding": "sinusoidal"},
        {"bias": False, "tie_weights": False, "pos_embedding": "sinusoidal", "n_layer": 3},
        {"n_embd": 24, "n_head": 3, "vocab_size": 50},
    ],
)
def test_num_params_equals_the_formula(overrides):
    config = tiny(**overrides)
    model = GPT(config)
    assert model.num_params() == config.param_count()
    assert model.num_params(non_embedding=True) == config.param_count(non_embedding=True)
    d, L = config.n_embd, config.n_layer
    per_block = 12 * d * d + (13 * d if config.bias else 2 * d)
    assert config.param_count(non_embedding=True) == L * per_block + (2 * d if config.bias else d)


def test_gpt2_small_has_124m_parameters():
    config = GPTConfig.preset("gpt2")
    assert config.param_count() == 124_439_808  # GPT-2 small, as published with the weights
    assert config.param_count(non_embedding=True) == 12 * (12 * 768**2 + 13 * 768) + 2 * 768


def test_flops_per_token_formula():
    c = GPTConfig.preset("gpt2")
    N = c.param_count(non_embedding=True) + c.vocab_size * c.n_embd
    assert c.flops_per_token() == 6 * N + 12 * 12 * 768 * 1024
    assert c.flops_per_token(T=128, training=False) == 2 * N + 4 * 12 * 768 * 128
    assert GPT(tiny()).flops_per_token(T=8) == tiny().flops_per_token(T=8)


def test_untrained_loss_is_near_log_vocab():
    torch.manual_seed(0)
    V = 65
    model = GPT(GPTConfig.preset("tiny", vocab_size=V))
    idx = torch.randint(0, V, (8, 32))
    logits, loss = model(idx, torch.roll(idx, -1, dims=1))
    assert logits.shape == (8, 32, V)
    assert abs(loss.item() - math.log(V)) < 0.1


def test_init_follows_gpt2():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=100, n_layer=8, n_embd=64, n_head=4))
    block = model.blocks[0]
    assert abs(block.mlp.fc.weight.std().item() - 0.02) < 0.002
    assert abs(block.mlp.proj.weight.std().item() - 0.02 / 4) < 0.0005  # 1/√(2·8) = 1/4
    assert abs(block.attn.out_proj.weight.std().item() - 0.02 / 4) < 0.0005
    assert bool((block.attn.q_proj.bias == 0).all())
    assert model.lm_head.weight is model.tok_emb.weight


@pytest.mark.parametrize("gelu", ["tanh", "exact"])
def test_mlp_gelu_is_the_chosen_formula(gelu):
    torch.manual_seed(0)
    mlp = GPT(tiny(gelu=gelu)).blocks[0].mlp
    x = torch.randn(2, 5, 32)
    h = x @ mlp.fc.weight.T + mlp.fc.bias
    if gelu == "exact":  # x·Φ(x)
        act = h / 2 * (1 + torch.erf(h / math.sqrt(2)))
    else:
        act = h / 2 * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h**3)))
    torch.testing.assert_close(mlp(x), act @ mlp.proj.weight.T + mlp.proj.bias)
    assert GPTConfig(vocab_size=5).gelu == "tanh"  # GPT-2's, the default


def test_token_checks_are_left_out_of_a_compiled_graph(monkeypatch):
    model = GPT(tiny())
    idx = torch.randint(0, 11, (2, 8))
    with pytest.raises(ValueError, match="targets must hold token ids"):
        model(idx, torch.full((2, 8), 11))
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    with pytest.raises(IndexError, match="out of bounds"):  # torch's own error: no check ran
        model(idx, torch.full((2, 8), 11))
    assert torch.isfinite(model(idx, idx)[1])


@pytest.mark.parametrize("pos", ["learned", "sinusoidal"])
def test_reference_and_fast_attention_give_the_same_logits(pos):
    torch.manual_seed(1)
    model = GPT(tiny(pos_embedding=pos, attn_impl="fast")).eval()
    idx = torch.randint(0, 11, (3, 16))
    fast, _ = model(idx)
    reference, _ = model.set_attn_impl("reference")(idx)
    torch.testing.assert_close(reference, fast, atol=1e-5, rtol=0)


def test_causality_future_tokens_never_change_earlier_logits():
    torch.manual_seed(2)
    for impl in ("reference", "fast"):
        model = GPT(tiny(attn_impl=impl)).eval()
        idx = torch.randint(0, 11, (2, 12))
        before, _ = model(idx)
        for t in (0, 5, 11):
            changed = idx.clone()
            changed[:, t] = (changed[:, t] + 1) % 11
            after, _ = model(changed)
            torch.testing.assert_close(after[:, :t], before[:, :t], atol=1e-6, rtol=0)
            assert not torch.allclose(after[:, t], before[:, t])


def test_attention_maps_are_causal_and_match_the_forward():
    torch.manual_seed(3)
    model = GPT(tiny()).eval()
    maps = model.attention_maps(torch.randint(0, 11, (2, 6)))
    assert len(maps) == 2 and maps[0].shape == (2, 2, 6, 6)
    assert bool((maps[1].triu(1) == 0).all())
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(2, 2, 6))
    assert model.config.attn_impl == "fast" and model.blocks[0].attn.impl == "fast"


def test_a_few_adamw_steps_lower_the_loss():
    torch.manual_seed(4)
    model = GPT(tiny(dropout=0.1))
    x = torch.randint(0, 11, (4, 16))
    y = torch.roll(x, -1, dims=1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(15):
        _, loss = model(x, y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert model(x, y)[1].item() < first - 0.5


def test_errors_name_the_argument():
    model = GPT(tiny())
    with pytest.raises(ValueError, match=r"block_size .* is 16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match=r"idx must hold token ids in \[0, 11\)"):
        model(torch.full((1, 4), 11))
    with pytest.raises(TypeError, match="idx must be an integer tensor"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"targets must have the shape of idx \(1, 4\)"):
        model(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="n_embd must be divisible by n_head=3"):
        GPTConfig(vocab_size=5, n_embd=32, n_head=3)
    with pytest.raises(ValueError, match="pos_embedding must be one of"):
        GPTConfig(vocab_size=5, pos_embedding="rotary")
    with pytest.raises(ValueError, match="attn_impl must be one of"):
        GPTConfig(vocab_size=5, attn_impl="flash")
    with pytest.raises(ValueError, match=r"gelu must be one of \('tanh', 'exact'\); got 'relu'"):
        GPTConfig(vocab_size=5, gelu="relu")
    with pytest.raises(ValueError, match="preset name must be one of"):
        GPTConfig.preset("huge", vocab_size=5)
    with pytest.raises(TypeError, match="needs vocab_size"):
        GPTConfig.preset("tiny")
    with pytest.raises(TypeError, match="no field"):
        GPTConfig.preset("tiny", vocab_size=5, n_layers=3)
    assert set(PRESETS) >= {"tiny", "small"}


def test_generate_extends_and_crops_to_block_size():
    torch.manual_seed(5)
    model = GPT(tiny(block_size=8))
    g = torch.Generator().manual_seed(0)
    out = model.generate(torch.zeros(2, 3, dtype=torch.long), 12, top_k=5, generator=g)
    assert out.shape == (2, 15) and int(out.max()) < 11
    assert model.training  # the mode is restored
    greedy_a = model.generate(torch.zeros(1, 3, dtype=torch.long), 6, temperature=0)
    greedy_b = model.generate(torch.zeros(1, 3, dtype=torch.long), 6, temperature=0)
    assert torch.equal(greedy_a, greedy_b)


def test_trains_with_labkit_trainer_and_round_trips_a_checkpoint(tmp_path):
    from labkit import checkpoint
    from labkit.train import TrainConfig, Trainer

    torch.manual_seed(6)
    data = torch.arange(400) % 11  # a repeating pattern: easy to learn
    model = GPT(tiny())
    config = TrainConfig(
        max_steps=25,
        batch_size=8,
        block_size=16,
        lr=3e-3,
        eval_every=25,
        eval_batches=2,
        progress=False,
        out_dir=str(tmp_path),
    )
    trainer = Trainer(model, data[:300], data[300:], config=config, device="cpu")
    history = trainer.fit()
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0] - 1.0
    loaded = checkpoint.load(tmp_path / "best", device="cpu")
    assert isinstance(loaded, GPT) and loaded.config == model.config
    idx = data[:16][None]
    torch.testing.assert_close(loaded.eval()(idx)[0], model.eval()(idx)[0])
