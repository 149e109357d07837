"""Notebook 13's exercises: the reference solutions agree with labkit (lora, adapt), and every wrong
answer is rejected on every seed (not only on a lucky draw of random inputs)."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from labkit import exercises, lora
from labkit.adapt import IGNORE, masked_lm_loss
from labkit.exercises import nb13

SEEDS = range(40)
WRONG = [
    (f"nb13.{name}-{i}", ex, code)
    for name, ex in exercises.exercises_in(nb13).items()
    for i, code in enumerate(ex.wrong_answers)
]


def test_four_exercises() -> None:
    assert list(exercises.exercises_in(nb13)) == ["q1", "q2", "q3", "q4"]


@pytest.mark.parametrize(("label", "ex", "code"), WRONG, ids=[w[0] for w in WRONG])
def test_wrong_answers_fail_on_every_seed(label, ex, code) -> None:
    answer = ex.run_solution(code)
    assert not any(ex.evaluate(answer, seed=s).passed for s in SEEDS)


def test_solutions_pass_on_every_seed() -> None:
    for ex in exercises.exercises_in(nb13).values():
        answer = ex.run_solution()
        assert all(ex.evaluate(answer, seed=s).passed for s in SEEDS), ex.name


def test_q1_is_labkits_lora_update() -> None:
    f = nb13.q1.reference_function()
    for a, b, alpha in nb13.q1.inputs(seed=2):
        base = torch.nn.Linear(len(a[0]), len(b), dtype=torch.float64)
        layer = lora.LoRALinear(base, r=len(a), alpha=alpha)
        with torch.no_grad():
            layer.lora_A.copy_(torch.tensor(a))
            layer.lora_B.copy_(torch.tensor(b))
        assert torch.allclose(torch.tensor(f(a, b, alpha), dtype=torch.float64), layer.delta_weight())


def test_q2_is_labkits_masked_lm_loss() -> None:
    f = nb13.q2.reference_function()
    for seed in range(10):  # the random inputs: rows that are normalised distributions
        logprobs, targets = nb13._q2_inputs(random.Random(seed))
        logits = torch.tensor([logprobs], dtype=torch.float64)  # log-probabilities are logits too
        expected = masked_lm_loss(logits, torch.tensor([targets]))
        assert f(logprobs, targets) == pytest.approx(float(expected), rel=1e-5)  # float32 inside
        assert IGNORE in targets


def test_q3_removes_the_content_free_prior() -> None:
    f = nb13.q3.reference_function()
    for scores, content_free in nb13.q3.inputs(seed=4):
        s, c = torch.tensor(scores), torch.tensor(content_free)
        # dividing the probabilities by the content-free ones (Zhao et al.'s diagonal W) and
        # renormalising gives the same argmax
        p = F.softmax(s, 1) / F.softmax(c, 0)
        assert f(scores, content_free) == (p / p.sum(1, keepdim=True)).argmax(1).tolist()


def test_q4_counts_what_labkit_wraps() -> None:
    from labkit.pretrained.llama import Llama, LlamaConfig

    given = nb13._q4_given()
    model = Llama(LlamaConfig(vocab_size=8, block_size=8, n_layer=given["n_blocks"], n_head=9, n_kv_head=3,
                              n_embd=given["d_model"], ffn_hidden=8))
    lora.add_lora(model, ("q_proj", "v_proj"), r=given["r_new"])
    trainable, _ = lora.count_parameters(model)
    assert nb13.q4.expected_value() == (trainable, "c")
