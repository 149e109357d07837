"""Notebooks 00 and 01's exercises: the reference solutions agree with labkit (and torch), the
right option of each prediction is what its experiment shows, and every wrong answer is rejected
on every seed (not only on a lucky draw of random inputs)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit import data, exercises, ngram, tokenize, viz
from labkit.exercises import (
    ChoiceExercise,
    Exercise,
    ExplainExercise,
    FunctionExercise,
    nb00,
    nb01,
)

SEEDS = range(40)
MODULES = {"nb00": nb00, "nb01": nb01}


@pytest.fixture(scope="module")
def text() -> str:
    return data.load_text()


def test_exercise_lists_and_points() -> None:
    assert list(exercises.exercises_in(nb00)) == ["q1", "q2", "q3", "q4"]
    assert list(exercises.exercises_in(nb01)) == ["q1", "q2", "q3", "q4", "q5"]
    for module, choice, explain in [(nb00, "q3", "q4"), (nb01, "q4", "q5")]:
        assert isinstance(getattr(module, choice), ChoiceExercise)
        assert isinstance(getattr(module, explain), ExplainExercise)
        assert getattr(module, explain).points == 2
        assert all(1 <= ex.points <= 3 for ex in exercises.exercises_in(module).values())


def _seeds(ex: Exercise) -> range:
    """A function is checked on random inputs drawn from the seed; a value does not use it."""
    return SEEDS if isinstance(ex, FunctionExercise) else range(1)


def test_no_diagnosis_gives_the_right_option_away() -> None:
    for ex in (nb00.q3, nb01.q4):
        right = ex.expected_value()
        for wrong in ex.wrong_answers:
            assert f"({right})" not in wrong.why and f'"{right}"' not in wrong.why


# --------------------------------------------------------------------------- notebook 00


def test_nb00_q1_is_the_share_of_letters(text: str) -> None:
    letters = sum(text.count(c) for c in set(text) if c.isalpha())
    assert math.isclose(nb00.q1.expected_value(), letters / len(text), rel_tol=1e-12)


def test_nb00_q2_agrees_with_viz_char_frequency_bar() -> None:
    f = nb00.q2.reference_function()
    for seed in range(3):
        for (sample,) in nb00.q2.inputs(seed=seed):
            if not sample:
                assert f(sample) == {}
                continue
            fig = viz.char_frequency_bar(sample, top_n=None)
            shown = dict(zip(fig.data[0].x, fig.data[0].y, strict=True))
            assert shown == pytest.approx({viz.char_label(c): p for c, p in f(sample).items()})


def test_nb00_q3_right_option_is_what_lower_casing_does(text: str) -> None:
    assert nb00.q3.expected_value() == "b"
    lower = text.lower()
    n = len(text)
    p_e, p_E, p_lower = text.count("e") / n, text.count("E") / n, lower.count("e") / len(lower)
    assert len(lower) == n and p_E > 0.005  # (a) would need no capital E at all
    assert math.isclose(p_lower, p_e + p_E, rel_tol=1e-12)  # (c) and (d) are off by 0
    assert len(set(text)) - len(set(lower)) == 26  # what the explanation quotes


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), min_size=1, max_size=60))
def test_nb00_q3_holds_for_any_ascii_text(sample: str) -> None:
    n = len(sample)
    lower = sample.lower()
    assert len(lower) == n
    assert math.isclose(lower.count("e") / n, (sample.count("e") + sample.count("E")) / n)


# --------------------------------------------------------------------------- notebook 01


def test_nb01_q1_is_the_exponential_of_torch_cross_entropy() -> None:
    bigram, test_text = nb01.Q1_BIGRAM, nb01.Q1_TEXT
    symbols = ["a", "b"]
    contexts = ["<s>", *test_text[:-1]]
    log_probs = torch.tensor(
        [[math.log(bigram[h][w]) for w in symbols] for h in contexts], dtype=torch.float64
    )
    targets = torch.tensor([symbols.index(w) for w in test_text])
    expected = F.nll_loss(log_probs, targets).exp().item()
    assert math.isclose(nb01.q1.expected_value(), expected, rel_tol=1e-12)


def test_nb01_q2_bounds_are_reached_by_labkits_bpe(text: str) -> None:
    s = nb01.Q2_TEXT
    answer = nb01.q2.expected_value()
    no_merges = tokenize.BPETokenizer().train(s, vocab_size=256)
    assert len(no_merges.encode(s)) == answer["most"]
    saturated = tokenize.BPETokenizer().train(s, vocab_size=256 + 10 * len(s))  # every chunk merged
    assert len(saturated.encode(s)) == answer["fewest"] == len(tokenize.BPETokenizer().split(s))
    assert answer["fewest"] < len(s) < answer["most"]  # a string where the bounds are not trivial
    shakespeare = tokenize.BPETokenizer().train(text[:20_000], vocab_size=256 + 200)
    assert answer["fewest"] <= len(shakespeare.encode(s)) <= answer["most"]


def test_nb01_q3_is_labkits_next_merge() -> None:
    f = nb01.q3.reference_function()
    for seed in range(20):
        for (ids,) in nb01.q3.inputs(seed=seed):
            pair = f(ids)
            if len(ids) < 2:
                assert pair is None
                continue
            as_text = "".join(chr(ord("a") + i) for i in ids)  # order-preserving ids -> bytes
            tok = tokenize.BPETokenizer(pattern=None).train(as_text, vocab_size=257)
            assert tok.merges[0][0] == tuple(ord("a") + i for i in pair)


def test_nb01_q4_right_option_is_what_shuffling_does(text: str) -> None:
    """The notebook's experiment at its fast-mode size, on three permutations."""
    assert nb01.q4.expected_value() == "c"
    train_text, val_text = data.split(text, val_fraction=0.1)
    ngram_train, val_eval = train_text[:300_000], val_text[:50_000]
    all_chars = sorted(set(text))
    models = {n: ngram.NGramLM(n, k=0.01).fit(ngram_train, vocab=all_chars) for n in (1, 3)}
    before = {n: lm.perplexity(val_eval) for n, lm in models.items()}
    assert before[3] < before[1] / 2  # on the real text the trigram is far better
    for seed in range(3):
        shuffled = "".join(np.random.default_rng(seed).permutation(list(val_eval)))
        assert Counter(shuffled) == Counter(val_eval)
        after = {n: lm.perplexity(shuffled) for n, lm in models.items()}
        assert math.isclose(after[1], before[1], rel_tol=1e-9)  # not (d)
        assert after[3] > 5 * after[1]  # not (a) nor (b); measured: 18 times
        assert after[3] > len(all_chars)  # worse than uniform guessing, as the model answer says
