"""Exercises for notebook 06 (seq2seq + attention): ``from labkit.exercises import nb06 as ex``.

- ``q1`` (function): ``additive_weights(s, H, W_q, W_k, v)`` — Bahdanau's attention weights
  ``α = softmax(vᵀ tanh(W_q s + W_k h_j))`` over the source positions ``j``.
- ``q2`` (function): ``scores(predictions, targets)`` — exact-match accuracy and per-character
  accuracy of a list of translations.
- ``q3`` (function): ``masked_softmax(scores, lengths)`` — a softmax over each row that gives
  padding positions (``j >= lengths[b]``) a weight of exactly 0.
- ``q4`` (value): the number of parameters of an additive-attention layer on top of a
  bidirectional encoder.

The tensor exercises pass float64 tensors (and int64 tensors for lengths) to the learner's
function and compare the tensor it returns with the reference's, value by value. Nothing here
imports torch until a check runs.
"""

from __future__ import annotations

import random

from labkit.exercises.core import FunctionExercise, ValueExercise
from labkit.exercises.tensors import TensorFunctionExercise, random_matrix, random_vector

_matrix, _vector = random_matrix, random_vector


# --------------------------------------------------------------------------- q1

_Q1_SOLUTION = '''\
import torch


def additive_weights(s, H, W_q, W_k, v):
    """Bahdanau's weights α_j = softmax_j(vᵀ tanh(W_q s + W_k h_j)).

    s (d_q,) the decoder state, H (S, d_k) the encoder states (one row per source position),
    W_q (A, d_q), W_k (A, d_k), v (A,). Returns α (S,).
    """
    e = torch.tanh(W_q @ s + H @ W_k.T) @ v  # (S,): one score per source position
    return torch.softmax(e, dim=0)
'''


def _q1_inputs(rng: random.Random) -> tuple:
    S, d_q, d_k, A = rng.randint(1, 6), rng.randint(1, 4), rng.randint(1, 4), rng.randint(1, 4)
    return (
        _vector(rng, d_q),
        _matrix(rng, S, d_k),
        _matrix(rng, A, d_q),
        _matrix(rng, A, d_k),
        _vector(rng, A, 2.0),
    )


q1 = TensorFunctionExercise(
    name="q1",
    answer_name="additive_weights",
    solution_code=_Q1_SOLUTION,
    make_inputs=_q1_inputs,
    edge_cases=[
        # one source position: all the weight is on it
        ([1.0], [[2.0]], [[1.0]], [[1.0]], [1.0]),
        # two positions, everything 2-D (d_q = d_k = A = 2)
        (
            [1.0, 0.0],
            [[1.0, 0.0], [0.0, 1.0]],
            [[1.0, 0.0], [0.0, 1.0]],
            [[2.0, 0.0], [0.0, 2.0]],
            [1.0, -1.0],
        ),
        # large pre-activations: tanh saturates at ±1, so the scores stay within ±‖v‖₁
        ([5.0], [[5.0], [-5.0], [0.0]], [[3.0]], [[3.0]], [2.0]),
    ],
    n_random=6,
    hint_text=(
        "Two lines. `W_q @ s` is one vector of size A; `H @ W_k.T` has one row W_k h_j per "
        "source position (S × A). Add them (broadcasting adds W_q s to every row), take "
        "`torch.tanh`, and multiply by v to get one score e_j per position. The weights are the "
        "softmax of the S scores (over the source positions, dim=0)."
    ),
    wrong_answers=[
        # no tanh: the score is linear, not additive attention
        "import torch\n\ndef additive_weights(s, H, W_q, W_k, v):\n"
        "    return torch.softmax((W_q @ s + H @ W_k.T) @ v, dim=0)\n",
        # the scores, not the weights
        "import torch\n\ndef additive_weights(s, H, W_q, W_k, v):\n"
        "    return torch.tanh(W_q @ s + H @ W_k.T) @ v\n",
        # tanh after v instead of before
        "import torch\n\ndef additive_weights(s, H, W_q, W_k, v):\n"
        "    return torch.softmax(torch.tanh((W_q @ s + H @ W_k.T) @ v), dim=0)\n",
        # the key projection forgotten: scores from W_q s + h_j (wrong whenever A != d_k)
        "import torch\n\ndef additive_weights(s, H, W_q, W_k, v):\n"
        "    return torch.softmax(torch.tanh(W_q @ s + H @ torch.eye(H.shape[1], len(v))) @ v, dim=0)\n",
    ],
)

# --------------------------------------------------------------------------- q2

_Q2_SOLUTION = '''\
def scores(predictions, targets):
    """Exact-match and per-character accuracy of predicted strings against target strings.

    exact: the share of predictions equal to their target.
    char:  characters right at the same position, over all target characters
           (a prediction that is too short or too long loses the characters it misses).
    """
    exact = sum(p == t for p, t in zip(predictions, targets)) / len(targets)
    right = sum(a == b for p, t in zip(predictions, targets) for a, b in zip(p, t))
    char = right / sum(len(t) for t in targets)
    return {"exact": exact, "char": char}
'''

_DIGITS = "0123456789"


def _q2_inputs(rng: random.Random) -> tuple:
    n = rng.randint(1, 6)
    targets, predictions = [], []
    for _ in range(n):
        t = f"{rng.randint(1969, 2068)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        p = list(t)
        kind = rng.random()
        if kind < 0.4:  # exactly right
            pass
        elif kind < 0.7:  # one or two characters wrong
            for _ in range(rng.randint(1, 2)):
                p[rng.randrange(len(p))] = rng.choice(_DIGITS)
        elif kind < 0.85:  # stopped early
            p = p[: rng.randint(0, len(p) - 1)]
        else:  # went on too long
            p += rng.choices(_DIGITS, k=rng.randint(1, 3))
        targets.append(t)
        predictions.append("".join(p))
    return tuple(predictions), tuple(targets)  # tuples: a check's inputs must be hashable


q2 = FunctionExercise(
    name="q2",
    answer_name="scores",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_inputs,
    edge_cases=[
        (["2026-11-28"], ["2026-11-28"]),  # right: 1 and 1
        (["2026-11-29", "1999-01-01"], ["2026-11-28", "1999-01-01"]),  # one character off
        (["2026-11", "2026-11-2899"], ["2026-11-28", "2026-11-28"]),  # too short, too long
        (["", "8202-11-62"], ["2026-11-28", "2026-11-28"]),  # empty; right characters, wrong places
    ],
    n_random=8,
    hint_text=(
        "Walk through `zip(predictions, targets)`. exact: count the pairs with p == t and divide "
        "by the number of targets. char: for each pair count the positions i where p[i] == t[i] "
        "(`zip(p, t)` stops at the shorter string, which is what you want), add up over all "
        "pairs, and divide by the total number of TARGET characters."
    ),
    wrong_answers=[
        # a count, not a share
        "def scores(predictions, targets):\n"
        "    exact = sum(p == t for p, t in zip(predictions, targets))\n"
        "    right = sum(a == b for p, t in zip(predictions, targets) for a, b in zip(p, t))\n"
        "    return {'exact': exact, 'char': right / sum(len(t) for t in targets)}\n",
        # char divided by the predicted characters: a too-short answer is not punished
        "def scores(predictions, targets):\n"
        "    exact = sum(p == t for p, t in zip(predictions, targets)) / len(targets)\n"
        "    right = sum(a == b for p, t in zip(predictions, targets) for a, b in zip(p, t))\n"
        "    return {'exact': exact, 'char': right / max(1, sum(len(p) for p in predictions))}\n",
        # characters counted anywhere in the target, not at their position
        "def scores(predictions, targets):\n"
        "    exact = sum(p == t for p, t in zip(predictions, targets)) / len(targets)\n"
        "    right = sum(sum(a in t for a in p[: len(t)]) for p, t in zip(predictions, targets))\n"
        "    return {'exact': exact, 'char': right / sum(len(t) for t in targets)}\n",
        # "exact" when the prediction merely starts like the target
        "def scores(predictions, targets):\n"
        "    exact = sum(t.startswith(p) for p, t in zip(predictions, targets)) / len(targets)\n"
        "    right = sum(a == b for p, t in zip(predictions, targets) for a, b in zip(p, t))\n"
        "    return {'exact': exact, 'char': right / sum(len(t) for t in targets)}\n",
    ],
)

# --------------------------------------------------------------------------- q3

_Q3_SOLUTION = '''\
import torch


def masked_softmax(scores, lengths):
    """Softmax over each row of scores (B, S), where row b attends only to its first
    lengths[b] positions: the padding positions get a weight of exactly 0."""
    S = scores.shape[1]
    real = torch.arange(S)[None, :] < lengths[:, None]  # (B, S) True = a real token
    return torch.softmax(scores.masked_fill(~real, float("-inf")), dim=-1)
'''


def _q3_inputs(rng: random.Random) -> tuple:
    B, S = rng.randint(1, 4), rng.randint(1, 6)
    return _matrix(rng, B, S, 2.0), [rng.randint(1, S) for _ in range(B)]


q3 = TensorFunctionExercise(
    name="q3",
    answer_name="masked_softmax",
    solution_code=_Q3_SOLUTION,
    make_inputs=_q3_inputs,
    edge_cases=[
        ([[1.0, 2.0, 3.0]], [3]),  # no padding: a plain softmax
        ([[0.0, 0.0, 0.0]], [2]),  # one pad position: 0.5 0.5 0
        ([[1.0, 5.0, 9.0], [0.0, 0.0, 9.0]], [1, 2]),  # large scores on padding must vanish
    ],
    n_random=6,
    hint_text=(
        "Build a (B, S) bool mask that is True where the position j is smaller than the row's "
        "length (`torch.arange(S)[None, :] < lengths[:, None]`). Put float('-inf') into the "
        "scores where it is False (`masked_fill`), then take the softmax along each row. "
        "Setting the padding scores to 0 is not enough: exp(0) = 1."
    ),
    wrong_answers=[
        # padding scores set to 0: they still get weight exp(0)
        "import torch\n\ndef masked_softmax(scores, lengths):\n"
        "    real = torch.arange(scores.shape[1])[None, :] < lengths[:, None]\n"
        "    return torch.softmax(scores * real, dim=-1)\n",
        # softmax first, then zeroing: the rows no longer sum to 1
        "import torch\n\ndef masked_softmax(scores, lengths):\n"
        "    real = torch.arange(scores.shape[1])[None, :] < lengths[:, None]\n"
        "    return torch.softmax(scores, dim=-1) * real\n",
        # off by one: position lengths[b] (the first pad) is let through
        "import torch\n\ndef masked_softmax(scores, lengths):\n"
        "    real = torch.arange(scores.shape[1])[None, :] <= lengths[:, None]\n"
        "    return torch.softmax(scores.masked_fill(~real, float('-inf')), dim=-1)\n",
    ],
)

# --------------------------------------------------------------------------- q4

q4 = ValueExercise(
    name="q4",
    answer_name="answer",
    solution_code=(
        "d_q = 64  # the decoder state\n"
        "d_k = 2 * 64  # an encoder state: the forward and the backward state side by side\n"
        "A = 32  # the size of the tanh layer\n"
        "answer = A * d_q + A * d_k + A  # W_q, W_k and v (no biases)\n"
    ),
    hint_text=(
        "Count the three parameter tensors of vᵀ tanh(W_q s + W_k h): W_q maps a decoder state "
        "(d_q = 64) to A = 32 numbers, W_k maps an encoder state to A numbers, and v has A "
        "entries. A bidirectional encoder's state h_j is the forward and the backward state "
        "side by side, so d_k = 2 × 64."
    ),
    wrong_answers=[
        "answer = 32 * 64 + 32 * 64 + 32\n",  # forgot that the encoder is bidirectional
        "answer = 32 * 64 + 32 * 128\n",  # forgot v
        "answer = 32 * 64 + 32 * 128 + 32 + 32 + 32\n",  # added biases the formula does not have
    ],
)
