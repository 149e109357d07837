"""Exercises for notebook 12 (a real LLM in your own code): ``from labkit.exercises import nb12 as ex``.

- ``q1`` (function): ``rope(x, t, base)``, one query/key vector rotated to position ``t``.
  **The formula re-type** of this notebook (section 3 shows the rotation).
- ``q2`` (function, find and fix the bug): ``repeat_kv(kv, n_rep)``; the given version runs and has
  the right shape, but hands the query heads the wrong key/value heads.
- ``q3`` (value, a new case): the KV cache of Llama 2 70B for one full context, with and without
  grouped-query attention.
- ``q4`` (choice, predict then run): the same prompt run from position ``s`` instead of 0 (every
  position shifted by ``s``): what happens to SmolLM2's next-token probabilities?
- ``q5`` (explanation): why the shift changed (nearly) nothing, and what it would do to GPT-2.

q1 takes plain Python values; q2's nested lists become float64 tensors before the call. The
experiment of q4 runs SmolLM2 with its pretrained weights; it draws the shifts at random
(``labkit.generator(12)``): four in 1 … 8192 − T. It does not depend on the mode (the full
30-block model is loaded in both). Measured over seed offsets 0-9 (40 shifts, from 89 to 8,124):
the largest |Δ log p| over all 49,152 next tokens was 7.2e-4 (option (a) allows 0.01), and the three
most likely tokens and their order never changed ('The' 15.2 %, 'L' 14.0 %, 'La' 10.4 %). On four
other chat prompts, shifts of 10, 1,000, 5,000 and the largest that fits gave 2.5e-5 to 6.8e-4: the
differences grow with the shift (float32 angles (t + s)·θ lose digits as they grow).
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
from labkit.exercises.tensors import TensorFunctionExercise, random_vector

Vector = tuple[float, ...]

# --------------------------------------------------------------------------- q1: RoPE

_Q1_SOLUTION = '''\
import math


def rope(x: list[float], t: int, base: float = 10000.0) -> list[float]:
    """Rotate each pair (x[i], x[i + d/2]) by the angle t * base**(-2i/d)."""
    d = len(x)
    half = d // 2
    out = list(x)
    for i in range(half):
        angle = t * base ** (-2 * i / d)
        c, s = math.cos(angle), math.sin(angle)
        a, b = x[i], x[i + half]
        out[i] = a * c - b * s
        out[i + half] = b * c + a * s
    return out
'''


def _q1_inputs(rng: random.Random) -> tuple[Vector, int, float]:
    d = 2 * rng.randint(2, 8)
    x = tuple(rng.gauss(0, 1) for _ in range(d))
    return x, rng.randint(1, 60), rng.choice([100.0, 10000.0, 100000.0])


q1 = FunctionExercise(
    name="q1",
    answer_name="rope",
    solution_code=_Q1_SOLUTION,
    make_inputs=_q1_inputs,
    edge_cases=[
        ([1.0, 0.0], 1, 10000.0),  # one pair, θ = 1: (cos 1, sin 1)
        ([1.0, 2.0, 3.0, 4.0], 0, 10000.0),  # position 0: unchanged
        ([1.0, 2.0, 3.0, 4.0], 3, 100.0),
        ([0.5, -1.0, 2.0, 0.0, 1.0, 1.0], 7, 10.0),
    ],
    n_random=8,
    rel_tol=1e-6,
    abs_tol=1e-7,
    hint_text=(
        "Coordinate i is paired with coordinate i + d/2 (not i + 1), for i = 0 … d/2 − 1. Pair i "
        "turns by angle t·θ_i with θ_i = base^(−2i/d): new x_i = x_i·cos − x_{i+d/2}·sin and new "
        "x_{i+d/2} = x_{i+d/2}·cos + x_i·sin. Position 0 leaves x unchanged."
    ),
    wrong_answers=[
        WrongAnswer(
            "import math\n\n"
            "def rope(x, t, base=10000.0):\n"
            "    d, out = len(x), list(x)\n"
            "    for i in range(d // 2):\n"
            "        a, b = x[2 * i], x[2 * i + 1]\n"
            "        c, s = math.cos(t * base ** (-2 * i / d)), math.sin(t * base ** (-2 * i / d))\n"
            "        out[2 * i], out[2 * i + 1] = a * c - b * s, b * c + a * s\n"
            "    return out\n",
            why="you rotate adjacent pairs (x[2i], x[2i+1]), llama.cpp's layout; this model pairs "
            "coordinate i with coordinate i + d/2 (section 3)",
        ),
        WrongAnswer(
            "import math\n\n"
            "def rope(x, t, base=10000.0):\n"
            "    d, h, out = len(x), len(x) // 2, list(x)\n"
            "    for i in range(h):\n"
            "        c, s = math.cos(t * base ** (-2 * i / d)), math.sin(t * base ** (-2 * i / d))\n"
            "        out[i], out[i + h] = x[i] * c + x[i + h] * s, x[i + h] * c - x[i] * s\n"
            "    return out\n",
            why="your pairs turn the other way round: compare the signs of your two sine terms "
            "with the rotation matrix of section 3",
        ),
        WrongAnswer(
            "import math\n\n"
            "def rope(x, t, base=10000.0):\n"
            "    d, h, out = len(x), len(x) // 2, list(x)\n"
            "    for i in range(h):\n"
            "        c, s = math.cos(t * base ** (-i / d)), math.sin(t * base ** (-i / d))\n"
            "        out[i], out[i + h] = x[i] * c - x[i + h] * s, x[i + h] * c + x[i] * s\n"
            "    return out\n",
            why="your frequencies use the exponent −i/d; pair i of a d-dimensional vector turns "
            "with exponent −2i/d, so the pairs' frequencies spread over the whole range",
        ),
        WrongAnswer(
            "import math\n\n"
            "def rope(x, t, base=10000.0):\n"
            "    d, h, out = len(x), len(x) // 2, list(x)\n"
            "    for i in range(h):\n"
            "        a = (t + 1) * base ** (-2 * i / d)\n"
            "        out[i], out[i + h] = (x[i] * math.cos(a) - x[i + h] * math.sin(a),\n"
            "                              x[i + h] * math.cos(a) + x[i] * math.sin(a))\n"
            "    return out\n",
            why="you count positions from 1: the first token is at position 0, where the "
            "rotation leaves the vector unchanged",
        ),
    ],
    points=2,
)


# --------------------------------------------------------------------------- q2: fix repeat_kv

_Q2_SOLUTION = '''\
import torch


def repeat_kv(kv: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(B, H_kv, T, d) -> (B, H_kv·n_rep, T, d): query head h gets key/value head h // n_rep."""
    return kv.repeat_interleave(n_rep, dim=1)  # head 0 n_rep times, then head 1, ...
'''


def _q2_inputs(rng: random.Random) -> tuple[list, int]:
    b, n_kv, t, d = rng.randint(1, 2), rng.randint(2, 3), rng.randint(1, 3), rng.randint(1, 3)
    kv = [[[random_vector(rng, d) for _ in range(t)] for _ in range(n_kv)] for _ in range(b)]
    return kv, rng.randint(2, 4)


q2 = TensorFunctionExercise(
    name="q2",
    answer_name="repeat_kv",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_inputs,
    edge_cases=[
        ([[[[1.0]], [[2.0]]]], 1),  # n_rep = 1: multi-head attention, nothing repeated
        ([[[[1.0]], [[2.0]], [[3.0]]]], 3),  # SmolLM2: 3 K/V heads for 9 query heads
        ([[[[1.0, 0.0], [0.0, 1.0]], [[2.0, 2.0], [3.0, 3.0]]]], 2),
        ([[[[1.0]], [[2.0]]], [[[5.0]], [[6.0]]]], 2),  # two sequences in the batch
    ],
    n_random=8,
    hint_text=(
        "Print which K/V head each query head gets: `repeat_kv_given(torch.arange(3.0).view(1, 3, "
        "1, 1), 3).flatten()`. With n_rep = 3, query heads 0, 1, 2 form the first group and must "
        "all see K/V head 0; heads 3, 4, 5 see head 1. Does `Tensor.repeat` give that order? "
        "`torch.repeat_interleave` repeats each entry in place instead of tiling the whole."
    ),
    wrong_answers=[
        WrongAnswer(
            "def repeat_kv(kv, n_rep):\n    return kv.repeat(1, n_rep, 1, 1)\n",
            why="this is the given function: `repeat` tiles the heads (0, 1, 2, 0, 1, 2, …), so "
            "neighbouring query heads of one group get different K/V heads",
        ),
        WrongAnswer(
            "def repeat_kv(kv, n_rep):\n    return kv.repeat_interleave(n_rep, dim=2)\n",
            why="you repeated along dim 2, the positions: every head now holds each key n_rep "
            "times over, and the number of heads has not changed",
        ),
        WrongAnswer(
            "def repeat_kv(kv, n_rep):\n    return kv\n",
            why="nothing is repeated: the query heads need H_kv·n_rep heads to attend with, one "
            "for each of them",
        ),
    ],
    points=2,
)


# --------------------------------------------------------------------------- q3: a KV cache


def _q3_given() -> dict[str, Any]:
    """The sizes the notebook's q3 cell defines: Llama 2 70B, a full context in float16."""
    return {
        "n_layer": 80,
        "n_head": 64,
        "n_kv_head": 8,
        "head_dim": 128,
        "context": 4096,
        "bytes_per_value": 2,
    }


q3 = ValueExercise(
    name="q3",
    answer_name="kv_bytes",
    solution_code=(
        "per_head = 2 * n_layer * head_dim * context * bytes_per_value  # keys and values, every block\n"
        'kv_bytes = {"with_gqa": per_head * n_kv_head, "without_gqa": per_head * n_head}\n'
    ),
    given=_q3_given,
    hint_text=(
        "Section 4's formula gives the bytes per token: 2 (a key and a value) × blocks × cached "
        "heads × numbers per head × bytes per number. Multiply by the tokens of a full context. "
        "With GQA the cached heads are the K/V heads; without it, every query head has its own."
    ),
    wrong_answers=[
        WrongAnswer(
            "per_head = n_layer * head_dim * context * bytes_per_value\n"
            'kv_bytes = {"with_gqa": per_head * n_kv_head, "without_gqa": per_head * n_head}\n',
            why="you counted the keys only: the cache keeps a value vector beside every key",
        ),
        WrongAnswer(
            "per_head = 2 * n_layer * head_dim * context * 4\n"
            'kv_bytes = {"with_gqa": per_head * n_kv_head, "without_gqa": per_head * n_head}\n',
            why="you used 4 bytes per number (float32); this cache is kept in float16",
        ),
        WrongAnswer(
            "per_head = 2 * head_dim * context * bytes_per_value\n"
            'kv_bytes = {"with_gqa": per_head * n_kv_head, "without_gqa": per_head * n_head}\n',
            why="you counted one block: each of the model's blocks keeps its own keys and values",
        ),
        WrongAnswer(
            "per_head = 2 * n_layer * head_dim * context * bytes_per_value\n"
            'kv_bytes = {"with_gqa": per_head * n_head, "without_gqa": per_head * n_head}\n',
            why="your two numbers are equal: with GQA only the K/V heads are cached, and the "
            "query heads of a group share theirs",
        ),
        WrongAnswer(
            "per_head = 2 * n_layer * head_dim * bytes_per_value\n"
            'kv_bytes = {"with_gqa": per_head * n_kv_head, "without_gqa": per_head * n_head}\n',
            why="these are the bytes for one token; the cache holds every token of the context",
        ),
    ],
    points=2,
)


# --------------------------------------------------------------------------- q4, q5: an experiment

q4 = ChoiceExercise(
    name="q4",
    answer_name="prediction_q4",
    solution_code='prediction_q4 = "a"\n',
    options={
        "a": "Nothing changes beyond float rounding: every next-token log-probability stays "
        "within 0.01 of the run from position 0, for every shift.",
        "b": "The same few tokens stay on top, but their probabilities move by a few percent: "
        "the model reads the prompt as if it sat deep inside a longer text.",
        "c": "Small shifts change little, large ones (thousands of positions) change the "
        "prediction clearly: the fast pairs have turned many full circles by then.",
        "d": "The prediction breaks down for every large shift: the model has hardly ever seen "
        "a chat's first tokens at positions in the thousands.",
    },
    hint_text=(
        "Positions enter the model in one place only: the rotation of every query and key before "
        "q·k. Write the score of a query at position t + s and a key at position t' + s with "
        "section 3's identity (R_a q)ᵀ(R_b k) = qᵀ R_{b−a} k. What is left of s?"
    ),
    wrong_answers=[
        WrongAnswer(
            'prediction_q4 = "b"\n',
            why="a Llama model has no position vector that could tell it where in a text it is: "
            "the position only rotates queries and keys, and a score sees only the difference "
            "of the two positions",
        ),
        WrongAnswer(
            'prediction_q4 = "c"\n',
            why="the fast pairs do turn many circles, but the query and the key turn by the same "
            "extra angle s·θ_i, and a score depends only on the angle between them",
        ),
        WrongAnswer(
            'prediction_q4 = "d"\n',
            why="nothing in the model sees the absolute position: every attention score depends "
            "only on the distance between two tokens, and the shift leaves every distance as it was",
        ),
    ],
    points=1,
)

q5 = ExplainExercise(
    name="q5",
    prompt=(
        "Explain what you saw: what did shifting every position by s do to SmolLM2's next-token "
        "probabilities, and why? Where do the differences that remain come from, and what would "
        "the same shift do to notebook 08's GPT-2, with its learned table of positions?"
    ),
    model_answer=(
        "Positions enter SmolLM2 only through RoPE, which rotates every query and key before "
        "their dot product; since (R_{t+s} q)ᵀ(R_{t'+s} k) = qᵀ R_{t'−t} k, the shift cancels "
        "and every attention score, hence every weight, hidden state and logit, is the same as "
        "from position 0. What remains is float32 rounding: the angles (t + s)·θ_i are larger "
        "numbers and lose digits, so the differences grow with s but stay below 1e-3. GPT-2 "
        "adds a learned vector P[t] to each token's embedding: P[t + s] is a different vector, "
        "so its hidden states and prediction would change, and beyond its 1,024-entry table it "
        "could not run at all."
    ),
    rubric=(
        "1 point: the score depends only on the distance t' − t (the shift cancels in "
        "R_{t+s}ᵀ R_{t'+s}), and nothing else in the model sees the position, so the outputs are "
        "the same; the leftovers are float rounding of larger angles. 1 point: absolute learned "
        "positions (GPT-2) give different inputs at t + s, so the prediction changes."
    ),
    hint_text=(
        "Where in one block does the position enter? Write a shifted score with section 3's "
        "identity, then ask the same question for GPT-2's x = E[token] + P[t]."
    ),
    points=2,
)
