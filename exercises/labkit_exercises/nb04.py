"""Exercises for notebook 04 (recurrent networks): ``from labkit.exercises import nb04 as ex``.

- ``q1`` (function, the formula re-type): ``rnn_step(x, h, W_xh, W_hh, b)`` — one step of an
  Elman RNN, ``tanh(W_xh x + W_hh h + b)``, for 1-D ``x``, ``h`` and ``b``.
- ``q2`` (function, find and fix the bug): ``clip_together(grads, c)`` — a given clipping
  function rescales each parameter's gradient on its own; fix it so that all of them are clipped
  together, by one global norm, as ``torch.nn.utils.clip_grad_norm_`` does.
- ``q3`` (value, apply the bound to a new case): from how many steps back the bound
  ``σ_max(W_hh)^k`` guarantees a gradient below a millionth of its value at the loss.
- ``q4`` (predict, then run): a cell in the exploding regime (σ_max = 2) reads inputs ten times
  larger; what happens to the gradient 50 steps back?
- ``q5`` (explanation of q4, read by a person): why larger inputs make the gradient vanish.

The function exercises pass float64 tensors to the learner's function and compare what it
returns with the reference, value by value.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from labkit.exercises.core import (
    ChoiceExercise,
    ExplainExercise,
    FunctionExercise,
    ValueExercise,
    WrongAnswer,
)
from labkit.exercises.tensors import (
    TensorFunctionExercise,
    random_matrix,
    random_vector,
    to_plain,
)

_matrix, _vector = random_matrix, random_vector


# --------------------------------------------------------------------------- q1

_Q1_SOLUTION = '''\
import torch


def rnn_step(x: torch.Tensor, h: torch.Tensor, W_xh: torch.Tensor, W_hh: torch.Tensor,
             b: torch.Tensor) -> torch.Tensor:
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
        ([0.0], [1.0], [[1.0]], [[-2.0]], [0.5]),  # negative pre-activation: tanh(−1.5)
        ([1.0], [0.0], [[0.5]], [[2.0]], [0.0]),  # h = 0: only the input counts, tanh(0.5)
        # two hidden units, three inputs: W_xh is (2, 3), so W_xh @ x works and x @ W_xh does not
        (
            [1.0, 0.0, -1.0],
            [0.5, -0.5],
            [[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]],
            [[0.0, 1.0], [1.0, 0.0]],
            [0.1, -0.1],
        ),
    ],
    n_random=6,
    points=1,
    hint_text=(
        "Three terms go inside one tanh: the input's part W_xh @ x (a vector with one entry per "
        "hidden unit), the recurrent part W_hh @ h, and the bias b. Add them, then apply "
        "torch.tanh elementwise. Check the shapes: W_xh is (hidden, input), x is (input,)."
    ),
    wrong_answers=[
        WrongAnswer(
            "def rnn_step(x, h, W_xh, W_hh, b):\n    return W_xh @ x + W_hh @ h + b\n",
            why="you returned the pre-activation: the new state is its tanh, which keeps every "
            "entry between -1 and 1",
        ),
        WrongAnswer(
            "import torch\n\ndef rnn_step(x, h, W_xh, W_hh, b):\n"
            "    return torch.tanh(W_xh @ x + b)\n",
            why="the previous state h never enters your step: without W_hh @ h the network has "
            "no memory, it is a feed-forward layer",
        ),
        WrongAnswer(
            "import torch\n\ndef rnn_step(x, h, W_xh, W_hh, b):\n"
            "    return torch.relu(W_xh @ x + W_hh @ h + b)\n",
            why="you used a ReLU: the RNN of section 1 squashes with tanh, so negative "
            "pre-activations give negative states, not 0",
        ),
        WrongAnswer(
            "import torch\n\ndef rnn_step(x, h, W_xh, W_hh, b):\n"
            "    return torch.tanh(W_xh @ x + W_hh @ h) + b\n",
            why="you added the bias after the tanh: it belongs inside, with the other two terms",
        ),
    ],
)

# --------------------------------------------------------------------------- q2

_Q2_SOLUTION = '''\
import torch


def clip_together(grads: tuple[torch.Tensor, ...], c: float) -> list[torch.Tensor]:
    """All gradients scaled by one factor min(1, c / ‖g‖), ‖g‖ the norm of all of them together."""
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))  # one norm over every parameter
    if norm <= c:
        return list(grads)  # small enough (this also covers all-zero gradients): unchanged
    return [g * (c / norm) for g in grads]  # the same factor for all: the direction is kept
'''


@dataclass(repr=False)
class GradientListExercise(FunctionExercise):
    """A function exercise whose first argument is a tuple of 1-D tensors (one per parameter).

    The inputs are plain tuples of tuples of floats (a seed reproduces a check exactly); each inner
    tuple becomes a float64 tensor before the call, and the tensors returned become lists again.
    """

    def adapt(self, fn: Callable) -> Callable:
        def call(grads: Sequence[Sequence[float]], c: float) -> Any:
            import torch

            return to_plain(fn(tuple(torch.tensor(list(g), dtype=torch.float64) for g in grads), c))

        return call


def _q2_inputs(rng: random.Random) -> tuple:
    scale = rng.choice([0.1, 1.0, 10.0])
    grads = tuple(tuple(_vector(rng, rng.randint(1, 4), scale)) for _ in range(rng.randint(1, 4)))
    return grads, round(rng.uniform(0.1, 5.0), 2)  # tuples: a check's inputs must be hashable


_PER_TENSOR = (
    "import torch\n\ndef clip_together(grads, c):\n"
    "    clipped = []\n"
    "    for g in grads:\n"
    "        norm = torch.sqrt((g ** 2).sum())\n"
    "        clipped.append(g if norm <= c else g * (c / norm))\n"
    "    return clipped\n"
)

q2 = GradientListExercise(
    name="q2",
    answer_name="clip_together",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_inputs,
    edge_cases=[
        (((8.0, 6.0), (0.0,)), 5.0),  # norm 10: halved to (4, 3) (clipping by value gives (5, 5))
        (((3.0, 4.0), (12.0,)), 6.5),  # norms 5 and 12, together 13: every entry halved
        (((3.0, 4.0), (3.0, 4.0)), 6.0),  # each norm 5 <= 6, but together 7.07 > 6: clipped
        (((0.3,), (0.4,)), 1.0),  # together 0.5 <= 1: unchanged
        (((0.0, 0.0), (0.0,)), 1.0),  # zero gradients stay zero (no division by 0, no NaN)
    ],
    n_random=8,
    points=2,
    hint_text=(
        "The bug is in what the norm is taken over. clip_grad_norm_ treats all the parameters' "
        "gradients as ONE long vector: its norm is the square root of the sum of the squares of "
        "every entry of every tensor. Compute that norm once, then scale every tensor by the "
        "same factor min(1, c / norm)."
    ),
    wrong_answers=[
        WrongAnswer(
            _PER_TENSOR,
            why="you still clip each parameter's gradient by its own norm: small ones stay, big "
            "ones shrink, so the direction of the whole gradient changes and its total norm can "
            "stay above c",
        ),
        WrongAnswer(
            "def clip_together(grads, c):\n    return [g.clamp(-c, c) for g in grads]\n",
            why="you clipped each entry to [-c, c] (clipping by value): that changes the "
            "direction; clipping by norm scales every entry by one common factor",
        ),
        WrongAnswer(
            "import torch\n\ndef clip_together(grads, c):\n"
            "    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))\n"
            "    return [g * (c / norm) for g in grads] if norm > 0 else grads\n",
            why="you rescale every gradient to norm c, even small ones: clipping only shrinks a "
            "gradient whose norm is larger than c",
        ),
    ],
)

# --------------------------------------------------------------------------- q3


def _q3_given() -> dict[str, Any]:
    """The names the notebook's q3 cell defines."""
    return {"sigma_max": 0.8, "tolerance": 1e-6}


q3 = ValueExercise(
    name="q3",
    answer_name="answer",
    solution_code=(
        "import math\n\n"
        "# the smallest k with sigma_max**k < tolerance: k > ln(tolerance) / ln(sigma_max)\n"
        "answer = math.floor(math.log(tolerance) / math.log(sigma_max)) + 1\n"
    ),
    given=_q3_given,
    points=2,
    hint_text=(
        "Section 2's bound says the gradient k steps back is at most sigma_max**k times the "
        "gradient at the loss. Solve sigma_max**k < tolerance for k: take logarithms (the same "
        "base on both sides), and mind the sign, since ln(0.8) is negative. Then check your "
        "integer and the one before it by computing 0.8**k."
    ),
    wrong_answers=[
        WrongAnswer(
            "answer = 61\n",
            why="at that distance sigma_max**k is still above the tolerance: you rounded down "
            "where you needed the next integer",
        ),
        WrongAnswer(
            "answer = 27\n",
            why="you mixed two logarithms: log10 of the tolerance (−6) over the natural log of "
            "sigma_max; use the same base on both sides",
        ),
        WrongAnswer(
            "answer = 143\n",
            why="you mixed two logarithms: the natural log of the tolerance over log10 of "
            "sigma_max; use the same base on both sides",
        ),
        WrongAnswer(
            "answer = -62\n",
            why="a distance cannot be negative: ln(tolerance) and ln(sigma_max) are both "
            "negative, so their ratio is positive (did you divide by ln(1 / sigma_max)?)",
        ),
    ],
)

# --------------------------------------------------------------------------- q4, q5

# The experiment (the notebook's run cell): the cell of section 3 with σ_max(W_hh) = 2, eight
# sequences of 51 steps of standard normal inputs, then the same inputs times 10. log10 of the
# gradient 50 steps back over the gradient at the loss, measured with LABKIT_SEED_OFFSET=0..9
# (the run cell does not depend on FAST): inputs × 1: +2.8 to +3.3 (explodes); inputs × 10:
# −6.6 to −4.8 (vanishes). The median tanh factor 1 − h² fell from 0.40–0.44 to 0.04–0.06, and
# the share of saturated units (1 − h² < 0.01) rose from 4–5 % to 35–38 %.
q4 = ChoiceExercise(
    name="q4",
    answer_name="prediction_q4",
    solution_code='prediction_q4 = "c"\n',
    options={
        "a": "it explodes even more: larger inputs make every state, and so every gradient, larger",
        "b": "it stays about the same (within a factor of 10): the gradient travels back through "
        "W_hh, and W_hh has not changed",
        "c": "it vanishes: 50 steps back it is far smaller than at the loss",
    },
    points=1,
    hint_text=(
        "Write one step back again: ∂h_t/∂h_{t−1} = diag(1 − h_t²) W_hh. Which of the two factors "
        "do the inputs change? What is 1 − h² when |W_xh x| is large?"
    ),
    wrong_answers=[
        WrongAnswer(
            'prediction_q4 = "a"\n',
            why="the gradient through time does not scale with the size of the states: each "
            "step multiplies it by diag(1 − h_t²) W_hh, so ask what large states do to 1 − h_t²",
        ),
        WrongAnswer(
            'prediction_q4 = "b"\n',
            why="W_hh is only half of each step's Jacobian: the other half, diag(1 − h_t²), "
            "depends on the states and so on the inputs",
        ),
    ],
)

q5 = ExplainExercise(
    name="q5",
    prompt=(
        "Explain why the same W_hh, with σ_max = 2, gave an exploding gradient for the ordinary "
        "inputs and a vanishing one for inputs ten times larger. Use the Jacobian of one step."
    ),
    model_answer=(
        "One step back multiplies the gradient by diag(1 − h_t²) W_hh, and only W_hh is fixed. "
        "Inputs ten times larger push the pre-activations W_xh x_t + W_hh h_{t−1} + b far from 0, "
        "so many units saturate at ±1 and their tanh factor 1 − h_t² is close to 0 (the median "
        "fell from about 0.4 to about 0.05; over a third of the units passed less than 1 %). "
        "Fifty steps of such small factors outweigh W_hh's stretch of at most 2 per step, so the "
        "product shrinks geometrically. The bound σ_max^k is only an upper bound: whether a "
        "gradient explodes depends on the states the inputs produce, not on W_hh alone."
    ),
    rubric=(
        "1 point: large inputs saturate the tanh, so the factors 1 − h² are near 0 (the units "
        "pass almost no gradient back). 1 point: each step's Jacobian is diag(1 − h²) W_hh, so "
        "the product over 50 steps depends on the states (the inputs) as well as on W_hh; σ_max "
        "only bounds it from above."
    ),
    points=2,
)
