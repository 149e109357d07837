"""Notebooks 04 to 07's exercises: the reference solutions agree with labkit and torch, every wrong
answer is rejected on every seed (not only on a lucky draw of random inputs), and the outcome each
predict-then-run experiment shows holds on several seeds."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import labkit
from labkit import dates, exercises
from labkit.attention import causal_mask, scaled_dot_product_attention
from labkit.exercises import nb04, nb05, nb06, nb07
from labkit.exercises.tensors import to_tensor
from labkit.rnn import LSTM, RNNCell, grad_norms_by_distance
from labkit.seq2seq import AdditiveAttention, Seq2Seq, Seq2SeqConfig

MODULES = ("nb04", "nb05", "nb06", "nb07")
CHECKED = [
    (f"{mod}.{name}", ex)
    for mod in MODULES
    for name, ex in exercises.exercises_in(exercises.load(mod)).items()
    if isinstance(ex, exercises.Exercise)
]


def test_every_module_has_an_experiment_among_three_to_five_exercises() -> None:
    for mod in MODULES:
        found = exercises.exercises_in(exercises.load(mod))
        kinds = {type(ex).__name__ for ex in found.values()}
        assert {"ChoiceExercise", "ExplainExercise"} <= kinds and 3 <= len(found) <= 5, mod


# --------------------------------------------------------------------------- references


def test_nb04_rnn_step_is_labkits_cell() -> None:
    f = nb04.q1.reference_function()
    for x, h, W_xh, W_hh, b in nb04.q1.inputs(seed=0):
        cell = RNNCell(len(x), len(h)).double()
        with torch.no_grad():
            cell.weight_ih.copy_(to_tensor(W_xh))
            cell.weight_hh.copy_(to_tensor(W_hh))
            cell.bias_ih.copy_(to_tensor(b))
            cell.bias_hh.zero_()
            want = cell(to_tensor(x)[None], to_tensor(h)[None])[0]
        got = f(*(to_tensor(a) for a in (x, h, W_xh, W_hh, b)))
        assert torch.allclose(got, want, atol=1e-12)


def test_nb04_clipping_together_is_torchs() -> None:
    f = nb04.q2.reference_function()
    for grads, c in nb04.q2.inputs(seed=1):
        params = [torch.zeros(len(g), dtype=torch.float64, requires_grad=True) for g in grads]
        for p, g in zip(params, grads, strict=True):
            p.grad = torch.tensor(g, dtype=torch.float64)
        torch.nn.utils.clip_grad_norm_(params, c)
        mine = f(tuple(torch.tensor(g, dtype=torch.float64) for g in grads), c)
        # torch adds 1e-6 to the norm before dividing: agreement to about 1e-6
        for p, m in zip(params, mine, strict=True):
            assert torch.allclose(p.grad, m, rtol=1e-5, atol=1e-9)


def test_nb04_the_given_function_is_the_first_diagnosed_mistake() -> None:
    per_tensor = nb04.q2.run_solution(nb04.q2.wrong_answers[0].code)
    grads = (torch.tensor([3.0, 4.0]), torch.tensor([3.0, 4.0]))  # the notebook's example
    total = torch.sqrt(sum((g**2).sum() for g in per_tensor(grads, 6.0)))
    assert total > 7.0  # each tensor is within c = 6, the whole gradient is not
    assert nb04.q2.evaluate(per_tensor).message.count(nb04.q2.wrong_answers[0].why) == 1


def test_nb04_distance_is_the_first_below_the_tolerance() -> None:
    k = nb04.q3.expected_value()
    assert 0.8**k < 1e-6 <= 0.8 ** (k - 1)


def test_nb05_lstm_step_is_torchs() -> None:
    f = nb05.q1.reference_function()
    for x, h, c, W_ih, W_hh, b_ih, b_hh in nb05.q1.inputs(seed=2):
        cell = torch.nn.LSTMCell(len(x), len(h)).double()
        with torch.no_grad():
            for name, value in (("weight_ih", W_ih), ("weight_hh", W_hh), ("bias_ih", b_ih), ("bias_hh", b_hh)):
                getattr(cell, name).copy_(to_tensor(value))
            h_want, c_want = cell(to_tensor(x)[None], (to_tensor(h)[None], to_tensor(c)[None]))
        h_got, c_got = f(*(to_tensor(a) for a in (x, h, c, W_ih, W_hh, b_ih, b_hh)))
        assert torch.allclose(h_got, h_want[0], atol=1e-12) and torch.allclose(c_got, c_want[0], atol=1e-12)


def test_nb05_forget_bias_keeps_half_over_fifty_steps() -> None:
    b = nb05.q2.expected_value()
    assert math.isclose(torch.sigmoid(torch.tensor(b, dtype=torch.float64)).item() ** 50, 0.5, rel_tol=1e-9)


def test_nb06_additive_weights_are_labkits() -> None:
    f = nb06.q1.reference_function()
    for s, H, W_q, W_k, v in nb06.q1.inputs(seed=3):
        attn = AdditiveAttention(len(s), len(H[0]), len(v)).double()
        with torch.no_grad():
            attn.W_q.weight.copy_(to_tensor(W_q))
            attn.W_k.weight.copy_(to_tensor(W_k))
            attn.v.weight.copy_(to_tensor(v)[None])
            _, want = attn(to_tensor(s)[None], to_tensor(H)[None])
        got = f(*(to_tensor(a) for a in (s, H, W_q, W_k, v)))
        assert torch.allclose(got, want[0], atol=1e-12)


def test_nb06_scores_are_what_dates_evaluate_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    f = nb06.q2.reference_function()
    for predictions, targets in nb06.q2.inputs(seed=4):
        monkeypatch.setattr(dates, "translate", lambda model, sources, p=predictions: list(p))
        want = dates.evaluate(None, [(f"source {i}", t) for i, t in enumerate(targets)])
        got = f(list(predictions), list(targets))
        assert got.keys() == want.keys()
        assert all(math.isclose(got[k], want[k], rel_tol=1e-12) for k in want)


def test_nb06_beam_of_two_finds_the_best_of_every_output() -> None:
    given = nb06.q3.given()
    every = {
        a + b: pa * pb for a, pa in given["p_first"].items() for b, pb in given["p_second"][a].items()
    }
    answer = nb06.q3.expected_value()
    assert answer["beam"] == max(every, key=every.get) != answer["greedy"]
    assert answer["p_greedy"] < answer["p_beam"] == max(every.values())


def test_nb07_attention_is_torchs() -> None:
    f = nb07.q1.reference_function()
    for q, k, v in nb07.q1.inputs(seed=5):
        q, k, v = to_tensor(q), to_tensor(k), to_tensor(v)
        assert torch.allclose(f(q, k, v), F.scaled_dot_product_attention(q, k, v), atol=1e-12)


def test_nb07_causal_weights_are_labkits() -> None:
    f = nb07.q2.reference_function()
    for (scores,) in nb07.q2.inputs(seed=6):
        s = to_tensor(scores)
        T = s.shape[0]
        eye = torch.eye(T, dtype=s.dtype)
        # with q = √T · scores and k = I, the scaled scores q kᵀ / √d_k are the given ones
        _, want = scaled_dot_product_attention(s * math.sqrt(T), eye, eye, mask=causal_mask(T),
                                               return_weights=True)
        assert torch.allclose(f(s), want, atol=1e-12)


def test_nb07_variance_by_sampling() -> None:
    var_dot, var_scaled = nb07.q3.expected_value()
    g = torch.Generator().manual_seed(0)
    q = torch.randn(100_000, 64, generator=g, dtype=torch.float64)
    k = 2.0 * torch.randn(100_000, 64, generator=g, dtype=torch.float64)  # variance 4
    dots = (q * k).sum(dim=1)
    assert math.isclose(dots.var().item(), var_dot, rel_tol=0.03)
    assert math.isclose((dots / 8).var().item(), var_scaled, rel_tol=0.03)


# --------------------------------------------------------------------------- the experiments

EXPERIMENT_SEEDS = range(5)


def _rnn_with_radius(radius: float, seed: int) -> RNNCell:
    """Notebook 04's cell: W_hh = radius · (a random orthogonal matrix)."""
    labkit.seed(seed)
    cell = RNNCell(8, 32)
    q, r = torch.linalg.qr(torch.randn(32, 32, generator=labkit.generator(seed)))
    with torch.no_grad():
        cell.weight_hh.copy_(radius * q * torch.sign(torch.diagonal(r)))
    return cell


@pytest.mark.parametrize("seed", EXPERIMENT_SEEDS)
def test_nb04_larger_inputs_make_the_gradient_vanish(seed: int) -> None:
    assert nb04.q4.expected_value() == "c"
    cell = _rnn_with_radius(2.0, seed)
    inputs = torch.randn(8, 51, 8, generator=torch.Generator().manual_seed(seed + 1))
    ratio = {s: grad_norms_by_distance(cell, 51, 8, inputs=s * inputs) for s in (1, 10)}
    assert math.log10(ratio[1][50] / ratio[1][0]) > 1  # explodes for the ordinary inputs
    assert math.log10(ratio[10][50] / ratio[10][0]) < -2  # vanishes for inputs ten times larger


@pytest.mark.parametrize("seed", EXPERIMENT_SEEDS)
def test_nb05_forget_bias_keeps_far_more_gradient(seed: int) -> None:
    assert nb05.q3.expected_value() == "b"
    inputs = torch.randn(8, 51, 8, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    ratio = {}
    for bias in (0.0, 3.0):
        labkit.seed(seed)
        probe = LSTM(8, 32).double()
        with torch.no_grad():
            probe.bias_ih_l0[32:64] += bias
        g = grad_norms_by_distance(probe, 51, 8, inputs=inputs)
        ratio[bias] = (g[50] / g[0]).item()
    assert math.log10(ratio[3.0] / ratio[0.0]) > 5 and ratio[3.0] < 1


@pytest.mark.parametrize("seed", EXPERIMENT_SEEDS)
def test_nb06_the_last_digit_moves_the_context_far_more(seed: int) -> None:
    assert nb06.q4.expected_value() == "b"
    labkit.seed(seed)
    cfg = Seq2SeqConfig(len(dates.SRC_VOCAB), len(dates.TGT_VOCAB), attention="none", n_embd=16, hidden_size=32)
    model = Seq2Seq(cfg).eval()
    texts = ["Saturday, 28 November 2026", "Saturday, 18 November 2026", "Saturday, 28 November 2027"]
    with torch.no_grad():
        c = [model.encode(torch.tensor([dates.SRC_VOCAB.encode(t)]))[0].fixed_context for t in texts]
    day, year = (c[1] - c[0]).norm(), (c[2] - c[0]).norm()
    assert year / day > 100


@pytest.mark.parametrize("seed", EXPERIMENT_SEEDS)
def test_nb07_reversed_keys_change_only_masked_outputs(seed: int) -> None:
    assert nb07.q4.expected_value() == "b"
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(6, 8, generator=g) for _ in range(3))
    rev = torch.arange(5, -1, -1)
    plain = scaled_dot_product_attention(q, k[rev], v[rev]) - scaled_dot_product_attention(q, k, v)
    mask = causal_mask(6)
    masked = scaled_dot_product_attention(q, k[rev], v[rev], mask=mask) - scaled_dot_product_attention(
        q, k, v, mask=mask
    )
    change = masked.abs().max(dim=-1).values
    assert plain.abs().max() < 1e-5 and change[5] < 1e-5 and change[:5].min() > 1e-3


def test_choice_diagnoses_never_name_the_right_letter() -> None:
    for _, ex in CHECKED:
        if isinstance(ex, exercises.ChoiceExercise):
            right = ex.expected_value()
            assert len(ex.options) in (3, 4)
            for wrong in ex.wrong_answers:
                assert f"({right})" not in wrong.why and f'"{right}"' not in wrong.why
