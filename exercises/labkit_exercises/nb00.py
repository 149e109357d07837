"""Exercises for notebook 00 (setup & tour): ``from labkit.exercises import nb00 as ex``.

- ``q1`` (value): the fraction of the corpus's characters that are letters: counting with a
  condition on a text you have not counted before (``text = data.load_text()`` is defined earlier).
- ``q2`` (function): ``char_frequencies(text)``, each character's relative frequency
  p(c) = count(c) / N. **The formula re-type** of this notebook (section 4 shows the formula).
- ``q3`` (choice, predict then run): lower-case the corpus; what becomes of p('e')?
- ``q4`` (explanation): why p('e') moved as it did, and what lower-casing costs a model.

The corpus is loaded only when ``ex.q1.check`` runs, never at import. The experiment of q3 draws
nothing at random: its outcome is the same on every seed and machine, in fast and in full mode
(the corpus is pinned by its sha256, and plain ASCII, so ``text.lower()`` keeps its length).
Measured: p('e') 0.08277, p('E') 0.00640, p('e') after lower-casing 0.08917 = their sum;
83 distinct characters before, 57 after (all 26 capitals occur).
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
        WrongAnswer(
            "answer = sum(c.isalpha() for c in text)\n",
            why="you counted the letters but did not divide by the number of characters: "
            "a fraction lies between 0 and 1",
        ),
        WrongAnswer(
            "answer = sum(c.isalnum() for c in text) / len(text)\n",
            why="`isalnum()` is also True for digits (the corpus has some), and a digit is not "
            "a letter: test each character with `isalpha()`",
        ),
        WrongAnswer(
            "answer = sum(c.isupper() for c in text) / len(text)\n",
            why="`isupper()` counts only the capital letters; small letters are letters too",
        ),
    ],
    points=1,
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
        WrongAnswer(
            "from collections import Counter\n\n"
            "def char_frequencies(text):\n"
            "    return dict(Counter(text))\n",
            why="your values are counts: divide each by the length of the text so that they "
            "add up to 1",
        ),
        WrongAnswer(
            "from collections import Counter\n\n"
            "def char_frequencies(text):\n"
            "    counts = Counter(text)\n"
            "    return {c: n / len(counts) for c, n in counts.items()}\n",
            why="you divided by the number of distinct characters, not by the number of "
            "characters in the text, so the frequencies do not add up to 1",
        ),
        WrongAnswer(
            "def char_frequencies(text):\n"
            "    return {c: 100 * text.count(c) / len(text) for c in set(text)}\n",
            why="your values are percentages (they add up to 100); a relative frequency is a "
            "fraction, and they add up to 1",
        ),
    ],
    points=1,
)

# --------------------------------------------------------------------------- q3, q4: an experiment

q3 = ChoiceExercise(
    name="q3",
    answer_name="prediction_q3",
    solution_code='prediction_q3 = "b"\n',
    options={
        "a": "p('e') is unchanged: lower-casing changes the capitals, not the letter e",
        "b": "p('e') becomes exactly p('e') + p('E')",
        "c": "p('e') grows, but to less than p('e') + p('E'): the other letters gain too, and "
        "the frequencies must still add up to 1",
        "d": "p('e') grows to more than p('e') + p('E'): the vocabulary shrinks, so each "
        "remaining character gets a bigger share",
    },
    hint_text=(
        "p(c) = count(c) / N. Ask two questions: what does `text.lower()` do to the number of "
        "`e`s, and what does it do to N, the length of the text?"
    ),
    wrong_answers=[
        WrongAnswer(
            'prediction_q3 = "a"\n',
            why="lower-casing leaves every small e alone, but it also turns every capital E "
            "into one, so the count of e changes",
        ),
        WrongAnswer(
            'prediction_q3 = "c"\n',
            why="the frequencies do still add up to 1, but no letter has to give anything up "
            "for that: each capital's share moves onto its small letter, and N stays the same",
        ),
        WrongAnswer(
            'prediction_q3 = "d"\n',
            why="p(c) is count(c) / N: a smaller vocabulary changes neither N nor any count, "
            "so nothing is spread anew over the remaining characters",
        ),
    ],
    points=1,
)

q4 = ExplainExercise(
    name="q4",
    prompt=(
        "Explain what you saw: why p('e') of the lower-cased text is what it is, why the number "
        "of distinct characters fell as it did, and what a model of the lower-cased text loses."
    ),
    model_answer=(
        "Lower-casing replaces every E by e and leaves every other character as it is, one "
        "character for one, so the length N of the text does not change and count('e') becomes "
        "count('e') + count('E'); dividing by the same N gives p('e') + p('E'). The frequencies "
        "still add up to 1 because each capital's share moves onto its small letter, and the "
        "capitals leave the vocabulary (83 distinct characters become 57: all 26 capitals occur). "
        "The price is information: a model of the lower-cased text cannot tell *Will* from "
        "*will*, nor write a capital letter."
    ),
    rubric=(
        "1 point: N is unchanged and count('e') absorbs count('E'), so the two shares add (no "
        "renormalisation is needed). 1 point: the vocabulary loses the 26 capitals, and what that "
        "costs (case is lost; the original text cannot be restored)."
    ),
    hint_text="Compare the row 'characters N' of the two columns, then the count of e before and after.",
    points=2,
)
