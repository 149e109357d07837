"""labkit.lora checked against Hugging Face peft (the reference, a test-only dependency) on a small
random Llama that transformers and labkit's Llama run with the same weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from peft import LoraConfig, get_peft_model
from torch import nn
from transformers import LlamaConfig as HFConfig
from transformers import LlamaForCausalLM

from labkit import lora
from labkit.lora import LoRALinear, add_lora, count_parameters, load_lora, save_lora
from labkit.pretrained.llama import Llama, LlamaConfig

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = LlamaConfig(
    vocab_size=100, block_size=32, n_layer=2, n_head=4, n_kv_head=2, n_embd=64, ffn_hidden=128
)
R, ALPHA = 4, 8.0
TARGETS = ("q_proj", "v_proj")


def hf_model(seed: int = 0) -> LlamaForCausalLM:
    """A random transformers Llama of TINY's sizes (as tests/test_pretrained_llama.py builds it)."""
    c = TINY
    config = HFConfig(
        vocab_size=c.vocab_size,
        hidden_size=c.n_embd,
        intermediate_size=c.ffn_hidden,
        num_hidden_layers=c.n_layer,
        num_attention_heads=c.n_head,
        num_key_value_heads=c.n_kv_head,
        max_position_embeddings=c.block_size,
        rope_theta=c.rope_base,
        rms_norm_eps=c.norm_eps,
        tie_word_embeddings=c.tie_weights,
    )
    torch.manual_seed(seed)
    ref = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for name, p in ref.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    return ref


def ours_from(ref: LlamaForCausalLM) -> Llama:
    model = Llama(TINY).eval()
    model.load_hf_state_dict(ref.state_dict())
    return model


def peft_layer(peft_model, name: str):
    return peft_model.base_model.model.model.get_submodule(name)


def lora_pair(dropout: float = 0.0, seed: int = 0):
    """labkit's Llama with labkit's LoRA and transformers' Llama with peft's, holding the same
    weights; B is made non-zero (it starts at 0) so the adapters matter."""
    ref = hf_model(seed)
    ours = ours_from(ref)
    wrapped = add_lora(ours, TARGETS, r=R, alpha=ALPHA, dropout=dropout)
    config = LoraConfig(r=R, lora_alpha=ALPHA, target_modules=list(TARGETS), lora_dropout=dropout)
    theirs = get_peft_model(ref, config)
    torch.manual_seed(seed + 1)
    with torch.no_grad():
        for name in wrapped:
            p = peft_layer(theirs, name)
            p.lora_B["default"].weight.normal_(std=0.1)
            layer = ours.get_submodule(name)
            layer.lora_A.copy_(p.lora_A["default"].weight)
            layer.lora_B.copy_(p.lora_B["default"].weight)
    return ours, theirs, wrapped


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, TINY.vocab_size, (3, 12), generator=g)
    return idx, torch.randint(0, TINY.vocab_size, (3, 12), generator=g)


def loss_of(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------------- one layer


def test_lora_linear_is_the_formula_and_starts_equal_to_the_base():
    torch.manual_seed(0)
    base = nn.Linear(6, 5)
    layer = LoRALinear(base, r=3, alpha=6.0)
    x = torch.randn(2, 4, 6)
    assert torch.equal(layer(x), base(x))  # B = 0: the wrapped layer starts as the base
    bound = 1 / 6**0.5  # Kaiming-uniform with a = √5: uniform(±1/√in)
    assert layer.lora_A.abs().max() <= bound and layer.lora_A.std() > bound / 4
    with torch.no_grad():
        layer.lora_B.normal_()
    by_hand = x @ base.weight.T + base.bias + (6.0 / 3) * (x @ layer.lora_A.T) @ layer.lora_B.T
    close(layer(x), by_hand)
    close(layer.delta_weight(), 2.0 * layer.lora_B @ layer.lora_A)
    assert not base.weight.requires_grad and not base.bias.requires_grad


def test_lora_linear_dropout_acts_on_the_adapter_input_only():
    torch.manual_seed(0)
    base = nn.Linear(8, 4)
    layer = LoRALinear(base, r=2, alpha=2.0, dropout=0.5).train()
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(5, 8)
    torch.manual_seed(3)
    out = layer(x)
    torch.manual_seed(3)
    dropped = F.dropout(x, 0.5, training=True)
    close(out, base(x) + 1.0 * dropped @ layer.lora_A.T @ layer.lora_B.T)
    layer.eval()
    close(layer(x), base(x) + x @ layer.lora_A.T @ layer.lora_B.T)


# ---------------------------------------------------------------- a whole model, against peft


def test_logits_and_gradients_equal_peft_before_and_after_an_optimizer_step():
    ours, theirs, wrapped = lora_pair()
    assert wrapped == [f"layers.{i}.self_attn.{p}" for i in range(2) for p in TARGETS]
    idx, targets = batch()
    opt_ours = torch.optim.AdamW([p for p in ours.parameters() if p.requires_grad], lr=1e-2)
    opt_theirs = torch.optim.AdamW([p for p in theirs.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(2):
        logits = ours(idx)[0]
        ref_logits = theirs(input_ids=idx).logits
        close(logits, ref_logits)
        loss_of(logits, targets).backward()
        loss_of(ref_logits, targets).backward()
        for name in wrapped:
            p = peft_layer(theirs, name)
            layer = ours.get_submodule(name)
            assert layer.lora_B.grad.abs().max() > 1e-4  # the comparison compares something
            close(layer.lora_A.grad, p.lora_A["default"].weight.grad)
            close(layer.lora_B.grad, p.lora_B["default"].weight.grad)
        opt_ours.step(), opt_theirs.step()
        opt_ours.zero_grad(), opt_theirs.zero_grad()
    close(ours(idx)[0], theirs(input_ids=idx).logits)


def test_dropout_equals_peft_in_training_mode():
    ours, theirs, _ = lora_pair(dropout=0.3)
    ours.train(), theirs.train()
    idx, _ = batch(1)
    torch.manual_seed(7)
    logits = ours(idx)[0]
    torch.manual_seed(7)
    close(logits, theirs(input_ids=idx).logits)
    ours.eval(), theirs.eval()
    assert not torch.allclose(logits, ours(idx)[0])  # dropout did something in training mode


def test_parameter_count_equals_peft_and_the_frozen_base_gets_no_gradient():
    ours, theirs, _ = lora_pair()
    trainable, total = count_parameters(ours)
    ref_trainable, ref_total = theirs.get_nb_trainable_parameters()
    assert (trainable, total) == (ref_trainable, ref_total)
    d, kv = TINY.n_embd, TINY.n_kv_head * TINY.n_embd // TINY.n_head
    assert trainable == TINY.n_layer * (R * (d + d) + R * (d + kv))  # r·(in + out) per matrix
    idx, targets = batch()
    ours(idx, targets)[1].backward()
    for name, p in ours.named_parameters():
        is_adapter = name.endswith(("lora_A", "lora_B"))
        assert p.requires_grad == is_adapter, name
        assert (p.grad is not None) == is_adapter, name


def test_merge_equals_peft_and_unmerge_restores_the_weights():
    ours, theirs, wrapped = lora_pair()
    before = {n: ours.get_submodule(n).base.weight.clone() for n in wrapped}
    idx, _ = batch()
    unmerged_logits = ours(idx)[0]
    lora.merge(ours)
    theirs.merge_adapter()
    for name in wrapped:
        merged = ours.get_submodule(name).base.weight
        close(merged, peft_layer(theirs, name).base_layer.weight)
        assert not torch.allclose(merged, before[name])
    close(ours(idx)[0], unmerged_logits)  # the merged model = the wrapped one
    close(ours(idx)[0], theirs(input_ids=idx).logits)
    lora.merge(ours)  # merging twice changes nothing
    close(ours(idx)[0], unmerged_logits)
    lora.unmerge(ours)
    for name in wrapped:
        close(ours.get_submodule(name).base.weight, before[name])
    close(ours(idx)[0], unmerged_logits)


def test_adapter_file_is_small_and_round_trips_onto_a_fresh_base_model(tmp_path):
    ours, _, wrapped = lora_pair()
    idx, _ = batch()
    expected = ours(idx)[0]
    path = save_lora(ours, tmp_path / "adapter.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter.safetensors"]  # no temp file
    adapter_bytes = 4 * count_parameters(ours)[0]
    assert adapter_bytes <= path.stat().st_size < adapter_bytes + 4096
    assert path.stat().st_size < 0.05 * 4 * ours.num_params()
    fresh = ours_from(hf_model())
    assert not torch.allclose(fresh(idx)[0], expected)
    load_lora(fresh, path)
    assert sorted(lora.lora_layers(fresh)) == wrapped
    assert torch.equal(fresh(idx)[0], expected)
    save_lora(ours, path)  # overwriting works, atomically
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter.safetensors"]


def test_adapter_file_errors(tmp_path):
    ours, _, _ = lora_pair()
    path = save_lora(ours, tmp_path / "a.safetensors")
    other_r = ours_from(hf_model())
    add_lora(other_r, TARGETS, r=2)
    with pytest.raises(ValueError, match=r"lora_A has shape \(4, 64\) in the file but \(2, 64\)"):
        load_lora(other_r, path)
    other_layers = ours_from(hf_model())
    add_lora(other_layers, ("k_proj",))
    with pytest.raises(ValueError, match="does not fit the model's LoRA layers"):
        load_lora(other_layers, path)
    with pytest.raises(ValueError, match="adapter file written by save_lora"):
        load_lora(ours, tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="no LoRA layers"):
        save_lora(ours_from(hf_model()), tmp_path / "b.safetensors")


# ---------------------------------------------------------------------------- bad input


def test_unknown_targets_list_the_layer_names():
    model = ours_from(hf_model())
    with pytest.raises(ValueError, match=r"\['query'\].*'down_proj'.*'q_proj'.*'v_proj'"):
        add_lora(model, ("q_proj", "query"))
    assert not lora.lora_layers(model) and all(p.requires_grad for p in model.parameters())
    with pytest.raises(TypeError, match="targets must be a non-empty list"):
        add_lora(model, "q_proj")
    add_lora(model, ("layers.1.mlp.up_proj",))  # a full name picks one layer
    assert list(lora.lora_layers(model)) == ["layers.1.mlp.up_proj"]
    with pytest.raises(ValueError, match="already has LoRA layers"):
        add_lora(model)
    with pytest.raises(TypeError, match="base must be an nn.Linear"):
        LoRALinear(nn.Conv1d(2, 2, 1))


@settings(max_examples=25, deadline=None)
@given(
    r=st.one_of(st.integers(max_value=0), st.floats(0.5, 9), st.booleans(), st.text(max_size=2)),
    alpha=st.one_of(st.floats(max_value=0), st.just(float("nan")), st.booleans(), st.none()),
    dropout=st.one_of(st.floats(min_value=1.0), st.floats(max_value=-1e-9), st.text(max_size=2)),
)
def test_bad_r_alpha_dropout_are_named(r, alpha, dropout):
    base = nn.Linear(3, 3)
    with pytest.raises(ValueError, match="^r must be a positive int"):
        LoRALinear(base, r=r)
    with pytest.raises(ValueError, match="^alpha must be a number > 0"):
        LoRALinear(base, alpha=alpha)
    with pytest.raises(ValueError, match=r"^dropout must be a number in \[0, 1\)"):
        LoRALinear(base, dropout=dropout)
    with pytest.raises(ValueError, match="^r must be a positive int"):
        add_lora(nn.Sequential(base), ("0",), r=r)
