"""Exercises for notebook 07 (attention): ``from labkit.exercises import nb07 as ex``.

- ``q1`` (function, the formula re-type): ``attention(q, k, v)`` — scaled dot-product attention
  ``softmax(q kᵀ / √d_k) v`` for 2-D tensors.
- ``q2`` (function, find and fix the bug): ``causal_weights(scores)`` — a given version takes the
  softmax first and zeroes the future afterwards; fix it (mask with ``−∞`` before the softmax,
  or renormalise).
- ``q3`` (value, redo the derivation for a new case): the variance of ``q·k`` before and after
  dividing by ``√d_k`` when the components of ``k`` have variance 4.
- ``q4`` (predict, then run): reverse the order of the keys and values (together), with and
  without the causal mask: which outputs change?
- ``q5`` (explanation of q4, read by a person): attention sums over a set; the mask ties it to
  positions.

The function exercises pass float64 tensors to the learner's function and compare the tensor it
returns with the reference's, value by value (so shape and dtype kind count: a mask of floats is
not a mask of bools, and a weight of ``0.0`` is not ``NaN``).
"""

from __future__ import annotations

import random
from typing import Any

from labkit.exercises.core import ChoiceExercise, ExplainExercise, ValueExercise, WrongAnswer
from labkit.exercises.tensors import TensorFunctionExercise, random_matrix


def _matrix(rng: random.Random, rows: int, cols: int, scale: float = 2.0) -> list[list[float]]:
    return random_matrix(rng, rows, cols, scale)


# --------------------------------------------------------------------------- q1

_Q1_SOLUTION = '''\
import math

import torch


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / √d_k) v for q (T_q, d_k), k (T_k, d_k), v (T_k, d_v)."""
    d_k = q.shape[-1]
    scores = q @ k.T / math.sqrt(d_k)  # (T_q, T_k)
    weights = torch.softmax(scores, dim=-1)  # each row sums to 1
    return weights @ v  # (T_q, d_v)
'''


def _q1_inputs(rng: random.Random) -> tuple:
    t_q, t_k, d_k, d_v = rng.randint(1, 5), rng.randint(2, 5), rng.randint(2, 6), rng.randint(1, 4)
    return (_matrix(rng, t_q, d_k), _matrix(rng, t_k, d_k), _matrix(rng, t_k, d_v))


q1 = TensorFunctionExercise(
    name="q1",
    answer_name="attention",
    solution_code=_Q1_SOLUTION,
    make_inputs=_q1_inputs,
    edge_cases=[
        ([[1.0]], [[2.0]], [[3.0]]),  # one query, one key: the output is that key's value
        ([[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]], [[1.0], [0.0]]),  # d_k = 2: √2 matters
        (
            [[2.0, 2.0, 2.0, 2.0]],
            [[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]],
            [[1.0, 0.0], [0.0, 1.0]],
        ),
    ],
    n_random=6,
    points=1,
    hint_text=(
        "Four lines: d_k is the size of the last dimension of q; the scores are q @ k.T divided "
        "by the square root of d_k (shape T_q × T_k: one row per query); a softmax along the "
        "LAST dimension turns each row into weights that sum to 1; the output is weights @ v."
    ),
    wrong_answers=[
        WrongAnswer(
            "import torch\n\ndef attention(q, k, v):\n"
            "    return torch.softmax(q @ k.T, dim=-1) @ v\n",
            why="your scores are not scaled: divide q kᵀ by the square root of d_k before the "
            "softmax",
        ),
        WrongAnswer(
            "import torch\n\ndef attention(q, k, v):\n"
            "    return torch.softmax(q @ k.T / q.shape[-1], dim=-1) @ v\n",
            why="you divided the scores by d_k itself: the scaling is by its square root, which "
            "keeps their variance at 1",
        ),
        WrongAnswer(
            "import math\nimport torch\n\ndef attention(q, k, v):\n"
            "    return torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=0) @ v\n",
            why="your softmax runs down the columns, over the queries: each query's row of "
            "scores must become weights that sum to 1 (the last dimension)",
        ),
        WrongAnswer(
            "import math\nimport torch\n\ndef attention(q, k, v):\n"
            "    return torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)\n",
            why="you returned the attention weights: the output is their weighted sum of the "
            "values, weights @ v",
        ),
    ],
)

# --------------------------------------------------------------------------- q2

_Q2_SOLUTION = '''\
import torch


def causal_weights(scores: torch.Tensor) -> torch.Tensor:
    """Causal attention weights of (T, T) scores: exactly 0 above the diagonal, rows summing to 1."""
    T = scores.shape[-1]
    allowed = torch.ones(T, T, dtype=torch.bool).tril()  # query i may see keys j <= i
    masked = scores.masked_fill(~allowed, float("-inf"))  # mask BEFORE the softmax: exp(-inf) = 0
    return torch.softmax(masked, dim=-1)
'''


def _q2_inputs(rng: random.Random) -> tuple:
    T = rng.randint(2, 7)
    return (_matrix(rng, T, T),)


q2 = TensorFunctionExercise(
    name="q2",
    answer_name="causal_weights",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_inputs,
    edge_cases=[
        ([[5.0]],),  # one position: it can only see itself
        ([[0.0, 0.0], [0.0, 0.0]],),  # row 0 sees one key, row 1 sees two: 1 | 0.5 0.5
        ([[1.0, 9.0, 9.0], [2.0, 1.0, 9.0], [3.0, 2.0, 1.0]],),  # large future scores must vanish
    ],
    n_random=6,
    points=2,
    hint_text=(
        "Run the given function on torch.zeros(3, 3) and add up each row: a row of weights "
        "must sum to 1. The softmax normalises over every key it is given, so the future must be "
        "gone BEFORE it runs: replace the future scores by float('-inf') (`masked_fill` with the "
        "complement of a lower-triangular bool matrix), then take the softmax along each row."
    ),
    wrong_answers=[
        WrongAnswer(
            "import torch\n\ndef causal_weights(scores):\n"
            "    T = scores.shape[-1]\n"
            "    weights = torch.softmax(scores, dim=-1)\n"
            "    return weights * torch.ones(T, T).tril()\n",
            why="this is still the given function: the softmax shared each row's weight among "
            "all keys, the future ones included, so after zeroing them the rows sum to less "
            "than 1",
        ),
        WrongAnswer(
            "import torch\n\ndef causal_weights(scores):\n"
            "    T = scores.shape[-1]\n"
            "    return torch.softmax(scores * torch.ones(T, T).tril(), dim=-1)\n",
            why="you set the future scores to 0, and exp(0) = 1: a masked score must be −∞ so "
            "that its weight is exactly 0",
        ),
        WrongAnswer(
            "import torch\n\ndef causal_weights(scores):\n"
            "    T = scores.shape[-1]\n"
            "    allowed = torch.ones(T, T, dtype=torch.bool).triu()\n"
            "    return torch.softmax(scores.masked_fill(~allowed, float('-inf')), dim=-1)\n",
            why="your mask is upside down: query i may see the keys j <= i, which sit on and "
            "below the diagonal (tril), not above it",
        ),
    ],
)

# --------------------------------------------------------------------------- q3


def _q3_given() -> dict[str, Any]:
    """The names the notebook's q3 cell defines."""
    return {"d_k": 64, "var_q": 1.0, "var_k": 4.0}


q3 = ValueExercise(
    name="q3",
    answer_name="answer",
    solution_code=(
        "# Var(q_i k_i) = Var(q_i) Var(k_i) for independent, mean-0 q_i and k_i; d_k such terms\n"
        "var_dot = d_k * var_q * var_k\n"
        "answer = (var_dot, var_dot / d_k)  # dividing by sqrt(d_k) divides the variance by d_k\n"
    ),
    given=_q3_given,
    points=2,
    hint_text=(
        "Redo the derivation of section 3 with Var(k_i) = 4 instead of 1: each term q_i k_i has "
        "variance Var(q_i)·Var(k_i), and the d_k terms are independent, so their variances add. "
        "Dividing a random variable by c divides its variance by c², so dividing by √d_k divides "
        "the variance by d_k. Answer with a tuple (unscaled variance, scaled variance)."
    ),
    wrong_answers=[
        WrongAnswer(
            "answer = (64.0, 1.0)\n",
            why="those are the numbers of section 3, for keys of variance 1: each term q_i k_i "
            "now has variance Var(q_i)·Var(k_i)",
        ),
        WrongAnswer(
            "answer = (16.0, 2.0)\n",
            why="those are standard deviations: the question asks for variances, the squares",
        ),
        WrongAnswer(
            "answer = (256.0, 32.0)\n",
            why="you divided the variance by √d_k: dividing a variable by c divides its variance "
            "by c², so dividing by √d_k divides the variance by d_k",
        ),
    ],
)

# --------------------------------------------------------------------------- q4, q5

# The experiment (the notebook's run cell): random q, k, v (6 positions, d = 8, standard normal,
# labkit.generator(3)); the keys and values reversed together, the queries kept. Measured with
# LABKIT_SEED_OFFSET=0..9 (the run cell does not depend on FAST): without a mask the largest
# change of any output was 6e-8 to 2.4e-7 (float rounding); with the causal mask, outputs 0 to 4
# changed by 0.16 to 3.7 (their largest entry; output 4, which lost one pair, changed least) and
# output 5 by exactly 0. Over 3,000 seeds the smallest change of outputs 0 to 4 was 0.0054.
q4 = ChoiceExercise(
    name="q4",
    answer_name="prediction_q4",
    solution_code='prediction_q4 = "b"\n',
    options={
        "a": "no output changes, with or without the mask: attention ignores order",
        "b": "without a mask no output changes; with the causal mask every output changes except "
        "the last one",
        "c": "without a mask no output changes; with the causal mask every output changes",
        "d": "with or without the mask, the outputs come out reversed in the same way",
    },
    points=1,
    hint_text=(
        "Write output i as Σ_j a_ij v_j with a_ij = softmax_j(q_i·k_j/√d_k). Does that sum care in "
        "which order the pairs (k_j, v_j) are listed? With the causal mask, query i sees only "
        "the pairs at positions 0 to i: which pairs are those after the reversal, and for which "
        "i is that the same set as before?"
    ),
    wrong_answers=[
        WrongAnswer(
            'prediction_q4 = "a"\n',
            why="the causal mask is defined by positions: after the reversal, position j holds "
            "another key and value, so a query that may see only positions 0 to i sees other pairs",
        ),
        WrongAnswer(
            'prediction_q4 = "c"\n',
            why="look at the last query: the causal mask lets it see every position, so it sees "
            "the same set of keys and values as before, only listed in another order",
        ),
        WrongAnswer(
            'prediction_q4 = "d"\n',
            why="only the keys and values were reversed, not the queries: output i is still "
            "computed for query i, and it is a sum over the keys, whose order does not matter",
        ),
    ],
)

q5 = ExplainExercise(
    name="q5",
    prompt=(
        "Explain the two halves of the table: why reversing the keys and values changed no "
        "output without a mask, why the causal mask changed the outputs, and why the last "
        "output did not change."
    ),
    model_answer=(
        "Output i is Σ_j softmax_j(q_i·k_j/√d_k) v_j: a weighted sum over the set of (key, value) "
        "pairs, and each weight depends only on its own pair and the normaliser, a sum over all "
        "pairs, so listing the pairs in another order gives the same sum (up to rounding). The "
        "causal mask lets query i see only positions 0 to i; after the reversal those positions "
        "hold other pairs (the last i + 1 of the original), so its output changes. The last query "
        "may see every position, hence the same set of pairs as before, and its output stays. "
        "Attention itself knows nothing of order: order enters through the mask or through "
        "position information added to the inputs (notebook 08)."
    ),
    rubric=(
        "1 point: without a mask each output is a (softmax-weighted) sum over all key–value "
        "pairs, which does not depend on their order. 1 point: the causal mask selects keys by "
        "position, so the reversal changes which pairs queries 0 to 4 see, while the last query "
        "still sees all of them."
    ),
    points=2,
)
