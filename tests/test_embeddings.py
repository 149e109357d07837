"""labkit.embeddings: SGNS loss and gradients, sampling, pairs, queries, PCA, training."""

from __future__ import annotations

import doctest
import math
import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import labkit
import labkit.embeddings as emb_module
from labkit.embeddings import (
    Embeddings,
    UnknownWordError,
    Word2VecConfig,
    build_vocab,
    keep_probabilities,
    noise_distribution,
    sample_negatives,
    sgns_loss,
    skipgram_pairs,
    subsample,
    train_word2vec,
    words,
)


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_docstring_examples() -> None:
    assert doctest.testmod(emb_module).failed == 0


# ----------------------------------------------------------------------------- loss


def test_sgns_loss_and_gradient_by_hand() -> None:
    v_c = torch.tensor([[1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    u_o = torch.tensor([[2.0, 0.0]], dtype=torch.float64, requires_grad=True)
    u_neg = torch.tensor([[[0.0, 1.0], [-1.0, 0.0]]], dtype=torch.float64, requires_grad=True)
    loss = sgns_loss(v_c, u_o, u_neg)
    # u_oᵀv_c = 2, u_1ᵀv_c = 0, u_2ᵀv_c = -1
    expected = -math.log(sig(2)) - math.log(sig(-0)) - math.log(sig(1))
    assert loss.shape == (1,)
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    loss.sum().backward()
    # ∂L/∂v_c = (σ(2) − 1) u_o + σ(0) u_1 + σ(−1) u_2
    g_v = [(sig(2) - 1) * 2 + sig(-1) * -1, 0.5]
    assert v_c.grad[0].tolist() == pytest.approx(g_v, rel=1e-12)
    assert u_o.grad[0].tolist() == pytest.approx([sig(2) - 1, 0.0], rel=1e-12)  # (σ(2)−1) v_c
    assert u_neg.grad[0].flatten().tolist() == pytest.approx(
        [0.5, 0.0, sig(-1), 0.0], rel=1e-12
    )  # σ(u_kᵀv_c) v_c


def test_sgns_loss_gradcheck() -> None:
    g = torch.Generator().manual_seed(0)
    b, k, d = 3, 2, 4
    args = [
        torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True)
        for s in ((b, d), (b, d), (b, k, d))
    ]
    assert torch.autograd.gradcheck(lambda *a: sgns_loss(*a), args)


def test_sgns_loss_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="u_neg"):
        sgns_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="u_o"):
        sgns_loss(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, 1, 3))


# ----------------------------------------------------------------------------- sampling and pairs


def test_negative_sampling_follows_count_to_the_three_quarters() -> None:
    counts = np.array([500, 100, 20, 5, 1])
    p = noise_distribution(counts)
    expected = counts**0.75 / (counts**0.75).sum()
    assert p.numpy() == pytest.approx(expected, rel=1e-12)
    n = 200_000
    draws = sample_negatives(p, (n // 4, 4), torch.Generator().manual_seed(1))
    assert draws.shape == (n // 4, 4)
    freq = np.bincount(draws.flatten().numpy(), minlength=len(counts)) / n
    sd = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(freq - expected) < 5 * sd + 1e-4)
    # without a generator the draws follow labkit.seed
    labkit.seed(0)
    a = sample_negatives(p, (50,))
    labkit.seed(0)
    assert torch.equal(a, sample_negatives(p, (50,)))


def test_keep_probabilities_match_formula() -> None:
    counts = [9000, 900, 90, 9, 1]
    total = sum(counts)
    t = 1e-3
    for c, k in zip(counts, keep_probabilities(counts, t).tolist(), strict=True):
        f = c / total
        assert k == pytest.approx(min(1.0, math.sqrt(t / f) + t / f), rel=1e-12)
    assert keep_probabilities(counts, 0.0).tolist() == [1.0] * 5
    # empirically: 9000 copies of word 0 kept at the right rate
    keep = keep_probabilities(counts, t)
    kept = subsample(torch.zeros(100_000, dtype=torch.long), keep, torch.Generator().manual_seed(0))
    assert len(kept) / 100_000 == pytest.approx(keep[0].item(), abs=0.01)


def test_window_pairs_exact_without_shrink() -> None:
    c, o = skipgram_pairs([0, 1, 2, 3], window=2, dynamic=False)
    assert list(zip(c.tolist(), o.tolist(), strict=True)) == [
        (0, 1), (0, 2),
        (1, 0), (1, 2), (1, 3),
        (2, 0), (2, 1), (2, 3),
        (3, 1), (3, 2),
    ]  # fmt: skip
    assert [len(x) for x in skipgram_pairs([7], window=3, dynamic=False)] == [0, 0]


def test_dynamic_window_is_symmetric_and_shrinks() -> None:
    n, window = 400, 4
    ids = torch.arange(n)  # token = position, so pairs give positions
    c, o = skipgram_pairs(
        ids, window=window, dynamic=True, generator=torch.Generator().manual_seed(3)
    )
    spans = []
    for t in range(window, n - window):  # interior centres: contexts are t±1..t±b_t
        ctx = sorted(o[c == t].tolist())
        b = len(ctx) // 2
        assert ctx == [t + j for j in range(-b, b + 1) if j != 0]
        spans.append(b)
    assert set(spans) == set(range(1, window + 1))
    assert np.mean(spans) == pytest.approx((window + 1) / 2, abs=0.25)


# ----------------------------------------------------------------------------- queries


def hand_matrix() -> Embeddings:
    vecs = torch.tensor(
        [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [3.0, 0.0, 0.1]]
    )
    return Embeddings(vecs, ["e", "a", "b", "c", "d"])


def test_cosine_and_most_similar_on_hand_made_vectors() -> None:
    emb = hand_matrix()
    assert emb.similarity("e", "a") == pytest.approx(1 / math.sqrt(2), rel=1e-6)
    assert emb.similarity("e", "b") == pytest.approx(0.0, abs=1e-7)
    assert emb.similarity("e", "c") == pytest.approx(-1.0, rel=1e-6)
    top = emb.most_similar("e", k=10)  # k larger than the vocabulary: all others
    assert [w for w, _ in top] == ["d", "a", "b", "c"]
    assert [s for _, s in top] == pytest.approx(
        [3 / math.sqrt(9.01), 1 / math.sqrt(2), 0, -1], abs=1e-6
    )
    # a vector query does not exclude anything
    assert emb.most_similar(torch.tensor([2.0, 0.0, 0.0]), k=2)[0] == ("e", pytest.approx(1.0))
    assert [w for w, _ in emb.most_similar("e", k=2, exclude=["d"])] == ["a", "b"]
    assert torch.equal(emb.vector("b"), torch.tensor([0.0, 1.0, 0.0]))


def test_most_similar_matches_numpy_on_random_vectors() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 8)).astype(np.float32)
    vocab = [f"w{i}" for i in range(30)]
    emb = Embeddings(x, vocab)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    cos = unit @ unit[4]
    cos[4] = -np.inf
    order = np.argsort(-cos)[:7]
    got = emb.most_similar("w4", k=7)
    assert [w for w, _ in got] == [vocab[i] for i in order]
    assert [s for _, s in got] == pytest.approx(cos[order].tolist(), abs=1e-5)


def test_analogy_lands_exactly_on_the_planted_word() -> None:
    e = torch.eye(6)
    r2 = math.sqrt(2)
    vecs = {
        "man": (e[3] + e[0]) / r2,
        "woman": (e[3] + e[1]) / r2,
        "king": (e[2] + e[0]) / r2,
        "queen": (e[2] + e[1]) / r2,
        "prince": e[2] + e[0] + 0.3 * e[4],
        "apple": e[5],
    }
    emb = Embeddings(torch.stack(list(vecs.values())), list(vecs))
    (best, score), *rest = emb.analogy("man", "king", "woman", k=3)
    assert best == "queen" and score == pytest.approx(1.0, abs=1e-6)
    assert len(rest) == 2 and {w for w, _ in rest} <= {"prince", "apple"}
    # the inputs are never answers, even when the target is one of them
    assert "woman" not in [w for w, _ in emb.analogy("man", "man", "woman", k=3)]


def test_project_equals_numpy_pca() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(25, 6)) * np.array([5.0, 3.0, 2.0, 1.0, 0.5, 0.1])
    vocab = [f"w{i}" for i in range(25)]
    emb = Embeddings(torch.tensor(x), vocab)
    for dims in (2, 3):
        df = emb.project(dims=dims)
        assert list(df.columns) == ["word", "x", "y", "z"][: dims + 1]
        assert df["word"].tolist() == vocab
        xc = x - x.mean(0)
        _, s, vt = np.linalg.svd(xc, full_matrices=False)
        ref = xc @ vt[:dims].T
        got = df[["x", "y", "z"][:dims]].to_numpy()
        for j in range(dims):  # up to sign
            assert np.allclose(got[:, j], ref[:, j], atol=1e-8) or np.allclose(
                got[:, j], -ref[:, j], atol=1e-8
            )
        ratio = df.attrs["explained_variance_ratio"]
        assert ratio == pytest.approx((s**2 / (s**2).sum())[:dims].tolist(), rel=1e-9)
        assert all(a >= b for a, b in zip(ratio, ratio[1:], strict=False))
        var = got.var(0)
        assert all(a >= b for a, b in zip(var, var[1:], strict=False))
    sub = emb.project(["w3", "w1", "w7", "w9"], dims=2)
    assert sub["word"].tolist() == ["w3", "w1", "w7", "w9"]


def test_unknown_word_names_it() -> None:
    emb = hand_matrix()
    with pytest.raises(KeyError, match="'zebra'"):
        emb.vector("zebra")
    with pytest.raises(UnknownWordError, match="zebra"):
        emb.analogy("e", "a", "zebra")


# ----------------------------------------------------------------------------- training


def topic_corpus(n_sentences: int = 2000, seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    """Sentences of 8 words, each drawn from one of two topics, mixed with shared filler words."""
    rng = random.Random(seed)
    animals = ["cat", "dog", "horse", "cow", "sheep", "goat", "mouse", "bird"]
    vehicles = ["car", "bus", "train", "truck", "bike", "plane", "boat", "tram"]
    filler = ["the", "a", "and", "of"]
    out: list[str] = []
    for _ in range(n_sentences):
        group = animals if rng.random() < 0.5 else vehicles
        out += [rng.choice(group) if rng.random() < 0.7 else rng.choice(filler) for _ in range(8)]
    return out, animals, vehicles


def mean_cos(emb: Embeddings, xs: list[str], ys: list[str]) -> float:
    return float(np.mean([emb.similarity(x, y) for x in xs for y in ys if x != y]))


def test_training_recovers_planted_topics() -> None:
    corpus, animals, vehicles = topic_corpus()
    cfg = Word2VecConfig(
        dim=16, window=3, min_count=1, subsample_t=1e-2, lr=0.05, epochs=1, batch_size=256
    )
    w2v = train_word2vec(corpus, cfg, device="cpu", progress=False)
    within = (mean_cos(w2v, animals, animals) + mean_cos(w2v, vehicles, vehicles)) / 2
    across = mean_cos(w2v, animals, vehicles)
    assert within > across + 0.4, (within, across)  # measured: 0.99 vs 0.34
    assert w2v.most_similar("cat", k=1)[0][0] in animals
    h = w2v.history
    assert list(h.columns) == ["step", "epoch", "loss"]
    assert h["loss"].iloc[-20:].mean() < h["loss"].iloc[:20].mean()
    assert w2v.count("cat") == corpus.count("cat")


def test_same_seed_same_vectors() -> None:
    corpus, _, _ = topic_corpus(300)
    cfg = Word2VecConfig(dim=8, window=2, min_count=1, epochs=3, batch_size=64, max_steps=40)
    a = train_word2vec(corpus, cfg, device="cpu", progress=False)
    b = train_word2vec(corpus, cfg, device="cpu", progress=False)
    assert len(a.history) == 40
    assert torch.equal(a.vectors, b.vectors)
    assert a.history["loss"].tolist() == b.history["loss"].tolist()
    c = train_word2vec(
        corpus, Word2VecConfig(**{**cfg.__dict__, "seed": 1}), device="cpu", progress=False
    )
    assert not torch.equal(a.vectors, c.vectors)


def test_sgd_optimizer_trains() -> None:
    corpus, _, _ = topic_corpus(300)
    cfg = Word2VecConfig(
        dim=8, window=2, min_count=1, optimizer="sgd", lr=0.025, batch_size=64, epochs=1
    )
    w2v = train_word2vec(corpus, cfg, device="cpu", progress=False)
    assert np.isfinite(w2v.history["loss"]).all()
    assert w2v.history["loss"].iloc[-10:].mean() < w2v.history["loss"].iloc[:10].mean()


def test_words_helper_and_vocab() -> None:
    assert words("The KING's men—o'er 3 hills!") == ["the", "king's", "men", "o'er", "hills"]
    vocab, counts = build_vocab(["x", "y", "x", "z", "y", "x"], min_count=2)
    assert vocab == ["x", "y"] and counts.tolist() == [3, 2]


def test_word_below_min_count_says_so() -> None:
    corpus = ["a", "b"] * 20 + ["rare"]
    w2v = train_word2vec(
        corpus,
        Word2VecConfig(dim=4, min_count=2, subsample_t=0, max_steps=2),
        device="cpu",
        progress=False,
    )
    with pytest.raises(KeyError, match=r"'rare'.*min_count=2"):
        w2v.most_similar("rare")


# ----------------------------------------------------------------------------- bad inputs


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(["dim", "window", "negatives", "min_count", "epochs", "batch_size"]),
    value=st.integers(-5, 0),
)
def test_config_rejects_non_positive_ints(name: str, value: int) -> None:
    with pytest.raises(ValueError, match=rf"{name} must be an int >= 1, got {value}"):
        Word2VecConfig(**{name: value})


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(["dim", "window", "negatives", "epochs", "seed"]),
    value=st.one_of(st.floats(allow_nan=False), st.text(max_size=3), st.booleans()),
)
def test_config_rejects_wrong_types(name: str, value: object) -> None:
    with pytest.raises(TypeError, match=rf"{name} must be an int"):
        Word2VecConfig(**{name: value})


@settings(max_examples=20, deadline=None)
@given(k=st.one_of(st.integers(-3, 0), st.just(1.5), st.just("2")))
def test_queries_reject_bad_k(k: object) -> None:
    with pytest.raises((ValueError, TypeError), match="k must be an int"):
        hand_matrix().most_similar("e", k=k)


def test_other_bad_inputs_name_the_argument() -> None:
    with pytest.raises(ValueError, match="lr must be"):
        Word2VecConfig(lr=0)
    with pytest.raises(ValueError, match="subsample_t"):
        Word2VecConfig(subsample_t=-1e-3)
    with pytest.raises(ValueError, match="optimizer"):
        Word2VecConfig(optimizer="rmsprop")
    with pytest.raises(TypeError, match="words must be a list of word strings, got one str"):
        train_word2vec("to be or not to be", progress=False)
    with pytest.raises(ValueError, match="words must contain at least one word"):
        train_word2vec([], progress=False)
    with pytest.raises(TypeError, match="config must be a Word2VecConfig"):
        train_word2vec(["a", "b"], config={"dim": 3}, progress=False)
    with pytest.raises(ValueError, match="no .centre, context. pairs .* lower subsample_t"):
        train_word2vec(["a", "b"] * 3, Word2VecConfig(min_count=1), device="cpu", progress=False)
    with pytest.raises(ValueError, match="min_count=5"):
        train_word2vec(["a", "b", "a"], Word2VecConfig(min_count=5), device="cpu", progress=False)
    with pytest.raises(ValueError, match="vocab must have one word per row"):
        Embeddings(torch.zeros(3, 2), ["a", "b"])
    with pytest.raises(ValueError, match="must not repeat a word, got 'a'"):
        Embeddings(torch.zeros(2, 2), ["a", "a"])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        hand_matrix().most_similar(torch.zeros(4))
    with pytest.raises(ValueError, match="dims must be 2 or 3"):
        hand_matrix().project(dims=4)
    with pytest.raises(ValueError, match="more than dims=3 words"):
        hand_matrix().project(["e", "a", "b"], dims=3)
    with pytest.raises(TypeError, match="text must be a str"):
        words(["a"])
    with pytest.raises(ValueError, match="window must be an int >= 1, got 0"):
        skipgram_pairs([1, 2], window=0)
