"""Exercises for notebook 11 (pretrained encoders): ``from labkit.exercises import nb11 as ex``.

- ``q1`` (function): ``wordpiece(word, vocab)``, WordPiece's greedy longest-match-first split.
  **The formula re-type** of this notebook (section 3 describes the rule and shows examples).
- ``q2`` (function, find and fix the bugs): ``sentence_embeddings(hidden, mask)`` for a padded
  batch; the given version counts the padding and scales over the wrong axis.
- ``q3`` (choice, predict then run): a short sentence padded beside a long one, encoded with the
  real attention mask and with a mask of ones (the pooling left as it should be): what happens to
  its embedding?
- ``q4`` (explanation): why the mask of ones moved the embeddings although the pooling leaves the
  padding out, and why the real mask keeps them.

q1 and q2 take plain Python values (q2's lists become float64 / int64 tensors before the call).
The experiment of q3 runs MiniLM with its pretrained weights and draws one thing at random: the
long passage (two speeches of section 6, of 25 words or more each) that the ten sentences of
section 5 are padded beside (``random.Random(labkit.seed_value(11))``). Measured over seed offsets
0-9 on both the fast-mode (300) and the full-mode (2,000) pool of speeches: with the real mask
every sentence keeps its embedding, |1 - cos| <= 1.2e-7 against its embedding alone (float32
rounding); with a mask of ones every sentence is moved, cosines 0.598-0.819 (option (b) says below
0.95) with 47-87 [PAD] tokens. Only the amount of padding matters, not the words of the passage:
with a single speech the cosines reached 0.927, too close to the bound, hence two.
"""

from __future__ import annotations

import random

from labkit.exercises.core import ChoiceExercise, ExplainExercise, FunctionExercise, WrongAnswer
from labkit.exercises.tensors import TensorFunctionExercise

# --------------------------------------------------------------------------- q1: WordPiece

_Q1_SOLUTION = '''\
def wordpiece(word: str, vocab: list[str]) -> list[str]:
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
        WrongAnswer(
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
            why="you take the shortest piece that is in the vocabulary; WordPiece tries the "
            "longest remaining substring first and shortens it until it matches",
        ),
        WrongAnswer(
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
            why="you look a continuation piece up without its '##' and add the '##' only "
            "afterwards; inside a word the vocabulary entry to find is the one with '##' in front",
        ),
        WrongAnswer(
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
            why="when a position cannot be matched you keep the pieces found before it; "
            "WordPiece then gives up on the whole word, which becomes the single token [UNK]",
        ),
    ],
    points=2,
)


# --------------------------------------------------------------------------- q2: fix the pooling

_Q2_SOLUTION = '''\
import torch


def sentence_embeddings(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T, d) hidden states, (B, T) mask (1 = token, 0 = padding) -> (B, d) unit vectors:
    the mean of each sentence's real tokens, scaled to length 1."""
    m = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    v = (hidden * m).sum(dim=1) / m.sum(dim=1)  # the padding does not count
    return v / v.norm(dim=1, keepdim=True)  # each sentence's vector to length 1
'''


def _q2_inputs(rng: random.Random) -> tuple[list[list[list[float]]], list[list[int]]]:
    b, t, d = rng.randint(2, 3), rng.randint(3, 6), rng.randint(2, 5)
    hidden, mask = [], []
    for row in range(b):
        n = t if row == 0 else rng.randint(1, t - 1)  # the first sentence is the longest
        vectors = [[round(rng.uniform(-3, 3), 3) for _ in range(d)] for _ in range(t)]
        for pos in range(n, t):  # padding vectors far from the real ones
            vectors[pos] = [v + rng.choice([-20.0, 20.0]) for v in vectors[pos]]
        hidden.append(vectors)
        mask.append([1] * n + [0] * (t - n))
    return hidden, mask


q2 = TensorFunctionExercise(
    name="q2",
    answer_name="sentence_embeddings",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_inputs,
    edge_cases=[
        ([[[3.0, 4.0]]], [[1]]),  # one sentence, one token: its own direction
        ([[[1.0, 0.0], [0.0, 1.0], [50.0, -50.0]]], [[1, 1, 0]]),  # the padding must not count
        (
            [[[2.0, 0.0, 1.0], [0.0, 2.0, 1.0]], [[1.0, 1.0, 1.0], [-9.0, 9.0, 9.0]]],
            [[1, 1], [1, 0]],
        ),
    ],
    n_random=8,
    rel_tol=1e-6,
    abs_tol=1e-9,
    hint_text=(
        "Two questions about the given code. Which positions does `hidden.mean(dim=1)` average "
        "over, and which should count? And `F.normalize(v, dim=0)` divides by the length of "
        "what: of one sentence's vector (a row of v, shape (B, d)), or of one coordinate across "
        "the batch? "
        "Test it on a batch with one padded sentence: the result should not change when you add "
        "more padding, and every row should have length 1."
    ),
    wrong_answers=[
        WrongAnswer(
            "import torch.nn.functional as F\n\n"
            "def sentence_embeddings(hidden, mask):\n"
            "    v = hidden.mean(dim=1)\n"
            "    return F.normalize(v, dim=0)\n",
            why="this is the given function, with both of its bugs: the padding vectors are in "
            "the mean, and the length is measured across the sentences of the batch",
        ),
        WrongAnswer(
            "def sentence_embeddings(hidden, mask):\n"
            "    m = mask.unsqueeze(-1).to(hidden.dtype)\n"
            "    v = (hidden * m).sum(dim=1) / m.sum(dim=1)\n"
            "    return v / v.norm(dim=0, keepdim=True)\n",
            why="the mean now leaves the padding out, but you still scale along dim 0, each "
            "coordinate across the sentences of the batch: your rows do not have length 1",
        ),
        WrongAnswer(
            "def sentence_embeddings(hidden, mask):\n"
            "    v = hidden.mean(dim=1)\n"
            "    return v / v.norm(dim=1, keepdim=True)\n",
            why="each row now has length 1, but the mean still runs over every position, so the "
            "[PAD] vectors pull a padded sentence's embedding away from its own",
        ),
        WrongAnswer(
            "def sentence_embeddings(hidden, mask):\n"
            "    m = mask.unsqueeze(-1).to(hidden.dtype)\n"
            "    unit = hidden / hidden.norm(dim=-1, keepdim=True)\n"
            "    return (unit * m).sum(dim=1) / m.sum(dim=1)\n",
            why="you scaled each token to length 1 before averaging: the mean of unit vectors is "
            "shorter than 1 and weighs the tokens differently; scale the mean, not the tokens",
        ),
    ],
    points=2,
)


# --------------------------------------------------------------------------- q3, q4: an experiment

q3 = ChoiceExercise(
    name="q3",
    answer_name="prediction_q3",
    solution_code='prediction_q3 = "b"\n',
    options={
        "a": "Both runs give every sentence the embedding it gets alone: the pooling leaves the "
        "[PAD] positions out anyway.",
        "b": "With the real mask every sentence keeps its embedding (cosine 1.000 with the "
        "one it gets alone); with the mask of ones every padded sentence's embedding changes "
        "clearly (cosine below 0.95).",
        "c": "Both runs change the padded sentences' embeddings clearly: a sentence encoded "
        "beside a longer one can never get the vector it gets alone.",
        "d": "With the mask of ones the embeddings change, but only slightly (cosine above "
        "0.99): a [PAD] token carries no meaning, so attending to it adds almost nothing.",
    },
    hint_text=(
        "The pooling uses the real mask in both runs, so it only ever averages the real tokens' "
        "vectors. Ask what those vectors are computed from: in each of the 6 layers, which "
        "positions may a real token attend to when the attention mask is all ones?"
    ),
    wrong_answers=[
        WrongAnswer(
            'prediction_q3 = "a"\n',
            why="the pooling does leave the [PAD] vectors out of the mean, but the vectors it "
            "averages come out of 6 layers of attention, and the attention mask decides whether "
            "the [PAD] positions were mixed into them",
        ),
        WrongAnswer(
            'prediction_q3 = "c"\n',
            why="with the real mask every [PAD] key gets weight exactly 0 in every softmax, so "
            "each real token is computed from the same numbers as when the sentence is alone",
        ),
        WrongAnswer(
            'prediction_q3 = "d"\n',
            why="a [PAD] token still has an embedding (its word vector plus a position vector), "
            "and a short sentence padded beside a long one has many [PAD] positions: with a mask "
            "of ones they take a large share of every softmax",
        ),
    ],
    points=1,
)

q4 = ExplainExercise(
    name="q4",
    prompt=(
        "Explain what you saw: what did each of the two attention masks do to the embeddings of "
        "the padded sentences, and why, given that the pooling left the [PAD] positions out both "
        "times?"
    ),
    model_answer=(
        "The pooling only leaves the [PAD] vectors themselves out of the mean; the real tokens' "
        "vectors come out of 6 layers of attention. With a mask of ones every real token attends "
        "to the [PAD] positions too (each is a word embedding plus a position embedding, not "
        "zeros), so in every layer part of the softmax weight goes to them and their values are "
        "mixed into the real tokens' vectors; a short sentence has many [PAD] positions, so they "
        "take a large share and the embedding moves far. With the real mask the [PAD] keys get weight "
        "exactly 0, so each real token is computed from the same numbers as when the sentence is "
        "alone, equal up to float rounding. Padding must be masked twice: as keys in the "
        "attention (inside the model) and in the pooling (outside it)."
    ),
    rubric=(
        "1 point: the mask of ones lets the real tokens attend to the [PAD] positions in every "
        "layer, so their vectors (which the pooling does average) change. 1 point: with the real "
        "mask the [PAD] keys get weight 0, so the "
        "computation for the real tokens is exactly the one done alone (rounding aside)."
    ),
    hint_text=(
        "Follow one real token through one layer: with the mask of ones, which positions does "
        "its softmax spread weight over, and what do those positions hold?"
    ),
    points=2,
)
