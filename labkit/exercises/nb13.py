"""Exercises for notebook 13 (adapt a pretrained LLM): ``from labkit.exercises import nb13 as ex``.

- ``q1`` (function): ``lora_delta(A, B, alpha)`` — the change ``(α/r)·B A`` LoRA adds to a weight.
- ``q2`` (function): ``answer_loss(logprobs, targets)`` — the cross-entropy of the answer tokens only.
- ``q3`` (function): ``calibrated_predictions(scores, content_free)`` — predictions after
  calibrating against a content-free prompt (Zhao et al. 2021).
- ``q4`` (experiment): predict what raising LoRA's rank ``r`` from 4 to 16 does to the trainable
  parameters and to the adapter file, then run it.

Inputs and answers are plain Python values (ints, floats, lists, strings).
"""

from __future__ import annotations

import math
import random
from typing import Any

from labkit.exercises.core import FunctionExercise, ValueExercise

Matrix = tuple[tuple[float, ...], ...]
IGNORE = -100

# --------------------------------------------------------------------------- q1: the LoRA update

_Q1_SOLUTION = '''\
def lora_delta(A, B, alpha):
    """(alpha / r) * B @ A, with A of r rows (r x d_in) and B of r columns (d_out x r)."""
    r = len(A)
    return [
        [alpha / r * sum(B[i][k] * A[k][j] for k in range(r)) for j in range(len(A[0]))]
        for i in range(len(B))
    ]
'''


def _q1_inputs(rng: random.Random) -> tuple[Matrix, Matrix, float]:
    r, d_in, d_out = rng.randint(1, 4), rng.randint(2, 5), rng.randint(2, 5)
    while d_out == d_in:  # B A and A B cannot both have the right shape
        d_out = rng.randint(2, 5)
    a = tuple(tuple(rng.uniform(-1, 1) for _ in range(d_in)) for _ in range(r))
    b = tuple(tuple(rng.uniform(-1, 1) for _ in range(r)) for _ in range(d_out))
    return a, b, rng.choice([1.0, 8.0, 16.0, 32.0])


q1 = FunctionExercise(
    name="q1",
    answer_name="lora_delta",
    solution_code=_Q1_SOLUTION,
    make_inputs=_q1_inputs,
    edge_cases=[
        ([[1.0, 2.0, 3.0]], [[1.0], [0.0]], 2.0),  # r = 1: an outer product, scaled by 2/1
        ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]], 16.0),  # B = 0: no change
        ([[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], 4.0),
    ],
    n_random=8,
    rel_tol=1e-9,
    abs_tol=1e-12,
    hint_text=(
        "A has r rows (r × d_in) and B has r columns (d_out × r), so B A is d_out × d_in: the shape "
        "of the weight it is added to. r is the number of rows of A. Every entry is scaled by "
        "alpha / r, not by alpha."
    ),
    wrong_answers=[
        # forgot the scaling
        "def lora_delta(A, B, alpha):\n"
        "    r = len(A)\n"
        "    return [[sum(B[i][k] * A[k][j] for k in range(r)) for j in range(len(A[0]))]\n"
        "            for i in range(len(B))]\n",
        # scaled by alpha instead of alpha / r
        "def lora_delta(A, B, alpha):\n"
        "    r = len(A)\n"
        "    return [[alpha * sum(B[i][k] * A[k][j] for k in range(r)) for j in range(len(A[0]))]\n"
        "            for i in range(len(B))]\n",
        # r taken as d_in (the length of a row of A)
        "def lora_delta(A, B, alpha):\n"
        "    r, d = len(A), len(A[0])\n"
        "    return [[alpha / d * sum(B[i][k] * A[k][j] for k in range(r)) for j in range(d)]\n"
        "            for i in range(len(B))]\n",
        # the transpose, (B A)^T: d_in × d_out
        "def lora_delta(A, B, alpha):\n"
        "    r = len(A)\n"
        "    return [[alpha / r * sum(B[i][k] * A[k][j] for k in range(r)) for i in range(len(B))]\n"
        "            for j in range(len(A[0]))]\n",
    ],
)

# --------------------------------------------------------------------------- q2: the answer-only loss

_Q2_SOLUTION = '''\
def answer_loss(logprobs, targets):
    """Mean of -log p(target) over the positions whose target is not -100."""
    kept = [-row[t] for row, t in zip(logprobs, targets) if t != -100]
    return sum(kept) / len(kept)
'''


def _q2_inputs(rng: random.Random) -> tuple[Matrix, tuple[int, ...]]:
    t, v = rng.randint(3, 8), rng.randint(3, 6)
    rows = []
    for _ in range(t):
        w = [rng.random() + 1e-3 for _ in range(v)]
        total = sum(w)
        rows.append(tuple(math.log(x / total) for x in w))
    n_answer = rng.randint(1, t - 1)  # at least one prompt position and one answer position
    targets = [IGNORE] * (t - n_answer) + [rng.randrange(v) for _ in range(n_answer)]
    return tuple(rows), tuple(targets)


q2 = FunctionExercise(
    name="q2",
    answer_name="answer_loss",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_inputs,
    edge_cases=[
        ([[-0.1, -2.4], [-1.0, -0.5], [-0.7, -0.7]], [-100, 1, 0]),  # (0.5 + 0.7) / 2
        ([[-3.0, -0.05]], [1]),  # one answer token
        ([[-0.2, -1.7], [-2.0, -0.14], [-0.9, -0.5]], [-100, -100, 0]),
    ],
    n_random=8,
    rel_tol=1e-9,
    abs_tol=1e-12,
    hint_text=(
        "Keep only the positions whose target is not -100 (the prompt's positions are -100). At "
        "each kept position t the loss is -logprobs[t][targets[t]]. Average over the kept positions "
        "only: dividing by all positions would make a long prompt shrink the loss."
    ),
    wrong_answers=[
        # averaged over every position, prompt included
        "def answer_loss(logprobs, targets):\n"
        "    kept = [-row[t] for row, t in zip(logprobs, targets) if t != -100]\n"
        "    return sum(kept) / len(targets)\n",
        # summed, not averaged
        "def answer_loss(logprobs, targets):\n"
        "    return sum(-row[t] for row, t in zip(logprobs, targets) if t != -100)\n",
        # forgot the minus sign
        "def answer_loss(logprobs, targets):\n"
        "    kept = [row[t] for row, t in zip(logprobs, targets) if t != -100]\n"
        "    return sum(kept) / len(kept)\n",
        # off by one: used the log-probabilities one position later
        "def answer_loss(logprobs, targets):\n"
        "    kept = [-logprobs[min(i + 1, len(logprobs) - 1)][t] for i, t in enumerate(targets)\n"
        "            if t != -100]\n"
        "    return sum(kept) / len(kept)\n",
    ],
)

# --------------------------------------------------------------------------- q3: calibration

_Q3_SOLUTION = '''\
def calibrated_predictions(scores, content_free):
    """argmax_k of log p(label k | x) - log p(label k | content-free prompt), for every x."""
    out = []
    for row in scores:
        shifted = [s - c for s, c in zip(row, content_free)]
        out.append(max(range(len(shifted)), key=shifted.__getitem__))
    return out
'''


def _q3_inputs(rng: random.Random) -> tuple[Matrix, tuple[float, ...]]:
    k, n = rng.randint(2, 4), rng.randint(3, 8)
    bias = [rng.uniform(-6, 0) for _ in range(k)]  # a strong prior for some labels
    scores = tuple(tuple(b + rng.uniform(-1.5, 1.5) for b in bias) for _ in range(n))
    content_free = tuple(b + rng.uniform(-0.2, 0.2) for b in bias)
    return scores, content_free


q3 = FunctionExercise(
    name="q3",
    answer_name="calibrated_predictions",
    solution_code=_Q3_SOLUTION,
    make_inputs=_q3_inputs,
    edge_cases=[
        ([[-9.6, -9.8, -8.6], [-10.6, -9.8, -8.4]], [-10.5, -10.0, -8.2]),  # tragedy was the prior
        ([[-1.0, -2.0]], [-1.0, -2.0]),  # a tie: the first label
        ([[-3.0, -1.0, -2.0], [-1.0, -3.0, -2.0]], [0.0, 0.0, 0.0]),  # nothing to remove
    ],
    n_random=10,
    hint_text=(
        "Scores are log-probabilities, so dividing p(label | x) by p(label | content-free) is "
        "subtracting their logs. Subtract the content-free score of each label from that label's "
        "score in every row, then take the index of the largest (the first one on a tie)."
    ),
    wrong_answers=[
        # no calibration at all
        "def calibrated_predictions(scores, content_free):\n"
        "    return [max(range(len(r)), key=r.__getitem__) for r in scores]\n",
        # added the prior instead of removing it
        "def calibrated_predictions(scores, content_free):\n"
        "    out = []\n"
        "    for r in scores:\n"
        "        s = [a + b for a, b in zip(r, content_free)]\n"
        "        out.append(max(range(len(s)), key=s.__getitem__))\n"
        "    return out\n",
        # divided the log-probabilities (the signs make it nonsense)
        "def calibrated_predictions(scores, content_free):\n"
        "    out = []\n"
        "    for r in scores:\n"
        "        s = [a / b for a, b in zip(r, content_free)]\n"
        "        out.append(max(range(len(s)), key=s.__getitem__))\n"
        "    return out\n",
        # argmin instead of argmax
        "def calibrated_predictions(scores, content_free):\n"
        "    out = []\n"
        "    for r in scores:\n"
        "        s = [a - b for a, b in zip(r, content_free)]\n"
        "        out.append(min(range(len(s)), key=s.__getitem__))\n"
        "    return out\n",
    ],
)

# --------------------------------------------------------------------------- q4: the rank r


def _q4_given() -> dict[str, Any]:
    """The sizes the notebook's q4 cell defines: SmolLM2's q_proj (576 → 576) and v_proj
    (576 → 192) wrapped in 4 blocks, rank 4 in the notebook, 16 in the experiment."""
    return {"d_model": 576, "d_kv": 192, "n_blocks": 4, "r_new": 16}


q4 = ValueExercise(
    name="q4",
    answer_name="answer",
    solution_code=(
        "# A (r × d_in) and B (d_out × r) per matrix: r·(d_in + d_out) numbers, q and v in each block\n"
        "trainable = n_blocks * r_new * ((d_model + d_model) + (d_model + d_kv))\n"
        "# the file holds those numbers, 4 bytes each in float32, and a small header: 4× the r = 4 file\n"
        'answer = (trainable, "c")\n'
    ),
    given=_q4_given,
    hint_text=(
        "LoRA trains A (r × d_in) and B (d_out × r) for every wrapped matrix: r·(d_in + d_out) "
        "numbers each. q_proj maps 576 → 576 and v_proj 576 → 192 in SmolLM2, and both are wrapped "
        "in each of n_blocks blocks. The adapter file stores exactly those numbers (4 bytes each) "
        "plus a header of about 2 KB: how does that scale with r? Answer with a tuple "
        "(trainable parameters at r = r_new, the letter of the file-size choice)."
    ),
    wrong_answers=[
        'answer = (4 * 16 * (576 * 576 + 576 * 192), "c")\n',  # counted the full matrices
        'answer = (4 * 16 * (576 + 576), "c")\n',  # q_proj only
        'answer = (4 * 16 * ((576 + 576) + (576 + 192)), "d")\n',  # the file does not grow as r²
        'answer = (4 * 16 * ((576 + 576) + (576 + 192)), "a")\n',  # nor stay the same
        'answer = (4 * 4 * ((576 + 576) + (576 + 192)), "c")\n',  # r = 4, the notebook's own
    ],
)
