"""Exercises for notebook 10 (text generation): ``from labkit.exercises import nb10 as ex``.

- ``q1`` (function): ``nucleus(probs, p)`` — which tokens top-p sampling keeps: the smallest
  set of most likely tokens whose probabilities add up to at least ``p``. This is the notebook's
  one formula exercise: it implements the rule of section 4.
- ``q2`` (choice, predict then run): top-p 0.9 after a temperature of 0.5 … 2: does the
  number of tokens it keeps change with the temperature?
- ``q3`` (explanation): why it changes, and what the order "temperature, then top-p" implies.
- ``q4`` (function, apply): ``distinct_n(tokens, n)`` — the share of distinct n-grams in a text,
  a measure of repetition for word tokens that the notebook does not build.

Inputs and answers are plain Python values (ints, floats, lists).
"""

from __future__ import annotations

import random

from labkit.exercises.core import ChoiceExercise, ExplainExercise, FunctionExercise, WrongAnswer

# --------------------------------------------------------------------------- q1: the nucleus

_Q1_SOLUTION = '''\
def nucleus(probs: list[float], p: float) -> list[int]:
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


def _q1_inputs(rng: random.Random) -> tuple[tuple[float, ...], float]:
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


q1 = FunctionExercise(
    name="q1",
    answer_name="nucleus",
    solution_code=_Q1_SOLUTION,
    make_inputs=_q1_inputs,
    edge_cases=[
        ([0.3, 0.5, 0.2], 0.25),  # the top token alone covers p: token 1
        ([0.5, 0.3, 0.2], 0.6),  # 0.5 is not enough, 0.5 + 0.3 is: tokens 0 and 1
        ([0.1, 0.6, 0.3], 0.5),  # the top token alone covers p again
        ([0.25, 0.25, 0.25, 0.25], 1.0),  # p = 1 keeps everything
        ([0.05, 0.15, 0.8], 0.01),  # a tiny p still keeps the top token
        ([0.2, 0.1, 0.7], 0.85),  # the kept ids are not in order of probability
    ],
    n_random=10,
    points=2,
    hint_text=(
        "Sort the token ids by probability, largest first. Walk down the list adding "
        "probabilities; a token is kept when the mass of the tokens *before* it is still below p "
        "(so the token that crosses p is kept, and the top token always is). Return the kept ids "
        "sorted in increasing order."
    ),
    wrong_answers=[
        WrongAnswer(
            "def nucleus(probs, p):\n"
            "    order = sorted(range(len(probs)), key=lambda i: -probs[i])\n"
            "    kept, mass = [], 0.0\n"
            "    for i in order:\n"
            "        if mass + probs[i] > p:\n"
            "            break\n"
            "        kept.append(i)\n"
            "        mass += probs[i]\n"
            "    return sorted(kept)\n",
            why=(
                "you stop before the token that carries the mass past p: top-p decides by the mass "
                "kept *before* each token, so that token stays in the nucleus"
            ),
        ),
        WrongAnswer(
            "def nucleus(probs, p):\n"
            "    top = max(range(len(probs)), key=probs.__getitem__)\n"
            "    return [i for i, q in enumerate(probs) if q >= p] or [top]\n",
            why=(
                "you kept the tokens whose own probability is at least p: top-p adds the "
                "probabilities up until their total reaches p"
            ),
        ),
        WrongAnswer(
            "def nucleus(probs, p):\n"
            "    kept, mass = [], 0.0\n"
            "    for i, q in enumerate(probs):\n"
            "        if mass >= p:\n"
            "            break\n"
            "        kept.append(i)\n"
            "        mass += q\n"
            "    return kept\n",
            why="you walked through the tokens in vocabulary order; top-p starts from the most likely one",
        ),
        WrongAnswer(
            "def nucleus(probs, p):\n"
            "    order = sorted(range(len(probs)), key=lambda i: -probs[i])\n"
            "    kept, mass = [], 0.0\n"
            "    for i in order:\n"
            "        if mass >= p:\n"
            "            break\n"
            "        kept.append(i)\n"
            "        mass += probs[i]\n"
            "    return kept\n",
            why=(
                "the right tokens, but listed from most to least likely: return the ids in "
                "increasing order (sorted)"
            ),
        ),
    ],
)


# --------------------------------------------------------------------------- q2, q3: τ, then top-p
# Measured with the notebook's run cell on the fast-mode model (trained in section 0) over
# LABKIT_SEED_OFFSET=0..9: tokens kept by top-p 0.9 at τ = 0.5, 0.8, 1, 1.5, 2 rise at every step
# for all three prompts, e.g. 4 → 42, 9 → 45, 2 → 31 at offset 0; the count at τ = 2 is 3.8 to 16
# times the count at τ = 0.5 (smallest ratio 45/12, "ROMEO." at offset 5). The full-mode cell
# without notebook 09's checkpoint trains the same model. That the count never falls is a theorem
# (for every k, the mass of the k most likely tokens can only shrink as τ grows), so it also
# holds for notebook 09's model.

q2 = ChoiceExercise(
    name="q2",
    answer_name="prediction_q2",
    solution_code='prediction_q2 = "b"\n',
    options={
        "a": "the same number at every τ: dividing by τ does not change which tokens are likelier",
        "b": "more tokens as τ rises",
        "c": "fewer tokens as τ rises",
    },
    points=1,
    hint_text=(
        "Top-p counts probability mass, not ranks. What does a low temperature do to the share of "
        "the mass held by the few likeliest tokens, and what does a high one do?"
    ),
    wrong_answers=[
        WrongAnswer(
            'prediction_q2 = "a"\n',
            why=(
                "τ keeps the order of the tokens but not their probabilities, and top-p stops on "
                "the probability mass it has collected, not on a rank"
            ),
        ),
        WrongAnswer(
            'prediction_q2 = "c"\n',
            why=(
                "think of what a higher τ does to the probability of the top tokens, and how many "
                "tokens it then takes to collect a mass of p"
            ),
        ),
    ],
)

q3 = ExplainExercise(
    name="q3",
    prompt=(
        "Explain the table: why does the same p = 0.9 keep a different number of tokens at "
        "different temperatures, and what does it mean for sampling at τ = 1.5 with top-p 0.9 "
        "that labkit applies the temperature before the top-p filter?"
    ),
    model_answer=(
        "Dividing the logits by τ keeps their order but changes the gaps between them: a low τ "
        "piles the probability onto the few likeliest tokens, a high τ spreads it over many. "
        "Top-p keeps tokens until their mass reaches p, so at τ = 0.5 a handful of tokens suffice "
        "while at τ = 2 it takes dozens: the nucleus follows the distribution it is given. Since "
        "the temperature comes first, a high τ also widens the nucleus, so sampling at τ = 1.5 "
        "with top-p 0.9 lets in tail tokens that top-p would have cut from the model's own "
        "(τ = 1) distribution; filtering first and then heating would keep the model's own nucleus."
    ),
    rubric=(
        "1 point: τ keeps the ranking but moves probability mass (sharper or flatter), and top-p "
        "counts mass, so the number kept grows with τ. 1 point: the order of the operations "
        "matters: with the temperature first, a high τ widens the nucleus and lets unlikely "
        "tokens in."
    ),
    hint_text=(
        "Look at one row: which tokens does top-p 0.9 need at τ = 0.5, and why does it need more "
        "at τ = 2 though their order is the same?"
    ),
    points=2,
)


# --------------------------------------------------------------------------- q4: distinct-n

_Q4_SOLUTION = '''\
def distinct_n(tokens: list[str], n: int) -> float:
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
        (["a", "b", "a", "b", "a", "c"], 2),  # 5 bigrams, 3 different: 3/5
        (["to", "be", "or", "not", "to", "be"], 2),  # 5 bigrams, "to be" twice: 4/5
        (["to", "be", "or", "not", "to", "be"], 1),  # 6 words, 4 different
        (["a", "a", "a", "a"], 3),  # 2 trigrams, both (a, a, a): 1/2
        (["a", "b", "c", "a", "c"], 2),  # "a" and "c" repeat, but no bigram does: 1.0
        (["a", "b"], 3),  # no trigram at all
        ([], 1),
    ],
    n_random=10,
    rel_tol=1e-12,
    points=2,
    hint_text=(
        "List every window of n consecutive tokens (there are len(tokens) − n + 1 of them; turn "
        "each into a tuple so it can go into a set), count the different ones with a set, divide "
        "by how many windows there are. No window at all: return 0.0."
    ),
    wrong_answers=[
        WrongAnswer(
            "def distinct_n(tokens, n):\n"
            "    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]\n"
            "    return len(set(grams)) / len(tokens) if grams else 0.0\n",
            why="you divided by the number of tokens, not by the number of n-grams",
        ),
        WrongAnswer(
            "def distinct_n(tokens, n):\n"
            "    grams = [tuple(tokens[i : i + n]) for i in range(0, len(tokens) - n + 1, n)]\n"
            "    return len(set(grams)) / len(grams) if grams else 0.0\n",
            why=(
                "you cut the text into non-overlapping pieces of n tokens; distinct-n counts every "
                "window of n, overlapping ones included"
            ),
        ),
        WrongAnswer(
            "def distinct_n(tokens, n):\n"
            "    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]\n"
            "    return 1 - len(set(grams)) / len(grams) if grams else 0.0\n",
            why="you computed the share of repeated n-grams; distinct-n is the share of different ones",
        ),
        WrongAnswer(
            "def distinct_n(tokens, n):\n"
            "    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]\n"
            "    return len(set(tokens)) / len(grams) if grams else 0.0\n",
            why="you counted the different tokens (words), not the different n-grams",
        ),
    ],
)
