"""labkit.attention against torch's own attention: F.scaled_dot_product_attention and
nn.MultiheadAttention on the same weights; masks, fully masked rows, gradients, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from labkit.attention import (
    IMPLS,
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)

ATOL = 1e-5


def _qkv(*shape_q: int, T_k: int | None = None, d_v: int | None = None, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    *lead, T_q, d = shape_q
    T_k = T_q if T_k is None else T_k
    d_v = d if d_v is None else d_v
    q = torch.randn(*lead, T_q, d, generator=g)
    k = torch.randn(*lead, T_k, d, generator=g)
    v = torch.randn(*lead, T_k, d_v, generator=g)
    return q, k, v


# ------------------------------------------------------------------------------------ masks


def test_causal_mask_is_lower_triangular():
    m = causal_mask(4)
    assert m.dtype == torch.bool and m.shape == (4, 4)
    assert m.tolist() == [
        [True, False, False, False],
        [True, True, False, False],
        [True, True, True, False],
        [True, True, True, True],
    ]


def test_padding_mask_marks_real_tokens():
    m = padding_mask([3, 1, 0], 4)
    assert m.shape == (3, 1, 4)
    assert m[:, 0].tolist() == [
        [True, True, True, False],
        [True, False, False, False],
        [False, False, False, False],
    ]


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: causal_mask(0), ValueError, "T must be a positive int"),
        (lambda: padding_mask([5], 4), ValueError, "lengths must lie in [0, T=4]"),
        (lambda: padding_mask([[1]], 4), TypeError, "lengths must be a 1-D"),
        (lambda: padding_mask("abc", 4), TypeError, "lengths must be a 1-D"),
        (lambda: padding_mask([1.5], 4), TypeError, "lengths must be a 1-D"),
    ],
)
def test_mask_helpers_check_inputs(call, error, words):
    with pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]")):
        call()


# --------------------------------------------------------------------------- the function


def test_reference_equals_torch_without_mask():
    q, k, v = _qkv(2, 3, 5, 8, T_k=7, d_v=6)
    ours = scaled_dot_product_attention(q, k, v)
    assert ours.shape == (2, 3, 5, 6)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v), atol=ATOL, rtol=0)


@pytest.mark.parametrize("kind", ["causal", "padding", "random"])
def test_reference_equals_torch_with_masks(kind):
    q, k, v = _qkv(3, 6, 4, seed=1)
    if kind == "causal":
        mask = causal_mask(6)
    elif kind == "padding":
        mask = padding_mask([6, 2, 4], 6)
    else:
        mask = torch.rand(3, 6, 6, generator=torch.Generator().manual_seed(2)) < 0.6
        mask[..., 0] = True  # every query can see something (torch's NaN/zero policy aside)
    ours, w = scaled_dot_product_attention(q, k, v, mask=mask, return_weights=True)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)
    # masked positions get exactly zero weight; each row sums to one
    assert bool((w.masked_select(~mask.expand_as(w)) == 0).all())
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 6))


def test_scaling_is_by_sqrt_dk():
    q, k, v = _qkv(1, 4, 16, seed=3)
    _, w = scaled_dot_product_attention(q, k, v, return_weights=True)
    torch.testing.assert_close(w, torch.softmax(q @ k.transpose(-2, -1) / 4.0, dim=-1))


def test_fully_masked_row_gives_zeros_not_nan():
    q, k, v = _qkv(1, 3, 4, seed=4)
    mask = torch.tensor([[True, False, False], [False, False, False], [True, True, True]])
    q.requires_grad_(True)
    out, w = scaled_dot_product_attention(q, k, v, mask=mask, return_weights=True)
    assert torch.isfinite(out).all() and torch.isfinite(w).all()
    assert bool((out[0, 1] == 0).all()) and bool((w[0, 1] == 0).all())
    out.sum().backward()
    assert torch.isfinite(q.grad).all()
    # the other rows are untouched by the fix-up
    torch.testing.assert_close(out[0, 0], v[0, 0])


def test_gradcheck_float64():
    q, k, v = (t.double().requires_grad_(True) for t in _qkv(2, 4, 3, seed=5))
    mask = causal_mask(4)
    assert torch.autograd.gradcheck(
        lambda a, b, c: scaled_dot_product_attention(a, b, c, mask=mask), (q, k, v)
    )


@pytest.mark.parametrize(
    "args, error, words",
    [
        (
            dict(q=torch.randn(2, 3, 4), k=torch.randn(2, 3, 5)),
            ValueError,
            "same last dimension d_k",
        ),
        (dict(v=torch.randn(2, 5, 4)), ValueError, "same number of positions T_k"),
        (dict(mask=torch.ones(3, 4, dtype=torch.bool)), ValueError, r"broadcastable .*\(2, 3, 3\)"),
        (dict(mask=torch.ones(3, 3)), TypeError, "mask must be a bool tensor"),
        (dict(q=torch.ones(2, 3, 4, dtype=torch.long)), TypeError, "q must be a floating-point"),
        (dict(k=torch.randn(4)), ValueError, "k must have shape"),
    ],
)
def test_function_errors_name_the_argument(args, error, words):
    kw = dict(q=torch.randn(2, 3, 4), k=torch.randn(2, 3, 4), v=torch.randn(2, 3, 4))
    kw.update(args)
    with pytest.raises(error, match=words):
        scaled_dot_product_attention(**kw)


# ------------------------------------------------------------------------------ multi-head


def _torch_twin(mha: MultiHeadAttention) -> nn.MultiheadAttention:
    """nn.MultiheadAttention with the same weights (its in_proj stacks W^Q, W^K, W^V)."""
    bias = mha.q_proj.bias is not None
    ref = nn.MultiheadAttention(mha.d_model, mha.n_heads, bias=bias, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(
            torch.cat([mha.q_proj.weight, mha.k_proj.weight, mha.v_proj.weight])
        )
        ref.out_proj.weight.copy_(mha.out_proj.weight)
        if bias:
            ref.in_proj_bias.copy_(torch.cat([mha.q_proj.bias, mha.k_proj.bias, mha.v_proj.bias]))
            ref.out_proj.bias.copy_(mha.out_proj.bias)
    return ref.eval()


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("masking", ["none", "causal", "padding", "both"])
def test_multihead_equals_torch_and_fast(bias, masking):
    torch.manual_seed(0)
    B, T, d, h = 3, 7, 16, 4
    mha = MultiHeadAttention(d, h, bias=bias).eval()
    ref = _torch_twin(mha)
    x = torch.randn(B, T, d)
    lengths = [7, 3, 5]
    causal = masking in ("causal", "both")
    mask = padding_mask(lengths, T) if masking in ("padding", "both") else None
    # torch's masks mean the opposite: True = NOT allowed
    attn_mask = ~causal_mask(T) if causal else None
    kpm = ~mask[:, 0] if mask is not None else None
    expected, expected_w = ref(
        x, x, x, attn_mask=attn_mask, key_padding_mask=kpm, average_attn_weights=False
    )
    out, w = mha(x, mask=mask, causal=causal, return_weights=True)
    torch.testing.assert_close(out, expected, atol=ATOL, rtol=0)
    torch.testing.assert_close(w, expected_w, atol=ATOL, rtol=0)
    mha.impl = "fast"
    torch.testing.assert_close(mha(x, mask=mask, causal=causal), out, atol=ATOL, rtol=0)
    # the same mask given as an explicit (T, T) causal mask gives the same result
    if masking == "causal":
        torch.testing.assert_close(mha(x, mask=causal_mask(T)), out, atol=ATOL, rtol=0)
    # masked keys get exactly zero weight
    if mask is not None:
        assert bool((w[1, :, :, 3:] == 0).all())
    if causal:
        assert bool((w.masked_select(~causal_mask(T).expand_as(w)) == 0).all())


@pytest.mark.parametrize("impl", IMPLS)
def test_a_padding_mask_that_looks_causal_is_used_as_given(impl):
    # batch size = length and lengths 1, 2, …, T: reshaped to (T, T) the key-padding mask is
    # the causal mask, but it must still mean "sequence b has b + 1 real tokens"
    torch.manual_seed(5)
    T, d = 3, 8
    mha = MultiHeadAttention(d, 2, impl=impl).eval()
    x = torch.randn(T, T, d)
    mask = padding_mask(list(range(1, T + 1)), T)
    expected, _ = _torch_twin(mha)(x, x, x, key_padding_mask=~mask[:, 0])
    torch.testing.assert_close(mha(x, mask=mask), expected, atol=ATOL, rtol=0)


def test_only_causal_true_takes_the_kernels_causal_path(monkeypatch):
    calls = []
    real = F.scaled_dot_product_attention

    def spy(*args, **kwargs):
        calls.append((kwargs.get("is_causal", False), kwargs.get("attn_mask") is None))
        return real(*args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    mha = MultiHeadAttention(8, 2, impl="fast").eval()
    x = torch.randn(2, 5, 8)
    mha(x, causal=True)
    mha(x, mask=causal_mask(5))  # a mask is used as given, whatever its values
    mha(x, mask=causal_mask(5)[None, None])
    assert calls == [(True, True), (False, False), (False, False)]


def test_cross_attention_equals_torch():
    torch.manual_seed(1)
    mha = MultiHeadAttention(8, 2).eval()
    ref = _torch_twin(mha)
    q, kv = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    expected, _ = ref(q, kv, kv)
    torch.testing.assert_close(mha(q, kv, kv), expected, atol=ATOL, rtol=0)
    mha.impl = "fast"
    torch.testing.assert_close(mha(q, kv), expected, atol=ATOL, rtol=0)


def test_multihead_fully_masked_sequence_is_zero_in_both_impls():
    torch.manual_seed(2)
    mha = MultiHeadAttention(8, 2, bias=False).eval()
    x = torch.randn(2, 4, 8)
    mask = padding_mask([4, 0], 4)
    out_ref = mha(x, mask=mask)
    mha.impl = "fast"
    out_fast = mha(x, mask=mask)
    assert torch.isfinite(out_ref).all() and bool((out_ref[1] == 0).all())
    torch.testing.assert_close(out_fast, out_ref, atol=ATOL, rtol=0)


def test_multihead_gradcheck_float64():
    torch.manual_seed(3)
    mha = MultiHeadAttention(4, 2).double()
    x = torch.randn(1, 3, 4, dtype=torch.double, requires_grad=True)
    for impl in ("reference", "fast"):
        mha.impl = impl
        assert torch.autograd.gradcheck(lambda t: mha(t, causal=True), (x,))


def test_dropout_only_while_training():
    torch.manual_seed(4)
    mha = MultiHeadAttention(8, 2, dropout=0.5)
    x = torch.randn(2, 5, 8)
    mha.eval()
    a = mha(x, causal=True)
    mha.impl = "fast"
    torch.testing.assert_close(mha(x, causal=True), a, atol=ATOL, rtol=0)
    mha.train()
    assert not torch.allclose(mha(x, causal=True), a)


def test_multihead_errors():
    with pytest.raises(
        ValueError, match=r"d_model must be divisible by n_heads.*d_model=10, n_heads=3"
    ):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="impl must be one of"):
        MultiHeadAttention(8, 2, impl="flash")
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(
        ValueError, match=r"query must have shape \(batch, time, d_model=8\).*\(2, 3, 6\)"
    ):
        mha(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match="key and value must have the same"):
        mha(torch.randn(2, 3, 8), torch.randn(2, 4, 8), torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match=r"mask must broadcast.*got shape \(3, 3, 3, 3, 3\)"):
        mha(torch.randn(2, 3, 8), mask=torch.ones(3, 3, 3, 3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"broadcastable .*got shape \(4, 4\)"):
        mha(torch.randn(2, 3, 8), mask=torch.ones(4, 4, dtype=torch.bool))
    mha.impl = "fast"
    with pytest.raises(ValueError, match="return_weights=True needs impl='reference'"):
        mha(torch.randn(2, 3, 8), return_weights=True)
