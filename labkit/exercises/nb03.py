"""Exercises for notebook 03 (embeddings): ``from labkit.exercises import nb03 as ex``.

- ``q1`` (function): ``cosine(u, v)`` — the cosine similarity of two vectors.
- ``q2`` (function): ``context_pairs(tokens, window)`` — the skip-gram (centre, context) pairs.
- ``q3`` (function): ``sgns_loss_one(v_c, u_o, u_negs)`` — the negative-sampling loss of one pair.
- ``q4`` (function): ``nearest(vectors, vocab, word, k)`` — the k nearest neighbours by cosine.

Inputs are plain Python values: a vector is a tuple of floats, a sentence a tuple of words. Any
approach works (loops, ``math``, NumPy, torch) as long as the answer is a plain Python value: a
``float``, or a ``list``.
"""

from __future__ import annotations

import random

from labkit.exercises.core import FunctionExercise


def _vector(rng: random.Random, d: int) -> tuple[float, ...]:
    v = [rng.uniform(-2, 2) for _ in range(d)]
    if all(abs(x) < 1e-3 for x in v):
        v[0] = 1.0
    return tuple(v)


# --------------------------------------------------------------------------- q1: cosine

_Q1_SOLUTION = '''\
import math


def cosine(u, v) -> float:
    """cos(u, v) = u·v / (‖u‖ ‖v‖)."""
    dot = sum(a * b for a, b in zip(u, v))
    return dot / (math.sqrt(sum(a * a for a in u)) * math.sqrt(sum(b * b for b in v)))
'''


def _q1_inputs(rng: random.Random) -> tuple[tuple[float, ...], tuple[float, ...]]:
    d = rng.randint(2, 8)
    return _vector(rng, d), _vector(rng, d)


q1 = FunctionExercise(
    name="q1",
    answer_name="cosine",
    solution_code=_Q1_SOLUTION,
    make_inputs=_q1_inputs,
    edge_cases=[
        ([1.0, 0.0], [0.0, 1.0]),  # orthogonal: 0
        ([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]),  # same direction: 1
        ([1.0, -1.0], [-3.0, 3.0]),  # opposite: -1
        ([3.0, 4.0], [4.0, 3.0]),  # 24/25
    ],
    n_random=8,
    hint_text=(
        "Take the dot product u·v (multiply matching entries and add them up), then divide by "
        "the length of u times the length of v, where the length of a vector is the square root "
        "of the sum of its squared entries. The answer never leaves [-1, 1]."
    ),
    wrong_answers=[
        # the dot product alone: depends on the vectors' lengths
        "def cosine(u, v):\n    return sum(a * b for a, b in zip(u, v))\n",
        # divided by the squared lengths
        "def cosine(u, v):\n"
        "    dot = sum(a * b for a, b in zip(u, v))\n"
        "    return dot / (sum(a * a for a in u) * sum(b * b for b in v))\n",
        # cosine distance instead of similarity
        "import math\n\n"
        "def cosine(u, v):\n"
        "    dot = sum(a * b for a, b in zip(u, v))\n"
        "    return 1 - dot / (math.hypot(*u) * math.hypot(*v))\n",
    ],
)


# --------------------------------------------------------------------------- q2: skip-gram pairs

_Q2_SOLUTION = '''\
def context_pairs(tokens, window: int) -> list[tuple[str, str]]:
    """(centre, context) for every position t and every t + j with 1 <= |j| <= window."""
    pairs = []
    for t, centre in enumerate(tokens):
        for j in range(max(0, t - window), min(len(tokens), t + window + 1)):
            if j != t:
                pairs.append((centre, tokens[j]))
    return pairs
'''

_WORDS = ["to", "be", "or", "not", "the", "king", "queen", "love", "night", "day"]


def _q2_inputs(rng: random.Random) -> tuple[tuple[str, ...], int]:
    return tuple(rng.choices(_WORDS, k=rng.randint(0, 9))), rng.randint(1, 4)


q2 = FunctionExercise(
    name="q2",
    answer_name="context_pairs",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_inputs,
    edge_cases=[
        (["to", "be", "or", "not", "to", "be"], 1),
        (["to", "be", "or", "not", "to", "be"], 2),
        (["alone"], 3),
        ([], 2),
        (["a", "b", "c"], 5),  # the window is wider than the sentence
    ],
    n_random=8,
    hint_text=(
        "Loop over the positions t of the sentence; for each, loop over the positions t - window "
        "… t + window that exist (not below 0, not past the end) and are not t itself. Keep the "
        "order: centre positions left to right, and for each centre its context positions left to "
        "right. A repeated word is a new position, so it gives its own pairs."
    ),
    wrong_answers=[
        # the centre word paired with itself (j = 0 not skipped)
        "def context_pairs(tokens, window):\n"
        "    return [(c, tokens[j]) for t, c in enumerate(tokens)\n"
        "            for j in range(max(0, t - window), min(len(tokens), t + window + 1))]\n",
        # only the words to the right
        "def context_pairs(tokens, window):\n"
        "    return [(c, tokens[j]) for t, c in enumerate(tokens)\n"
        "            for j in range(t + 1, min(len(tokens), t + window + 1))]\n",
        # an off-by-one window (distance < window instead of <= window)
        "def context_pairs(tokens, window):\n"
        "    return [(c, tokens[j]) for t, c in enumerate(tokens)\n"
        "            for j in range(max(0, t - window + 1), min(len(tokens), t + window))\n"
        "            if j != t]\n",
        # skips any context word equal to the centre word (by value, not by position)
        "def context_pairs(tokens, window):\n"
        "    return [(c, tokens[j]) for t, c in enumerate(tokens)\n"
        "            for j in range(max(0, t - window), min(len(tokens), t + window + 1))\n"
        "            if tokens[j] != c]\n",
    ],
)


# --------------------------------------------------------------------------- q3: the SGNS loss

_Q3_SOLUTION = '''\
import math


def sgns_loss_one(v_c, u_o, u_negs) -> float:
    """-log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c), with σ(x) = 1 / (1 + e^(-x))."""

    def dot(a, b):
        return sum(x * y for x, y in zip(a, b))

    def log_sigmoid(x):
        return -math.log1p(math.exp(-x))

    loss = -log_sigmoid(dot(u_o, v_c))
    for u_k in u_negs:
        loss -= log_sigmoid(-dot(u_k, v_c))
    return loss
'''


def _q3_inputs(rng: random.Random) -> tuple[tuple[float, ...], tuple[float, ...], tuple]:
    d, k = rng.randint(2, 6), rng.randint(0, 5)
    vecs = [tuple(rng.uniform(-0.7, 0.7) for _ in range(d)) for _ in range(k + 2)]
    return vecs[0], vecs[1], tuple(vecs[2:])


q3 = FunctionExercise(
    name="q3",
    answer_name="sgns_loss_one",
    solution_code=_Q3_SOLUTION,
    make_inputs=_q3_inputs,
    edge_cases=[
        ([0.0, 0.0], [1.0, 2.0], [[3.0, 4.0]]),  # all scores 0: 2 log 2
        ([1.0, 0.0], [1.0, 0.0], []),  # no negatives: -log σ(1)
        ([0.5, -0.5], [1.0, 1.0], [[2.0, -1.0], [-1.0, 0.5]]),
    ],
    n_random=8,
    rel_tol=1e-6,
    hint_text=(
        "Three pieces: σ(x) = 1 / (1 + e^(-x)); the score of a pair is a dot product; and the "
        "loss adds -log σ(score) for the true context word and -log σ(-score) (note the minus "
        "inside) for each noise word. With no noise words only the first term is left."
    ),
    wrong_answers=[
        # forgot the minus inside σ for the noise words
        "import math\n\n"
        "def sgns_loss_one(v_c, u_o, u_negs):\n"
        "    dot = lambda a, b: sum(x * y for x, y in zip(a, b))\n"
        "    s = lambda x: 1 / (1 + math.exp(-x))\n"
        "    return -math.log(s(dot(u_o, v_c))) - sum(math.log(s(dot(u, v_c))) for u in u_negs)\n",
        # only the positive term
        "import math\n\n"
        "def sgns_loss_one(v_c, u_o, u_negs):\n"
        "    x = sum(a * b for a, b in zip(u_o, v_c))\n"
        "    return math.log1p(math.exp(-x))\n",
        # σ instead of log σ (a probability, not a loss)
        "import math\n\n"
        "def sgns_loss_one(v_c, u_o, u_negs):\n"
        "    dot = lambda a, b: sum(x * y for x, y in zip(a, b))\n"
        "    s = lambda x: 1 / (1 + math.exp(-x))\n"
        "    return -s(dot(u_o, v_c)) - sum(s(-dot(u, v_c)) for u in u_negs)\n",
    ],
)


# --------------------------------------------------------------------------- q4: nearest neighbours

_Q4_SOLUTION = '''\
import math


def nearest(vectors, vocab, word: str, k: int) -> list[str]:
    """The k words whose vectors have the highest cosine similarity with word's (word excluded)."""
    q = vectors[vocab.index(word)]

    def cos(u, v):
        dot = sum(a * b for a, b in zip(u, v))
        return dot / (math.sqrt(sum(a * a for a in u)) * math.sqrt(sum(b * b for b in v)))

    scored = [(cos(q, v), w) for w, v in zip(vocab, vectors) if w != word]
    scored.sort(key=lambda sw: sw[0], reverse=True)
    return [w for _, w in scored[:k]]
'''


def _q4_inputs(rng: random.Random) -> tuple[tuple, tuple[str, ...], str, int]:
    n, d = rng.randint(4, 9), rng.randint(2, 5)
    vocab = tuple(rng.sample(_WORDS, n))
    vectors = tuple(_vector(rng, d) for _ in range(n))
    return vectors, vocab, rng.choice(vocab), rng.randint(1, n - 1)


_Q4_VOCAB = ["king", "queen", "man", "night"]
_Q4_VECTORS = [[10.0, 1.0], [0.9, 0.2], [1.0, 0.0], [-1.0, 3.0]]

q4 = FunctionExercise(
    name="q4",
    answer_name="nearest",
    solution_code=_Q4_SOLUTION,
    make_inputs=_q4_inputs,
    edge_cases=[
        (_Q4_VECTORS, _Q4_VOCAB, "man", 2),  # cosine, not dot product: queen before king
        (_Q4_VECTORS, _Q4_VOCAB, "night", 3),
        (_Q4_VECTORS, _Q4_VOCAB, "king", 1),
    ],
    n_random=8,
    hint_text=(
        "Find the row of `word`, compute its cosine similarity with every other word's vector "
        "(leave `word` itself out: it is always its own best match), sort from most to least "
        "similar and keep the first k words. Cosine, not the plain dot product: a long vector "
        "must not win just for being long."
    ),
    wrong_answers=[
        # the plain dot product: long vectors win
        "def nearest(vectors, vocab, word, k):\n"
        "    q = vectors[vocab.index(word)]\n"
        "    dot = lambda u, v: sum(a * b for a, b in zip(u, v))\n"
        "    others = [w for w in vocab if w != word]\n"
        "    others.sort(key=lambda w: dot(q, vectors[vocab.index(w)]), reverse=True)\n"
        "    return others[:k]\n",
        # the word itself is not excluded
        "import math\n\n"
        "def nearest(vectors, vocab, word, k):\n"
        "    q = vectors[vocab.index(word)]\n"
        "    cos = lambda u, v: sum(a * b for a, b in zip(u, v)) / (math.hypot(*u) * math.hypot(*v))\n"
        "    return sorted(vocab, key=lambda w: cos(q, vectors[vocab.index(w)]), reverse=True)[:k]\n",
        # least similar first
        "import math\n\n"
        "def nearest(vectors, vocab, word, k):\n"
        "    q = vectors[vocab.index(word)]\n"
        "    cos = lambda u, v: sum(a * b for a, b in zip(u, v)) / (math.hypot(*u) * math.hypot(*v))\n"
        "    others = [w for w in vocab if w != word]\n"
        "    return sorted(others, key=lambda w: cos(q, vectors[vocab.index(w)]))[:k]\n",
    ],
)
