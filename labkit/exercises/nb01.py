"""Exercises for notebook 01 (NLP basics): ``from labkit.exercises import nb01 as ex``.

- ``q1`` (value): the perplexity of a tiny bigram model on a four-letter text, by hand.
- ``q2`` (function): ``bigram_mle(text)`` — the maximum-likelihood bigram table
  ``P(w | h) = c(h, w) / c(h)``.
- ``q3`` (function): ``most_frequent_pair(ids)`` — the adjacent pair BPE would merge next,
  ties going to the smallest pair.
"""

from __future__ import annotations

import random
from typing import Any

from labkit.exercises.core import FunctionExercise, ValueExercise

# --------------------------------------------------------------------------- q1

#: The tiny model of q1: ``Q1_BIGRAM[h][w] = P(w | h)``; ``"<s>"`` is the start of the text.
Q1_BIGRAM: dict[str, dict[str, float]] = {
    "<s>": {"a": 0.5, "b": 0.5},
    "a": {"a": 0.25, "b": 0.75},
    "b": {"a": 0.5, "b": 0.5},
}
#: The text whose perplexity q1 asks for.
Q1_TEXT = "abba"


def _q1_given() -> dict[str, Any]:
    """The names the notebook's q1 cell defines: ``bigram`` and ``test_text``."""
    return {"bigram": {h: dict(d) for h, d in Q1_BIGRAM.items()}, "test_text": Q1_TEXT}


q1 = ValueExercise(
    name="q1",
    answer_name="answer",
    solution_code="""\
import math

log_p = 0.0
previous = "<s>"
for token in test_text:  # every token is predicted once, the first from the start symbol
    log_p += math.log(bigram[previous][token])
    previous = token
answer = math.exp(-log_p / len(test_text))
""",
    given=_q1_given,
    hint_text=(
        "Write down the four factors: P(a | <s>), P(b | a), P(b | b), P(a | b). Perplexity is "
        "exp(-(1/N) Σ log p) with N = 4, the number of predicted tokens: the inverse of the "
        "geometric mean of the four probabilities. Do not forget the first token, predicted from "
        "the start symbol."
    ),
    wrong_answers=[
        # forgot the first token (only the three bigrams inside the text)
        "answer = (0.75 * 0.5 * 0.5) ** (-1 / 3)\n",
        # cross-entropy in nats, not its exponential
        "import math\nanswer = -(math.log(0.5 * 0.75 * 0.5 * 0.5)) / 4\n",
        # the inverse probability of the whole text, not per token
        "answer = 1 / (0.5 * 0.75 * 0.5 * 0.5)\n",
        # the arithmetic mean of 1/p instead of the geometric mean
        "answer = (1 / 0.5 + 1 / 0.75 + 1 / 0.5 + 1 / 0.5) / 4\n",
    ],
)

# --------------------------------------------------------------------------- q2

_Q2_SOLUTION = '''\
from collections import Counter


def bigram_mle(text: str) -> dict[tuple[str, str], float]:
    """P(w | h) = c(h, w) / c(h) for every adjacent pair (h, w) of characters in text."""
    pairs = Counter(zip(text, text[1:]))  # c(h, w)
    contexts = Counter(text[:-1])  # c(h) = Σ_w c(h, w): h followed by something
    return {(h, w): n / contexts[h] for (h, w), n in pairs.items()}
'''

_Q2_ALPHABET = "aaabbc d"


def _q2_input(rng: random.Random) -> tuple[str]:
    return ("".join(rng.choices(_Q2_ALPHABET, k=rng.randint(0, 25))),)


q2 = FunctionExercise(
    name="q2",
    answer_name="bigram_mle",
    solution_code=_Q2_SOLUTION,
    make_inputs=_q2_input,
    edge_cases=[("",), ("a",), ("ab",), ("abab",), ("aaa",), ("to be or not to be",)],
    n_random=10,
    hint_text=(
        "Count the pairs `zip(text, text[1:])` with a Counter: that is c(h, w). Then c(h) is how "
        "often h is FOLLOWED by something, i.e. Σ_w c(h, w); careful: the last character of the "
        "text is followed by nothing, so `text.count(h)` is not always c(h). Check: for every h "
        "the probabilities P(w | h) must add up to 1."
    ),
    wrong_answers=[
        # raw counts
        "from collections import Counter\n\n"
        "def bigram_mle(text):\n"
        "    return dict(Counter(zip(text, text[1:])))\n",
        # joint probability c(h, w) / (number of pairs) instead of conditional
        "from collections import Counter\n\n"
        "def bigram_mle(text):\n"
        "    pairs = Counter(zip(text, text[1:]))\n"
        "    return {p: n / (len(text) - 1) for p, n in pairs.items()}\n",
        # c(h) counted over the whole text, including its last character
        "from collections import Counter\n\n"
        "def bigram_mle(text):\n"
        "    pairs = Counter(zip(text, text[1:]))\n"
        "    return {(h, w): n / text.count(h) for (h, w), n in pairs.items()}\n",
        # the wrong direction: P(h | w) = c(h, w) / c(w)
        "from collections import Counter\n\n"
        "def bigram_mle(text):\n"
        "    pairs = Counter(zip(text, text[1:]))\n"
        "    nexts = Counter(text[1:])\n"
        "    return {(h, w): n / nexts[w] for (h, w), n in pairs.items()}\n",
    ],
)

# --------------------------------------------------------------------------- q3

_Q3_SOLUTION = '''\
from collections import Counter


def most_frequent_pair(ids) -> tuple[int, int] | None:
    """The most frequent adjacent pair in ids (a list or tuple of ints); ties go to the smallest pair; None if no pair."""
    counts = Counter(zip(ids, ids[1:]))  # every adjacent position, overlaps included
    if not counts:
        return None
    best = max(counts.values())
    return min(pair for pair, n in counts.items() if n == best)
'''


def _q3_input(rng: random.Random) -> tuple[tuple[int, ...]]:
    k = rng.choice([2, 3, 4, 6])  # few distinct ids, so ties are common
    return (tuple(rng.randrange(k) * 7 % 10 for _ in range(rng.randint(0, 20))),)


q3 = FunctionExercise(
    name="q3",
    answer_name="most_frequent_pair",
    solution_code=_Q3_SOLUTION,
    make_inputs=_q3_input,
    edge_cases=[
        ([],),
        ([5],),
        ([1, 2],),
        ([3, 1, 2, 1, 2, 3],),  # (1, 2) twice
        ([2, 1, 1, 2],),  # a three-way tie: (1, 1) < (1, 2) < (2, 1)
        ([0, 0, 0],),  # overlapping: (0, 0) counted twice
        ([9, 8, 7, 1, 2],),  # all tied at 1: (1, 2) is the smallest
    ],
    n_random=12,
    hint_text=(
        "`zip(ids, ids[1:])` walks over every adjacent pair. Count them with a Counter; then, "
        "among the pairs with the highest count, return the smallest one (tuples compare "
        "element by element, so `min` does it). `Counter.most_common` breaks ties by first "
        "appearance, which is not the rule asked for. A list with fewer than two ids has no pair."
    ),
    wrong_answers=[
        # ties broken by first appearance
        "from collections import Counter\n\n"
        "def most_frequent_pair(ids):\n"
        "    counts = Counter(zip(ids, ids[1:]))\n"
        "    return counts.most_common(1)[0][0] if counts else None\n",
        # ties broken towards the largest pair
        "from collections import Counter\n\n"
        "def most_frequent_pair(ids):\n"
        "    counts = Counter(zip(ids, ids[1:]))\n"
        "    return max(counts, key=lambda p: (counts[p], p)) if counts else None\n",
        # only non-overlapping pairs at even positions
        "from collections import Counter\n\n"
        "def most_frequent_pair(ids):\n"
        "    counts = Counter(zip(ids[::2], ids[1::2]))\n"
        "    if not counts:\n"
        "        return None\n"
        "    best = max(counts.values())\n"
        "    return min(p for p, n in counts.items() if n == best)\n",
    ],
)
