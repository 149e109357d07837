"""Exercises for notebook 11 (pretrained encoders): ``from labkit.exercises import nb11 as ex``.

- ``q1`` (function): ``wordpiece(word, vocab)`` — WordPiece's greedy longest-match-first split.
- ``q2`` (function): ``sentence_embedding(hidden, mask)`` — mean pooling over the real tokens,
  then L2 normalisation.
- ``q3`` (function): ``top_k_cosine(query, rows, k)`` — semantic search: the ``k`` rows most
  similar to ``query`` by cosine similarity, most similar first.
- ``q4`` (function): ``bert_param_count(vocab_size, max_positions, type_vocab_size, d, n_layers,
  d_ff)`` — a BERT encoder's parameters (with the pooler) by formula.

Inputs and answers are plain Python values (str, lists, ints, floats).
"""

from __future__ import annotations

import random

from labkit.exercises.core import FunctionExercise

# --------------------------------------------------------------------------- q1: WordPiece

_Q1_SOLUTION = '''\
def wordpiece(word, vocab):
    """Greedy longest match first; continuation pieces carry '##'; no split: ['[UNK]']."""
    vocab = set(vocab)
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                break
            end -= 1
        if end == start:  # not even one character matched: the whole word is unknown
            return ["[UNK]"]
        pieces.append(piece)
        start = end
    return pieces
'''

_Q1_VOCAB = [
    "un",
    "unb",
    "b",
    "be",
    "bel",
    "##b",
    "##be",
    "##bel",
    "##e",
    "##el",
    "##i",
    "##ie",
    "##v",
    "##va",
    "##a",
    "##bly",
    "##l",
    "##y",
    "##ly",
    "a",
    "l",
]


def _q1_inputs(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    letters = "abc"
    vocab = set(rng.sample(letters, 2))  # the first letter of some words is unknown
    for _ in range(rng.randint(3, 10)):
        piece = "".join(rng.choice(letters) for _ in range(rng.randint(1, 3)))
        vocab.add(piece if rng.random() < 0.4 else "##" + piece)
    vocab.update("##" + c for c in letters if rng.random() < 0.8)
    word = "".join(rng.choice(letters) for _ in range(rng.randint(1, 7)))
    return word, tuple(sorted(vocab))  # tuples: hashable, so checks can be told apart


q1 = FunctionExercise(
    name="q1",
    answer_name="wordpiece",
    solution_code=_Q1_SOLUTION,
    make_inputs=_q1_inputs,
    edge_cases=[
        ("unbelievably", ["un", "##bel", "##ie", "##va", "##bly", "##b", "##e", "##l"]),
        ("unbelievably", _Q1_VOCAB),  # longest first: "unb" beats "un"
        ("bell", ["b", "be", "bel", "##l", "##ll", "##el"]),
        ("label", ["l", "la", "##b", "##be", "##el", "##bel"]),  # "la", then "##bel"
        ("bad", ["b", "ba", "##a", "a"]),  # no "##d": the whole word is [UNK]
        ("a", ["a"]),
        ("aa", ["a"]),  # a second "a" needs "##a": [UNK]
        ("xyz", ["x", "##y", "y", "##z"]),
    ],
    n_random=10,
    hint_text=(
        "Work left to right. At each start position try the longest remaining substring first "
        "and shorten it one character at a time until it is in the vocabulary; every piece after "
        "the first must be looked up with '##' in front. If at some position not even one "
        "character is in the vocabulary, the answer is ['[UNK]'] for the whole word (not only "
        "for that piece)."
    ),
    wrong_answers=[
        # shortest match first
        "def wordpiece(word, vocab):\n"
        "    vocab = set(vocab); pieces, start = [], 0\n"
        "    while start < len(word):\n"
        "        for end in range(start + 1, len(word) + 1):\n"
        "            piece = word[start:end] if start == 0 else '##' + word[start:end]\n"
        "            if piece in vocab:\n"
        "                break\n"
        "        else:\n"
        "            return ['[UNK]']\n"
        "        pieces.append(piece); start = end\n"
        "    return pieces\n",
        # continuation pieces looked up without '##'
        "def wordpiece(word, vocab):\n"
        "    vocab = set(vocab); pieces, start = [], 0\n"
        "    while start < len(word):\n"
        "        end = len(word)\n"
        "        while end > start and word[start:end] not in vocab:\n"
        "            end -= 1\n"
        "        if end == start:\n"
        "            return ['[UNK]']\n"
        "        pieces.append(word[start:end] if start == 0 else '##' + word[start:end])\n"
        "        start = end\n"
        "    return pieces\n",
        # an unknown piece becomes [UNK] but the pieces before it are kept
        "def wordpiece(word, vocab):\n"
        "    vocab = set(vocab); pieces, start = [], 0\n"
        "    while start < len(word):\n"
        "        end = len(word)\n"
        "        while end > start:\n"
        "            piece = word[start:end] if start == 0 else '##' + word[start:end]\n"
        "            if piece in vocab:\n"
        "                break\n"
        "            end -= 1\n"
        "        if end == start:\n"
        "            return pieces + ['[UNK]']\n"
        "        pieces.append(piece); start = end\n"
        "    return pieces\n",
    ],
)


# --------------------------------------------------------------------------- q2: pooling

_Q2_SOLUTION = '''\
import math


def sentence_embedding(hidden, mask):
    """Mean of the rows of hidden whose mask is 1, scaled to length 1."""
    d = len(hidden[0])
    n = sum(mask)
    mean = [sum(h[j] for h, m in zip(hidden, mask) if m) / n for j in range(d)]
    norm = math.sqrt(sum(v * v for v in mean))
    return [v / norm for v in mean]
'''


def _q2_inputs(rng: random.Random) -> tuple[tuple[tuple[float, ...], ...], tuple[int, ...]]:
    T, d = rng.randint(2, 7), rng.randint(2, 6)
    n = rng.randint(1, T - 1)  # at least one padding position
    hidden = [[rng.uniform(-3, 3) for _ in range(d)] for _ in range(T)]
    for t in range(n, T):  # padding vectors far from the real ones
        hidden[t] = [v + rng.choice([-20, 20]) for v in hidden[t]]
    return tuple(map(tuple, hidden)), (1,) * n + (0,) * (T - n)


q2 = FunctionExercise(
    name="q2",
    answer_name="sentence_embedding",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_inputs,
    edge_cases=[
        ([[3.0, 4.0]], [1]),  # one token: its own direction, [0.6, 0.8]
        ([[1.0, 0.0], [0.0, 1.0], [50.0, -50.0]], [1, 1, 0]),  # the padding must not count
        ([[2.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 9.0, 0.0]], [1, 1, 0]),  # norm before pooling?
        ([[1.0, 2.0], [3.0, 3.0], [-4.0, -4.0], [0.0, 0.0]], [1, 1, 1, 0]),
    ],
    n_random=8,
    rel_tol=1e-6,
    abs_tol=1e-9,
    hint_text=(
        "Two steps, in this order: (1) average the token vectors whose mask is 1 (sum them and "
        "divide by the number of real tokens, not by the padded length); (2) divide that mean "
        "vector by its Euclidean length sqrt(sum of squares), so it has length 1."
    ),
    wrong_answers=[
        # the padding counts
        "import math\n\n"
        "def sentence_embedding(hidden, mask):\n"
        "    d = len(hidden[0])\n"
        "    mean = [sum(h[j] for h in hidden) / len(hidden) for j in range(d)]\n"
        "    norm = math.sqrt(sum(v * v for v in mean))\n"
        "    return [v / norm for v in mean]\n",
        # no normalisation
        "def sentence_embedding(hidden, mask):\n"
        "    d = len(hidden[0]); n = sum(mask)\n"
        "    return [sum(h[j] for h, m in zip(hidden, mask) if m) / n for j in range(d)]\n",
        # each token normalised, then averaged (not of length 1, and weighted differently)
        "import math\n\n"
        "def sentence_embedding(hidden, mask):\n"
        "    rows = [h for h, m in zip(hidden, mask) if m]\n"
        "    rows = [[v / math.sqrt(sum(x * x for x in h)) for v in h] for h in rows]\n"
        "    return [sum(h[j] for h in rows) / len(rows) for j in range(len(rows[0]))]\n",
    ],
)


# --------------------------------------------------------------------------- q3: search

_Q3_SOLUTION = '''\
import math


def top_k_cosine(query, rows, k):
    """Indices of the k rows with the highest cosine similarity to query, best first."""
    def cosine(a, b):
        dot = sum(x * y for x, y in zip(a, b))
        return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))

    scores = [cosine(query, row) for row in rows]
    return sorted(range(len(rows)), key=lambda i: -scores[i])[:k]
'''


def _q3_inputs(
    rng: random.Random,
) -> tuple[tuple[float, ...], tuple[tuple[float, ...], ...], int]:
    d, n = rng.randint(2, 6), rng.randint(3, 12)
    query = [rng.uniform(-1, 1) for _ in range(d)]
    rows = [[rng.uniform(-1, 1) * rng.choice([0.1, 1.0, 10.0]) for _ in range(d)] for _ in range(n)]
    return tuple(query), tuple(map(tuple, rows)), rng.randint(1, n)


q3 = FunctionExercise(
    name="q3",
    answer_name="top_k_cosine",
    solution_code=_Q3_SOLUTION,
    make_inputs=_q3_inputs,
    edge_cases=[
        ([1.0, 0.0], [[0.0, 1.0], [1.0, 0.1], [-1.0, 0.0]], 1),
        ([1.0, 0.0], [[0.0, 1.0], [1.0, 0.1], [-1.0, 0.0]], 3),  # best first, worst last
        ([1.0, 1.0], [[10.0, 0.0], [0.5, 0.5], [3.0, 2.0]], 2),  # long rows do not win
        ([0.0, 2.0], [[0.0, 0.1], [5.0, 5.0], [0.0, -3.0], [1.0, 8.0]], 2),  # nor lie close
    ],
    n_random=8,
    hint_text=(
        "cos(q, r) = q·r / (|q| |r|): the dot product of the two vectors divided by both lengths, "
        "so a long row does not win just by being long (that is what a plain dot product would "
        "do), and it is an angle, not a distance. Compute one score per row and return the "
        "indices of the k largest, the largest first."
    ),
    wrong_answers=[
        # dot product: long rows win
        "def top_k_cosine(query, rows, k):\n"
        "    s = [sum(x * y for x, y in zip(query, r)) for r in rows]\n"
        "    return sorted(range(len(rows)), key=lambda i: -s[i])[:k]\n",
        # nearest by Euclidean distance
        "def top_k_cosine(query, rows, k):\n"
        "    s = [sum((x - y) ** 2 for x, y in zip(query, r)) for r in rows]\n"
        "    return sorted(range(len(rows)), key=lambda i: s[i])[:k]\n",
        # least similar first
        "import math\n\n"
        "def top_k_cosine(query, rows, k):\n"
        "    def cos(a, b):\n"
        "        return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))\n"
        "    s = [cos(query, r) for r in rows]\n"
        "    return sorted(range(len(rows)), key=lambda i: s[i])[-k:]\n",
    ],
)


# --------------------------------------------------------------------------- q4: parameters

_Q4_SOLUTION = '''\
def bert_param_count(vocab_size, max_positions, type_vocab_size, d, n_layers, d_ff):
    """A BERT encoder with its pooler: embeddings, L post-LN layers, the pooler."""
    embeddings = (vocab_size + max_positions + type_vocab_size) * d + 2 * d  # + LayerNorm
    attention = 4 * (d * d + d)  # W^Q, W^K, W^V, W^O with biases
    mlp = d * d_ff + d_ff + d_ff * d + d  # W1, b1, W2, b2
    layer = attention + mlp + 2 * (2 * d)  # two LayerNorms (gain and bias each)
    pooler = d * d + d
    return embeddings + n_layers * layer + pooler
'''


def _q4_inputs(rng: random.Random) -> tuple[int, int, int, int, int, int]:
    d = rng.randint(1, 64) * rng.choice([1, 4, 12])
    return (
        rng.randint(100, 60_000),
        rng.randint(8, 1024),
        rng.randint(1, 4),
        d,
        rng.randint(1, 24),
        d * rng.choice([2, 4]),
    )


q4 = FunctionExercise(
    name="q4",
    answer_name="bert_param_count",
    solution_code=_Q4_SOLUTION,
    make_inputs=_q4_inputs,
    edge_cases=[
        (30522, 512, 2, 384, 6, 1536),  # all-MiniLM-L6-v2: 22,713,216
        (30522, 512, 2, 768, 12, 3072),  # BERT-base: 109,482,240
        (10, 4, 1, 2, 1, 8),
    ],
    n_random=8,
    hint_text=(
        "Add up: three embedding tables (words, positions, token types), each d wide, and the "
        "embeddings' LayerNorm (2d); per layer four d×d attention projections with biases, the "
        "MLP's d×d_ff and d_ff×d matrices with biases, and two LayerNorms (2d each); finally the "
        "pooler, one d×d matrix with a bias. Check: all-MiniLM-L6-v2 has 22,713,216."
    ),
    wrong_answers=[
        # no pooler
        "def bert_param_count(vocab_size, max_positions, type_vocab_size, d, n_layers, d_ff):\n"
        "    emb = (vocab_size + max_positions + type_vocab_size) * d + 2 * d\n"
        "    layer = 4 * (d * d + d) + 2 * d * d_ff + d_ff + d + 4 * d\n"
        "    return emb + n_layers * layer\n",
        # no token-type embeddings
        "def bert_param_count(vocab_size, max_positions, type_vocab_size, d, n_layers, d_ff):\n"
        "    emb = (vocab_size + max_positions) * d + 2 * d\n"
        "    layer = 4 * (d * d + d) + 2 * d * d_ff + d_ff + d + 4 * d\n"
        "    return emb + n_layers * layer + d * d + d\n",
        # LayerNorms without biases (a gain only)
        "def bert_param_count(vocab_size, max_positions, type_vocab_size, d, n_layers, d_ff):\n"
        "    emb = (vocab_size + max_positions + type_vocab_size) * d + d\n"
        "    layer = 4 * (d * d + d) + 2 * d * d_ff + d_ff + d + 2 * d\n"
        "    return emb + n_layers * layer + d * d + d\n",
    ],
)
