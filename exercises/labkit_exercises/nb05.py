"""Exercises for notebook 05 (LSTM & GRU): ``from labkit.exercises import nb05 as ex``.

- ``q1`` (function, the formula re-type): ``lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh)`` — one
  LSTM step for one sequence, with the weights in torch's layout (gates stacked row-wise as
  ``i, f, g, o``); returns ``(h_new, c_new)``.
- ``q2`` (value, apply the derivation to a new case): the forget-gate bias that keeps half of
  the gradient along the cell path over 50 steps (the "forget bias" initialisation).
- ``q3`` (predict, then run): a freshly initialised LSTM with its forget-gate bias raised by 3;
  what happens to the gradient 50 steps back?
- ``q4`` (explanation of q3, read by a person): why one bias per unit changes it so much.

The function exercise passes float64 tensors (1-D vectors ``x``, ``h``, ``c``; matrices ``W``) to
the learner's function and compares what it returns with the reference, value by value.
"""

from __future__ import annotations

import random
from typing import Any

from labkit.exercises.core import ChoiceExercise, ExplainExercise, ValueExercise, WrongAnswer
from labkit.exercises.tensors import TensorFunctionExercise, random_matrix, random_vector

_matrix, _vector = random_matrix, random_vector


# --------------------------------------------------------------------------- q1

_Q1_SOLUTION = '''\
import torch


def lstm_step(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, W_ih: torch.Tensor,
              W_hh: torch.Tensor, b_ih: torch.Tensor, b_hh: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
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
    points=2,
    hint_text=(
        "Compute the pre-activations of all four gates at once: W_ih @ x + b_ih + W_hh @ h + "
        "b_hh is a vector of 4H numbers. Cut it into four pieces of H with `.chunk(4)`; torch's "
        "order is i, f, g, o. Three of them go through a sigmoid (the gates, between 0 and 1), "
        "one through tanh (the candidate g, between -1 and 1). Then c_new = f*c + i*g and "
        "h_new = o*tanh(c_new). Return the pair (h_new, c_new)."
    ),
    wrong_answers=[
        WrongAnswer(
            "import torch\n\ndef lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):\n"
            "    a_i, a_f, a_o, a_g = (W_ih @ x + b_ih + W_hh @ h + b_hh).chunk(4)\n"
            "    i, f, o, g = a_i.sigmoid(), a_f.sigmoid(), a_o.sigmoid(), a_g.tanh()\n"
            "    c_new = f * c + i * g\n"
            "    return o * c_new.tanh(), c_new\n",
            why="you cut the pre-activations in the order i, f, o, g (as some blog posts stack "
            "them); torch stacks its gates as i, f, g, o",
        ),
        WrongAnswer(
            "import torch\n\ndef lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):\n"
            "    a_i, a_f, a_g, a_o = (W_ih @ x + b_ih + W_hh @ h + b_hh).chunk(4)\n"
            "    i, f, g, o = a_i.sigmoid(), a_f.sigmoid(), a_g.tanh(), a_o.sigmoid()\n"
            "    c_new = f * c + i * g\n"
            "    return o * c_new, c_new\n",
            why="your h_new is o * c_new: the cell state must go through tanh before the output "
            "gate shows it",
        ),
        WrongAnswer(
            "import torch\n\ndef lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):\n"
            "    a_i, a_f, a_g, a_o = (W_ih @ x + b_ih + W_hh @ h + b_hh).chunk(4)\n"
            "    i, f, g, o = a_i.sigmoid(), a_f.sigmoid(), a_g.sigmoid(), a_o.sigmoid()\n"
            "    c_new = f * c + i * g\n"
            "    return o * c_new.tanh(), c_new\n",
            why="your candidate g goes through a sigmoid, so it can never be negative: g is the "
            "one piece that takes a tanh",
        ),
        WrongAnswer(
            "import torch\n\ndef lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):\n"
            "    a_i, a_f, a_g, a_o = (W_ih @ x + b_ih + W_hh @ h + b_hh).chunk(4)\n"
            "    f, g, o = a_f.sigmoid(), a_g.tanh(), a_o.sigmoid()\n"
            "    c_new = f * c + g\n"
            "    return o * c_new.tanh(), c_new\n",
            why="you add the whole candidate to the cell: the input gate i must scale it first, "
            "c_new = f * c + i * g",
        ),
    ],
)

# --------------------------------------------------------------------------- q2


def _q2_given() -> dict[str, Any]:
    """The names the notebook's q2 cell defines."""
    return {"distance": 50, "keep": 0.5}


q2 = ValueExercise(
    name="q2",
    answer_name="answer",
    solution_code=(
        "import math\n\n"
        "f = keep ** (1 / distance)  # the gate value: f**distance = keep\n"
        "answer = math.log(f / (1 - f))  # the bias whose sigmoid is f: σ⁻¹(f) = ln(f / (1 − f))\n"
    ),
    given=_q2_given,
    rel_tol=1e-3,
    points=2,
    hint_text=(
        "Two steps. First the gate: along the direct path each step multiplies the gradient by "
        "f, so distance steps multiply it by f**distance; which f makes that equal to keep? "
        "Then the bias: with all weights 0 the gate is f = σ(b), so b is the inverse of the "
        "sigmoid at f, ln(f / (1 − f))."
    ),
    wrong_answers=[
        WrongAnswer(
            "answer = 0.5 ** (1 / 50)\n",
            why="that is the forget gate's value, not the bias: the bias is the pre-activation "
            "that the sigmoid turns into that value, so invert σ",
        ),
        WrongAnswer(
            "import math\n\nanswer = math.log(0.99 / 0.01)\n",
            why="you let the gradient lose the same amount at every step (1 − keep/distance), a "
            "straight line; it is multiplied by f at every step, so f**distance = keep",
        ),
        WrongAnswer(
            "import math\n\nanswer = math.log(0.5) / 50\n",
            why="that is ln f, the logarithm of the gate's value per step: take its exponential "
            "to get f, then invert the sigmoid",
        ),
        WrongAnswer(
            "import math\n\nf = 0.5 ** (1 / 50)\nanswer = math.log((1 - f) / f)\n",
            why="the sign is flipped: a gate close to 1 needs a large positive pre-activation, "
            "σ(b) → 1 as b grows",
        ),
    ],
)

# --------------------------------------------------------------------------- q3, q4

# The experiment (the notebook's run cell): a freshly initialised labkit LSTM (8 inputs,
# H = 32, float64), eight sequences of 51 standard normal inputs, L = Σ h_T; the gradient 50 steps
# back over the gradient at the loss, with the forget-gate bias as initialised and raised by 3.
# Measured with LABKIT_SEED_OFFSET=0..9 (the run cell does not depend on FAST): log10 of the ratio
# −11.6 to −10.5 as initialised (mean forget gate 0.49–0.52), −1.5 to −0.8 with the bias + 3
# (mean forget gate 0.95): always 9.2 to 10.3 decades apart, and always below 1.
q3 = ChoiceExercise(
    name="q3",
    answer_name="prediction_q3",
    solution_code='prediction_q3 = "b"\n',
    options={
        "a": "about the same (within a factor of 10): one bias per unit is a tiny part of the "
        "parameters, and the gradient travels back through the weight matrices",
        "b": "many orders of magnitude larger (more than 10^5 times), and still smaller than at "
        "the loss",
        "c": "smaller: a cell that keeps more of its memory grows, saturates, and passes less back",
        "d": "larger than at the loss: with the forget gates wide open the gradient explodes",
    },
    points=1,
    hint_text=(
        "Section 4: along the cell path one step multiplies the gradient by diag(f_t). What is "
        "a typical f at initialisation, and what is σ(0 + 3)? Raise both to the 50th power. "
        "Can a product of numbers below 1 grow?"
    ),
    wrong_answers=[
        WrongAnswer(
            'prediction_q3 = "a"\n',
            why="the bias sets the forget gate of every unit at every step, and along the cell "
            "path the gradient is multiplied by that gate 50 times over",
        ),
        WrongAnswer(
            'prediction_q3 = "c"\n',
            why="the cell path has no tanh in it: ∂c_t/∂c_{t−1} = diag(f_t), so a gate closer to "
            "1 can only let more of the gradient through",
        ),
        WrongAnswer(
            'prediction_q3 = "d"\n',
            why="a sigmoid gate is always below 1, so the direct path multiplies the gradient by "
            "numbers below 1: it can decay slowly, but not grow",
        ),
    ],
)

q4 = ExplainExercise(
    name="q4",
    prompt=(
        "Explain why raising the forget-gate bias by 3 changed the gradient 50 steps back by so "
        "many orders of magnitude, and why it still stayed below its value at the loss."
    ),
    model_answer=(
        "Along the cell's direct path each step multiplies the gradient by the forget gate, "
        "∂c_t/∂c_{t−1} = diag(f_t), so 50 steps multiply it by about f^50. At initialisation the "
        "gate's pre-activation is near 0 and f ≈ σ(0) = 0.5, so 0.5^50 ≈ 10^-15 of it survives "
        "(measured: about 10^-11, other paths add a little); with the bias + 3, f ≈ σ(3) ≈ 0.95 "
        "and 0.95^50 ≈ 0.08 survives (measured: about 10^-1). A sigmoid gate is below 1, so the "
        "product still decays, only far more slowly: one bias per unit decides how long the "
        "cell remembers, which is why LSTMs are often initialised with a positive forget bias."
    ),
    rubric=(
        "1 point: the gradient along the cell path is multiplied by the forget gate at every "
        "step (about f^50), and the bias moves f from about 0.5 to about 0.95. 1 point: since "
        "f < 1 the product still shrinks, so the gradient stays below its value at the loss."
    ),
    points=2,
)
