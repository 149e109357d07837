"""Notebook 11's exercises: the reference solutions agree with labkit.pretrained.bert, every wrong
answer is rejected on every seed (not only on a lucky draw of random inputs), and the experiment's
right option is what MiniLM does."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from labkit import exercises
from labkit.exercises import ExplainExercise, nb11
from labkit.exercises.tensors import tensor_io
from labkit.pretrained import bert, registry


def test_four_exercises_one_of_them_an_experiment() -> None:
    assert list(exercises.exercises_in(nb11)) == ["q1", "q2", "q3", "q4"]
    assert isinstance(nb11.q3, exercises.ChoiceExercise) and isinstance(nb11.q4, ExplainExercise)
    assert sum(ex.points for ex in exercises.exercises_in(nb11).values()) == 7


def test_q1_is_labkits_wordpiece() -> None:
    f = nb11.q1.reference_function()
    for seed in range(20):
        for word, vocab in nb11.q1.inputs(seed=seed):
            assert f(word, vocab) == bert.wordpiece(word, set(vocab))


def test_q2_is_mean_pooling_then_normalising() -> None:
    f = tensor_io(nb11.q2.reference_function())
    for seed in range(5):
        for hidden, mask in nb11.q2.inputs(seed=seed):
            h, m = torch.tensor(hidden, dtype=torch.float64), torch.tensor(mask)
            expected = F.normalize(bert.mean_pool(h, m), dim=1)
            assert torch.allclose(torch.tensor(f(hidden, mask), dtype=torch.float64), expected)


def test_q2_inputs_pad_every_sentence_but_the_first() -> None:
    for seed in range(20):
        for hidden, mask in nb11.q2.inputs(seed=seed)[len(nb11.q2.edge_cases) :]:
            assert all(m[0] == 1 for m in mask) and all(0 in m for m in mask[1:])
            assert all(len(row) == len(mask[0]) for row in hidden)


@pytest.fixture(scope="module")
def minilm(one_thread):
    folder = registry.fetch("all-minilm-l6-v2", progress=False)
    return bert.BertModel.from_pretrained(folder), bert.Tokenizer(folder)


def test_q3_right_option_is_what_minilm_does(minilm) -> None:
    """(b): the real attention mask keeps a padded sentence's embedding, a mask of ones moves it."""
    model, tok = minilm
    assert nb11.q3.expected_value() == "b"
    sentences = ["Good night, sweet prince.", "Love is never easy."]
    long = " ".join(random.Random(0).choices("to be or not that is the question".split(), k=40))
    padded = tok([*sentences, long])
    real = padded["attention_mask"]

    def embed(batch, attention_mask):
        h = model(batch["input_ids"], attention_mask, batch["token_type_ids"]).last_hidden_state
        return F.normalize(bert.mean_pool(h, batch["attention_mask"]), dim=1)  # real tokens only

    with torch.no_grad():
        alone = torch.cat([embed(tok([s]), tok([s])["attention_mask"]) for s in sentences])
        cosines = {}
        for name, attention_mask in [("real", real), ("ones", torch.ones_like(real))]:
            cosines[name] = (embed(padded, attention_mask)[:-1] * alone).sum(dim=1)
    assert (cosines["real"] > 0.9999).all()
    assert (cosines["ones"] < 0.95).all()
