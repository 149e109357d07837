"""Notebooks 09 and 10's exercises: the reference solutions agree with labkit and torch, and
every wrong answer is rejected on every seed (not only on a lucky draw of random inputs)."""

from __future__ import annotations

import math
import random

import pytest
import torch

from labkit import exercises, generate
from labkit.exercises import nb09, nb10
from labkit.train import TrainConfig, learning_rate

SEEDS = range(40)
WRONG = [
    (f"{mod}.{name}-{i}", ex, code)
    for mod in ("nb09", "nb10")
    for name, ex in exercises.exercises_in(exercises.load(mod)).items()
    for i, code in enumerate(ex.wrong_answers)
]


@pytest.mark.parametrize(("label", "ex", "code"), WRONG, ids=[w[0] for w in WRONG])
def test_wrong_answers_fail_on_every_seed(label, ex, code) -> None:
    answer = ex.run_solution(code)
    assert not any(ex.evaluate(answer, seed=s).passed for s in SEEDS)


@pytest.mark.parametrize("mod", ["nb09", "nb10"])
def test_solutions_pass_on_every_seed(mod) -> None:
    for ex in exercises.exercises_in(exercises.load(mod)).values():
        answer = ex.run_solution()
        assert all(ex.evaluate(answer, seed=s).passed for s in SEEDS), ex.name


def test_nb09_schedule_is_labkits() -> None:
    f = nb09.q1.reference_function()
    for args in nb09.q1.inputs(seed=0):
        step, max_steps, lr, warmup, min_lr = args
        config = TrainConfig(
            max_steps=max_steps, lr=lr, warmup_steps=warmup, min_lr=min_lr, schedule="cosine"
        )
        assert math.isclose(f(*args), learning_rate(step, config), rel_tol=1e-12, abs_tol=1e-15)


def test_nb09_clipping_is_torchs() -> None:
    f = nb09.q2.reference_function()
    for grads, max_norm in nb09.q2.inputs(seed=1):
        params = [torch.zeros(len(g), dtype=torch.float64, requires_grad=True) for g in grads]
        for p, g in zip(params, grads, strict=True):
            p.grad = torch.tensor(g, dtype=torch.float64)
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        # torch adds 1e-6 to the norm before dividing: agreement to about 1e-6
        for p, mine in zip(params, f(grads, max_norm), strict=True):
            assert torch.allclose(
                p.grad, torch.tensor(mine, dtype=torch.float64), rtol=1e-5, atol=1e-9
            )


def test_nb09_perplexity_is_exp_of_torchs_cross_entropy() -> None:
    f = nb09.q3.reference_function()
    logits = torch.randn(50, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    targets = torch.randint(7, (50,), generator=torch.Generator().manual_seed(1))
    log_probs = torch.log_softmax(logits, -1)[torch.arange(50), targets].tolist()
    loss = torch.nn.functional.cross_entropy(logits, targets)
    assert math.isclose(f(log_probs), math.exp(loss.item()), rel_tol=1e-12)


def test_nb09_adamw_step_is_torchs() -> None:
    f = nb09.q4.reference_function()
    rng = random.Random(0)
    theta = [rng.gauss(0, 1) for _ in range(5)]
    p = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.AdamW([p], lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    m, v = [0.0] * 5, [0.0] * 5
    for t in range(1, 6):
        grad = [rng.gauss(0, 1) for _ in range(5)]
        p.grad = torch.tensor(grad, dtype=torch.float64)
        opt.step()
        theta, m, v = f(theta, grad, m, v, t, 0.01, 0.9, 0.99, 1e-8, 0.1)
        assert torch.allclose(p.detach(), torch.tensor(theta, dtype=torch.float64), rtol=1e-12)


def test_nb10_references_agree_with_labkit_generate() -> None:
    entropy = nb10.q1.reference_function()
    nucleus = nb10.q2.reference_function()
    penalty = nb10.q3.reference_function()
    for logits, t in nb10.q1.inputs(seed=2):
        p = torch.softmax(
            generate.apply_temperature(torch.tensor(logits, dtype=torch.float64), t), -1
        )
        expected = torch.special.entr(p).sum().item()
        assert math.isclose(entropy(logits, t), expected, rel_tol=1e-9, abs_tol=1e-12)
    for probs, p in nb10.q2.inputs(seed=3):
        logits = torch.tensor(probs, dtype=torch.float64).log()
        kept = torch.isfinite(generate.top_p_filter(logits, p)).nonzero().flatten().tolist()
        assert nucleus(probs, p) == kept
    for logits, previous, pen in nb10.q3.inputs(seed=4):
        z = torch.tensor(logits, dtype=torch.float64)
        ids = torch.tensor(previous, dtype=torch.long)
        expected = generate.apply_repetition_penalty(z, ids, pen).tolist()
        assert penalty(logits, previous, pen) == pytest.approx(expected, rel=1e-12)
