"""Exercises for notebook 09 (training a GPT): ``from labkit.exercises import nb09 as ex``.

- ``q1`` (function): ``learning_rate(step, max_steps, lr, warmup_steps, min_lr)`` — linear
  warm-up, then cosine decay to ``min_lr`` (the schedule of :func:`labkit.train.learning_rate`).
- ``q2`` (function): ``clip_gradients(grads, max_norm)`` — scale every gradient by
  ``min(1, c / ‖g‖)``, with ‖g‖ the norm over all of them together (``clip_grad_norm_``).
- ``q3`` (function): ``perplexity(log_probs)`` — ``exp`` of the mean negative log-probability.
- ``q4`` (function): ``adamw_step(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay)``
  — one AdamW update of a list of parameters, with bias correction and decoupled decay.

Inputs and answers are plain Python values (ints, floats, lists).
"""

from __future__ import annotations

import math
import random

from labkit.exercises.core import FunctionExercise

# --------------------------------------------------------------------------- q1: the schedule

_Q1_SOLUTION = '''\
import math


def learning_rate(step, max_steps, lr, warmup_steps, min_lr) -> float:
    """Update number `step` (1, 2, ..., max_steps): linear warm-up from 0 to lr over
    warmup_steps, then a half cosine from lr (at step = warmup_steps) to min_lr (at max_steps)."""
    if step < warmup_steps:
        return lr * step / warmup_steps
    if max_steps == warmup_steps:
        return lr
    progress = (step - warmup_steps) / (max_steps - warmup_steps)  # 0 -> 1 after warm-up
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))
'''


def _q1_inputs(rng: random.Random) -> tuple[int, int, float, int, float]:
    max_steps = rng.randint(2, 5000)
    warmup = rng.randint(1, max_steps - 1)
    lr = 10 ** rng.uniform(-4, -1)
    step = rng.choice([rng.randint(1, warmup), rng.randint(warmup, max_steps)])
    return step, max_steps, lr, warmup, lr * rng.choice([0.0, 0.1, rng.random()])


q1 = FunctionExercise(
    name="q1",
    answer_name="learning_rate",
    solution_code=_Q1_SOLUTION,
    make_inputs=_q1_inputs,
    edge_cases=[
        (1, 1000, 1e-3, 100, 1e-4),  # the first update: lr / 100
        (50, 1000, 1e-3, 100, 1e-4),  # half-way through warm-up
        (100, 1000, 1e-3, 100, 1e-4),  # the peak
        (550, 1000, 1e-3, 100, 1e-4),  # half-way down: (lr + min_lr) / 2
        (1000, 1000, 1e-3, 100, 1e-4),  # the last step: min_lr
        (700, 1000, 2e-3, 100, 0.0),
    ],
    n_random=10,
    rel_tol=1e-9,
    abs_tol=1e-12,
    hint_text=(
        "Two pieces. While step < warmup_steps the rate rises in a straight line: "
        "lr · step / warmup_steps. Afterwards measure how far you are through the rest of the run, "
        "progress = (step − warmup_steps) / (max_steps − warmup_steps), from 0 to 1, and go down "
        "half a cosine: min_lr + ½(lr − min_lr)(1 + cos(π · progress))."
    ),
    wrong_answers=[
        # the cosine forgets min_lr: decays to 0
        "import math\n\n"
        "def learning_rate(step, max_steps, lr, warmup_steps, min_lr):\n"
        "    if step < warmup_steps:\n"
        "        return lr * step / warmup_steps\n"
        "    progress = (step - warmup_steps) / (max_steps - warmup_steps)\n"
        "    return 0.5 * lr * (1 + math.cos(math.pi * progress))\n",
        # progress measured from step 0, not from the end of warm-up
        "import math\n\n"
        "def learning_rate(step, max_steps, lr, warmup_steps, min_lr):\n"
        "    if step < warmup_steps:\n"
        "        return lr * step / warmup_steps\n"
        "    progress = step / max_steps\n"
        "    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))\n",
        # a linear decay instead of the cosine
        "def learning_rate(step, max_steps, lr, warmup_steps, min_lr):\n"
        "    if step < warmup_steps:\n"
        "        return lr * step / warmup_steps\n"
        "    progress = (step - warmup_steps) / (max_steps - warmup_steps)\n"
        "    return lr - (lr - min_lr) * progress\n",
        # a full cosine period (back up to lr at the end)
        "import math\n\n"
        "def learning_rate(step, max_steps, lr, warmup_steps, min_lr):\n"
        "    if step < warmup_steps:\n"
        "        return lr * step / warmup_steps\n"
        "    progress = (step - warmup_steps) / (max_steps - warmup_steps)\n"
        "    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(2 * math.pi * progress))\n",
    ],
)


# --------------------------------------------------------------------------- q2: clipping

_Q2_SOLUTION = '''\
import math


def clip_gradients(grads, max_norm) -> list[list[float]]:
    """grads: a list of gradients (each a list of floats, one per parameter tensor).
    Scale all of them by min(1, max_norm / ‖g‖), ‖g‖ = √(sum of every squared entry)."""
    total = math.sqrt(sum(x * x for g in grads for x in g))
    scale = min(1.0, max_norm / total) if total > 0 else 1.0
    return [[x * scale for x in g] for g in grads]
'''


def _q2_inputs(rng: random.Random) -> tuple[tuple[tuple[float, ...], ...], float]:
    n = rng.randint(1, 4)
    spread = 10 ** rng.uniform(-2, 2)
    grads = tuple(tuple(rng.gauss(0, spread) for _ in range(rng.randint(1, 6))) for _ in range(n))
    return grads, 10 ** rng.uniform(-1, 1)


q2 = FunctionExercise(
    name="q2",
    answer_name="clip_gradients",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_inputs,
    edge_cases=[
        ([[3.0, 4.0]], 1.0),  # ‖g‖ = 5: scaled by 1/5
        ([[3.0], [4.0]], 1.0),  # the same numbers in two tensors: the same result
        ([[0.3, 0.4]], 1.0),  # already small: unchanged
        ([[6.0, 0.0], [0.0, 8.0]], 5.0),  # ‖g‖ = 10 -> 5
        ([[0.0, 0.0]], 1.0),  # no gradient at all
    ],
    n_random=10,
    rel_tol=1e-9,
    abs_tol=1e-12,
    hint_text=(
        "First one number for all gradients together: ‖g‖ = √(Σ over every tensor of Σ x²) "
        "(not one norm per tensor). If ‖g‖ ≤ max_norm nothing changes; otherwise multiply every "
        "entry of every tensor by max_norm / ‖g‖, so the direction stays and the length becomes "
        "max_norm. Careful with ‖g‖ = 0."
    ),
    wrong_answers=[
        # one norm per tensor: changes the direction
        "import math\n\n"
        "def clip_gradients(grads, max_norm):\n"
        "    out = []\n"
        "    for g in grads:\n"
        "        n = math.sqrt(sum(x * x for x in g))\n"
        "        s = min(1.0, max_norm / n) if n > 0 else 1.0\n"
        "        out.append([x * s for x in g])\n"
        "    return out\n",
        # always rescales to max_norm, also small gradients (scales them up)
        "import math\n\n"
        "def clip_gradients(grads, max_norm):\n"
        "    n = math.sqrt(sum(x * x for g in grads for x in g))\n"
        "    s = max_norm / n if n > 0 else 1.0\n"
        "    return [[x * s for x in g] for g in grads]\n",
        # clips each entry to [-max_norm, max_norm] (clipping by value)
        "def clip_gradients(grads, max_norm):\n"
        "    return [[max(-max_norm, min(max_norm, x)) for x in g] for g in grads]\n",
        # the squared norm compared with max_norm
        "def clip_gradients(grads, max_norm):\n"
        "    n2 = sum(x * x for g in grads for x in g)\n"
        "    s = min(1.0, max_norm / n2) if n2 > 0 else 1.0\n"
        "    return [[x * s for x in g] for g in grads]\n",
    ],
)


# --------------------------------------------------------------------------- q3: perplexity

_Q3_SOLUTION = '''\
import math


def perplexity(log_probs) -> float:
    """log_probs: ln p(x_t | x_<t) for each token of a text (natural logs, all <= 0).
    Perplexity = exp(mean negative log-probability) = exp(the cross-entropy loss)."""
    loss = -sum(log_probs) / len(log_probs)
    return math.exp(loss)
'''


def _q3_inputs(rng: random.Random) -> tuple[tuple[float, ...]]:
    return (tuple(math.log(rng.uniform(0.01, 1.0)) for _ in range(rng.randint(2, 20))),)


q3 = FunctionExercise(
    name="q3",
    answer_name="perplexity",
    solution_code=_Q3_SOLUTION,
    make_inputs=_q3_inputs,
    edge_cases=[
        ([math.log(1 / 83)] * 5,),  # a uniform guess over 83 characters: perplexity 83
        ([0.0, 0.0],),  # certain and right: 1
        ([math.log(0.5), math.log(0.125)],),  # exp((ln 2 + ln 8)/2) = 4
    ],
    n_random=8,
    rel_tol=1e-9,
    hint_text=(
        "The loss is the mean of −ln p over the tokens; the perplexity is e to the power of it. "
        "A model that always spreads its bet evenly over k tokens has perplexity k: it is "
        "'as unsure as a fair k-sided die'. Average the logs first, exponentiate last."
    ),
    wrong_answers=[
        # the mean of the inverse probabilities (exponentiates before averaging)
        "import math\n\n"
        "def perplexity(log_probs):\n"
        "    return sum(math.exp(-lp) for lp in log_probs) / len(log_probs)\n",
        # base 2 with natural logs
        "def perplexity(log_probs):\n    return 2 ** (-sum(log_probs) / len(log_probs))\n",
        # the total instead of the mean
        "import math\n\ndef perplexity(log_probs):\n    return math.exp(-sum(log_probs))\n",
        # forgot the minus sign
        "import math\n\n"
        "def perplexity(log_probs):\n"
        "    return math.exp(sum(log_probs) / len(log_probs))\n",
    ],
)


# --------------------------------------------------------------------------- q4: one AdamW step

_Q4_SOLUTION = '''\
import math


def adamw_step(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """One AdamW update (Loshchilov & Hutter 2019) of the parameters `theta` (a list of floats)
    with gradient `grad`, moments `m`, `v` from the previous step and step number t (1, 2, ...).
    Returns (new theta, new m, new v) as three lists."""
    new_theta, new_m, new_v = [], [], []
    for p, g, m_i, v_i in zip(theta, grad, m, v):
        m_i = beta1 * m_i + (1 - beta1) * g
        v_i = beta2 * v_i + (1 - beta2) * g * g
        m_hat = m_i / (1 - beta1**t)  # bias correction: m and v start at 0
        v_hat = v_i / (1 - beta2**t)
        p = p - lr * weight_decay * p  # decoupled weight decay: not part of the gradient
        p = p - lr * m_hat / (math.sqrt(v_hat) + eps)
        new_theta.append(p)
        new_m.append(m_i)
        new_v.append(v_i)
    return new_theta, new_m, new_v
'''


def _q4_inputs(rng: random.Random) -> tuple:
    n = rng.randint(1, 6)
    theta = tuple(rng.gauss(0, 1) for _ in range(n))
    grad = tuple(rng.gauss(0, 10 ** rng.uniform(-2, 1)) for _ in range(n))
    t = rng.randint(1, 30)
    m = tuple(rng.gauss(0, 0.1) for _ in range(n)) if t > 1 else (0.0,) * n
    v = tuple(rng.uniform(0, 0.1) for _ in range(n)) if t > 1 else (0.0,) * n
    return (
        theta,
        grad,
        m,
        v,
        t,
        10 ** rng.uniform(-4, -1),
        rng.choice([0.9, 0.8]),
        rng.choice([0.999, 0.99, 0.95]),
        rng.choice([1e-8, 1e-3]),
        rng.choice([0.0, 0.1, 0.5]),
    )


q4 = FunctionExercise(
    name="q4",
    answer_name="adamw_step",
    solution_code=_Q4_SOLUTION,
    make_inputs=_q4_inputs,
    edge_cases=[
        ([1.0], [0.5], [0.0], [0.0], 1, 0.1, 0.9, 0.999, 1e-8, 0.0),  # step 1: θ − lr·sign(g)
        ([1.0, -2.0], [0.1, 0.2], [0.0, 0.0], [0.0, 0.0], 1, 0.01, 0.9, 0.999, 1e-8, 0.1),
        ([0.5], [0.0], [0.0], [0.0], 1, 0.1, 0.9, 0.999, 1e-8, 0.5),  # no gradient: only decay
    ],
    n_random=10,
    rel_tol=1e-9,
    abs_tol=1e-12,
    hint_text=(
        "Per parameter: update the two running averages m ← β₁m + (1−β₁)g and v ← β₂v + (1−β₂)g²; "
        "correct their bias towards 0 with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ); then "
        "θ ← θ − lr·λ·θ − lr·m̂/(√v̂ + ε). The weight decay λ shrinks θ directly; it is not added "
        "to the gradient (that would be Adam with an L2 penalty, which is not the same)."
    ),
    wrong_answers=[
        # Adam with an L2 penalty: the decay goes into the gradient
        "import math\n\n"
        "def adamw_step(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):\n"
        "    out = ([], [], [])\n"
        "    for p, g, mi, vi in zip(theta, grad, m, v):\n"
        "        g = g + weight_decay * p\n"
        "        mi = beta1 * mi + (1 - beta1) * g\n"
        "        vi = beta2 * vi + (1 - beta2) * g * g\n"
        "        p = p - lr * (mi / (1 - beta1**t)) / (math.sqrt(vi / (1 - beta2**t)) + eps)\n"
        "        for lst, x in zip(out, (p, mi, vi)):\n"
        "            lst.append(x)\n"
        "    return out\n",
        # no bias correction
        "import math\n\n"
        "def adamw_step(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):\n"
        "    out = ([], [], [])\n"
        "    for p, g, mi, vi in zip(theta, grad, m, v):\n"
        "        mi = beta1 * mi + (1 - beta1) * g\n"
        "        vi = beta2 * vi + (1 - beta2) * g * g\n"
        "        p = p - lr * weight_decay * p - lr * mi / (math.sqrt(vi) + eps)\n"
        "        for lst, x in zip(out, (p, mi, vi)):\n"
        "            lst.append(x)\n"
        "    return out\n",
        # the decay not multiplied by the learning rate
        "import math\n\n"
        "def adamw_step(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):\n"
        "    out = ([], [], [])\n"
        "    for p, g, mi, vi in zip(theta, grad, m, v):\n"
        "        mi = beta1 * mi + (1 - beta1) * g\n"
        "        vi = beta2 * vi + (1 - beta2) * g * g\n"
        "        p = p - weight_decay * p - lr * (mi / (1 - beta1**t)) / (math.sqrt(vi / (1 - beta2**t)) + eps)\n"
        "        for lst, x in zip(out, (p, mi, vi)):\n"
        "            lst.append(x)\n"
        "    return out\n",
        # eps inside the square root
        "import math\n\n"
        "def adamw_step(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):\n"
        "    out = ([], [], [])\n"
        "    for p, g, mi, vi in zip(theta, grad, m, v):\n"
        "        mi = beta1 * mi + (1 - beta1) * g\n"
        "        vi = beta2 * vi + (1 - beta2) * g * g\n"
        "        p = p - lr * weight_decay * p - lr * (mi / (1 - beta1**t)) / math.sqrt(vi / (1 - beta2**t) + eps)\n"
        "        for lst, x in zip(out, (p, mi, vi)):\n"
        "            lst.append(x)\n"
        "    return out\n",
    ],
)
