"""Notebooks 08, 09 and 10's exercises: the reference solutions agree with labkit and torch, the
right option of each prediction holds for labkit's code, and every wrong answer is rejected on
every seed (not only on a lucky draw of random inputs)."""

from __future__ import annotations

import math
import random

import pytest
import torch

from labkit import generate
from labkit.exercises import nb08, nb09, nb10
from labkit.gpt import GPT, GPTConfig
from labkit.train import TrainConfig, learning_rate

MODULES = ("nb08", "nb09", "nb10")


def test_nb08_param_count_is_labkits() -> None:
    f = nb08.q1.reference_function()
    small = [args for args in nb08.q1.inputs(seed=0) if args[3] <= 256 and args[0] <= 5000]
    for V, T, L, d, bias, tie in nb08.q1.inputs(seed=0):
        config = GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=1, n_embd=d, bias=bias,
                           tie_weights=tie)  # fmt: skip
        assert f(V, T, L, d, bias, tie) == config.param_count()
    for V, T, L, d, bias, tie in small[:3] + [(65, 32, 2, 32, False, False)]:
        with torch.device("meta"):  # shapes only: the real modules, counted
            model = GPT(GPTConfig(vocab_size=V, block_size=T, n_layer=min(L, 4), n_head=1,
                                  n_embd=d, bias=bias, tie_weights=tie))  # fmt: skip
        assert f(V, T, min(L, 4), d, bias, tie) == model.num_params()


def test_nb08_fixed_layer_norm_is_torchs() -> None:
    f = nb08.q4.reference_function()
    for x, gamma, beta, eps in nb08.q4.inputs(seed=1):
        x = torch.tensor(x, dtype=torch.float64)
        ln = torch.nn.LayerNorm(x.shape[-1], eps=eps, dtype=torch.float64)
        with torch.no_grad():
            ln.weight.copy_(torch.tensor(gamma, dtype=torch.float64))
            ln.bias.copy_(torch.tensor(beta, dtype=torch.float64))
            expected = ln(x)
        got = f(x, torch.tensor(gamma, dtype=torch.float64), torch.tensor(beta, dtype=torch.float64), eps)
        assert torch.allclose(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_nb08_q2_right_option_holds_for_labkits_gpt(seed) -> None:
    assert nb08.q2.expected_value() == "c"  # far above ln V
    config = GPTConfig(vocab_size=83, block_size=64, n_layer=2, n_head=4, n_embd=64)
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randint(83, (8, 64), generator=g), torch.randint(83, (8, 64), generator=g)
    losses = {}
    for std in (0.02, 1.0):
        torch.manual_seed(seed)
        model = GPT(config).eval()
        torch.nn.init.normal_(model.tok_emb.weight, std=std, generator=g)
        with torch.no_grad():
            losses[std] = model(x, y)[1].item()
    assert abs(losses[0.02] - math.log(83)) < 0.1
    assert math.isfinite(losses[1.0]) and losses[1.0] > 3 * math.log(83)


def test_nb09_schedule_is_labkits() -> None:
    f = nb09.q1.reference_function()
    for args in nb09.q1.inputs(seed=0):
        step, max_steps, lr, warmup, min_lr = args
        config = TrainConfig(
            max_steps=max_steps, lr=lr, warmup_steps=warmup, min_lr=min_lr, schedule="cosine"
        )
        assert math.isclose(f(*args), learning_rate(step, config), rel_tol=1e-12, abs_tol=1e-15)


def test_nb09_first_adamw_step_is_torchs() -> None:
    theta = torch.full((3,), 0.5, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.AdamW([theta], lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    theta.grad = torch.tensor([0.003, -50.0, 0.0], dtype=torch.float64)
    opt.step()
    change = (theta.detach() - 0.5).tolist()
    expected = nb09.q2.expected_value()
    assert list(expected) == ["g = 0.003", "g = -50", "g = 0"]
    for got, want in zip(change, expected.values(), strict=True):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-15)
    assert nb09.q2.score({**expected, "g = 0": 0.0}) == pytest.approx(2 / 3)  # credit per part


def test_nb10_nucleus_is_labkits_top_p() -> None:
    nucleus = nb10.q1.reference_function()
    for probs, p in nb10.q1.inputs(seed=3):
        logits = torch.tensor(probs, dtype=torch.float64).log()
        kept = torch.isfinite(generate.top_p_filter(logits, p)).nonzero().flatten().tolist()
        assert nucleus(probs, p) == kept


def test_nb10_q2_right_option_holds_for_labkits_sampling_order() -> None:
    """Temperature, then top-p (as labkit samples): the nucleus never shrinks as τ rises."""
    assert nb10.q2.expected_value() == "b"
    rng = random.Random(0)
    temperatures = [0.25, 0.5, 0.8, 1.0, 1.5, 2.0, 4.0]
    for _ in range(200):
        z = torch.tensor([rng.gauss(0, rng.choice([0.5, 2.0, 5.0])) for _ in range(83)])
        p = rng.uniform(0.1, 0.99)
        kept = [
            int(torch.isfinite(generate.top_p_filter(generate.apply_temperature(z, t), p)).sum())
            for t in temperatures
        ]
        assert kept == sorted(kept), kept
