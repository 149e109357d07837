"""Exercises for notebook 05 (LSTM & GRU): ``from labkit.exercises import nb05 as ex``.

- ``q1`` (function): ``lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh)`` — one LSTM step for one
  sequence, with the weights in torch's layout (gates stacked row-wise as ``i, f, g, o``);
  returns ``(h_new, c_new)``.
- ``q2`` (function): ``gru_step(x, h, W_ih, W_hh, b_ih, b_hh)`` — one GRU step (gates ``r, z, n``,
  torch's convention: the reset gate multiplies ``W_hn h + b_hn``); returns ``h_new``.
- ``q3`` (value): the number of parameters of one LSTM layer, with torch's two bias vectors.
- ``q4`` (value): how much of a gradient survives 50 steps along the cell path when the forget
  gate stays at 0.5, 0.9 or 0.99.

The function exercises pass float64 tensors (1-D vectors ``x``, ``h``, ``c``; matrices ``W``) to
the learner's function and compare what it returns with the reference, value by value.
"""

from __future__ import annotations

import random
from typing import Any

from labkit.exercises.core import ValueExercise
from labkit.exercises.tensors import TensorFunctionExercise, random_matrix, random_vector

_matrix, _vector = random_matrix, random_vector


# --------------------------------------------------------------------------- q1

_Q1_SOLUTION = '''\
import torch


def lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """One LSTM step: x (I,), h and c (H,), W_ih (4H, I), W_hh (4H, H), b_ih and b_hh (4H,)."""
    pre = W_ih @ x + b_ih + W_hh @ h + b_hh  # (4H,): the four gates' inputs, stacked
    a_i, a_f, a_g, a_o = pre.chunk(4)  # torch's order: i, f, g, o
    i, f, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.sigmoid(a_o)
    g = torch.tanh(a_g)
    c_new = f * c + i * g  # forget some of the old cell, write some of the candidate
    h_new = o * torch.tanh(c_new)  # show some of the (squashed) cell
    return h_new, c_new
'''


def _lstm_inputs(rng: random.Random, n_in: int | None = None, H: int | None = None) -> tuple:
    n_in = rng.randint(1, 4) if n_in is None else n_in
    H = rng.randint(1, 4) if H is None else H
    return (
        _vector(rng, n_in),
        _vector(rng, H, 0.5),
        _vector(rng, H),
        _matrix(rng, 4 * H, n_in),
        _matrix(rng, 4 * H, H),
        _vector(rng, 4 * H, 0.5),
        _vector(rng, 4 * H, 0.5),
    )


def _q1_inputs(rng: random.Random) -> tuple:
    return _lstm_inputs(rng)


_ZERO_LSTM = ([1.0], [0.0], [2.0], [[0.0]] * 4, [[0.0]] * 4, [0.0] * 4, [0.0] * 4)

q1 = TensorFunctionExercise(
    name="q1",
    answer_name="lstm_step",
    solution_code=_Q1_SOLUTION,
    make_inputs=_q1_inputs,
    edge_cases=[
        # all weights 0: every gate is σ(0) = 0.5, g = tanh(0) = 0, so c_new = 0.5·c
        _ZERO_LSTM,
        # one unit, the forget gate pushed open (+5) and everything else closed
        ([1.0], [0.0], [1.0], [[0.0], [5.0], [0.0], [0.0]], [[0.0]] * 4, [0.0] * 4, [0.0] * 4),
        _lstm_inputs(random.Random(5), n_in=3, H=2),  # the notebook's sizes
    ],
    n_random=6,
    hint_text=(
        "Compute the pre-activations of all four gates at once: W_ih @ x + b_ih + W_hh @ h + "
        "b_hh is a vector of 4H numbers. Cut it into four pieces of H with `.chunk(4)`; torch's "
        "order is i, f, g, o. Three of them go through a sigmoid (the gates, between 0 and 1), "
        "one through tanh (the candidate g, between -1 and 1). Then c_new = f*c + i*g and "
        "h_new = o*tanh(c_new). Return the pair (h_new, c_new)."
    ),
    wrong_answers=[
        # the gates in the wrong order (i, f, o, g, as some blog posts stack them)
        "import torch\n\ndef lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):\n"
        "    a_i, a_f, a_o, a_g = (W_ih @ x + b_ih + W_hh @ h + b_hh).chunk(4)\n"
        "    i, f, o, g = a_i.sigmoid(), a_f.sigmoid(), a_o.sigmoid(), a_g.tanh()\n"
        "    c_new = f * c + i * g\n"
        "    return o * c_new.tanh(), c_new\n",
        # h_new = o * c_new: the output is not squashed by tanh
        "import torch\n\ndef lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):\n"
        "    a_i, a_f, a_g, a_o = (W_ih @ x + b_ih + W_hh @ h + b_hh).chunk(4)\n"
        "    i, f, g, o = a_i.sigmoid(), a_f.sigmoid(), a_g.tanh(), a_o.sigmoid()\n"
        "    c_new = f * c + i * g\n"
        "    return o * c_new, c_new\n",
        # the candidate through a sigmoid as well: g can never be negative
        "import torch\n\ndef lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):\n"
        "    a_i, a_f, a_g, a_o = (W_ih @ x + b_ih + W_hh @ h + b_hh).chunk(4)\n"
        "    i, f, g, o = a_i.sigmoid(), a_f.sigmoid(), a_g.sigmoid(), a_o.sigmoid()\n"
        "    c_new = f * c + i * g\n"
        "    return o * c_new.tanh(), c_new\n",
        # no input gate: the whole candidate is added
        "import torch\n\ndef lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):\n"
        "    a_i, a_f, a_g, a_o = (W_ih @ x + b_ih + W_hh @ h + b_hh).chunk(4)\n"
        "    f, g, o = a_f.sigmoid(), a_g.tanh(), a_o.sigmoid()\n"
        "    c_new = f * c + g\n"
        "    return o * c_new.tanh(), c_new\n",
    ],
)

# --------------------------------------------------------------------------- q2

_Q2_SOLUTION = '''\
import torch


def gru_step(x, h, W_ih, W_hh, b_ih, b_hh):
    """One GRU step: x (I,), h (H,), W_ih (3H, I), W_hh (3H, H), b_ih and b_hh (3H,)."""
    x_r, x_z, x_n = (W_ih @ x + b_ih).chunk(3)  # the input's part, in torch's order r, z, n
    h_r, h_z, h_n = (W_hh @ h + b_hh).chunk(3)  # the recurrent part
    r = torch.sigmoid(x_r + h_r)  # reset gate
    z = torch.sigmoid(x_z + h_z)  # update gate
    n = torch.tanh(x_n + r * h_n)  # candidate: r scales the recurrent part only
    return (1 - z) * n + z * h  # z = 1 keeps the old state
'''


def _gru_inputs(rng: random.Random, n_in: int | None = None, H: int | None = None) -> tuple:
    n_in = rng.randint(1, 4) if n_in is None else n_in
    H = rng.randint(1, 4) if H is None else H
    return (
        _vector(rng, n_in),
        _vector(rng, H, 0.5),
        _matrix(rng, 3 * H, n_in),
        _matrix(rng, 3 * H, H),
        _vector(rng, 3 * H, 0.5),
        _vector(rng, 3 * H, 0.5),
    )


def _q2_inputs(rng: random.Random) -> tuple:
    return _gru_inputs(rng)


q2 = TensorFunctionExercise(
    name="q2",
    answer_name="gru_step",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_inputs,
    edge_cases=[
        # all weights 0: r = z = 0.5, n = 0, so h_new = 0.5·h
        ([1.0], [2.0], [[0.0]] * 3, [[0.0]] * 3, [0.0] * 3, [0.0] * 3),
        # the update gate shut (z ≈ 1): the state is copied through almost unchanged
        ([1.0], [0.7], [[0.0], [9.0], [1.0]], [[0.0]] * 3, [0.0] * 3, [0.0] * 3),
        _gru_inputs(random.Random(5), n_in=3, H=2),  # the notebook's sizes
    ],
    n_random=6,
    hint_text=(
        "Keep the input's part W_ih @ x + b_ih and the recurrent part W_hh @ h + b_hh apart, and "
        "cut each into three pieces with `.chunk(3)` (torch's order r, z, n). r and z are "
        "sigmoids of the sums of their pieces. In the candidate, r multiplies only the recurrent "
        "piece: n = tanh(x_n + r * h_n). Finally mix: (1 - z) * n + z * h."
    ),
    wrong_answers=[
        # the roles of z swapped (the convention of some papers, not torch's)
        "import torch\n\ndef gru_step(x, h, W_ih, W_hh, b_ih, b_hh):\n"
        "    x_r, x_z, x_n = (W_ih @ x + b_ih).chunk(3)\n"
        "    h_r, h_z, h_n = (W_hh @ h + b_hh).chunk(3)\n"
        "    r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()\n"
        "    n = (x_n + r * h_n).tanh()\n"
        "    return z * n + (1 - z) * h\n",
        # the reset gate applied to h before the matrix product (Cho et al.'s original form)
        "import torch\n\ndef gru_step(x, h, W_ih, W_hh, b_ih, b_hh):\n"
        "    H = h.shape[0]\n"
        "    x_r, x_z, x_n = (W_ih @ x + b_ih).chunk(3)\n"
        "    h_r, h_z, _ = (W_hh @ h + b_hh).chunk(3)\n"
        "    r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()\n"
        "    n = (x_n + W_hh[2 * H:] @ (r * h) + b_hh[2 * H:]).tanh()\n"
        "    return (1 - z) * n + z * h\n",
        # no reset gate at all
        "import torch\n\ndef gru_step(x, h, W_ih, W_hh, b_ih, b_hh):\n"
        "    x_r, x_z, x_n = (W_ih @ x + b_ih).chunk(3)\n"
        "    h_r, h_z, h_n = (W_hh @ h + b_hh).chunk(3)\n"
        "    z = (x_z + h_z).sigmoid()\n"
        "    n = (x_n + h_n).tanh()\n"
        "    return (1 - z) * n + z * h\n",
    ],
)

# --------------------------------------------------------------------------- q3


def _q3_given() -> dict[str, Any]:
    """The sizes the notebook's q3 cell defines."""
    return {"input_size": 32, "hidden_size": 256}


q3 = ValueExercise(
    name="q3",
    answer_name="answer",
    solution_code=(
        "# 4 gates; each has a row block of W_ih (H x I), of W_hh (H x H), of b_ih and of b_hh (H)\n"
        "answer = 4 * (hidden_size * (input_size + hidden_size) + 2 * hidden_size)\n"
    ),
    given=_q3_given,
    hint_text=(
        "Look at the shapes of one torch LSTM layer: weight_ih_l0 is (4H, I), weight_hh_l0 is "
        "(4H, H), and there are TWO bias vectors, bias_ih_l0 and bias_hh_l0, of 4H numbers each "
        "(mathematically one would do; torch keeps two, for compatibility with cuDNN). Add them up."
    ),
    wrong_answers=[
        "answer = 4 * 256 * (32 + 256)\n",  # forgot the biases
        "answer = 4 * (256 * (32 + 256) + 256)\n",  # only one bias vector
        "answer = 256 * (32 + 256) + 2 * 256\n",  # one gate's worth: a vanilla RNN layer
        "answer = 3 * (256 * (32 + 256) + 2 * 256)\n",  # three gates: that is the GRU
    ],
)

# --------------------------------------------------------------------------- q4


def _q4_given() -> dict[str, Any]:
    """The names the notebook's q4 cell defines."""
    return {"forget_values": [0.5, 0.9, 0.99], "distance": 50}


q4 = ValueExercise(
    name="q4",
    answer_name="answer",
    solution_code=(
        "# along the cell path, each step multiplies the gradient by f: ∂c_t/∂c_{t−1} = diag(f_t)\n"
        "answer = [f**distance for f in forget_values]\n"
    ),
    given=_q4_given,
    hint_text=(
        "Along the additive path the Jacobian of one step is diag(f_t): the gradient reaching "
        "c_{t−1} is the one at c_t multiplied, unit by unit, by f_t. Over k steps with the same f "
        "that is f multiplied by itself k times. Answer with a list of three numbers, in the "
        "order of forget_values."
    ),
    rel_tol=1e-4,
    wrong_answers=[
        "answer = [f * distance for f in forget_values]\n",  # added up, not multiplied
        "answer = [(1 - f) ** distance for f in forget_values]\n",  # 1 − f is not what passes
        "answer = [f ** (distance - 1) for f in forget_values]\n",  # one step short
    ],
)
