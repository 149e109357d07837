"""Exercises for notebook 09 (training a GPT): ``from labkit.exercises import nb09 as ex``.

- ``q1`` (function): ``learning_rate(step, max_steps, lr, warmup_steps, min_lr)`` — linear
  warm-up, then cosine decay to ``min_lr`` (the schedule of :func:`labkit.train.learning_rate`).
  This is the notebook's one formula exercise: it implements the equation of section 4.
- ``q2`` (value, predict a number): the change of three weights in AdamW's very first step
  (one gradient tiny, one huge, one zero), worked out from section 3 before computing it.
- ``q3`` (choice, predict then run): the same tiny GPT trained for 100 steps at three learning
  rates (3e-4, 3e-3, 3e-1): which ends lowest?
- ``q4`` (explanation): why each of the other two learning rates ends where it does.

Gradient clipping (notebook 04) and perplexity (notebook 01) are exercised in their own notebooks.
Inputs and answers are plain Python values (ints, floats, dicts).
"""

from __future__ import annotations

import random

from labkit.exercises.core import (
    ChoiceExercise,
    ExplainExercise,
    FunctionExercise,
    ValueExercise,
    WrongAnswer,
)

# --------------------------------------------------------------------------- q1: the schedule

_Q1_SOLUTION = '''\
import math


def learning_rate(step: int, max_steps: int, lr: float, warmup_steps: int, min_lr: float) -> float:
    """Update number `step` (1, 2, ..., max_steps): linear warm-up from 0 to lr over
    warmup_steps, then a half cosine from lr (at step = warmup_steps) to min_lr (at max_steps)."""
    if step < warmup_steps:
        return lr * step / warmup_steps
    if max_steps == warmup_steps:
        return lr
    progress = (step - warmup_steps) / (max_steps - warmup_steps)  # 0 -> 1 after warm-up
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))
'''


def _q1_inputs(rng: random.Random) -> tuple[int, int, float, int, float]:
    max_steps = rng.randint(2, 5000)
    warmup = rng.randint(1, max_steps - 1)
    lr = 10 ** rng.uniform(-4, -1)
    step = rng.choice([rng.randint(1, warmup), rng.randint(warmup, max_steps)])
    return step, max_steps, lr, warmup, lr * rng.choice([0.0, 0.1, rng.random()])


_Q1_HEAD = (
    "import math\n\n"
    "def learning_rate(step, max_steps, lr, warmup_steps, min_lr):\n"
    "    if step < warmup_steps:\n"
    "        return lr * step / warmup_steps\n"
)

q1 = FunctionExercise(
    name="q1",
    answer_name="learning_rate",
    solution_code=_Q1_SOLUTION,
    make_inputs=_q1_inputs,
    edge_cases=[
        (1, 1000, 1e-3, 100, 1e-4),  # the first update: lr / 100
        (50, 1000, 1e-3, 100, 1e-4),  # half-way through warm-up
        (100, 1000, 1e-3, 100, 1e-4),  # the peak
        (550, 1000, 1e-3, 100, 1e-4),  # half-way down: (lr + min_lr) / 2
        (1000, 1000, 1e-3, 100, 1e-4),  # the last step: min_lr
        (700, 1000, 2e-3, 100, 0.0),
    ],
    n_random=10,
    rel_tol=1e-9,
    abs_tol=1e-12,
    points=2,
    hint_text=(
        "Two pieces. While step < warmup_steps the rate rises in a straight line: "
        "lr · step / warmup_steps. Afterwards measure how far you are through the rest of the run, "
        "progress = (step − warmup_steps) / (max_steps − warmup_steps), from 0 to 1, and go down "
        "half a cosine: min_lr + ½(lr − min_lr)(1 + cos(π · progress))."
    ),
    wrong_answers=[
        WrongAnswer(
            _Q1_HEAD + "    progress = (step - warmup_steps) / (max_steps - warmup_steps)\n"
            "    return 0.5 * lr * (1 + math.cos(math.pi * progress))\n",
            why="your cosine ends at 0 and ignores min_lr: the decay must end on the floor min_lr",
        ),
        WrongAnswer(
            _Q1_HEAD + "    progress = step / max_steps\n"
            "    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))\n",
            why=(
                "your progress counts from step 0, so the cosine is already part-way down when the "
                "warm-up ends: measure it from the end of the warm-up"
            ),
        ),
        WrongAnswer(
            _Q1_HEAD + "    progress = (step - warmup_steps) / (max_steps - warmup_steps)\n"
            "    return lr - (lr - min_lr) * progress\n",
            why="after the warm-up you decay in a straight line; this schedule follows a cosine",
        ),
        WrongAnswer(
            _Q1_HEAD + "    progress = (step - warmup_steps) / (max_steps - warmup_steps)\n"
            "    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(2 * math.pi * progress))\n",
            why=(
                "your cosine runs through a whole period and climbs back to lr by the last step; "
                "the decay is half a period"
            ),
        ),
    ],
)


# --------------------------------------------------------------------------- q2: AdamW's first step

_Q2_SOLUTION = '''\
lr = 0.01
weight_decay = 0.1
eps = 1e-8
theta = 0.5  # every weight, before the step
# Step 1: m = (1 - β1)g and v = (1 - β2)g², so the bias-corrected m̂ = g and v̂ = g²:
# m̂ / (√v̂ + ε) = g / (|g| + ε), about the sign of g, whatever the gradient's size.
# The decoupled decay takes lr · λ · θ off every weight, with or without a gradient.
first_step = {
    "g = 0.003": -lr * weight_decay * theta - lr * 0.003 / (0.003 + eps),
    "g = -50": -lr * weight_decay * theta - lr * -50 / (50 + eps),
    "g = 0": -lr * weight_decay * theta,
}
'''


def _steps(decay: float, move: dict[str, float]) -> str:
    """The code of a wrong answer: ``first_step`` with the given decay and gradient terms."""
    items = ", ".join(f'"{key}": {decay!r} + {value!r}' for key, value in move.items())
    return f"first_step = {{{items}}}\n"


_KEYS = ("g = 0.003", "g = -50", "g = 0")

q2 = ValueExercise(
    name="q2",
    answer_name="first_step",
    solution_code=_Q2_SOLUTION,
    rel_tol=1e-4,
    abs_tol=1e-7,
    points=2,
    hint_text=(
        "Follow section 3's formulas for t = 1, starting from m = v = 0: what are m̂ and v̂ after "
        "the bias correction, and what is m̂ / √v̂ then? Do not forget the decay term, which does "
        "not care about the gradient. You can confirm your numbers afterwards with "
        "torch.optim.AdamW on a tensor of three 0.5s."
    ),
    wrong_answers=[
        WrongAnswer(
            _steps(0.0, dict(zip(_KEYS, (-0.01, 0.01, 0.0), strict=True))),
            why=(
                "you left out the weight decay: AdamW also takes lr·λ·θ off every weight at each "
                "step, whatever its gradient"
            ),
        ),
        WrongAnswer(
            _steps(0.0, dict(zip(_KEYS, (-0.01, 0.01, -0.01), strict=True))),
            why=(
                "you added λθ to the gradient (Adam with an L2 penalty): AdamW applies the decay to "
                "the weight itself, outside the division by √v̂"
            ),
        ),
        WrongAnswer(
            _steps(-0.0005, dict(zip(_KEYS, (-0.00003, 0.5, 0.0), strict=True))),
            why=(
                "that is an SGD step, lr × gradient: Adam divides the averaged gradient by the root "
                "of its averaged square, so the gradient's size cancels out"
            ),
        ),
        WrongAnswer(
            _steps(-0.0005, dict(zip(_KEYS, (-0.0316228, 0.0316228, 0.0), strict=True))),
            why=(
                "you left out the bias correction: m and v start at 0, and at step 1 dividing by "
                "1 − β₁ and 1 − β₂ undoes exactly that start"
            ),
        ),
        WrongAnswer(
            _steps(-0.05, dict(zip(_KEYS, (-0.01, 0.01, 0.0), strict=True))),
            why=(
                "your decay is λ·θ; in AdamW it is multiplied by the learning rate too: lr·λ·θ"
            ),
        ),
        WrongAnswer(
            _steps(0.0005, dict(zip(_KEYS, (0.01, -0.01, 0.0), strict=True))),
            why=(
                "your steps go up the gradient and away from 0: an optimiser moves each weight "
                "against its gradient, and the decay pulls it towards 0"
            ),
        ),
    ],
)


# --------------------------------------------------------------------------- q3, q4: the learning rate
# Measured with the notebook's run cell (100 steps, batch 16 × 32 characters, a 2-layer width-32
# GPT, AdamW with a constant rate, the first million characters) over LABKIT_SEED_OFFSET=0..9;
# the cell does not depend on the mode. Validation loss after 100 steps:
# lr 3e-4: 3.51-3.56; lr 3e-3: 2.71-2.79; lr 3e-1: 3.28-3.48 (character frequencies alone: ~3.3).
# The gap between 3e-3 and the better of the others: 0.49 at the least.

q3 = ChoiceExercise(
    name="q3",
    answer_name="prediction_q3",
    solution_code='prediction_q3 = "b"\n',
    options={
        "a": "lr = 3e-4: the smallest steps are the safest",
        "b": "lr = 3e-3",
        "c": "lr = 3e-1: the largest steps make the most progress in a short run",
        "d": "all three end about the same: Adam adapts every weight's step, so lr hardly matters",
    },
    points=1,
    hint_text=(
        "Use Exercise 2: about how far does AdamW move each weight per step, and how does that "
        "compare with the size of the weights (initialised with a standard deviation of 0.02) and "
        "with the number of steps the run has?"
    ),
    wrong_answers=[
        WrongAnswer(
            'prediction_q3 = "a"\n',
            why=(
                "small steps are safe but slow: AdamW moves each weight by about lr per step, and "
                "100 steps of 3e-4 take the weights only a short way from where they started"
            ),
        ),
        WrongAnswer(
            'prediction_q3 = "c"\n',
            why=(
                "AdamW moves every weight by about lr per step whatever its gradient (Exercise 2): "
                "think of steps of 0.3 for weights that start around ±0.02"
            ),
        ),
        WrongAnswer(
            'prediction_q3 = "d"\n',
            why=(
                "Adam adapts to the scale of the gradient, not to the learning rate: lr still sets "
                "the size of every step (Exercise 2)"
            ),
        ),
    ],
)

q4 = ExplainExercise(
    name="q4",
    prompt=(
        "Explain the figure: why does each of the other two learning rates end where it does "
        "(compare both with the character-frequency line), and what does that tell you about "
        "choosing a learning rate?"
    ),
    model_answer=(
        "AdamW moves each weight by about lr per step, whatever its gradient. At 3e-4, 100 steps "
        "move a weight by about 0.03 at most: the model has barely started and is still above the "
        "character-frequency line. At 3e-1 every step is many times larger than the weights "
        "themselves (about 0.02 at initialisation), so each update overshoots and undoes the last: "
        "the loss stalls around the character-frequency line, the one pattern crude enough to "
        "survive such jumps. A good learning rate is large enough to make progress in the steps "
        "you can afford and small enough to settle; it is found by a short sweep like this one, "
        "over factors of 3 to 10."
    ),
    rubric=(
        "1 point: too small a rate moves the weights too little in 100 steps (slow, still above "
        "the frequency baseline). 1 point: too large a rate overshoots with steps bigger than the "
        "weights, so training stalls near the frequency baseline; a sweep finds the rate in between."
    ),
    hint_text=(
        "Multiply: about lr per step, for 100 steps. Compare with weights of size 0.02. What "
        "does a model that knows only the character frequencies score?"
    ),
    points=2,
)
