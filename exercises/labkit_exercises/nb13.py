"""Exercises for notebook 13 (adapt a pretrained LLM): ``from labkit.exercises import nb13 as ex``.

- ``q1`` (function): ``lora_delta(A, B, alpha)``, the change ``(α/r)·B A`` LoRA adds to a weight.
  **The formula re-type** of this notebook (section 4 shows the formula).
- ``q2`` (function, find and fix the bugs): ``calibrated_predictions(scores, content_free)``
  (Zhao et al. 2021); the given version subtracts probabilities and takes the argmax over the
  wrong axis.
- ``q3`` (choice, predict then run): section 8's adapter trained again at rank 16 instead of 4
  (α = 2r, so α/r stays 2): how large is its file?
- ``q4`` (explanation): what the adapter file holds, why it grew by the factor seen, and why that
  factor is a little under 4.

q1 takes plain Python values; q2's nested lists become float64 tensors before the call. The
experiment of q3 wraps SmolLM2's matrices at r = 16 (``labkit.seed(0)`` draws A), trains the
adapter as section 8 did in full mode (``labkit.generator(0)`` orders the batches; fast mode skips
the training, as a 4-block model cannot write) and saves it. A safetensors file's size depends
only on the tensors' shapes (4 blocks, ``q_proj`` 576 → 576 and ``v_proj`` 576 → 192, float32)
and on its header (the layers' names, the settings), never on the values: the seed and the
training cannot move it, and the mode barely does (fast mode cuts the model to 4 blocks, and
section 8 wraps the top 4 in both). Measured: 124,776 bytes at r = 4 and 493,456 at r = 16 in
fast mode, 124,800 and 493,480 in full mode (the wrapped blocks' numbers have two digits there);
122,880 and 491,520 of them are A and B, the rest a header of 1,896 to 1,960 bytes. The ratio is
3.954 to 3.955 in both modes (tests/test_exercises_nb13.py checks both).
"""

from __future__ import annotations

import math
import random

from labkit.exercises.core import ChoiceExercise, ExplainExercise, FunctionExercise, WrongAnswer
from labkit.exercises.tensors import TensorFunctionExercise

Matrix = tuple[tuple[float, ...], ...]

# --------------------------------------------------------------------------- q1: the LoRA update

_Q1_SOLUTION = '''\
def lora_delta(A: list[list[float]], B: list[list[float]], alpha: float) -> list[list[float]]:
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
        WrongAnswer(
            "def lora_delta(A, B, alpha):\n"
            "    r = len(A)\n"
            "    return [[sum(B[i][k] * A[k][j] for k in range(r)) for j in range(len(A[0]))]\n"
            "            for i in range(len(B))]\n",
            why="your product B A is right, but LoRA scales it by alpha / r before adding it to "
            "the weight",
        ),
        WrongAnswer(
            "def lora_delta(A, B, alpha):\n"
            "    r = len(A)\n"
            "    return [[alpha * sum(B[i][k] * A[k][j] for k in range(r)) for j in range(len(A[0]))]\n"
            "            for i in range(len(B))]\n",
            why="you scaled by alpha alone; the factor divides by the rank too, which keeps the "
            "update's size comparable across ranks",
        ),
        WrongAnswer(
            "def lora_delta(A, B, alpha):\n"
            "    r, d = len(A), len(A[0])\n"
            "    return [[alpha / d * sum(B[i][k] * A[k][j] for k in range(r)) for j in range(d)]\n"
            "            for i in range(len(B))]\n",
            why="you divided alpha by the length of a row of A, which is d_in; the rank r is the "
            "number of rows of A",
        ),
        WrongAnswer(
            "def lora_delta(A, B, alpha):\n"
            "    r = len(A)\n"
            "    return [[alpha / r * sum(B[i][k] * A[k][j] for k in range(r)) for i in range(len(B))]\n"
            "            for j in range(len(A[0]))]\n",
            why="your matrix is d_in × d_out, the transpose: the change must have the shape of "
            "the weight, d_out rows of d_in numbers",
        ),
    ],
    points=2,
)

# --------------------------------------------------------------------------- q2: fix the calibration

_Q2_SOLUTION = '''\
import torch


def calibrated_predictions(scores: torch.Tensor, content_free: torch.Tensor) -> torch.Tensor:
    """(N, K) log p(label k | x_i), (K,) log p(label k | content-free) -> (N,) labels:
    argmax_k of log p(k | x_i) - log p(k | content-free), the first label on a tie."""
    return (scores - content_free).argmax(dim=1)
'''


def _log_rows(rows: list[list[float]]) -> list[list[float]]:
    return [[math.log(p) for p in row] for row in rows]


# A prior of (0.5, 0.45, 0.05) over three labels: dividing by it and subtracting it disagree on
# the first two rows (ratios 1.2, 0.67, 2 but differences +0.1, -0.15, +0.05 on the first).
_Q2_PRIOR = [math.log(p) for p in (0.5, 0.45, 0.05)]
_Q2_SCORES = _log_rows([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.45, 0.5, 0.05], [0.1, 0.1, 0.8]])


def _q2_inputs(rng: random.Random) -> tuple[list[list[float]], list[float]]:
    k, n = rng.randint(2, 4), rng.randint(3, 8)
    bias = [rng.uniform(-6, 0) for _ in range(k)]  # a strong prior for some labels
    scores = [[round(b + rng.uniform(-1.5, 1.5), 4) for b in bias] for _ in range(n)]
    content_free = [round(b + rng.uniform(-0.2, 0.2), 4) for b in bias]
    return scores, content_free


q2 = TensorFunctionExercise(
    name="q2",
    answer_name="calibrated_predictions",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_inputs,
    edge_cases=[
        (_Q2_SCORES, _Q2_PRIOR),
        ([[-9.6, -9.8, -8.6], [-10.6, -9.8, -8.4]], [-10.5, -10.0, -8.2]),  # tragedy was the prior
        ([[-3.0, -1.0, -2.0], [-1.0, -3.0, -2.0]], [0.0, 0.0, 0.0]),  # nothing to remove
    ],
    n_random=10,
    hint_text=(
        "Check the given function on two questions. Zhao et al. divide p(label | x) by "
        "p(label | content-free): what does a division become for log-probabilities, and is it "
        "the same as subtracting the probabilities? And `argmax(dim=0)` picks, in each column, "
        "the row with the largest value: is a row a speech or a label here? The answer has one "
        "label per speech."
    ),
    wrong_answers=[
        WrongAnswer(
            "def calibrated_predictions(scores, content_free):\n"
            "    p, p_free = scores.exp(), content_free.exp()\n"
            "    return (p - p_free).argmax(dim=0)\n",
            why="this is the given function, with both of its bugs: it subtracts probabilities, "
            "and it takes the argmax over the speeches (one answer per label)",
        ),
        WrongAnswer(
            "def calibrated_predictions(scores, content_free):\n"
            "    return (scores.exp() - content_free.exp()).argmax(dim=1)\n",
            why="you now have one label per speech, but you still subtract probabilities; "
            "calibration divides by the content-free probability, so a label the model rarely "
            "gives gains as much from a doubling as a frequent one",
        ),
        WrongAnswer(
            "def calibrated_predictions(scores, content_free):\n"
            "    return (scores - content_free).argmax(dim=0)\n",
            why="you now remove the prior in the right way, but `argmax(dim=0)` still runs over "
            "the speeches: it gives one index per label instead of one label per speech",
        ),
        WrongAnswer(
            "def calibrated_predictions(scores, content_free):\n"
            "    return (scores + content_free).argmax(dim=1)\n",
            why="adding the content-free log-probabilities doubles the prior instead of removing "
            "it: the label the model favours anyway wins even more often",
        ),
        WrongAnswer(
            "def calibrated_predictions(scores, content_free):\n"
            "    return scores.argmax(dim=1)\n",
            why="these are the uncalibrated predictions: content_free is never used, so the "
            "model's prior stays in",
        ),
    ],
    points=2,
)

# --------------------------------------------------------------------------- q3, q4: an experiment

q3 = ChoiceExercise(
    name="q3",
    answer_name="prediction_q3",
    solution_code='prediction_q3 = "c"\n',
    options={
        "a": "About the same size: the adapter stores the change (α/r)·B A of each wrapped "
        "weight, whose shape does not depend on r.",
        "b": "Only a little larger (under 10 % more): most of the file is its header, the "
        "names of the wrapped layers and the settings.",
        "c": "About four times as large.",
        "d": "About sixteen times as large: A and B both grow with r, and their product "
        "is what the file has to hold.",
    },
    hint_text=(
        "Section 8 wrote the file's size as a formula: r (d_in + d_out) numbers per wrapped "
        "matrix, times the matrices, times 4 bytes, plus a header of about 2 KB. Which of these "
        "factors does the rank change, and by how much does r grow?"
    ),
    wrong_answers=[
        WrongAnswer(
            'prediction_q3 = "a"\n',
            why="the change (α/r)·B A is never stored: it is a d_out × d_in matrix, far larger "
            "than the two thin factors that `save_lora` writes",
        ),
        WrongAnswer(
            'prediction_q3 = "b"\n',
            why="the header (the layers' names and the settings, as JSON) is about 2 KB, while "
            "A and B at r = 4 already take 122,880 bytes: the numbers are most of the file",
        ),
        WrongAnswer(
            'prediction_q3 = "d"\n',
            why="A and B each gain rows or columns in proportion to r, and the file holds the two "
            "factors side by side, not their product: their sizes add, they do not multiply",
        ),
    ],
    points=1,
)

q4 = ExplainExercise(
    name="q4",
    prompt=(
        "Explain the file sizes you saw: what exactly does the adapter file hold, and why did its "
        "size change by the factor you measured (look at the third decimal too) when r went from "
        "4 to 16?"
    ),
    model_answer=(
        "The adapter holds only the two factors of each wrapped matrix, A (r × d_in) and "
        "B (d_out × r): r (d_in + d_out) float32 numbers, 4 bytes each, plus a JSON header of about "
        "2 KB with the layers' names and the settings; neither the frozen weights nor the product "
        "B A is stored. The numbers grow linearly with r: from 122,880 bytes at r = 4 to 491,520 "
        "at r = 16, four times as many. The header is about the same in both files, so the ratio "
        "of the file sizes is a little under 4 (about 3.95). Four times the parameters is still "
        "under half a megabyte, against 538 MB for the model itself."
    ),
    rubric=(
        "1 point: the file stores A and B, r (d_in + d_out) numbers per matrix, so its size is "
        "linear in r (not the product, not the base weights). 1 point: a header of about the same "
        "size is added to both files, which makes the ratio slightly below 4."
    ),
    hint_text=(
        "Subtract the bytes of A and B (section 8's formula) from each file's size: what is left, "
        "and does it depend on r?"
    ),
    points=2,
)
