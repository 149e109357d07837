"""Exercises for notebook 03 (embeddings): ``from labkit.exercises import nb03 as ex``.

- ``q1`` (function, the notebook's one formula re-type): ``sgns_loss_one(v_c, u_o, u_negs)`` —
  the negative-sampling loss of one (centre, context) pair (section 3.2).
- ``q2`` (value, predict a number): how many skip-gram pairs one epoch over a million words
  gives with a fixed window of 5, and how many (on average) with word2vec's dynamic window.
- ``q3`` (choice, predict then run): train the same word2vec twice with two seeds: what happens
  to a word's vector, and to the similarities between words? The notebook then runs it.
- ``q4`` (explanation): why the vectors differ and the similarities agree.

The course's only exercise on cosine similarity and neighbours is ``q3`` (notebook 03 owns the
topic). Inputs and answers are plain Python values: a vector is a tuple of floats, an answer a
``float``, a ``dict`` or a letter.
"""

from __future__ import annotations

import random
from typing import Any

from labkit.exercises.core import (
    ChoiceExercise,
    ExplainExercise,
    FunctionExercise,
    ValueExercise,
    WrongAnswer,
)

# --------------------------------------------------------------------------- q1: the SGNS loss

_Q1_SOLUTION = '''\
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


def _q1_inputs(rng: random.Random) -> tuple[tuple[float, ...], tuple[float, ...], tuple]:
    d, k = rng.randint(2, 6), rng.randint(0, 5)
    vecs = [tuple(rng.uniform(-0.7, 0.7) for _ in range(d)) for _ in range(k + 2)]
    return vecs[0], vecs[1], tuple(vecs[2:])


q1 = FunctionExercise(
    name="q1",
    answer_name="sgns_loss_one",
    solution_code=_Q1_SOLUTION,
    make_inputs=_q1_inputs,
    edge_cases=[
        ([0.0, 0.0], [1.0, 2.0], [[3.0, 4.0]]),  # all scores 0: 2 log 2
        ([1.0, 0.0], [1.0, 0.0], []),  # no negatives: -log σ(1)
        ([0.5, -0.5], [1.0, 1.0], [[2.0, -1.0], [-1.0, 0.5]]),
    ],
    n_random=8,
    rel_tol=1e-6,
    points=2,
    hint_text=(
        "Three pieces: σ(x) = 1 / (1 + e^(-x)); the score of a pair is a dot product; and the "
        "loss adds -log σ(score) for the true context word and -log σ(-score) (note the minus "
        "inside) for each noise word. With no noise words only the first term is left."
    ),
    wrong_answers=[
        WrongAnswer(
            "import math\n\n"
            "def sgns_loss_one(v_c, u_o, u_negs):\n"
            "    dot = lambda a, b: sum(x * y for x, y in zip(a, b))\n"
            "    s = lambda x: 1 / (1 + math.exp(-x))\n"
            "    return -math.log(s(dot(u_o, v_c))) - sum(math.log(s(dot(u, v_c))) for u in u_negs)\n",
            why=(
                "your noise words are scored like real context words: the model should answer "
                "\"no\" for them, so each noise term is −log σ(−u_k·v_c), with a minus inside σ"
            ),
        ),
        WrongAnswer(
            "import math\n\n"
            "def sgns_loss_one(v_c, u_o, u_negs):\n"
            "    x = sum(a * b for a, b in zip(u_o, v_c))\n"
            "    return math.log1p(math.exp(-x))\n",
            why=(
                "you left out the noise words: add one term −log σ(−u_k·v_c) for each vector "
                "u_k in u_negs"
            ),
        ),
        WrongAnswer(
            "import math\n\n"
            "def sgns_loss_one(v_c, u_o, u_negs):\n"
            "    dot = lambda a, b: sum(x * y for x, y in zip(a, b))\n"
            "    s = lambda x: 1 / (1 + math.exp(-x))\n"
            "    return -s(dot(u_o, v_c)) - sum(s(-dot(u, v_c)) for u in u_negs)\n",
            why=(
                "you added the probabilities σ(·) themselves: each term of the loss is the "
                "negative *log* of a probability, −log σ(·)"
            ),
        ),
        WrongAnswer(
            "import math\n\n"
            "def sgns_loss_one(v_c, u_o, u_negs):\n"
            "    dot = lambda a, b: sum(x * y for x, y in zip(a, b))\n"
            "    ls = lambda x: -math.log1p(math.exp(-x))\n"
            "    return ls(dot(u_o, v_c)) + sum(ls(-dot(u, v_c)) for u in u_negs)\n",
            why=(
                "your loss is negative: you computed the log-likelihood itself; the loss is its "
                "negative, so every term −log σ(·) is ≥ 0"
            ),
        ),
    ],
)


# --------------------------------------------------------------------------- q2: pairs per epoch


def _q2_given() -> dict[str, Any]:
    """The names the notebook's q2 cell defines: the text's length and the window."""
    return {"n_words": 1_000_000, "window": 5}


q2 = ValueExercise(
    name="q2",
    answer_name="pairs",
    solution_code="""\
# fixed: `window` context words on each side of every centre (a few fewer at the two ends)
fixed = 2 * window * n_words
# dynamic: b_t is uniform on 1, ..., window, so each side has (window + 1) / 2 words on average
dynamic = 2 * (window + 1) / 2 * n_words
pairs = {"fixed": float(fixed), "dynamic": dynamic}
""",
    given=_q2_given,
    rel_tol=1e-3,  # the two ends of the text change the counts by a few dozen pairs in millions
    points=2,
    hint_text=(
        "Count the pairs of one centre word in the middle of the text: how many context words "
        "does the window reach on each side? With the dynamic window, the width b_t takes each "
        "value 1, 2, ..., window with the same probability: what is its mean? The ends of the "
        "text change the totals by a few dozen pairs out of millions: ignore them."
    ),
    wrong_answers=[
        WrongAnswer(
            'pairs = {"fixed": 5_000_000, "dynamic": 3_000_000}\n',
            why=(
                "you counted the context words on one side of each centre only: the window "
                "reaches `window` words to the left and as many to the right"
            ),
        ),
        WrongAnswer(
            'pairs = {"fixed": 11_000_000, "dynamic": 7_000_000}\n',
            why=(
                "you counted the centre word as one of its own context words: a pair needs "
                "1 ≤ |j| ≤ b, so j = 0 is left out"
            ),
        ),
        WrongAnswer(
            'pairs = {"fixed": 10_000_000, "dynamic": 10_000_000}\n',
            why=(
                "your dynamic count equals the fixed one: the dynamic width b_t is drawn anew "
                "for each centre between 1 and the window, so it is usually narrower"
            ),
        ),
        WrongAnswer(
            'pairs = {"fixed": 10_000_000, "dynamic": 5_000_000}\n',
            why=(
                "for the dynamic window you took the mean width to be half the window: b_t is "
                "uniform on 1, 2, ..., window (never 0), so average those values"
            ),
        ),
    ],
)


# --------------------------------------------------------------------------- q3: another seed

# Measured with the notebook's run cell (Romeo and Juliet, 3 epochs, d = 64, batch 2,048,
# lr 0.06; the cell does not depend on fast mode), seeds 0/1 + LABKIT_SEED_OFFSET for 0..9, over
# the 200 most frequent words: mean cosine of a word's vectors in the two runs -0.055 to +0.044;
# correlation of the 19,900 pairwise cosines of run A with those of run B 0.508 to 0.541.
q3 = ChoiceExercise(
    name="q3",
    answer_name="prediction_q3",
    solution_code='prediction_q3 = "c"\n',
    options={
        "a": "Nothing changes: the same text and settings give the same vectors, number for number.",
        "b": "Each word's vector moves a little: its cosine with its vector from the first run "
        "stays above 0.8, and the similarities between words agree.",
        "c": "Each word's vector points in an unrelated direction (cosine with its first-run "
        "vector near 0), yet the similarities between words clearly agree across the two runs.",
        "d": "Everything changes: the vectors and the similarities between words are unrelated "
        "across the two runs, so word2vec learns nothing stable on this text.",
    },
    hint_text=(
        "The seed sets the random starting vectors and the random draws (subsampling, window "
        "widths, noise words). The loss sees the vectors only through dot products u·v: which "
        "changes of all the vectors together leave every dot product as it was?"
    ),
    wrong_answers=[
        WrongAnswer(
            'prediction_q3 = "a"\n',
            why=(
                "the text is the same, but the seed also sets the starting vectors and every "
                "random draw of training (subsampling, window widths, noise words)"
            ),
        ),
        WrongAnswer(
            'prediction_q3 = "b"\n',
            why=(
                "that would need the coordinates themselves to be fixed by the text; the loss "
                "sees only dot products, and those do not change when all the vectors are "
                "turned together"
            ),
        ),
        WrongAnswer(
            'prediction_q3 = "d"\n',
            why=(
                "both runs learn from the same co-occurrences, and a cosine between two words "
                "does not depend on how the whole set of vectors is oriented"
            ),
        ),
    ],
    points=1,
)

q4 = ExplainExercise(
    name="q4",
    prompt=(
        "Explain why a word's vectors from two seeds are unrelated while the similarities between "
        "words agree, and why the agreement is clear but not perfect. What does this mean for "
        "comparing two embeddings?"
    ),
    model_answer=(
        "The SGNS loss depends on the vectors only through dot products u·v, and turning every "
        "centre and context vector by the same rotation Q leaves every dot product, hence the "
        "loss, unchanged; so the text fixes the vectors only up to a rotation, and the random "
        "start chosen by the seed decides which one training ends in. Cosines between words "
        "within one run do not change under a rotation and come from the text's co-occurrences, "
        "so they agree across runs; they agree only partly because each run sees different "
        "random draws (subsampling, window widths, noise words) on a small text, which adds "
        "noise. So compare embeddings through their similarities or "
        "neighbours (or after aligning them with the best rotation, orthogonal Procrustes), never "
        "coordinate by coordinate."
    ),
    rubric=(
        "1 point: the loss sees only dot products, which a common rotation keeps, so the "
        "orientation is arbitrary and set by the random start. 1 point: within-run cosines are "
        "rotation-invariant and set by the text, the rest of the disagreement is sampling noise "
        "on a small corpus, with the consequence (compare similarities or align first)."
    ),
    hint_text=(
        "Take any orthogonal matrix Q and replace every v by vQ and every u by uQ: what happens "
        "to u·v, to the loss, and to the cosine of two words?"
    ),
    points=2,
)
