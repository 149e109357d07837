"""Exercises for notebook 00 (setup & tour): ``from labkit.exercises import nb00 as ex``.

- ``q1`` (value): the fraction of the default corpus's characters that are letters
  (``text = data.load_text()`` is defined earlier in the notebook).
- ``q2`` (function): ``char_frequencies(text)`` — each character's relative frequency.

The corpus is loaded only when ``ex.q1.check`` runs, never at import.
"""

from __future__ import annotations

import random
from typing import Any

from labkit.exercises.core import FunctionExercise, ValueExercise


def _corpus() -> dict[str, Any]:
    """The names the notebook defines before q1: ``text``, the default corpus."""
    from labkit import data

    return {"text": data.load_text()}


q1 = ValueExercise(
    name="q1",
    answer_name="answer",
    solution_code="answer = sum(c.isalpha() for c in text) / len(text)\n",
    given=_corpus,
    hint_text=(
        "Go through `text` one character at a time and count those for which `c.isalpha()` is "
        "True (`sum` over a generator of booleans counts the Trues). A fraction is a count "
        "divided by how many there are in all."
    ),
    wrong_answers=[
        "answer = sum(c.isalpha() for c in text)\n",  # a count, not a fraction
        "answer = sum(c.isalnum() for c in text) / len(text)\n",  # digits are not letters
        "answer = sum(c.isupper() for c in text) / len(text)\n",  # capitals only
    ],
)

_Q2_SOLUTION = '''\
from collections import Counter


def char_frequencies(text: str) -> dict[str, float]:
    """Each character of text mapped to its relative frequency: count / len(text)."""
    counts = Counter(text)
    return {char: n / len(text) for char, n in counts.items()}
'''

_ALPHABET = "aaaabbbcde    ABC\n.,!'é’"


def _random_text(rng: random.Random) -> tuple[str]:
    """One argument tuple for q2: a short random string with repeated characters (maybe empty)."""
    return ("".join(rng.choices(_ALPHABET, k=rng.randint(0, 40))),)


q2 = FunctionExercise(
    name="q2",
    answer_name="char_frequencies",
    solution_code=_Q2_SOLUTION,
    make_inputs=_random_text,
    edge_cases=[("",), ("a",), ("aaab",), ("To be, or not to be\n",)],
    n_random=8,
    hint_text=(
        "First count how often each character occurs (a dict you fill in a loop, or "
        "`collections.Counter`). Then turn each count into a fraction: what must you divide by so "
        "that all the frequencies add up to 1? And what should an empty text give?"
    ),
    wrong_answers=[
        # raw counts instead of frequencies
        "from collections import Counter\n\n"
        "def char_frequencies(text):\n"
        "    return dict(Counter(text))\n",
        # divided by the number of distinct characters instead of the text's length
        "from collections import Counter\n\n"
        "def char_frequencies(text):\n"
        "    counts = Counter(text)\n"
        "    return {c: n / len(counts) for c, n in counts.items()}\n",
        # percentages instead of fractions
        "def char_frequencies(text):\n"
        "    return {c: 100 * text.count(c) / len(text) for c in set(text)}\n",
    ],
)
