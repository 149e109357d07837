"""Exercises for notebook 06 (seq2seq + attention): ``from labkit.exercises import nb06 as ex``.

- ``q1`` (function, the formula re-type): ``additive_weights(s, H, W_q, W_k, v)`` — Bahdanau's
  attention weights ``α = softmax(vᵀ tanh(W_q s + W_k h_j))`` over the source positions ``j``.
- ``q2`` (function, apply): ``scores(predictions, targets)`` — exact-match accuracy and
  per-character accuracy of a list of translations.
- ``q3`` (value, predict numbers by hand): greedy decoding vs a beam of two on a two-step
  decoder whose probabilities are given: which output each finds, and its probability.
- ``q4`` (predict, then run): in a freshly initialised encoder without attention, does changing
  the day's digit or the year's last digit move the context ``c = h_S`` more?
- ``q5`` (explanation of q4, read by a person): the bottleneck, and what attention reads instead.

The tensor exercise passes float64 tensors to the learner's function and compares the tensor it
returns with the reference's, value by value. Nothing here imports torch until a check runs.
"""

from __future__ import annotations

import random
from typing import Any

from labkit.exercises.core import (
    ChoiceExercise,
    ExplainExercise,
    FunctionExercise,
    ValueExercise,
    WrongAnswer,
)
from labkit.exercises.tensors import TensorFunctionExercise, random_matrix, random_vector

_matrix, _vector = random_matrix, random_vector


# --------------------------------------------------------------------------- q1

_Q1_SOLUTION = '''\
import torch


def additive_weights(s: torch.Tensor, H: torch.Tensor, W_q: torch.Tensor, W_k: torch.Tensor,
                     v: torch.Tensor) -> torch.Tensor:
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
    points=1,
    hint_text=(
        "Two lines. `W_q @ s` is one vector of size A; `H @ W_k.T` has one row W_k h_j per "
        "source position (S × A). Add them (broadcasting adds W_q s to every row), take "
        "`torch.tanh`, and multiply by v to get one score e_j per position. The weights are the "
        "softmax of the S scores (over the source positions, dim=0)."
    ),
    wrong_answers=[
        WrongAnswer(
            "import torch\n\ndef additive_weights(s, H, W_q, W_k, v):\n"
            "    return torch.softmax((W_q @ s + H @ W_k.T) @ v, dim=0)\n",
            why="your scores have no tanh: additive attention passes W_q s + W_k h_j through a "
            "layer of tanh units before v",
        ),
        WrongAnswer(
            "import torch\n\ndef additive_weights(s, H, W_q, W_k, v):\n"
            "    return torch.tanh(W_q @ s + H @ W_k.T) @ v\n",
            why="you returned the scores e_j: the weights are their softmax over the source "
            "positions (positive, summing to 1)",
        ),
        WrongAnswer(
            "import torch\n\ndef additive_weights(s, H, W_q, W_k, v):\n"
            "    return torch.softmax(torch.tanh((W_q @ s + H @ W_k.T) @ v), dim=0)\n",
            why="you applied the tanh after multiplying by v: it belongs on the A numbers "
            "W_q s + W_k h_j, before v turns them into one score",
        ),
        WrongAnswer(
            "import torch\n\ndef additive_weights(s, H, W_q, W_k, v):\n"
            "    no_W_k = torch.eye(H.shape[1], len(v), dtype=H.dtype)\n"
            "    return torch.softmax(torch.tanh(W_q @ s + H @ no_W_k) @ v, dim=0)\n",
            why="you left W_k out: every encoder state h_j must be projected by W_k before it is "
            "added to W_q s",
        ),
    ],
)

# --------------------------------------------------------------------------- q2

_Q2_SOLUTION = '''\
def scores(predictions: list[str], targets: list[str]) -> dict[str, float]:
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
    points=2,
    hint_text=(
        "Walk through `zip(predictions, targets)`. exact: count the pairs with p == t and divide "
        "by the number of targets. char: for each pair count the positions i where p[i] == t[i] "
        "(`zip(p, t)` stops at the shorter string, which is what you want), add up over all "
        "pairs, and divide by the total number of TARGET characters."
    ),
    wrong_answers=[
        WrongAnswer(
            "def scores(predictions, targets):\n"
            "    exact = sum(p == t for p, t in zip(predictions, targets))\n"
            "    right = sum(a == b for p, t in zip(predictions, targets) for a, b in zip(p, t))\n"
            "    return {'exact': exact, 'char': right / sum(len(t) for t in targets)}\n",
            why="your exact is a count of matches: divide it by the number of targets to get a "
            "share between 0 and 1",
        ),
        WrongAnswer(
            "def scores(predictions, targets):\n"
            "    exact = sum(p == t for p, t in zip(predictions, targets)) / len(targets)\n"
            "    right = sum(a == b for p, t in zip(predictions, targets) for a, b in zip(p, t))\n"
            "    return {'exact': exact, 'char': right / max(1, sum(len(p) for p in predictions))}\n",
            why="you divided by the number of predicted characters, so a prediction that stops "
            "early loses nothing: divide by the number of target characters",
        ),
        WrongAnswer(
            "def scores(predictions, targets):\n"
            "    exact = sum(p == t for p, t in zip(predictions, targets)) / len(targets)\n"
            "    right = sum(sum(a in t for a in p[: len(t)]) for p, t in zip(predictions, targets))\n"
            "    return {'exact': exact, 'char': right / sum(len(t) for t in targets)}\n",
            why="you counted a character as right when it occurs anywhere in the target: it must "
            "equal the target's character at the same position",
        ),
        WrongAnswer(
            "def scores(predictions, targets):\n"
            "    exact = sum(t.startswith(p) for p, t in zip(predictions, targets)) / len(targets)\n"
            "    right = sum(a == b for p, t in zip(predictions, targets) for a, b in zip(p, t))\n"
            "    return {'exact': exact, 'char': right / sum(len(t) for t in targets)}\n",
            why="you counted a prediction as exact when the target merely starts with it: one "
            "that stopped early is not an exact match",
        ),
    ],
)

# --------------------------------------------------------------------------- q3


def _q3_given() -> dict[str, Any]:
    """The names the notebook's q3 cell defines: a decoder's next-digit probabilities."""
    return {
        "p_first": {"0": 0.4, "1": 0.6},
        "p_second": {"0": {"9": 0.95, "1": 0.05}, "1": {"1": 0.5, "2": 0.3, "0": 0.2}},
    }


_Q3_SOLUTION = """\
# every two-digit output and its probability p(first) · p(second | first)
candidates = {a + b: p_first[a] * p_second[a][b] for a in p_first for b in p_second[a]}
first = max(p_first, key=p_first.get)  # greedy: the most likely first digit, then never looks back
greedy = first + max(p_second[first], key=p_second[first].get)
# a beam of 2 keeps both first digits, so after step 2 it has seen every candidate
beam = max(candidates, key=candidates.get)
answer = {"greedy": greedy, "p_greedy": candidates[greedy], "beam": beam, "p_beam": candidates[beam]}
"""

q3 = ValueExercise(
    name="q3",
    answer_name="answer",
    solution_code=_Q3_SOLUTION,
    given=_q3_given,
    points=2,
    hint_text=(
        "Greedy: take the most likely first digit, then the most likely second digit after it. "
        "Beam of width 2: after step 1 keep BOTH first digits; extend each by every second digit, "
        "score each two-digit output by p(first) · p(second | first), and keep the best. The "
        "probability of an output is the product of its steps' probabilities."
    ),
    wrong_answers=[
        WrongAnswer(
            'answer = {"greedy": "09", "p_greedy": 0.38, "beam": "09", "p_beam": 0.38}\n',
            why="greedy decoding never looks ahead: it commits to the most likely first digit "
            "before it sees what can follow",
        ),
        WrongAnswer(
            'answer = {"greedy": "11", "p_greedy": 1.1, "beam": "09", "p_beam": 1.35}\n',
            why="you added the two steps' probabilities: an output's probability is their "
            "product (its log-probability is the sum of their logs)",
        ),
        WrongAnswer(
            'answer = {"greedy": "11", "p_greedy": 0.3, "beam": "11", "p_beam": 0.3}\n',
            why="a beam of width 2 keeps the two best first digits, so the path through the less "
            "likely first digit is still in the running at step 2",
        ),
        WrongAnswer(
            'answer = {"greedy": "11", "p_greedy": 0.5, "beam": "09", "p_beam": 0.95}\n',
            why="your probabilities are those of the second step only: an output's probability "
            "multiplies the probabilities of both its digits",
        ),
    ],
)

# --------------------------------------------------------------------------- q4, q5

# The experiment (the notebook's run cell): a freshly initialised Seq2Seq without attention
# (GRU encoder, the notebook's SIZE), the source "Saturday, 28 November 2026" and two variants that
# change one digit: the day's (position 10) or the year's last (position 25). Measured with
# LABKIT_SEED_OFFSET=0..9 in fast mode (H = 32) and in full mode (H = 64): the year's digit
# moved c = h_S 1.2e3 to 5.4e3 times as much as the day's (relative changes 1.8e-4 to 7.7e-4 for
# the day, 0.69 to 1.6 for the year), while the largest relative change of an encoder state h_s
# was of the same size for both (0.86 to 1.5 for the day, 0.69 to 1.6 for the year).
q4 = ChoiceExercise(
    name="q4",
    answer_name="prediction_q4",
    solution_code='prediction_q4 = "b"\n',
    options={
        "a": "about equally (within a factor of 10): c = h_S has read both digits",
        "b": "the year's digit moves c more than 100 times as much as the day's digit",
        "c": "the day's digit moves c more: it was read first, and every later state was "
        "computed from it",
    },
    points=1,
    hint_text=(
        "Count the GRU steps between each digit and the end of the source. At each step, an "
        "untrained GRU keeps about z ≈ 0.5 of its old state and mixes in the new input. What is "
        "left of a change after one step, and after 15?"
    ),
    wrong_answers=[
        WrongAnswer(
            'prediction_q4 = "a"\n',
            why="reading a character is not remembering it: every later step rewrites part of "
            "the state, so what came early has been diluted by the time h_S is reached",
        ),
        WrongAnswer(
            'prediction_q4 = "c"\n',
            why="the later states were computed from the day's digit, but each step keeps only "
            "part of the old state, so its trace shrinks with every character read after it",
        ),
    ],
)

q5 = ExplainExercise(
    name="q5",
    prompt=(
        "Explain why the year's last digit moved c = h_S so much more than the day's digit, and "
        "what the second column says about what a model with attention can use."
    ),
    model_answer=(
        "The day's digit is followed by 15 more characters, and each GRU step keeps only part of "
        "the old state (an untrained update gate is near 0.5) and mixes in the new input, so its "
        "trace in the state shrinks roughly geometrically and is almost gone from h_S, while the "
        "year's digit enters h_S in the very last step. Without attention the decoder sees only "
        "c = h_S, so it hardly sees the day: that is the bottleneck, which training must fight by "
        "learning to carry the day for many steps. The encoder state at the day's position did "
        "change a lot (second column), and attention reads every h_s directly, so it gets the day "
        "without the long path through the recurrence."
    ),
    rubric=(
        "1 point: each recurrent step keeps only part of the state, so an early change fades by "
        "the end while the last character enters h_S directly (recency: the bottleneck). 1 point: "
        "the states h_s near the day do change, and attention reads them directly, so it does "
        "not depend on h_S remembering the day."
    ),
    points=2,
)
