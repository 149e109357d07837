"""The WEAT-style bias probe in labkit.embeddings: association_scores and association."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest
import torch

from labkit.embeddings import Embeddings, UnknownWordError, association, association_scores


def _emb() -> Embeddings:
    """Eight words in 3-D: targets x1..x3 lean towards 'a', y1..y3 towards 'b'."""
    vecs = torch.tensor(
        [
            [1.0, 0.0, 0.0],  # a
            [0.0, 1.0, 0.0],  # b
            [0.9, 0.1, 0.3],  # x1
            [0.8, 0.3, 0.1],  # x2
            [0.7, 0.2, 0.5],  # x3
            [0.2, 0.9, 0.1],  # y1
            [0.1, 0.6, 0.4],  # y2
            [0.3, 0.8, 0.2],  # y3
        ]
    )
    return Embeddings(vecs, ["a", "b", "x1", "x2", "x3", "y1", "y2", "y3"])


def _cos(u: np.ndarray, v: np.ndarray) -> float:
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def test_scores_match_a_hand_computation() -> None:
    emb = _emb()
    v = {w: emb.vector(w).double().numpy() for w in emb.vocab}
    got = association_scores(emb, ["x1", "y2"], ["a"], ["b", "x3"])
    for w in ("x1", "y2"):
        want = _cos(v[w], v["a"]) - (_cos(v[w], v["b"]) + _cos(v[w], v["x3"])) / 2
        assert got[w] == pytest.approx(want, abs=1e-6)
    assert list(got.index) == ["x1", "y2"]


def test_statistic_effect_size_and_exact_p_value() -> None:
    emb = _emb()
    x, y = ["x1", "x2", "x3"], ["y1", "y2", "y3"]
    r = association(emb, x, y, ["a"], ["b"], alternative="greater")
    s = association_scores(emb, x + y, ["a"], ["b"]).to_numpy()
    assert r.statistic == pytest.approx(s[:3].mean() - s[3:].mean())
    assert r.effect_size == pytest.approx(r.statistic / np.std(s, ddof=1))
    assert r.statistic > 0 and r.exact and r.n_permutations == math.comb(6, 3) == 20
    # every x scores above every y, so only the observed split is as extreme: p = 1/20
    assert r.p_value == pytest.approx(1 / 20)
    # two-sided: the mirror split (X and Y swapped) is as extreme too
    assert association(emb, x, y, ["a"], ["b"]).p_value == pytest.approx(2 / 20)
    # swapping the attribute sets flips the sign; "less" then gives the same p as "greater"
    flipped = association(emb, x, y, ["b"], ["a"], alternative="less")
    assert flipped.statistic == pytest.approx(-r.statistic) and flipped.p_value == r.p_value


def test_exact_p_value_agrees_with_brute_force_on_unequal_groups() -> None:
    emb = _emb()
    x, y = ["x1", "y1"], ["x2", "x3", "y2", "y3"]
    r = association(emb, x, y, ["a"], ["b"], alternative="greater")
    s = association_scores(emb, x + y, ["a"], ["b"])
    words = x + y
    stats = []
    for idx in combinations(range(6), 2):
        inx = [words[i] for i in idx]
        iny = [w for w in words if w not in inx]
        stats.append(s[inx].mean() - s[iny].mean())
    observed = s[x].mean() - s[y].mean()
    assert r.statistic == pytest.approx(observed)
    want = sum(t >= observed - 1e-12 for t in stats) / len(stats)
    assert r.exact and r.p_value == pytest.approx(want)


def test_sampled_p_value_is_close_to_exact_and_reproducible() -> None:
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(24)]
    emb = Embeddings(torch.from_numpy(rng.normal(size=(24, 8))), vocab)
    x, y, a, b = vocab[:7], vocab[7:14], vocab[14:19], vocab[19:]
    exact = association(emb, x, y, a, b, n_permutations=5_000)  # C(14, 7) = 3432 splits
    assert exact.exact and exact.n_permutations == 3432
    sampled = association(emb, x, y, a, b, n_permutations=2_000, seed=1)
    assert not sampled.exact and sampled.n_permutations == 2_000
    assert abs(sampled.p_value - exact.p_value) < 0.05
    again = association(emb, x, y, a, b, n_permutations=2_000, seed=1)
    assert again.p_value == sampled.p_value  # the same seed, the same random splits
    assert 0 < sampled.p_value <= 1


def test_random_vectors_rarely_look_biased() -> None:
    """Under the null (random vectors) the p-values are roughly uniform: few fall below 0.05."""
    rng = np.random.default_rng(1)
    vocab = [f"w{i}" for i in range(16)]
    small = 0
    for _ in range(40):
        emb = Embeddings(torch.from_numpy(rng.normal(size=(16, 10))), vocab)
        r = association(emb, vocab[:4], vocab[4:8], vocab[8:12], vocab[12:])  # 70 splits, exact
        small += r.p_value < 0.05
    assert small <= 6


def test_input_errors_name_the_argument() -> None:
    emb = _emb()
    with pytest.raises(UnknownWordError, match="targets_y holds 'zz'"):
        association(emb, ["x1"], ["zz"], ["a"], ["b"])
    with pytest.raises(ValueError, match="must not share words"):
        association(emb, ["x1", "y1"], ["y1"], ["a"], ["b"])
    with pytest.raises(ValueError, match="alternative"):
        association(emb, ["x1"], ["y1"], ["a"], ["b"], alternative="bigger")
    with pytest.raises(ValueError, match="attributes_a must not repeat"):
        association_scores(emb, ["x1"], ["a", "a"], ["b"])
    with pytest.raises(TypeError, match="emb must be an Embeddings"):
        association(np.eye(3), ["x1"], ["y1"], ["a"], ["b"])
    with pytest.raises(TypeError, match="list of word strings"):
        association_scores(emb, "x1", ["a"], ["b"])
    with pytest.raises(ValueError, match="n_permutations"):
        association(emb, ["x1"], ["y1"], ["a"], ["b"], n_permutations=0)
