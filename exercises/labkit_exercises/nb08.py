"""Exercises for notebook 08 (the Transformer block and GPT): ``from labkit.exercises import nb08 as ex``.

- ``q1`` (function, apply): ``gpt_param_count(vocab_size, block_size, n_layer, n_embd, bias,
  tie_weights)`` — section 7's count extended to cases the notebook does not show: no biases,
  an untied LM head. This is the notebook's one formula exercise (it starts from section 7's
  formula); the course's only parameter-counting exercise.
- ``q2`` (choice, predict then run): initialise the token embedding E with standard deviation 1
  instead of 0.02: where does the untrained model's loss land compared with ln V?
- ``q3`` (explanation): why that loss, and why the untrained model predicts the current character.
- ``q4`` (function, find the bug): ``fixed_layer_norm(x, gamma, beta, eps)`` — repair a
  LayerNorm that takes its statistics over the tokens instead of over each token's features.

Inputs and answers are plain Python values (ints, floats, lists) or, in ``q4``, tensors.
"""

from __future__ import annotations

import random

from labkit.exercises.core import ChoiceExercise, ExplainExercise, FunctionExercise, WrongAnswer
from labkit.exercises.tensors import TensorFunctionExercise, random_matrix

# --------------------------------------------------------------------------- q1: parameter count

_Q1_SOLUTION = '''\
def gpt_param_count(vocab_size: int, block_size: int, n_layer: int, n_embd: int,
                    bias: bool = True, tie_weights: bool = True) -> int:
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


_Q1_SIGNATURE = "def gpt_param_count(vocab_size, block_size, n_layer, n_embd, bias=True, tie_weights=True):\n"

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
    points=3,
    hint_text=(
        "Start from the notebook's formula V·d + T·d + L·(12d² + 13d) + 2d and find where each "
        "13d and 2d comes from: which of those numbers are biases (attention 4d, MLP 4d + d, "
        "each LayerNorm d) and which are LayerNorm gains (d each, kept without biases)? An untied "
        "LM head is one more V×d matrix, with no bias."
    ),
    wrong_answers=[
        WrongAnswer(
            _Q1_SIGNATURE + "    d = n_embd\n"
            "    head = 0 if tie_weights else vocab_size * d\n"
            "    return vocab_size * d + block_size * d + n_layer * (12 * d * d + 13 * d) + 2 * d + head\n",
            why=(
                "with bias=False you still count the biases: the 13d per block and the final 2d of "
                "the notebook's formula include them"
            ),
        ),
        WrongAnswer(
            _Q1_SIGNATURE + "    d = n_embd\n"
            "    per_block = 12 * d * d + (13 * d if bias else 0)\n"
            "    head = 0 if tie_weights else vocab_size * d\n"
            "    final_ln = 2 * d if bias else 0\n"
            "    return vocab_size * d + block_size * d + n_layer * per_block + final_ln + head\n",
            why=(
                "with bias=False you also dropped the LayerNorm gains γ: bias=False removes the "
                "biases (the LayerNorms' β too), but every LayerNorm keeps its d gains"
            ),
        ),
        WrongAnswer(
            _Q1_SIGNATURE + "    d, b = n_embd, int(bias)\n"
            "    head = 0 if tie_weights else vocab_size * d\n"
            "    return vocab_size * d + n_layer * (12 * d * d + (2 + 11 * b) * d) + (1 + b) * d + head\n",
            why=(
                "you left out the position embedding: learned positions are a block_size × n_embd "
                "table of trained parameters"
            ),
        ),
        WrongAnswer(
            _Q1_SIGNATURE + "    d, b = n_embd, int(bias)\n"
            "    head = 0 if tie_weights else vocab_size * d + vocab_size\n"
            "    return (vocab_size * d + block_size * d + n_layer * (12 * d * d + (2 + 11 * b) * d)\n"
            "            + (1 + b) * d + head)\n",
            why="your untied LM head has a bias: like GPT-2's, it is a V × d matrix and nothing more",
        ),
        WrongAnswer(
            _Q1_SIGNATURE + "    d, b = n_embd, int(bias)\n"
            "    return (2 * vocab_size * d + block_size * d + n_layer * (12 * d * d + (2 + 11 * b) * d)\n"
            "            + (1 + b) * d)\n",
            why=(
                "you count the LM head even when it is tied: with tie_weights=True the head *is* the "
                "token embedding E, one matrix counted once"
            ),
        ),
    ],
)


# --------------------------------------------------------------------------- q2, q3: E's scale
# Measured with the notebook's run cell (config of section 9: V = 83, d = 64, L = 2, one batch of
# 32 × 64 characters) over LABKIT_SEED_OFFSET=0..11. Fast mode: loss with std 0.02 in
# [4.40, 4.44] (ln V = 4.42); std 0.2 in [11.8, 12.6]; std 1.0 in [59.3, 63.5], 13-14 × ln V.
# Full mode (batches from the whole corpus): std 1.0 in [59.4, 64.0]. The top prediction is the
# current character at 97-99 % of the positions with std 0.02 in fast mode, 94-99 % in full mode,
# and at 100 % with std 0.2 and 1.0.

q2 = ChoiceExercise(
    name="q2",
    answer_name="prediction_q2",
    solution_code='prediction_q2 = "c"\n',
    options={
        "a": "still about ln V: the final LayerNorm rescales every vector before the LM head anyway",
        "b": "below ln V: larger weights make the model more confident, and confidence lowers the loss",
        "c": "far above ln V",
        "d": "inf or nan: exp of such large logits overflows",
    },
    points=1,
    hint_text=(
        "The logits are dot products LN_f(x) · E[v]. The LayerNorm fixes the length of LN_f(x); "
        "does anything fix the length of the rows of E? And what does cross-entropy charge for a "
        "confident guess that is wrong?"
    ),
    wrong_answers=[
        WrongAnswer(
            'prediction_q2 = "a"\n',
            why=(
                "the final LayerNorm fixes the length of x, not of the rows of E it is multiplied "
                "with: every logit is LN_f(x) · E[v], so it scales with E"
            ),
        ),
        WrongAnswer(
            'prediction_q2 = "b"\n',
            why=(
                "confidence lowers the loss only when it is on the right token: an untrained model's "
                "confident guess is a random one, and cross-entropy charges −ln p(target)"
            ),
        ),
        WrongAnswer(
            'prediction_q2 = "d"\n',
            why=(
                "torch computes the cross-entropy from log-softmax, which subtracts the largest "
                "logit before exp: large logits give large losses, never an overflow"
            ),
        ),
    ],
)

q3 = ExplainExercise(
    name="q3",
    prompt=(
        "Explain the table: why did the loss land so far from ln V when only the scale of E "
        "changed, and why is the untrained model's top prediction almost always the current "
        "character, even at std 0.02?"
    ),
    model_answer=(
        "The final LayerNorm gives LN_f(x) a length of about √d whatever the weights' scale, and "
        "every logit is its dot product with a row of E, so the spread of the logits grows in "
        "proportion to E's standard deviation: about 0.02·√d ≈ 0.16 at std 0.02 (an almost uniform "
        "softmax, loss ≈ ln V) but about 10 at std 1. The softmax then bets nearly everything on "
        "one token chosen by random weights, the target almost never gets it, and −ln p(target) "
        "costs tens of nats: a confidently wrong model is much worse than a uniform one. The top "
        "prediction is the current character because the head is tied to E: x_t starts as "
        "E[w_t] + P[t] and the small blocks change it little, so LN_f(x_t)·E[w_t] contains the "
        "dot product of E[w_t] with itself, positive and larger than its dot product with any "
        "other, random and nearly orthogonal, row; at std 0.02 this preference is too small to "
        "move the loss."
    ),
    rubric=(
        "1 point: the logits scale with E because LayerNorm normalises x but not E, so the "
        "softmax becomes confident and cross-entropy punishes confident wrong guesses heavily. "
        "1 point: the copy of the current character comes from weight tying (x_t contains E[w_t], "
        "and a row's dot product with itself beats its dot product with any other row)."
    ),
    hint_text=(
        "Write one logit as LN_f(x_t) · E[v] and ask how each factor's size depends on E's "
        "standard deviation. For the last column: what is x_t made of before the first block?"
    ),
    points=2,
)


# --------------------------------------------------------------------------- q4: a broken LayerNorm

_Q4_SOLUTION = '''\
import torch


def fixed_layer_norm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
                     eps: float = 1e-5) -> torch.Tensor:
    """LayerNorm of every token (row) of x (T, d): gamma * (x - mu) / sqrt(var + eps) + beta,
    with mu and var over that token's own d features (the variance divided by d)."""
    mu = x.mean(dim=-1, keepdim=True)  # one mean per token, over its features
    var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)  # divide by d, as nn.LayerNorm does
    return gamma * (x - mu) / torch.sqrt(var + eps) + beta
'''


def _q4_inputs(rng: random.Random) -> tuple[list, list, list, float]:
    T, d = rng.randint(1, 5), rng.randint(2, 8)
    scale, shift = rng.choice([0.01, 1.0, 10.0]), rng.uniform(-3, 3)
    x = [[round(v + shift, 4) for v in row] for row in random_matrix(rng, T, d, scale)]
    gamma = [round(rng.uniform(0.5, 2.0), 3) for _ in range(d)]
    beta = [round(rng.uniform(-1.0, 1.0), 3) for _ in range(d)]
    return x, gamma, beta, rng.choice([1e-5, 1e-3])


_Q4_SIGNATURE = "import torch\n\ndef fixed_layer_norm(x, gamma, beta, eps=1e-5):\n"

q4 = TensorFunctionExercise(
    name="q4",
    answer_name="fixed_layer_norm",
    solution_code=_Q4_SOLUTION,
    make_inputs=_q4_inputs,
    edge_cases=[
        # square (T = d): a statistic broadcast along the wrong axis runs without an error here
        ([[1.0, 2.0, 4.0], [0.0, 3.0, 3.0], [2.0, 2.0, 5.0]], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], 1e-5),
        ([[1.0, 2.0, 3.0, 4.0]], [2.0, 1.0, 0.5, 1.0], [0.1, -0.2, 0.3, 0.0], 1e-5),  # one token
        # a tiny variance (ε matters) and a constant token (the output is β)
        ([[0.001, -0.002, 0.003], [2.0, 2.0, 2.0]], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5], 1e-5),
    ],
    n_random=8,
    rel_tol=1e-6,
    abs_tol=1e-8,
    points=2,
    hint_text=(
        "x holds one token per row. LayerNorm normalises each token on its own: which dim are "
        "its d features, and what shape must the mean have to be subtracted from every row "
        "(keepdim)? Then read torch's documentation of Tensor.var: what does it divide by?"
    ),
    wrong_answers=[
        WrongAnswer(
            _Q4_SIGNATURE + "    mu = x.mean(dim=0)\n"
            "    var = x.var(dim=0)\n"
            "    return gamma * (x - mu) / torch.sqrt(var + eps) + beta\n",
            why=(
                "this is still the broken function: its statistics mix the tokens (dim 0), so each "
                "token's output depends on the other tokens, later ones included"
            ),
        ),
        WrongAnswer(
            _Q4_SIGNATURE + "    mu = x.mean(dim=0)\n"
            "    var = ((x - mu) ** 2).mean(dim=0)\n"
            "    return gamma * (x - mu) / torch.sqrt(var + eps) + beta\n",
            why=(
                "your mean and variance are still taken over the tokens (dim 0): each token's "
                "output then depends on the other tokens, later ones included; LayerNorm uses only "
                "the token's own features"
            ),
        ),
        WrongAnswer(
            _Q4_SIGNATURE + "    mu = x.mean(dim=-1, keepdim=True)\n"
            "    var = x.var(dim=-1, keepdim=True)\n"
            "    return gamma * (x - mu) / torch.sqrt(var + eps) + beta\n",
            why=(
                "Tensor.var divides by d − 1 unless told otherwise (Bessel's correction); "
                "LayerNorm's variance divides by d"
            ),
        ),
        WrongAnswer(
            _Q4_SIGNATURE + "    mu = x.mean(dim=-1)\n"
            "    var = ((x - x.mean(dim=-1, keepdim=True)) ** 2).mean(dim=-1)\n"
            "    return gamma * (x - mu) / torch.sqrt(var + eps) + beta\n",
            why=(
                "your mean and variance have shape (T,), and broadcasting lines them up with the "
                "features, not with the tokens: keep the reduced dimension (keepdim=True)"
            ),
        ),
        WrongAnswer(
            _Q4_SIGNATURE + "    mu = x.mean()\n"
            "    var = ((x - mu) ** 2).mean()\n"
            "    return gamma * (x - mu) / torch.sqrt(var + eps) + beta\n",
            why=(
                "your mean and variance are over the whole (T, d) tensor, every token together: "
                "LayerNorm takes one mean and one variance per token"
            ),
        ),
        WrongAnswer(
            _Q4_SIGNATURE + "    mu = x.mean(dim=-1, keepdim=True)\n"
            "    var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)\n"
            "    return gamma * (x - mu) / (torch.sqrt(var) + eps) + beta\n",
            why="ε belongs under the square root, next to the variance, not added to the standard deviation",
        ),
    ],
)
