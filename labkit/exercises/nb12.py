"""Exercises for notebook 12 (a real LLM in your own code): ``from labkit.exercises import nb12 as ex``.

- ``q1`` (function): ``rms_norm(x, g, eps)`` — RMSNorm of one vector.
- ``q2`` (function): ``rope(x, t, base)`` — rotate one query/key vector to position ``t``.
- ``q3`` (function): ``repeat_kv(kv, n_rep)`` — give every query head of a group its key/value head.
- ``q4`` (function): ``kv_cache_bytes(n_layer, n_kv_head, head_dim, tokens, bytes_per_value)``
  — the memory a KV cache holds.

Inputs and answers are plain Python values (ints, floats, lists): any approach works (loops,
``math``, NumPy, torch) as long as the answer is a plain ``int``, ``float`` or ``list``
(``tensor.tolist()`` turns a tensor into lists).
"""

from __future__ import annotations

import random

from labkit.exercises.core import FunctionExercise

Vector = tuple[float, ...]

# --------------------------------------------------------------------------- q1: RMSNorm

_Q1_SOLUTION = '''\
import math


def rms_norm(x, g, eps: float = 1e-5) -> list[float]:
    """x / sqrt(mean(x^2) + eps) * g: no mean subtracted, no bias."""
    rms = math.sqrt(sum(v * v for v in x) / len(x) + eps)
    return [v / rms * gain for v, gain in zip(x, g)]
'''


def _q1_inputs(rng: random.Random) -> tuple[Vector, Vector, float]:
    d = rng.randint(2, 12)
    centre = rng.uniform(-3, 3)  # a mean far from 0: subtracting it changes the answer
    scale = rng.choice([0.01, 1.0, 10.0])
    x = tuple(centre + rng.gauss(0, scale) for _ in range(d))
    g = tuple(rng.uniform(0.5, 2.0) for _ in range(d))
    return x, g, rng.choice([1e-5, 1e-2])


q1 = FunctionExercise(
    name="q1",
    answer_name="rms_norm",
    solution_code=_Q1_SOLUTION,
    make_inputs=_q1_inputs,
    edge_cases=[
        ([3.0, 4.0], [1.0, 1.0], 0.0),  # rms = sqrt((9 + 16) / 2)
        ([1.0, 2.0, 3.0], [2.0, 1.0, 0.5], 1e-5),
        ([2.0, 2.0, 2.0], [1.0] * 3, 1e-5),  # all equal: RMSNorm keeps them (LayerNorm gives 0)
        ([0.001, -0.002, 0.003], [1.0] * 3, 1e-2),  # tiny vector: eps matters
    ],
    n_random=8,
    rel_tol=1e-6,
    abs_tol=1e-7,
    hint_text=(
        "RMS = sqrt(mean of the squares + eps), where the mean divides the sum of x_i² by d (the "
        "length of x). Divide every x_i by that one number and multiply by its own gain g_i. "
        "Unlike LayerNorm, nothing is subtracted and there is no bias; eps goes inside the root."
    ),
    wrong_answers=[
        # LayerNorm: subtracts the mean first
        "import math\n\n"
        "def rms_norm(x, g, eps=1e-5):\n"
        "    m = sum(x) / len(x)\n"
        "    var = sum((v - m) ** 2 for v in x) / len(x)\n"
        "    return [(v - m) / math.sqrt(var + eps) * gi for v, gi in zip(x, g)]\n",
        # eps outside the square root
        "import math\n\n"
        "def rms_norm(x, g, eps=1e-5):\n"
        "    rms = math.sqrt(sum(v * v for v in x) / len(x)) + eps\n"
        "    return [v / rms * gi for v, gi in zip(x, g)]\n",
        # the L2 norm instead of the root *mean* square
        "import math\n\n"
        "def rms_norm(x, g, eps=1e-5):\n"
        "    rms = math.sqrt(sum(v * v for v in x) + eps)\n"
        "    return [v / rms * gi for v, gi in zip(x, g)]\n",
        # forgot the gain
        "import math\n\n"
        "def rms_norm(x, g, eps=1e-5):\n"
        "    rms = math.sqrt(sum(v * v for v in x) / len(x) + eps)\n"
        "    return [v / rms for v in x]\n",
    ],
)


# --------------------------------------------------------------------------- q2: RoPE

_Q2_SOLUTION = '''\
import math


def rope(x, t: int, base: float = 10000.0) -> list[float]:
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


def _q2_inputs(rng: random.Random) -> tuple[Vector, int, float]:
    d = 2 * rng.randint(2, 8)
    x = tuple(rng.gauss(0, 1) for _ in range(d))
    return x, rng.randint(1, 60), rng.choice([100.0, 10000.0, 100000.0])


q2 = FunctionExercise(
    name="q2",
    answer_name="rope",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_inputs,
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
        # adjacent pairs (x[2i], x[2i+1]): llama.cpp's layout, not this model's
        "import math\n\n"
        "def rope(x, t, base=10000.0):\n"
        "    d, out = len(x), list(x)\n"
        "    for i in range(d // 2):\n"
        "        a, b = x[2 * i], x[2 * i + 1]\n"
        "        c, s = math.cos(t * base ** (-2 * i / d)), math.sin(t * base ** (-2 * i / d))\n"
        "        out[2 * i], out[2 * i + 1] = a * c - b * s, b * c + a * s\n"
        "    return out\n",
        # turns the other way
        "import math\n\n"
        "def rope(x, t, base=10000.0):\n"
        "    d, h, out = len(x), len(x) // 2, list(x)\n"
        "    for i in range(h):\n"
        "        c, s = math.cos(t * base ** (-2 * i / d)), math.sin(t * base ** (-2 * i / d))\n"
        "        out[i], out[i + h] = x[i] * c + x[i + h] * s, x[i + h] * c - x[i] * s\n"
        "    return out\n",
        # frequency exponent i/d instead of 2i/d
        "import math\n\n"
        "def rope(x, t, base=10000.0):\n"
        "    d, h, out = len(x), len(x) // 2, list(x)\n"
        "    for i in range(h):\n"
        "        c, s = math.cos(t * base ** (-i / d)), math.sin(t * base ** (-i / d))\n"
        "        out[i], out[i + h] = x[i] * c - x[i + h] * s, x[i + h] * c + x[i] * s\n"
        "    return out\n",
        # positions counted from 1
        "import math\n\n"
        "def rope(x, t, base=10000.0):\n"
        "    d, h, out = len(x), len(x) // 2, list(x)\n"
        "    for i in range(h):\n"
        "        a = (t + 1) * base ** (-2 * i / d)\n"
        "        out[i], out[i + h] = (x[i] * math.cos(a) - x[i + h] * math.sin(a),\n"
        "                              x[i + h] * math.cos(a) + x[i] * math.sin(a))\n"
        "    return out\n",
    ],
)


# --------------------------------------------------------------------------- q3: repeat_kv

_Q3_SOLUTION = '''\
def repeat_kv(kv, n_rep: int) -> list:
    """kv[g] (one key or value head, a list of T vectors) serves query heads
    g*n_rep ... g*n_rep + n_rep - 1: each head repeated n_rep times, in place."""
    return [head for head in kv for _ in range(n_rep)]
'''


def _q3_inputs(rng: random.Random) -> tuple[tuple, int]:
    n_kv, t, d = rng.randint(2, 4), rng.randint(1, 3), rng.randint(1, 3)
    kv = tuple(
        tuple(tuple(round(rng.uniform(-1, 1), 3) for _ in range(d)) for _ in range(t))
        for _ in range(n_kv)
    )
    return kv, rng.randint(2, 4)


q3 = FunctionExercise(
    name="q3",
    answer_name="repeat_kv",
    solution_code=_Q3_SOLUTION,
    make_inputs=_q3_inputs,
    edge_cases=[
        ([[[1.0]], [[2.0]]], 1),  # n_rep = 1: multi-head attention, nothing repeated
        ([[[1.0]], [[2.0]], [[3.0]]], 3),  # SmolLM2: 3 K/V heads for 9 query heads
        ([[[1.0, 0.0], [0.0, 1.0]], [[2.0, 2.0], [3.0, 3.0]]], 2),
    ],
    n_random=8,
    hint_text=(
        "With H query heads and H_kv key/value heads, n_rep = H / H_kv consecutive query heads "
        "share one K/V head: query heads 0 … n_rep−1 use kv[0], the next n_rep use kv[1], and so "
        "on. So the answer is kv[0] n_rep times, then kv[1] n_rep times, … (not the whole list "
        "n_rep times over)."
    ),
    wrong_answers=[
        # the whole list tiled: kv[0], kv[1], kv[2], kv[0], ...
        "def repeat_kv(kv, n_rep):\n    return [head for _ in range(n_rep) for head in kv]\n",
        # repeats the positions inside each head instead of the heads
        "def repeat_kv(kv, n_rep):\n"
        "    return [[vec for vec in head for _ in range(n_rep)] for head in kv]\n",
        # forgot to repeat
        "def repeat_kv(kv, n_rep):\n    return kv\n",
    ],
)


# --------------------------------------------------------------------------- q4: KV cache size

_Q4_SOLUTION = '''\
def kv_cache_bytes(n_layer, n_kv_head, head_dim, tokens, bytes_per_value) -> int:
    """Keys and values (2) for every layer, K/V head, position and head coordinate."""
    return 2 * n_layer * n_kv_head * head_dim * tokens * bytes_per_value
'''


def _q4_inputs(rng: random.Random) -> tuple[int, int, int, int, int]:
    return (
        rng.randint(1, 80),
        rng.randint(1, 16),
        rng.choice([32, 64, 128]),
        rng.randint(1, 200_000),
        rng.choice([1, 2, 4]),
    )


q4 = FunctionExercise(
    name="q4",
    answer_name="kv_cache_bytes",
    solution_code=_Q4_SOLUTION,
    make_inputs=_q4_inputs,
    edge_cases=[
        (30, 3, 64, 8192, 4),  # SmolLM2-135M, full context, float32: 377,487,360 bytes
        (30, 9, 64, 8192, 4),  # ... if it had one K/V head per query head
        (1, 1, 1, 1, 1),
    ],
    n_random=8,
    hint_text=(
        "Each layer keeps, for every token seen so far, one key vector and one value vector per "
        "key/value head (not per query head), each head_dim numbers of bytes_per_value bytes. "
        "Multiply it all, and remember that keys and values are two separate tensors."
    ),
    wrong_answers=[
        # keys only
        "def kv_cache_bytes(n_layer, n_kv_head, head_dim, tokens, bytes_per_value):\n"
        "    return n_layer * n_kv_head * head_dim * tokens * bytes_per_value\n",
        # forgot the bytes per value (counts numbers, not bytes)
        "def kv_cache_bytes(n_layer, n_kv_head, head_dim, tokens, bytes_per_value):\n"
        "    return 2 * n_layer * n_kv_head * head_dim * tokens\n",
        # one layer only
        "def kv_cache_bytes(n_layer, n_kv_head, head_dim, tokens, bytes_per_value):\n"
        "    return 2 * n_kv_head * head_dim * tokens * bytes_per_value\n",
    ],
)
