"""Notebook 11's exercises: the reference solutions agree with labkit.pretrained.bert, and every
wrong answer is rejected on every seed (not only on a lucky draw of random inputs)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from labkit import exercises
from labkit.exercises import nb11
from labkit.pretrained import bert

SEEDS = range(40)
WRONG = [
    (f"nb11.{name}-{i}", ex, code)
    for name, ex in exercises.exercises_in(nb11).items()
    for i, code in enumerate(ex.wrong_answers)
]


def test_four_exercises() -> None:
    assert list(exercises.exercises_in(nb11)) == ["q1", "q2", "q3", "q4"]


@pytest.mark.parametrize(("label", "ex", "code"), WRONG, ids=[w[0] for w in WRONG])
def test_wrong_answers_fail_on_every_seed(label, ex, code) -> None:
    answer = ex.run_solution(code)
    assert not any(ex.evaluate(answer, seed=s).passed for s in SEEDS)


def test_solutions_pass_on_every_seed() -> None:
    for ex in exercises.exercises_in(nb11).values():
        answer = ex.run_solution()
        assert all(ex.evaluate(answer, seed=s).passed for s in SEEDS), ex.name


def test_q1_is_labkits_wordpiece() -> None:
    f = nb11.q1.reference_function()
    for seed in range(20):
        for word, vocab in nb11.q1.inputs(seed=seed):
            assert f(word, vocab) == bert.wordpiece(word, set(vocab))


def test_q2_is_mean_pooling_then_normalising() -> None:
    f = nb11.q2.reference_function()
    for hidden, mask in nb11.q2.inputs(seed=3):
        h = torch.tensor([hidden], dtype=torch.float64)
        m = torch.tensor([mask])
        expected = F.normalize(bert.mean_pool(h, m), dim=1)[0]
        assert torch.allclose(torch.tensor(f(hidden, mask), dtype=torch.float64), expected)


def test_q3_is_labkits_semantic_search() -> None:
    f = nb11.q3.reference_function()
    for query, rows, k in nb11.q3.inputs(seed=5):
        _, idx = bert.semantic_search(
            torch.tensor(query, dtype=torch.float64), torch.tensor(rows, dtype=torch.float64), k
        )
        assert f(query, rows, k) == idx[0].tolist()


def test_q4_counts_a_bert_models_parameters() -> None:
    f = nb11.q4.reference_function()
    assert f(30522, 512, 2, 384, 6, 1536) == 22_713_216  # all-MiniLM-L6-v2
    assert f(30522, 512, 2, 768, 12, 3072) == 109_482_240  # BERT-base
    for vocab, positions, types, d, layers, d_ff in nb11.q4.inputs(seed=2)[2:6]:
        heads = next(h for h in (12, 4, 1) if d % h == 0)
        config = bert.BertConfig(
            vocab_size=vocab,
            max_position_embeddings=positions,
            type_vocab_size=types,
            hidden_size=d,
            num_hidden_layers=min(layers, 2),
            num_attention_heads=heads,
            intermediate_size=d_ff,
        )
        assert (
            f(vocab, positions, types, d, min(layers, 2), d_ff)
            == bert.BertModel(config).num_params()
        )
