"""labkit.ngram: counts, add-k and interpolated probabilities, perplexity, sampling."""

from __future__ import annotations

import doctest
import math
import pickle
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import labkit.ngram as ngram_module
from labkit.ngram import BOS, NGramLM, _count_order

TEXT = """First Citizen:
Before we proceed any further, hear me speak.

All:
Speak, speak.

First Citizen:
You are all resolved rather to die than to famish?
"""


def test_docstring_examples() -> None:
    assert doctest.testmod(ngram_module).failed == 0


def all_contexts(lm: NGramLM, tokens: list) -> list[tuple]:
    """Every context seen in training (BOS-padded), plus one never seen."""
    m = lm.n - 1
    padded = [BOS] * m + list(tokens)
    seen = {tuple(padded[i : i + m]) for i in range(len(tokens))}
    unseen = tuple(lm.vocab[-1:] * m)
    return sorted(seen, key=repr) + [unseen]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("smoothing", ["add_k", "interpolation"])
def test_probabilities_sum_to_one(n: int, smoothing: str) -> None:
    lm = NGramLM(n, smoothing=smoothing, k=0.5).fit(TEXT)
    for h in all_contexts(lm, list(TEXT)):
        p = lm.probs(h)
        assert p.shape == (lm.vocab_size,)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        assert (p > 0).all()
        # prob() and probs() agree
        for i in (0, len(lm.vocab) // 2, -1):
            assert lm.prob(h, lm.vocab[i]) == pytest.approx(p[i], rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    tokens=st.lists(st.integers(0, 5), min_size=1, max_size=40),
    n=st.integers(1, 4),
    k=st.floats(0.01, 3),
    smoothing=st.sampled_from(["add_k", "interpolation"]),
    data=st.data(),
)
def test_probabilities_sum_to_one_property(tokens, n, k, smoothing, data) -> None:
    lm = NGramLM(n, smoothing=smoothing, k=k).fit(tokens, vocab=range(7))
    context = data.draw(st.lists(st.sampled_from([*range(7), BOS]), max_size=n + 1))
    assert lm.probs(context).sum() == pytest.approx(1.0, abs=1e-9)


def test_counts_match_naive_counter() -> None:
    tokens = list(TEXT)
    for n in (1, 3, 5):
        lm = NGramLM(n).fit(tokens)
        padded = [BOS] * (n - 1) + tokens
        for j in range(1, n + 1):
            naive = Counter(tuple(padded[i + n - j : i + n]) for i in range(len(tokens)))
            assert sum(naive.values()) == len(tokens)
            for g, c in naive.items():
                assert lm.count(g) == c
    assert NGramLM(2).fit("ab").count(("b", "b")) == 0


def test_count_order_fallback_for_huge_vocabularies_agrees() -> None:
    rng = np.random.default_rng(0)
    padded = np.concatenate([[0, 0], rng.integers(1, 6, size=300)])
    fast = _count_order(padded, 3, 3, base=6)
    slow = _count_order(padded, 3, 3, base=2**31)  # base**3 > 2**62: the Counter path
    assert fast == slow


def test_uniform_model_perplexity_equals_vocab_size() -> None:
    lm = NGramLM(1).fit("abcd" * 5)  # every token equally frequent: a uniform unigram model
    assert lm.perplexity("dcbaabbbbc") == pytest.approx(4.0, rel=1e-12)
    # add-k with an enormous k flattens any model toward uniform
    lm3 = NGramLM(3, k=1e12).fit(TEXT)
    assert lm3.perplexity(TEXT[:50]) == pytest.approx(lm3.vocab_size, rel=1e-6)


def test_perplexity_by_hand_add_one_bigram() -> None:
    # train "aab": padded <s> a a b -> c(<s>a)=1, c(aa)=1, c(ab)=1; c(<s>)=1, c(a)=2; |V|=2
    lm = NGramLM(2, k=1).fit("aab")
    p_a_bos = (1 + 1) / (1 + 2)
    p_b_a = (1 + 1) / (2 + 2)
    assert lm.prob(None, "a") == pytest.approx(p_a_bos)
    assert lm.prob("a", "b") == pytest.approx(p_b_a)
    assert lm.prob("b", "a") == pytest.approx(0.5)  # context "b" never seen: uniform
    expected = math.exp(-(math.log(p_a_bos) + math.log(p_b_a)) / 2)
    assert expected == pytest.approx(math.sqrt(3))
    assert lm.perplexity("ab") == pytest.approx(expected, rel=1e-12)
    assert lm.log_prob("a", "b") == pytest.approx(math.log(0.5))


def test_interpolation_by_hand() -> None:
    lm = NGramLM(2, smoothing="interpolation", k=0, lambdas=(0.25, 0.75)).fit("aab")
    # unigram: P(a)=2/3, P(b)=1/3; bigram MLE: P(a|<s>)=1, P(a|a)=P(b|a)=1/2
    assert lm.prob("a", "b") == pytest.approx(0.25 / 3 + 0.75 / 2)
    assert lm.prob([BOS], "a") == pytest.approx(0.25 * 2 / 3 + 0.75)
    # context "b" never seen: its λ is dropped and the rest renormalised -> the unigram
    assert lm.prob("b", "a") == pytest.approx(2 / 3)
    pp = math.exp(-(math.log(0.25 * 2 / 3 + 0.75) + math.log(0.25 / 3 + 0.75 / 2)) / 2)
    assert lm.perplexity("ab") == pytest.approx(pp, rel=1e-12)
    # trigram, with the last token of a longer context used by the bigram term
    lm3 = NGramLM(3, smoothing="interpolation", k=0, lambdas=(0.2, 0.3, 0.5)).fit("abab")
    # trigram context (a, b): followed by a once -> P3(a|ab)=1; bigram P2(a|b)=1; unigram 1/2
    assert lm3.prob("xab"[1:], "a") == pytest.approx(0.2 * 0.5 + 0.3 + 0.5)


def test_add_k_to_zero_is_maximum_likelihood() -> None:
    tokens = list(TEXT)
    for n in (2, 3):
        exact = NGramLM(n, k=0).fit(tokens)
        tiny = NGramLM(n, k=1e-12).fit(tokens)
        padded = [BOS] * (n - 1) + tokens
        grams = Counter(tuple(padded[i : i + n]) for i in range(len(tokens)))
        ctx = Counter(g[:-1] for g in grams.elements())
        for g, c in grams.items():
            assert exact.prob(g[:-1], g[-1]) == pytest.approx(c / ctx[g[:-1]], rel=1e-15)
            assert tiny.prob(g[:-1], g[-1]) == pytest.approx(c / ctx[g[:-1]], rel=1e-9)
    with pytest.raises(ValueError, match="never seen in training.*0/0"):
        NGramLM(2, k=0).fit("ab").prob("b", "a")


def test_mle_unigram_perplexity_is_exp_entropy() -> None:
    lm = NGramLM(1, k=0).fit(TEXT)
    c = Counter(TEXT)
    n = len(TEXT)
    entropy = -sum(v / n * math.log(v / n) for v in c.values())
    assert lm.perplexity(TEXT) == pytest.approx(math.exp(entropy), rel=1e-12)


def test_higher_order_fits_training_text_better() -> None:
    pps = [NGramLM(n, k=0.01).fit(TEXT).perplexity(TEXT) for n in (1, 2, 3, 4)]
    assert pps == sorted(pps, reverse=True)


def test_word_and_int_tokens() -> None:
    words = "the cat sat on the mat the end".split()
    lm = NGramLM(2, k=0).fit(words)
    assert lm.vocab == sorted(set(words))
    assert lm.prob(["the"], "cat") == pytest.approx(1 / 3)
    ints = NGramLM(2, k=0).fit(np.array([3, 1, 3, 2, 3, 1]))
    assert ints.vocab == [1, 2, 3]
    assert ints.prob([3], 1) == pytest.approx(2 / 3)
    mixed = NGramLM(1).fit([1, "a", 1])  # unsortable: first-appearance order
    assert mixed.vocab == [1, "a"]


def test_vocab_argument_covers_unseen_tokens() -> None:
    lm = NGramLM(2, k=1).fit("aab", vocab="abc")
    assert lm.vocab == ["a", "b", "c"]
    assert lm.probs("a").sum() == pytest.approx(1.0)
    assert lm.perplexity("abc") < math.inf
    with pytest.raises(ValueError, match="'z'.*not in the vocabulary"):
        lm.perplexity("az")
    with pytest.raises(ValueError, match="'z' is in tokens but not in vocab"):
        NGramLM(2).fit("az", vocab="a")


def test_sampling_reproducible_and_in_vocabulary() -> None:
    lm = NGramLM(3, smoothing="interpolation", k=0.1).fit(TEXT)
    a = lm.sample(200, seed=123)
    assert a == lm.sample(200, seed=123)
    assert a != lm.sample(200, seed=124)
    assert len(a) == 200 and set(a) <= set(lm.vocab)
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    assert lm.sample(50, generator=g1) == lm.sample(50, generator=g2)
    assert lm.sample(0, seed=0) == []
    cont = lm.sample(30, context="First Cit", seed=1)
    assert set(cont) <= set(lm.vocab)


def test_sampling_follows_the_distribution() -> None:
    # deterministic bigram chain: after "a" always "b", after "b" always "a"
    lm = NGramLM(2, k=0).fit("abababab")
    assert "".join(lm.sample(10, context="b", seed=0)) == "ababababab"
    # unigram frequencies are reproduced by sampling
    lm1 = NGramLM(1, k=0).fit("aaab")
    freq = Counter(lm1.sample(4000, seed=0))
    assert freq["a"] / 4000 == pytest.approx(0.75, abs=0.03)


def test_bos_is_a_picklable_singleton() -> None:
    assert pickle.loads(pickle.dumps(BOS)) is BOS
    assert repr(BOS) == "<s>"
    with pytest.raises(ValueError, match="BOS"):
        NGramLM(1).fit([BOS, "a"])


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        NGramLM(0)
    with pytest.raises(TypeError, match="n must be an int, got float"):
        NGramLM(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="smoothing must be one of"):
        NGramLM(2, smoothing="kneser_ney")
    with pytest.raises(ValueError, match="k must be a finite number >= 0, got -1"):
        NGramLM(2, k=-1)
    with pytest.raises(ValueError, match="lambdas must have n=3 weights"):
        NGramLM(3, smoothing="interpolation", lambdas=(0.5, 0.5))
    with pytest.raises(ValueError, match="sum to 1"):
        NGramLM(2, smoothing="interpolation", lambdas=(0.5, 0.6))
    with pytest.raises(ValueError, match=r"lambdas\[0\].*must be > 0"):
        NGramLM(2, smoothing="interpolation", lambdas=(0.0, 1.0))
    with pytest.raises(TypeError, match="tokens must be a str, a sequence .* or a 1-D numpy array"):
        NGramLM(2).fit(123)
    with pytest.raises(ValueError, match="tokens must contain at least one token"):
        NGramLM(2).fit([])
    with pytest.raises(ValueError, match="must be 1-D"):
        NGramLM(2).fit(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="hashable"):
        NGramLM(2).fit([[1], [2]])
    with pytest.raises(ValueError, match="call fit"):
        NGramLM(2).perplexity("ab")
    lm = NGramLM(2).fit("ab")
    with pytest.raises(ValueError, match="token contains 'q'"):
        lm.prob("a", "q")
    with pytest.raises(ValueError, match="n_tokens must be >= 0"):
        lm.sample(-1)
    with pytest.raises(ValueError, match="seed or generator, not both"):
        lm.sample(3, seed=1, generator=np.random.default_rng(1))
    with pytest.raises(TypeError, match="generator must be a numpy.random.Generator"):
        lm.sample(3, generator=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ngram must have 1..2 tokens, got 3"):
        lm.count("aba")


@given(st.one_of(st.integers(max_value=0), st.floats(), st.text(), st.none(), st.booleans()))
def test_n_validation_property(value: object) -> None:
    with pytest.raises((TypeError, ValueError), match="n must"):
        NGramLM(value)  # type: ignore[arg-type]
