"""Exercises for notebook 02 (neural networks): ``from labkit.exercises import nb02 as ex``.

- ``q1`` (function, the notebook's one formula re-type): ``stable_softmax(z)`` — softmax with
  the largest logit subtracted first (section 4), so huge logits give no overflow.
- ``q2`` (function, find and fix the bug): ``numeric_grad(f, w, h)`` — a central-difference
  gradient over a vector (section 1) whose given version edits ``w`` in place and measures
  ``f`` at the wrong point.
- ``q3`` (choice, predict then run): what multiplying the loss by 1000 before ``backward()``
  does to Adam's training; the notebook then runs it, next to SGD.
- ``q4`` (explanation): why Adam did not notice the factor and SGD did.

The checked answers are plain Python values (lists, floats, a letter): ``math`` is enough, no
torch is imported here.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from labkit.exercises.core import (
    ChoiceExercise,
    ExplainExercise,
    FunctionExercise,
    WrongAnswer,
)

# ----------------------------------------------------------------------------------------- q1

_Q1_SOLUTION = '''\
import math


def stable_softmax(z: list[float]) -> list[float]:
    """softmax(z)_i = exp(z_i - m) / sum_j exp(z_j - m), with m = max(z): no overflow."""
    m = max(z)
    exps = [math.exp(v - m) for v in z]
    total = sum(exps)
    return [e / total for e in exps]
'''


def _random_logits(rng: random.Random) -> tuple[tuple[float, ...]]:
    """Logits of random length and scale, some of them huge (where the naive formula overflows).

    Inputs are tuples (hashable, so the tests can tell that every check draws new ones); a
    learner's function treats them like lists."""
    n = rng.randint(1, 8)
    scale = rng.choice([1.0, 10.0, 1000.0])
    shift = rng.choice([0.0, 800.0, -800.0])
    return (tuple(shift + rng.uniform(-scale, scale) for _ in range(n)),)


q1 = FunctionExercise(
    name="q1",
    answer_name="stable_softmax",
    solution_code=_Q1_SOLUTION,
    make_inputs=_random_logits,
    edge_cases=[
        ([0.0],),
        ([1.0, 2.0, 3.0],),
        ([0.0, 0.0, 0.0, 0.0],),
        ([1000.0, 1001.0, 1002.0],),  # exp(1000) overflows a float
        ([-1000.0, -1001.0],),  # exp(-1000) underflows to 0, so the naive sum is 0
        ([-500.0, 0.0, 500.0],),  # a wide range: shifting by the minimum still overflows
    ],
    n_random=8,
    points=2,
    hint_text=(
        "softmax(z) does not change when you add the same number to every logit (it cancels "
        "between numerator and denominator). Which number, subtracted from every z_i, makes the "
        "largest exponent exactly exp(0) = 1 and all the others smaller?"
    ),
    wrong_answers=[
        WrongAnswer(
            "import math\n\n"
            "def stable_softmax(z):\n"
            "    m = max(z)\n"
            "    return [math.exp(v - m) for v in z]\n",
            why=(
                "your values are exp(z_i − max z) and do not add up to 1: divide each one by "
                "the sum of them all"
            ),
        ),
        WrongAnswer(
            "import math\n\n"
            "def stable_softmax(z):\n"
            "    m = max(z)\n"
            "    log_total = math.log(sum(math.exp(v - m) for v in z))\n"
            "    return [v - m - log_total for v in z]\n",
            why=(
                "you returned log q, the log-sum-exp form of section 4 (all your values are ≤ 0): "
                "the exercise asks for the probabilities themselves"
            ),
        ),
        WrongAnswer(
            "import math\n\n"
            "def stable_softmax(z):\n"
            "    m = max(z)\n"
            "    total = sum(math.exp(v) for v in z)\n"
            "    return [math.exp(v - m) / total for v in z]\n",
            why=(
                "you shifted the exponents of the numerator only: the shift cancels only when "
                "every exponent, in the numerator and in the sum below it, is shifted by the same m"
            ),
        ),
    ],
)

# ----------------------------------------------------------------------------------------- q2

_Q2_SOLUTION = '''\
def numeric_grad(f, w: list[float], h: float) -> list[float]:
    """The central differences (f(w + h e_i) - f(w - h e_i)) / 2h, one for each entry w_i."""
    w = list(w)  # a copy: the caller's list is not changed
    grad = []
    for i in range(len(w)):
        w[i] += h
        f_plus = f(w)
        w[i] -= 2 * h  # from w_i + h down to w_i - h
        f_minus = f(w)
        w[i] += h  # back to w_i before the next entry
        grad.append((f_plus - f_minus) / (2 * h))
    return grad
'''

#: The given version of q2, with its bug (the notebook shows the same code).
Q2_BUGGY = '''\
def numeric_grad_buggy(f, w: list[float], h: float) -> list[float]:
    """The central differences (f(w + h e_i) - f(w - h e_i)) / 2h, one for each w_i. It has a bug."""
    w = list(w)  # a copy: the caller's list is not changed
    grad = []
    for i in range(len(w)):
        w[i] += h
        f_plus = f(w)
        w[i] -= h
        f_minus = f(w)
        grad.append((f_plus - f_minus) / (2 * h))
    return grad
'''


@dataclass(frozen=True)
class _Loss:
    """A function of a list of weights with a readable name (what check's feedback shows)."""

    name: str
    fn: Callable[[list[float]], float]

    def __call__(self, w: list[float]) -> float:
        return self.fn(w)

    def __repr__(self) -> str:
        return self.name


def _neuron(w: list[float]) -> float:
    """Section 1's neuron, (tanh(w·x + b) − y)² with x = (0.5, −1, 2), y = 0.3; b = w[3]."""
    return (math.tanh(0.5 * w[0] - w[1] + 2.0 * w[2] + w[3]) - 0.3) ** 2


def _log_sum_exp(w: list[float]) -> float:
    m = max(w)
    return m + math.log(sum(math.exp(v - m) for v in w))


def _rosenbrock(w: list[float]) -> float:
    return sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2 for a, b in zip(w[:-1], w[1:], strict=True))


# every one couples its weights, so a point left shifted after entry i changes the later entries
_NEURON = _Loss("neuron", _neuron)
_LSE = _Loss("log_sum_exp", _log_sum_exp)
_ROSENBROCK = _Loss("rosenbrock", _rosenbrock)


def _random_point(rng: random.Random) -> tuple[_Loss, tuple[float, ...], float]:
    """A function, a point (a tuple: the function must not change it) and a step h."""
    f = rng.choice([_NEURON, _LSE, _ROSENBROCK])
    n = 4 if f is _NEURON else rng.randint(2, 5)
    w = tuple(round(rng.uniform(-1.5, 1.5), 3) for _ in range(n))
    return f, w, rng.choice([1e-2, 1e-3, 1e-4])


q2 = FunctionExercise(
    name="q2",
    answer_name="numeric_grad",
    solution_code=_Q2_SOLUTION,
    make_inputs=_random_point,
    edge_cases=[
        (_NEURON, [0.1, 0.2, -0.3, 0.05], 1e-4),  # the notebook's example
        (_LSE, [0.0, 1.0, 2.0], 1e-3),
        (_ROSENBROCK, [-1.0, 1.0, 0.5], 1e-2),
    ],
    n_random=8,
    rel_tol=1e-6,
    abs_tol=1e-7,
    points=3,
    hint_text=(
        "Follow w[i] through one pass of the loop, writing down its value after each line: at "
        "which point is f_minus measured, and where should it be? Once f_minus is right, check "
        "what w[i] is when the loop moves on to the next entry."
    ),
    wrong_answers=[
        WrongAnswer(
            Q2_BUGGY.replace("numeric_grad_buggy", "numeric_grad"),
            why=(
                "this is the given code: its f_minus is measured at w itself, not at w − h·e_i, "
                "so each entry is a forward difference divided by 2h, about half the derivative"
            ),
        ),
        WrongAnswer(
            "def numeric_grad(f, w, h):\n"
            "    w = list(w)\n"
            "    grad = []\n"
            "    for i in range(len(w)):\n"
            "        w[i] += h\n"
            "        f_plus = f(w)\n"
            "        w[i] -= 2 * h\n"
            "        f_minus = f(w)\n"
            "        grad.append((f_plus - f_minus) / (2 * h))\n"
            "    return grad\n",
            why=(
                "the first entry is right, the later ones are not: after entry i your loop leaves "
                "w[i] at w_i − h, so every later entry is measured around a shifted point; put "
                "w[i] back before moving on"
            ),
        ),
        WrongAnswer(
            "def numeric_grad(f, w, h):\n"
            "    w = list(w)\n"
            "    grad = []\n"
            "    for i in range(len(w)):\n"
            "        w[i] += h\n"
            "        f_plus = f(w)\n"
            "        w[i] -= h\n"
            "        f_minus = f(w)\n"
            "        grad.append((f_plus - f_minus) / h)\n"
            "    return grad\n",
            why=(
                "dividing by h instead of 2h turns it into a forward difference (f(w + h·e_i) − "
                "f(w)) / h, whose error shrinks only like h (section 1's plot): the exercise asks "
                "for the central difference, with f measured on both sides of w"
            ),
        ),
    ],
)

# ----------------------------------------------------------------------------------------- q3

# Measured with the notebook's run cell (50 steps, context-8 MLP, batch 32×32, the first
# 100,000 training characters; the cell does not depend on fast mode), LABKIT_SEED_OFFSET=0..11:
# Adam (lr 0.01): the largest |loss(×1000) − loss(×1)| over the 50 steps was 3.6e-5 to 1.5e-4
# (final losses 2.26-2.45 in both runs); SGD (lr 0.5): final loss 2.83-3.07 unscaled, 4,181 to
# 25,724 with the loss ×1000 (it starts at 4.4).
q3 = ChoiceExercise(
    name="q3",
    answer_name="prediction_q3",
    solution_code='prediction_q3 = "b"\n',
    options={
        "a": "Adam blows up like SGD: its steps are 1000 times larger, and the loss soon ends far "
        "above where it started.",
        "b": "Adam's losses are the same as without the factor: at every step the two runs differ "
        "by less than 0.01.",
        "c": "Adam learns faster: larger gradients give larger steps, and the final loss is clearly "
        "lower than without the factor.",
        "d": "Adam hardly learns: it divides by gradients 1000 times larger, so its steps become "
        "tiny and the loss stays near where it started.",
    },
    hint_text=(
        "Write down Adam's step from section 7 with every gradient g replaced by 1000·g. What "
        "happens to m̂, to ŝ, and to their ratio m̂ / √ŝ?"
    ),
    wrong_answers=[
        WrongAnswer(
            'prediction_q3 = "a"\n',
            why=(
                "that is what happens to SGD, whose step is η·g; Adam's step is not proportional "
                "to g: look at what the division by √ŝ does when g is 1000 times larger"
            ),
        ),
        WrongAnswer(
            'prediction_q3 = "c"\n',
            why=(
                "larger gradients give larger steps only when the step is proportional to the "
                "gradient (SGD); Adam divides by √ŝ, which grows with the gradient too"
            ),
        ),
        WrongAnswer(
            'prediction_q3 = "d"\n',
            why=(
                "Adam also multiplies by m̂, the running mean of the gradients, which grows by the "
                "same factor as the √ŝ it divides by"
            ),
        ),
    ],
    points=1,
)

q4 = ExplainExercise(
    name="q4",
    prompt=(
        "Multiplying the loss by 1000 left Adam's training as it was and made SGD's blow up. "
        "Explain why, from the two update rules, and say when this difference matters in practice."
    ),
    model_answer=(
        "Multiplying the loss by c = 1000 multiplies every gradient by c. SGD steps by η·g, so "
        "its steps become 1000 times larger, overshoot the valley and the loss explodes. Adam "
        "steps by η·m̂/(√ŝ + ε): m̂ grows by c and √ŝ by c, so the ratio, and the step, is "
        "unchanged (ε = 1e-8 is negligible next to √ŝ), which is why the two curves agree to "
        "within 0.001. So Adam's learning rate is a step size in the units of the weights, "
        "whatever the scale of the loss (a sum instead of a mean over the batch, a weight on the "
        "loss, fp16 loss scaling), while SGD's must be retuned whenever that scale changes."
    ),
    rubric=(
        "1 point: the factor multiplies every gradient, and SGD's step η·g grows with it "
        "(overshoot, divergence). 1 point: in Adam the factor cancels between m̂ and √ŝ (ε "
        "negligible), with a practical consequence (the learning rate does not depend on the "
        "loss's scale: sum vs mean, loss weights, loss scaling)."
    ),
    hint_text=(
        "Start from the gradient of 1000·L. Then put it into SGD's step, and into Adam's "
        "m̂ / (√ŝ + ε)."
    ),
    points=2,
)
