"""Exercises for notebook 10 (text generation): ``from labkit.exercises import nb10 as ex``.

- ``q1`` (function): ``entropy_at_temperature(logits, temperature)`` — the entropy (nats) of
  ``softmax(z / τ)``, the quantity the notebook plots against τ.
- ``q2`` (function): ``nucleus(probs, p)`` — which tokens top-p sampling keeps: the smallest
  set of most likely tokens whose probabilities add up to at least ``p``.
- ``q3`` (function): ``repetition_penalty(logits, previous_ids, penalty)`` — the sign-aware
  penalty (Hugging Face's form of CTRL's): divide a seen token's positive logit by the penalty,
  multiply a negative one.
- ``q4`` (function): ``distinct_n(tokens, n)`` — the share of distinct n-grams in a text, the
  notebook's measure of repetition.

Inputs and answers are plain Python values (ints, floats, lists).
"""

from __future__ import annotations

import random

from labkit.exercises.core import FunctionExercise

# --------------------------------------------------------------------------- q1: entropy vs τ

_Q1_SOLUTION = '''\
import math


def entropy_at_temperature(logits, temperature) -> float:
    """H = −Σ p_i ln p_i with p = softmax(logits / temperature) (temperature > 0), in nats."""
    z = [x / temperature for x in logits]
    top = max(z)  # subtract the largest logit: exp never overflows, p is unchanged
    e = [math.exp(x - top) for x in z]
    total = sum(e)
    p = [x / total for x in e]
    return -sum(q * math.log(q) for q in p if q > 0)
'''


def _q1_inputs(rng: random.Random) -> tuple[tuple[float, ...], float]:
    n = rng.randint(2, 12)
    scale = rng.choice([1.0, 5.0, 20.0])
    return tuple(rng.gauss(0, scale) for _ in range(n)), 10 ** rng.uniform(-1, 1)


q1 = FunctionExercise(
    name="q1",
    answer_name="entropy_at_temperature",
    solution_code=_Q1_SOLUTION,
    make_inputs=_q1_inputs,
    edge_cases=[
        ([0.0, 0.0, 0.0, 0.0], 1.0),  # uniform over 4: ln 4
        ([2.0, 1.0, 0.0], 1.0),
        ([2.0, 1.0, 0.0], 0.5),  # colder: lower entropy
        ([2.0, 1.0, 0.0], 10.0),  # hotter: close to ln 3
        ([800.0, 0.0], 1.0),  # huge logits: exp(800) overflows a float; entropy ≈ 0
    ],
    n_random=10,
    rel_tol=1e-7,
    abs_tol=1e-9,
    hint_text=(
        "Divide every logit by the temperature, take the softmax (subtract the largest value "
        "before exp so that nothing overflows), then H = −Σ p ln p with the natural log. "
        "Probabilities that underflow to exactly 0 contribute 0 (the limit of p ln p)."
    ),
    wrong_answers=[
        # multiplies by the temperature instead of dividing
        "import math\n\n"
        "def entropy_at_temperature(logits, temperature):\n"
        "    z = [x * temperature for x in logits]\n"
        "    e = [math.exp(x - max(z)) for x in z]\n"
        "    p = [x / sum(e) for x in e]\n"
        "    return -sum(q * math.log(q) for q in p if q > 0)\n",
        # bits instead of nats
        "import math\n\n"
        "def entropy_at_temperature(logits, temperature):\n"
        "    z = [x / temperature for x in logits]\n"
        "    e = [math.exp(x - max(z)) for x in z]\n"
        "    p = [x / sum(e) for x in e]\n"
        "    return -sum(q * math.log2(q) for q in p if q > 0)\n",
        # the temperature ignored
        "import math\n\n"
        "def entropy_at_temperature(logits, temperature):\n"
        "    e = [math.exp(x - max(logits)) for x in logits]\n"
        "    p = [x / sum(e) for x in e]\n"
        "    return -sum(q * math.log(q) for q in p if q > 0)\n",
        # no max subtraction: overflows on large logits
        "import math\n\n"
        "def entropy_at_temperature(logits, temperature):\n"
        "    e = [math.exp(x / temperature) for x in logits]\n"
        "    p = [x / sum(e) for x in e]\n"
        "    return -sum(q * math.log(q) for q in p if q > 0)\n",
    ],
)


# --------------------------------------------------------------------------- q2: the nucleus

_Q2_SOLUTION = '''\
def nucleus(probs, p) -> list[int]:
    """The token ids top-p keeps, in increasing order: go through the tokens from most to least
    likely and keep each one while the mass kept *before* it is still below p."""
    order = sorted(range(len(probs)), key=lambda i: -probs[i])
    kept, mass = [], 0.0
    for i in order:
        if mass >= p:
            break
        kept.append(i)
        mass += probs[i]
    return sorted(kept)
'''


def _q2_inputs(rng: random.Random) -> tuple[tuple[float, ...], float]:
    n = rng.randint(2, 12)
    sharp = rng.choice([0.3, 1.0, 3.0])
    raw = [rng.random() ** (1 / sharp) * rng.random() for _ in range(n)]
    total = sum(raw)
    probs = [r / total for r in raw]
    # keep p away from the running sums, where float rounding could decide
    sums = sorted(sum(sorted(probs, reverse=True)[: k + 1]) for k in range(n))
    while True:
        p = rng.uniform(0.05, 0.99)
        if all(abs(p - s) > 1e-6 for s in sums):
            return tuple(probs), p


q2 = FunctionExercise(
    name="q2",
    answer_name="nucleus",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_inputs,
    edge_cases=[
        ([0.5, 0.3, 0.2], 0.6),  # 0.5 is not enough, 0.5 + 0.3 is: tokens 0 and 1
        ([0.1, 0.6, 0.3], 0.5),  # the top token alone covers p
        ([0.25, 0.25, 0.25, 0.25], 1.0),  # p = 1 keeps everything
        ([0.05, 0.15, 0.8], 0.01),  # a tiny p still keeps the top token
    ],
    n_random=10,
    hint_text=(
        "Sort the token ids by probability, largest first. Walk down the list adding "
        "probabilities; a token is kept when the mass of the tokens *before* it is still below p "
        "(so the token that crosses p is kept, and the top token always is). Return the kept ids "
        "sorted in increasing order."
    ),
    wrong_answers=[
        # stops before the token that crosses p
        "def nucleus(probs, p):\n"
        "    order = sorted(range(len(probs)), key=lambda i: -probs[i])\n"
        "    kept, mass = [], 0.0\n"
        "    for i in order:\n"
        "        if mass + probs[i] > p:\n"
        "            break\n"
        "        kept.append(i)\n"
        "        mass += probs[i]\n"
        "    return sorted(kept)\n",
        # keeps every token with probability at least p (a threshold, not a mass)
        "def nucleus(probs, p):\n"
        "    return [i for i, q in enumerate(probs) if q >= p] or [max(range(len(probs)), key=probs.__getitem__)]\n",
        # walks the tokens in vocabulary order, not by probability
        "def nucleus(probs, p):\n"
        "    kept, mass = [], 0.0\n"
        "    for i, q in enumerate(probs):\n"
        "        if mass >= p:\n"
        "            break\n"
        "        kept.append(i)\n"
        "        mass += q\n"
        "    return kept\n",
    ],
)


# --------------------------------------------------------------------------- q3: the penalty

_Q3_SOLUTION = '''\
def repetition_penalty(logits, previous_ids, penalty) -> list[float]:
    """After CTRL (Keskar et al. 2019), in Hugging Face's sign-aware form: every token that occurred
    in previous_ids (once is enough) becomes less likely: a positive logit is divided by the
    penalty, a negative one multiplied."""
    out = list(logits)
    for i in set(previous_ids):
        out[i] = out[i] / penalty if out[i] > 0 else out[i] * penalty
    return out
'''


def _q3_inputs(rng: random.Random) -> tuple[tuple[float, ...], tuple[int, ...], float]:
    n = rng.randint(2, 12)
    logits = tuple(rng.gauss(0, 3) for _ in range(n))
    previous = tuple(rng.randrange(n) for _ in range(rng.randint(0, 10)))
    return logits, previous, rng.choice([1.0, 1.2, 1.5, 2.0, rng.uniform(1.0, 3.0)])


q3 = FunctionExercise(
    name="q3",
    answer_name="repetition_penalty",
    solution_code=_Q3_SOLUTION,
    make_inputs=_q3_inputs,
    edge_cases=[
        ([2.0, -1.0, 0.5], [0, 1], 2.0),  # 2 → 1, −1 → −2, token 2 unseen
        ([2.0, -1.0, 0.5], [0, 0, 0], 2.0),  # seen three times: penalised once
        ([1.0, 1.0], [], 1.5),  # nothing seen yet
        ([3.0, -3.0], [0, 1], 1.0),  # penalty 1 changes nothing
    ],
    n_random=10,
    rel_tol=1e-9,
    hint_text=(
        "Only the tokens in previous_ids change, each once however often it occurred (a set). "
        "Dividing a positive logit by a penalty > 1 makes it smaller; dividing a negative one "
        "would make it *larger* (closer to 0, more likely), so multiply those instead."
    ),
    wrong_answers=[
        # always divides: a negative logit moves up, making the repeat more likely
        "def repetition_penalty(logits, previous_ids, penalty):\n"
        "    out = list(logits)\n"
        "    for i in set(previous_ids):\n"
        "        out[i] = out[i] / penalty\n"
        "    return out\n",
        # once per occurrence
        "def repetition_penalty(logits, previous_ids, penalty):\n"
        "    out = list(logits)\n"
        "    for i in previous_ids:\n"
        "        out[i] = out[i] / penalty if out[i] > 0 else out[i] * penalty\n"
        "    return out\n",
        # subtracts the penalty (a presence penalty, another method)
        "def repetition_penalty(logits, previous_ids, penalty):\n"
        "    out = list(logits)\n"
        "    for i in set(previous_ids):\n"
        "        out[i] = out[i] - penalty\n"
        "    return out\n",
    ],
)


# --------------------------------------------------------------------------- q4: distinct-n

_Q4_SOLUTION = '''\
def distinct_n(tokens, n) -> float:
    """The number of different n-grams (n consecutive tokens) divided by the number of n-grams;
    1.0 when nothing repeats, near 0 for a text stuck in a loop. 0.0 if there is no n-gram."""
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0
'''


def _q4_inputs(rng: random.Random) -> tuple[tuple[str, ...], int]:
    words = ["the", "king", "is", "dead", "long", "live"][: rng.randint(1, 6)]
    return tuple(rng.choice(words) for _ in range(rng.randint(0, 25))), rng.randint(1, 4)


q4 = FunctionExercise(
    name="q4",
    answer_name="distinct_n",
    solution_code=_Q4_SOLUTION,
    make_inputs=_q4_inputs,
    edge_cases=[
        (["to", "be", "or", "not", "to", "be"], 2),  # 5 bigrams, "to be" twice: 4/5
        (["to", "be", "or", "not", "to", "be"], 1),  # 6 words, 4 different
        (["a", "a", "a", "a"], 3),  # 2 trigrams, both (a, a, a): 1/2
        (["a", "b"], 3),  # no trigram at all
        ([], 1),
    ],
    n_random=10,
    rel_tol=1e-12,
    hint_text=(
        "List every window of n consecutive tokens (there are len(tokens) − n + 1 of them; turn "
        "each into a tuple so it can go into a set), count the different ones with a set, divide "
        "by how many windows there are. No window at all: return 0.0."
    ),
    wrong_answers=[
        # divides by the number of tokens instead of the number of n-grams
        "def distinct_n(tokens, n):\n"
        "    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]\n"
        "    return len(set(grams)) / len(tokens) if grams else 0.0\n",
        # non-overlapping n-grams only
        "def distinct_n(tokens, n):\n"
        "    grams = [tuple(tokens[i : i + n]) for i in range(0, len(tokens) - n + 1, n)]\n"
        "    return len(set(grams)) / len(grams) if grams else 0.0\n",
        # the share of repeated n-grams (1 − the answer)
        "def distinct_n(tokens, n):\n"
        "    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]\n"
        "    return 1 - len(set(grams)) / len(grams) if grams else 0.0\n",
    ],
)
