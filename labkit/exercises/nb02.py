"""Exercises for notebook 02 (neural networks): ``from labkit.exercises import nb02 as ex``.

All four work on plain Python lists and floats (``math`` is enough), so the check compares
numbers, not tensors.

- ``q1`` (function): ``stable_softmax(z)`` — softmax with the max subtracted first, so huge
  logits give no overflow.
- ``q2`` (function): ``cross_entropy(probs, targets)`` — the mean of ``−log q(target)`` over a
  batch of predicted distributions, in nats.
- ``q3`` (function): ``central_difference(f, x, h)`` — the derivative of ``f`` at ``x`` by the
  central difference ``(f(x + h) − f(x − h)) / 2h``.
- ``q4`` (function): ``sgd_step_on_logits(z, target, lr)`` — one gradient-descent step on the
  logits of one cross-entropy term, using ``∂H/∂z = softmax(z) − onehot(target)``.

Nothing heavy is imported: no torch, no corpus.
"""

from __future__ import annotations

import math
import random

from labkit.exercises.core import FunctionExercise

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
    hint_text=(
        "softmax(z) does not change when you add the same number to every logit (it cancels "
        "between numerator and denominator). Which number, subtracted from every z_i, makes the "
        "largest exponent exactly exp(0) = 1 and all the others smaller?"
    ),
    wrong_answers=[
        # the naive formula: overflows (OverflowError) on [1000, 1001, 1002]
        "import math\n\n"
        "def stable_softmax(z):\n"
        "    exps = [math.exp(v) for v in z]\n"
        "    return [e / sum(exps) for e in exps]\n",
        # subtracts the minimum: the largest exponent can still overflow
        "import math\n\n"
        "def stable_softmax(z):\n"
        "    m = min(z)\n"
        "    exps = [math.exp(v - m) for v in z]\n"
        "    return [e / sum(exps) for e in exps]\n",
        # forgets to normalise
        "import math\n\n"
        "def stable_softmax(z):\n"
        "    m = max(z)\n"
        "    return [math.exp(v - m) for v in z]\n",
        # divides by the sum of the logits instead of the sum of the exponentials
        "def stable_softmax(z):\n"
        "    m = max(z)\n"
        "    shifted = [v - m + 1.0 for v in z]\n"
        "    return [s / sum(shifted) if sum(shifted) else 1.0 / len(z) for s in shifted]\n",
    ],
)

# ----------------------------------------------------------------------------------------- q2

_Q2_SOLUTION = '''\
import math


def cross_entropy(probs: list[list[float]], targets: list[int]) -> float:
    """Mean over the batch of -log q(target): H(p, q) with a one-hot p, in nats."""
    losses = [-math.log(q[t]) for q, t in zip(probs, targets)]
    return sum(losses) / len(losses)
'''


def _random_distributions(
    rng: random.Random,
) -> tuple[tuple[tuple[float, ...], ...], tuple[int, ...]]:
    """A batch of 1-6 random distributions over 2-6 tokens, and a target token for each."""
    vocab = rng.randint(2, 6)
    probs, targets = [], []
    for _ in range(rng.randint(1, 6)):
        w = [rng.uniform(0.05, 1.0) for _ in range(vocab)]
        probs.append(tuple(x / sum(w) for x in w))
        targets.append(rng.randrange(vocab))
    return tuple(probs), tuple(targets)


q2 = FunctionExercise(
    name="q2",
    answer_name="cross_entropy",
    solution_code=_Q2_SOLUTION,
    make_inputs=_random_distributions,
    edge_cases=[
        ([[0.5, 0.5]], [0]),  # log 2
        ([[1.0, 0.0]], [0]),  # a certain, correct prediction costs nothing
        ([[0.25, 0.25, 0.25, 0.25]] * 3, [0, 1, 3]),  # uniform: log V
        ([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], [1, 2]),
    ],
    n_random=8,
    hint_text=(
        "For each example only the probability the model gave to the *correct* token matters: "
        "q[target]. Its cost is -log of that (natural log, so the answer is in nats). The loss "
        "of the batch is the average of these costs, not their sum."
    ),
    wrong_answers=[
        # sum instead of mean
        "import math\n\n"
        "def cross_entropy(probs, targets):\n"
        "    return sum(-math.log(q[t]) for q, t in zip(probs, targets))\n",
        # forgets the minus sign
        "import math\n\n"
        "def cross_entropy(probs, targets):\n"
        "    return sum(math.log(q[t]) for q, t in zip(probs, targets)) / len(targets)\n",
        # bits instead of nats
        "import math\n\n"
        "def cross_entropy(probs, targets):\n"
        "    return sum(-math.log2(q[t]) for q, t in zip(probs, targets)) / len(targets)\n",
        # averages -log over the whole distribution instead of the target's entry
        "import math\n\n"
        "def cross_entropy(probs, targets):\n"
        "    return sum(-sum(math.log(x) for x in q if x > 0) / len(q) for q in probs) / len(probs)\n",
    ],
)

# ----------------------------------------------------------------------------------------- q3

_Q3_SOLUTION = '''\
def central_difference(f, x: float, h: float) -> float:
    """f'(x) ~ (f(x + h) - f(x - h)) / (2h); the error shrinks like h**2."""
    return (f(x + h) - f(x - h)) / (2 * h)
'''


def _cubic(x: float) -> float:
    return x**3 - 2 * x


def _tanh(x: float) -> float:
    return math.tanh(x)


def _softplus(x: float) -> float:
    return math.log1p(math.exp(-abs(x))) + max(x, 0.0)


_FUNCTIONS = [math.sin, math.exp, _cubic, _tanh, _softplus]


def _random_point(rng: random.Random) -> tuple:
    """A function from a fixed set, a point in [-2, 2] and a step h in [1e-3, 1e-1]."""
    return rng.choice(_FUNCTIONS), rng.uniform(-2.0, 2.0), 10 ** rng.uniform(-3.0, -1.0)


q3 = FunctionExercise(
    name="q3",
    answer_name="central_difference",
    solution_code=_Q3_SOLUTION,
    make_inputs=_random_point,
    edge_cases=[
        (_cubic, 1.0, 0.1),  # ((1.1)^3 - 2.2 - (0.9)^3 + 1.8) / 0.2 = 1.01
        (math.exp, 0.0, 0.01),
        (math.sin, 0.5, 1e-3),
        (_tanh, -1.0, 0.05),
    ],
    n_random=8,
    rel_tol=1e-7,
    abs_tol=1e-9,
    hint_text=(
        "Evaluate f a little to the right of x and a little to the left (x + h and x - h), take "
        "the difference of the two values and divide by the distance between the two points. "
        "Use exactly the h you are given: the check compares with the same formula."
    ),
    wrong_answers=[
        # forward difference: error of order h, not h**2
        "def central_difference(f, x, h):\n    return (f(x + h) - f(x)) / h\n",
        # divides by h instead of 2h
        "def central_difference(f, x, h):\n    return (f(x + h) - f(x - h)) / h\n",
        # operator precedence: divides by 2 and multiplies by h
        "def central_difference(f, x, h):\n    return (f(x + h) - f(x - h)) / 2 * h\n",
    ],
)

# ----------------------------------------------------------------------------------------- q4

_Q4_SOLUTION = '''\
import math


def sgd_step_on_logits(z: list[float], target: int, lr: float) -> list[float]:
    """One step z <- z - lr * dH/dz for H = -log softmax(z)[target];  dH/dz = softmax(z) - onehot."""
    m = max(z)
    exps = [math.exp(v - m) for v in z]
    q = [e / sum(exps) for e in exps]
    grad = [q_i - (1.0 if i == target else 0.0) for i, q_i in enumerate(q)]
    return [z_i - lr * g_i for z_i, g_i in zip(z, grad)]
'''


def _random_step(rng: random.Random) -> tuple[tuple[float, ...], int, float]:
    """Logits over 2-6 tokens, a target and a learning rate."""
    n = rng.randint(2, 6)
    z = tuple(rng.uniform(-3.0, 3.0) for _ in range(n))
    return z, rng.randrange(n), rng.choice([0.01, 0.1, 0.5, 1.0])


q4 = FunctionExercise(
    name="q4",
    answer_name="sgd_step_on_logits",
    solution_code=_Q4_SOLUTION,
    make_inputs=_random_step,
    edge_cases=[
        ([0.0, 0.0], 0, 1.0),  # q = (0.5, 0.5): the step is (+0.5, -0.5)
        ([2.0, 1.0, 0.1], 2, 0.1),
        ([0.0, 0.0, 0.0, 0.0], 3, 0.5),
    ],
    n_random=8,
    hint_text=(
        "Two parts. First the gradient: the notebook showed (and checked with autograd) that the "
        "derivative of -log softmax(z)[target] with respect to z is softmax(z) minus the one-hot "
        "vector of the target. Then the step: gradient *descent* moves against the gradient, "
        "z_new = z - lr * gradient."
    ),
    wrong_answers=[
        # gradient ascent: the wrong sign
        "import math\n\n"
        "def sgd_step_on_logits(z, target, lr):\n"
        "    exps = [math.exp(v - max(z)) for v in z]\n"
        "    q = [e / sum(exps) for e in exps]\n"
        "    return [v + lr * (qi - (i == target)) for i, (v, qi) in enumerate(zip(z, q))]\n",
        # forgets the one-hot term: pushes every logit down
        "import math\n\n"
        "def sgd_step_on_logits(z, target, lr):\n"
        "    exps = [math.exp(v - max(z)) for v in z]\n"
        "    q = [e / sum(exps) for e in exps]\n"
        "    return [v - lr * qi for v, qi in zip(z, q)]\n",
        # only updates the target's logit
        "import math\n\n"
        "def sgd_step_on_logits(z, target, lr):\n"
        "    exps = [math.exp(v - max(z)) for v in z]\n"
        "    q = exps[target] / sum(exps)\n"
        "    return [v - lr * (q - 1.0) if i == target else v for i, v in enumerate(z)]\n",
    ],
)
