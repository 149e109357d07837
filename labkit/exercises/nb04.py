"""Exercises for notebook 04 (recurrent networks): ``from labkit.exercises import nb04 as ex``.

- ``q1`` (function): ``rnn_step(x, h, W_xh, W_hh, b)`` — one step of an Elman RNN,
  ``tanh(W_xh x + W_hh h + b)``, for 1-D ``x``, ``h`` and ``b``.
- ``q2`` (function): ``clip_by_norm(g, c)`` — gradient clipping, ``g · min(1, c / ‖g‖)``.
- ``q3`` (value): the gradient factor ``∂h_k/∂h_0`` of a scalar RNN after ``k`` steps, for a
  weight below and above 1.
- ``q4`` (value): the number of parameters of one ``torch.nn.RNN`` layer.

The function exercises pass float64 tensors to the learner's function and compare the tensor it
returns with the reference's, value by value.
"""

from __future__ import annotations

import random
from typing import Any

from labkit.exercises.core import ValueExercise
from labkit.exercises.tensors import TensorFunctionExercise


def _matrix(rng: random.Random, rows: int, cols: int, scale: float = 1.0) -> list[list[float]]:
    return [[round(rng.gauss(0.0, scale), 3) for _ in range(cols)] for _ in range(rows)]


def _vector(rng: random.Random, n: int, scale: float = 1.0) -> list[float]:
    return [round(rng.gauss(0.0, scale), 3) for _ in range(n)]


# --------------------------------------------------------------------------- q1

_Q1_SOLUTION = '''\
import torch


def rnn_step(x, h, W_xh, W_hh, b):
    """One Elman RNN step: h_new = tanh(W_xh x + W_hh h + b)."""
    return torch.tanh(W_xh @ x + W_hh @ h + b)
'''


def _q1_inputs(rng: random.Random) -> tuple:
    n_in, n_hidden = rng.randint(1, 5), rng.randint(1, 5)
    return (
        _vector(rng, n_in),
        _vector(rng, n_hidden),
        _matrix(rng, n_hidden, n_in),
        _matrix(rng, n_hidden, n_hidden),
        _vector(rng, n_hidden),
    )


q1 = TensorFunctionExercise(
    name="q1",
    answer_name="rnn_step",
    solution_code=_Q1_SOLUTION,
    make_inputs=_q1_inputs,
    edge_cases=[
        ([1.0], [0.0], [[0.5]], [[2.0]], [0.0]),  # h = 0: only the input counts, tanh(0.5)
        ([0.0], [1.0], [[1.0]], [[-2.0]], [0.5]),  # negative pre-activation: tanh(−1.5)
        # two hidden units, three inputs: W_xh is (2, 3), so W_xh @ x works and x @ W_xh does not
        ([1.0, 0.0, -1.0], [0.5, -0.5], [[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]],
         [[0.0, 1.0], [1.0, 0.0]], [0.1, -0.1]),
    ],
    n_random=6,
    hint_text=(
        "Three terms go inside one tanh: the input's part W_xh @ x (a vector with one entry per "
        "hidden unit), the recurrent part W_hh @ h, and the bias b. Add them, then apply "
        "torch.tanh elementwise. Check the shapes: W_xh is (hidden, input), x is (input,)."
    ),
    wrong_answers=[
        # no nonlinearity: a linear recurrence
        "def rnn_step(x, h, W_xh, W_hh, b):\n    return W_xh @ x + W_hh @ h + b\n",
        # forgot the recurrent part: a feed-forward layer, no memory
        "import torch\n\ndef rnn_step(x, h, W_xh, W_hh, b):\n"
        "    return torch.tanh(W_xh @ x + b)\n",
        # ReLU instead of tanh
        "import torch\n\ndef rnn_step(x, h, W_xh, W_hh, b):\n"
        "    return torch.relu(W_xh @ x + W_hh @ h + b)\n",
        # the bias added after the tanh
        "import torch\n\ndef rnn_step(x, h, W_xh, W_hh, b):\n"
        "    return torch.tanh(W_xh @ x + W_hh @ h) + b\n",
    ],
)

# --------------------------------------------------------------------------- q2

_Q2_SOLUTION = '''\
import torch


def clip_by_norm(g, c):
    """g scaled down to norm c if its norm is larger than c; unchanged otherwise."""
    norm = torch.linalg.vector_norm(g)  # sqrt of the sum of squares
    if norm <= c:
        return g  # small enough (this also covers g = 0): unchanged
    return g * (c / norm)  # same direction, norm exactly c
'''


def _q2_inputs(rng: random.Random) -> tuple:
    n = rng.randint(1, 6)
    g = _vector(rng, n, scale=rng.choice([0.1, 1.0, 10.0]))
    return (g, round(rng.uniform(0.1, 5.0), 2))


q2 = TensorFunctionExercise(
    name="q2",
    answer_name="clip_by_norm",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_inputs,
    edge_cases=[
        ([3.0, 4.0], 1.0),  # norm 5 > 1: scaled to (0.6, 0.8)
        ([0.3, 0.4], 1.0),  # norm 0.5 <= 1: unchanged
        ([3.0, 4.0], 5.0),  # exactly at the threshold: unchanged
        ([0.0, 0.0, 0.0], 1.0),  # a zero gradient stays zero (no division by 0, no NaN)
        ([-6.0, 8.0, 0.0], 2.0),  # one entry larger than c, one not: all scaled by the same factor
    ],
    n_random=8,
    hint_text=(
        "Compute the norm of the whole vector, ‖g‖ = sqrt(sum of squares) "
        "(torch.linalg.vector_norm). If it is at most c, return g unchanged; otherwise multiply "
        "EVERY entry by the same factor c / ‖g‖, so the direction stays and the norm becomes c. "
        "Make sure a zero vector comes back as zeros, not NaN."
    ),
    wrong_answers=[
        # clipping each entry to [-c, c] (clip by value): changes the direction
        "def clip_by_norm(g, c):\n    return g.clamp(-c, c)\n",
        # always rescales to norm c, even gradients that were smaller
        "import torch\n\ndef clip_by_norm(g, c):\n"
        "    norm = torch.linalg.vector_norm(g)\n"
        "    return g * (c / norm) if norm > 0 else g\n",
        # max instead of min: never shrinks, blows small gradients up
        "import torch\n\ndef clip_by_norm(g, c):\n"
        "    norm = torch.linalg.vector_norm(g)\n"
        "    return g * max(1.0, c / norm) if norm > 0 else g\n",
        # NaN for a zero gradient
        "import torch\n\ndef clip_by_norm(g, c):\n"
        "    norm = torch.linalg.vector_norm(g)\n"
        "    return g * torch.clamp(c / norm, max=1.0) if norm > 0 else g / norm\n",
    ],
)

# --------------------------------------------------------------------------- q3


def _q3_given() -> dict[str, Any]:
    """The names the notebook's q3 cell defines."""
    return {"k": 50, "w_small": 0.9, "w_large": 1.1}


q3 = ValueExercise(
    name="q3",
    answer_name="answer",
    solution_code=(
        "# h stays 0, so every factor is w · (1 − tanh(0)²) = w, and there are k of them\n"
        "answer = (w_small**k, w_large**k)\n"
    ),
    given=_q3_given,
    rel_tol=1e-4,
    hint_text=(
        "Write one step's derivative: ∂h_t/∂h_{t−1} = w · (1 − h_t²). With h_0 = 0 and no input, "
        "what is h_t for every t, and so what is each factor? The chain rule multiplies k such "
        "factors. Answer with a tuple (value for w = 0.9, value for w = 1.1)."
    ),
    wrong_answers=[
        "answer = (0.9 * 50, 1.1 * 50)\n",  # added the factors instead of multiplying them
        "answer = (0.9**49, 1.1**49)\n",  # one factor short
        "answer = (50 * 0.9**49, 50 * 1.1**49)\n",  # the derivative of w^k with respect to w
        "answer = (1.0, 1.0)\n",  # "the weights are the same at every step, so nothing changes"
    ],
)

# --------------------------------------------------------------------------- q4


def _q4_given() -> dict[str, Any]:
    """The sizes the notebook's q4 cell defines."""
    return {"input_size": 64, "hidden_size": 256}


q4 = ValueExercise(
    name="q4",
    answer_name="answer",
    solution_code=(
        "# W_ih (hidden x input), W_hh (hidden x hidden) and torch's two bias vectors b_ih, b_hh\n"
        "answer = hidden_size * input_size + hidden_size * hidden_size + 2 * hidden_size\n"
    ),
    given=_q4_given,
    hint_text=(
        "List the parameters of h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh): what shape "
        "does each matrix need so that the result has one entry per hidden unit? torch keeps "
        "two bias vectors (b_ih and b_hh), even though only their sum matters. Does the count "
        "depend on the length of the sequence?"
    ),
    wrong_answers=[
        "answer = hidden_size * input_size + hidden_size * hidden_size + hidden_size\n",  # one bias
        "answer = hidden_size * hidden_size + 2 * hidden_size\n",  # forgot W_ih
        "answer = 2 * hidden_size * hidden_size + 2 * hidden_size\n",  # W_ih taken as square
    ],
)
