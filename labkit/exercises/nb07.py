"""Exercises for notebook 07 (attention): ``from labkit.exercises import nb07 as ex``.

- ``q1`` (function): ``attention(q, k, v)`` — scaled dot-product attention
  ``softmax(q kᵀ / √d_k) v`` for 2-D tensors.
- ``q2`` (function): ``causal_weights(scores)`` — the attention weights of a decoder: the
  causal mask (``−∞`` above the diagonal), then a softmax along each row.
- ``q3`` (value): the number of parameters of one multi-head attention layer.
- ``q4`` (value): the variance of ``qᵀk`` before and after dividing by ``√d_k`` when the
  components of ``k`` do not have variance 1.

The function exercises pass float64 tensors to the learner's function and compare the tensor it
returns with the reference's, value by value (so shape and dtype kind count: a mask of floats is
not a mask of bools, and a weight of ``0.0`` is not ``NaN``).
"""

from __future__ import annotations

import random
from typing import Any

from labkit.exercises.core import ValueExercise
from labkit.exercises.tensors import TensorFunctionExercise, random_matrix


def _matrix(rng: random.Random, rows: int, cols: int, scale: float = 2.0) -> list[list[float]]:
    return random_matrix(rng, rows, cols, scale)


# --------------------------------------------------------------------------- q1

_Q1_SOLUTION = '''\
import math

import torch


def attention(q, k, v):
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
        ([[2.0, 2.0, 2.0, 2.0]], [[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]),
    ],
    n_random=6,
    hint_text=(
        "Four lines: d_k is the size of the last dimension of q; the scores are q @ k.T divided "
        "by the square root of d_k (shape T_q × T_k: one row per query); a softmax along the "
        "LAST dimension turns each row into weights that sum to 1; the output is weights @ v."
    ),
    wrong_answers=[
        # no scaling
        "import torch\n\ndef attention(q, k, v):\n"
        "    return torch.softmax(q @ k.T, dim=-1) @ v\n",
        # divided by d_k instead of its square root
        "import torch\n\ndef attention(q, k, v):\n"
        "    return torch.softmax(q @ k.T / q.shape[-1], dim=-1) @ v\n",
        # softmax down the columns (over the queries) instead of along each row
        "import math\nimport torch\n\ndef attention(q, k, v):\n"
        "    return torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=0) @ v\n",
        # returns the weights, not the weighted sum of the values
        "import math\nimport torch\n\ndef attention(q, k, v):\n"
        "    return torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)\n",
    ],
)

# --------------------------------------------------------------------------- q2

_Q2_SOLUTION = '''\
import torch


def causal_weights(scores):
    """Causal attention weights for a (T, T) matrix of (already scaled) scores."""
    T = scores.shape[-1]
    allowed = torch.ones(T, T, dtype=torch.bool).tril()  # query i may see keys j <= i
    masked = scores.masked_fill(~allowed, float("-inf"))  # exp(-inf) = 0
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
    hint_text=(
        "Build a (T, T) bool matrix that is True on and below the diagonal (`torch.tril` of a "
        "matrix of ones). Where it is False, replace the score by float('-inf') "
        "(`scores.masked_fill(~allowed, float('-inf'))`); only then take the softmax along each "
        "row. Setting the future scores to 0 is not enough: exp(0) = 1 is not 0."
    ),
    wrong_answers=[
        # masked scores set to 0: the future still gets weight exp(0)
        "import torch\n\ndef causal_weights(scores):\n"
        "    T = scores.shape[-1]\n"
        "    return torch.softmax(scores * torch.ones(T, T).tril(), dim=-1)\n",
        # softmax first, then zero the future: the rows no longer sum to 1
        "import torch\n\ndef causal_weights(scores):\n"
        "    T = scores.shape[-1]\n"
        "    return torch.softmax(scores, dim=-1) * torch.ones(T, T).tril()\n",
        # the mask upside down: each position sees the future, not the past
        "import torch\n\ndef causal_weights(scores):\n"
        "    T = scores.shape[-1]\n"
        "    allowed = torch.ones(T, T, dtype=torch.bool).triu()\n"
        "    return torch.softmax(scores.masked_fill(~allowed, float('-inf')), dim=-1)\n",
    ],
)

# --------------------------------------------------------------------------- q3


def _q3_given() -> dict[str, Any]:
    """The sizes the notebook's q3 cell defines."""
    return {"d_model": 512, "n_heads": 8}


q3 = ValueExercise(
    name="q3",
    answer_name="answer",
    solution_code=(
        "# W^Q, W^K, W^V and W^O: each d_model x d_model, each with a bias of d_model numbers\n"
        "answer = 4 * (d_model * d_model + d_model)\n"
    ),
    given=_q3_given,
    hint_text=(
        "Count the matrices first: W^Q, W^K, W^V (all heads side by side) and W^O. How big is "
        "each one when the h heads of width d_k = d_model / h are put side by side? Then add "
        "one bias vector per matrix. Does the result depend on n_heads?"
    ),
    wrong_answers=[
        "answer = 3 * (d_model * d_model + d_model)\n",  # forgot the output projection W^O
        "answer = 4 * d_model * d_model\n",  # forgot the biases
        "answer = n_heads * 4 * (d_model * d_model + d_model)\n",  # full-size matrices per head
    ],
)

# --------------------------------------------------------------------------- q4


def _q4_given() -> dict[str, Any]:
    """The names the notebook's q4 cell defines."""
    return {"d_k": 64, "var_q": 1.0, "var_k": 4.0}


q4 = ValueExercise(
    name="q4",
    answer_name="answer",
    solution_code=(
        "# Var(q_i k_i) = Var(q_i) Var(k_i) for independent, mean-0 q_i and k_i; d_k such terms\n"
        "var_dot = d_k * var_q * var_k\n"
        "answer = (var_dot, var_dot / d_k)  # dividing by sqrt(d_k) divides the variance by d_k\n"
    ),
    given=_q4_given,
    hint_text=(
        "Redo the notebook's derivation with Var(k_i) = 4 instead of 1: each term q_i k_i has "
        "variance Var(q_i)·Var(k_i), and the d_k terms are independent, so their variances add. "
        "Dividing a random variable by c divides its variance by c², so dividing by √d_k divides "
        "the variance by d_k. Answer with a tuple (unscaled variance, scaled variance)."
    ),
    wrong_answers=[
        "answer = (64.0, 1.0)\n",  # assumed unit variance for k
        "answer = (16.0, 2.0)\n",  # standard deviations, not variances
        "answer = (256.0, 256.0 / 8)\n",  # divided the variance by sqrt(d_k), not by d_k
    ],
)
