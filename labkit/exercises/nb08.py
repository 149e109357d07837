"""Exercises for notebook 08 (the Transformer block and GPT): ``from labkit.exercises import nb08 as ex``.

- ``q1`` (function): ``gpt_param_count(vocab_size, block_size, n_layer, n_embd, bias, tie_weights)``
  — a GPT's parameters by formula (learned positions), with or without biases and weight tying.
- ``q2`` (function): ``sinusoidal_encoding(T, d)`` — the fixed position encodings of Vaswani et al.
- ``q3`` (function): ``layer_norm(x, gamma, beta, eps)`` — LayerNorm of one vector.
- ``q4`` (function): ``training_days(n_layer, n_embd, vocab_size, T, tokens, flops_per_second)``
  — how long a training run takes: (6·N + 12·L·d·T) FLOPs per token.

Inputs and answers are plain Python values (ints, floats, lists): any approach works (loops,
``math``, NumPy, torch) as long as the answer is a plain ``int``, ``float`` or ``list``
(``tensor.tolist()`` turns a tensor into lists).
"""

from __future__ import annotations

import random

from labkit.exercises.core import FunctionExercise

# --------------------------------------------------------------------------- q1: parameter count

_Q1_SOLUTION = '''\
def gpt_param_count(vocab_size, block_size, n_layer, n_embd, bias=True, tie_weights=True) -> int:
    """A GPT's parameters with learned positions, with or without biases and weight tying."""
    V, T, L, d = vocab_size, block_size, n_layer, n_embd
    b = 1 if bias else 0
    embeddings = V * d + T * d  # token and (learned) position embeddings
    layer_norm = d + b * d  # a gain, and a bias only with bias=True
    attention = 4 * d * d + b * 4 * d  # W^Q, W^K, W^V, W^O (and their biases)
    mlp = 8 * d * d + b * (4 * d + d)  # W1 (d x 4d), W2 (4d x d) (and their biases)
    per_block = 2 * layer_norm + attention + mlp
    head = 0 if tie_weights else V * d  # a tied head reuses the token embedding
    return embeddings + L * per_block + layer_norm + head
'''


def _q1_inputs(rng: random.Random) -> tuple[int, int, int, int, bool, bool]:
    return (
        rng.randint(2, 60_000),
        rng.randint(1, 2048),
        rng.randint(1, 48),
        rng.randint(1, 1024),
        rng.random() < 0.5,
        rng.random() < 0.5,
    )


q1 = FunctionExercise(
    name="q1",
    answer_name="gpt_param_count",
    solution_code=_Q1_SOLUTION,
    make_inputs=_q1_inputs,
    edge_cases=[
        (65, 32, 2, 32, True, True),  # the "tiny" preset on Shakespeare's characters
        (50257, 1024, 12, 768, True, True),  # GPT-2 small: 124,439,808
        (50257, 1024, 12, 768, True, False),  # ... with its own LM head
        (50257, 1024, 12, 768, False, True),  # ... without biases
        (1, 1, 1, 1, False, False),
    ],
    n_random=8,
    hint_text=(
        "Start from the notebook's formula V·d + T·d + L·(12d² + 13d) + 2d and find where each "
        "13d and 2d comes from: which of those numbers are biases (attention 4d, MLP 4d + d, "
        "each LayerNorm d) and which are LayerNorm gains (d each, kept without biases)? An untied "
        "LM head is one more V×d matrix, with no bias."
    ),
    wrong_answers=[
        # ignores bias=False: still counts 13d per block and 2d at the end
        "def gpt_param_count(vocab_size, block_size, n_layer, n_embd, bias=True, tie_weights=True):\n"
        "    d = n_embd\n"
        "    head = 0 if tie_weights else vocab_size * d\n"
        "    return vocab_size * d + block_size * d + n_layer * (12 * d * d + 13 * d) + 2 * d + head\n",
        # bias=False also drops the LayerNorm gains
        "def gpt_param_count(vocab_size, block_size, n_layer, n_embd, bias=True, tie_weights=True):\n"
        "    d = n_embd\n"
        "    per_block = 12 * d * d + (13 * d if bias else 0)\n"
        "    head = 0 if tie_weights else vocab_size * d\n"
        "    return vocab_size * d + block_size * d + n_layer * per_block + (2 * d if bias else 0) + head\n",
        # forgot the position embedding
        "def gpt_param_count(vocab_size, block_size, n_layer, n_embd, bias=True, tie_weights=True):\n"
        "    d, b = n_embd, int(bias)\n"
        "    head = 0 if tie_weights else vocab_size * d\n"
        "    return vocab_size * d + n_layer * (12 * d * d + (2 + 11 * b) * d) + (1 + b) * d + head\n",
        # an untied head with a bias
        "def gpt_param_count(vocab_size, block_size, n_layer, n_embd, bias=True, tie_weights=True):\n"
        "    d, b = n_embd, int(bias)\n"
        "    head = 0 if tie_weights else vocab_size * d + vocab_size\n"
        "    return (vocab_size * d + block_size * d + n_layer * (12 * d * d + (2 + 11 * b) * d)\n"
        "            + (1 + b) * d + head)\n",
    ],
)


# --------------------------------------------------------------------------- q2: sinusoids

_Q2_SOLUTION = '''\
import math


def sinusoidal_encoding(T: int, d: int) -> list[list[float]]:
    """PE[pos][2i] = sin(pos / 10000^(2i/d)), PE[pos][2i+1] = cos(pos / 10000^(2i/d))."""
    pe = []
    for pos in range(T):
        row = []
        for j in range(d):
            two_i = j - j % 2  # the even index of this sin/cos pair: 2i
            angle = pos / 10000 ** (two_i / d)
            row.append(math.sin(angle) if j % 2 == 0 else math.cos(angle))
        pe.append(row)
    return pe
'''


def _q2_inputs(rng: random.Random) -> tuple[int, int]:
    return rng.randint(1, 12), 2 * rng.randint(1, 8)


q2 = FunctionExercise(
    name="q2",
    answer_name="sinusoidal_encoding",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_inputs,
    edge_cases=[(1, 2), (3, 2), (4, 4), (2, 8), (50, 16)],
    n_random=6,
    rel_tol=1e-5,
    abs_tol=1e-5,  # float32 (torch's default) is precise enough
    hint_text=(
        "Dimensions come in pairs (2i, 2i+1) that share one frequency 1/10000^(2i/d): the even "
        "one is a sine, the odd one a cosine of the same angle pos/10000^(2i/d). For the odd "
        "dimension j = 2i+1 the exponent uses 2i = j - 1, not j. Positions start at 0. Return a "
        "list of T rows of d floats (`.tolist()` if you used torch or NumPy)."
    ),
    wrong_answers=[
        # sine and cosine swapped
        "import math\n\n"
        "def sinusoidal_encoding(T, d):\n"
        "    return [[(math.cos if j % 2 == 0 else math.sin)(pos / 10000 ** ((j - j % 2) / d))\n"
        "             for j in range(d)] for pos in range(T)]\n",
        # the exponent uses the dimension index j itself (the cosine gets its own frequency)
        "import math\n\n"
        "def sinusoidal_encoding(T, d):\n"
        "    return [[(math.sin if j % 2 == 0 else math.cos)(pos / 10000 ** (j / d))\n"
        "             for j in range(d)] for pos in range(T)]\n",
        # the exponent uses the pair index i instead of 2i
        "import math\n\n"
        "def sinusoidal_encoding(T, d):\n"
        "    return [[(math.sin if j % 2 == 0 else math.cos)(pos / 10000 ** ((j // 2) / d))\n"
        "             for j in range(d)] for pos in range(T)]\n",
        # positions counted from 1
        "import math\n\n"
        "def sinusoidal_encoding(T, d):\n"
        "    return [[(math.sin if j % 2 == 0 else math.cos)(pos / 10000 ** ((j - j % 2) / d))\n"
        "             for j in range(d)] for pos in range(1, T + 1)]\n",
    ],
)


# --------------------------------------------------------------------------- q3: LayerNorm

_Q3_SOLUTION = '''\
import math


def layer_norm(x, gamma, beta, eps: float = 1e-5) -> list[float]:
    """gamma * (x - mean) / sqrt(var + eps) + beta, with the mean and the (biased) variance
    taken over the d features of the one vector x."""
    d = len(x)
    mean = sum(x) / d
    var = sum((v - mean) ** 2 for v in x) / d  # divide by d, not d - 1
    return [g * (v - mean) / math.sqrt(var + eps) + b for v, g, b in zip(x, gamma, beta)]
'''


Vector = tuple[float, ...]


def _q3_inputs(rng: random.Random) -> tuple[Vector, Vector, Vector, float]:
    d = rng.randint(2, 10)
    scale = rng.choice([0.01, 1.0, 10.0])
    x = tuple(rng.gauss(rng.uniform(-2, 2), scale) for _ in range(d))
    gamma = tuple(rng.uniform(0.5, 2.0) for _ in range(d))
    beta = tuple(rng.uniform(-1, 1) for _ in range(d))
    return x, gamma, beta, rng.choice([1e-5, 1e-3])


q3 = FunctionExercise(
    name="q3",
    answer_name="layer_norm",
    solution_code=_Q3_SOLUTION,
    make_inputs=_q3_inputs,
    edge_cases=[
        ([1.0, 2.0, 3.0, 4.0], [1.0] * 4, [0.0] * 4, 1e-5),
        ([1.0, 2.0, 3.0], [2.0, 1.0, 0.5], [0.1, -0.2, 0.3], 1e-5),
        ([0.001, -0.002, 0.003], [1.0] * 3, [0.0] * 3, 1e-5),  # tiny variance: eps matters
        ([2.0, 2.0, 2.0], [1.0] * 3, [0.5] * 3, 1e-5),  # no variance at all: the output is β
    ],
    n_random=8,
    rel_tol=1e-5,
    abs_tol=1e-6,
    hint_text=(
        "Three steps over the d numbers of x: the mean μ; the variance σ² = mean of (x - μ)² "
        "(divide by d, as torch.nn.LayerNorm does, not by d - 1); then "
        "γ·(x - μ)/√(σ² + ε) + β element by element. ε goes inside the square root."
    ),
    wrong_answers=[
        # the unbiased variance (d - 1)
        "import math\n\n"
        "def layer_norm(x, gamma, beta, eps=1e-5):\n"
        "    m = sum(x) / len(x)\n"
        "    var = sum((v - m) ** 2 for v in x) / (len(x) - 1)\n"
        "    return [g * (v - m) / math.sqrt(var + eps) + b for v, g, b in zip(x, gamma, beta)]\n",
        # eps added to the standard deviation instead of the variance
        "import math\n\n"
        "def layer_norm(x, gamma, beta, eps=1e-5):\n"
        "    m = sum(x) / len(x)\n"
        "    var = sum((v - m) ** 2 for v in x) / len(x)\n"
        "    return [g * (v - m) / (math.sqrt(var) + eps) + b for v, g, b in zip(x, gamma, beta)]\n",
        # gamma and beta swapped
        "import math\n\n"
        "def layer_norm(x, gamma, beta, eps=1e-5):\n"
        "    m = sum(x) / len(x)\n"
        "    var = sum((v - m) ** 2 for v in x) / len(x)\n"
        "    return [b * (v - m) / math.sqrt(var + eps) + g for v, g, b in zip(x, gamma, beta)]\n",
        # divides by the variance instead of the standard deviation
        "def layer_norm(x, gamma, beta, eps=1e-5):\n"
        "    m = sum(x) / len(x)\n"
        "    var = sum((v - m) ** 2 for v in x) / len(x)\n"
        "    return [g * (v - m) / (var + eps) + b for v, g, b in zip(x, gamma, beta)]\n",
    ],
)


# --------------------------------------------------------------------------- q4: a training run's time

_Q4_SOLUTION = '''\
def training_days(n_layer, n_embd, vocab_size, T, tokens, flops_per_second) -> float:
    """Days to train on `tokens` tokens at `flops_per_second` (sustained), with
    6·N + 12·L·d·T FLOPs per token, N = L·(12d² + 13d) + 2d + V·d."""
    L, d, V = n_layer, n_embd, vocab_size
    N = L * (12 * d * d + 13 * d) + 2 * d + V * d  # every weight a token passes through
    per_token = 6 * N + 12 * L * d * T  # forward 2N + 4LdT, backward twice that
    seconds = tokens * per_token / flops_per_second
    return seconds / 86_400  # 24 · 60 · 60 seconds in a day
'''


def _q4_inputs(rng: random.Random) -> tuple[int, int, int, int, int, float]:
    return (
        rng.randint(1, 48),
        rng.randint(1, 2048),
        rng.randint(2, 60_000),
        rng.randint(1, 4096),
        rng.randint(1, 10**12),
        10 ** rng.uniform(9, 15),
    )


q4 = FunctionExercise(
    name="q4",
    answer_name="training_days",
    solution_code=_Q4_SOLUTION,
    make_inputs=_q4_inputs,
    edge_cases=[
        (12, 768, 50257, 1024, 10**10, 1e14),  # GPT-2 small, 10B tokens, 100 TFLOP/s
        (6, 384, 65, 256, 5000 * 64 * 256, 1e11),  # nanoGPT's Shakespeare model on a laptop
        (1, 1, 2, 1, 86_400, 1.0),
    ],
    n_random=8,
    rel_tol=1e-6,
    hint_text=(
        "First the training FLOPs per token: 6·N for the weights (N = the blocks' parameters, the "
        "final LayerNorm and the LM head's V·d; an embedding lookup costs nothing) plus "
        "12·L·d·T for attention, as in the notebook. Multiply by the number of tokens, divide by "
        "the FLOPs per second, and turn seconds into days."
    ),
    wrong_answers=[
        # the forward pass only
        "def training_days(n_layer, n_embd, vocab_size, T, tokens, flops_per_second):\n"
        "    L, d, V = n_layer, n_embd, vocab_size\n"
        "    N = L * (12 * d * d + 13 * d) + 2 * d + V * d\n"
        "    return tokens * (2 * N + 4 * L * d * T) / flops_per_second / 86_400\n",
        # 6N without the attention term
        "def training_days(n_layer, n_embd, vocab_size, T, tokens, flops_per_second):\n"
        "    L, d, V = n_layer, n_embd, vocab_size\n"
        "    N = L * (12 * d * d + 13 * d) + 2 * d + V * d\n"
        "    return tokens * 6 * N / flops_per_second / 86_400\n",
        # hours instead of days
        "def training_days(n_layer, n_embd, vocab_size, T, tokens, flops_per_second):\n"
        "    L, d, V = n_layer, n_embd, vocab_size\n"
        "    N = L * (12 * d * d + 13 * d) + 2 * d + V * d\n"
        "    return tokens * (6 * N + 12 * L * d * T) / flops_per_second / 3600\n",
        # the position embedding counted as if it were a matrix multiply
        "def training_days(n_layer, n_embd, vocab_size, T, tokens, flops_per_second):\n"
        "    L, d, V = n_layer, n_embd, vocab_size\n"
        "    N = L * (12 * d * d + 13 * d) + 2 * d + V * d + T * d\n"
        "    return tokens * (6 * N + 12 * L * d * T) / flops_per_second / 86_400\n",
    ],
)
