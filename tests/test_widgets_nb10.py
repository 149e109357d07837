"""The generation playground of notebook 10: the plain function stream_text and the widget,
driven headless (setting ``control.value`` is what moving a slider does; ``button.click()``
what pressing it does)."""

from __future__ import annotations

import pytest
import torch

import labkit
from labkit import generate, widgets
from labkit.data import CharVocab
from labkit.gpt import GPT, GPTConfig

VOCAB = CharVocab.from_text("abcdefgh ROMEO:\n")


@pytest.fixture(scope="module")
def model() -> GPT:
    labkit.seed(0)
    return GPT(
        GPTConfig(vocab_size=len(VOCAB), block_size=16, n_layer=1, n_head=2, n_embd=16)
    ).eval()


def _reference(model, prompt, n, seed, **settings) -> str:
    idx = VOCAB.encode(prompt, as_tensor=True)[None]
    out = generate.sample(model, idx, n, generator=torch.Generator().manual_seed(seed), **settings)
    return VOCAB.decode(out[0, idx.shape[1] :])


def test_stream_text_grows_to_what_sample_gives(model) -> None:
    steps = list(
        widgets.stream_text(model, VOCAB, "ROMEO:\n", 20, temperature=0.9, top_k=5, seed=3)
    )
    assert len(steps) == 20
    assert all(steps[i + 1].startswith(steps[i]) and len(steps[i]) == i + 1 for i in range(19))
    assert steps[-1] == _reference(model, "ROMEO:\n", 20, 3, temperature=0.9, top_k=5)
    greedy = list(widgets.stream_text(model, VOCAB, "ab", 10, temperature=0))[-1]
    assert greedy == VOCAB.decode(
        generate.greedy(model, VOCAB.encode("ab", as_tensor=True)[None], 10)[0, 2:]
    )


def test_stream_text_checks_its_inputs(model) -> None:
    with pytest.raises(
        ValueError, match=r"prompt holds characters the model's vocabulary lacks: \['Z'\]"
    ):
        next(widgets.stream_text(model, VOCAB, "aZ", 5))
    with pytest.raises(ValueError, match="prompt must be a non-empty str; got ''"):
        next(widgets.stream_text(model, VOCAB, "", 5))
    with pytest.raises(ValueError, match="seed must be an int >= 0; got -1"):
        next(widgets.stream_text(model, VOCAB, "a", 5, seed=-1))
    with pytest.raises(ValueError, match="temperature must be a number >= 0"):
        next(widgets.stream_text(model, VOCAB, "a", 5, temperature=-1.0))


def test_playground_generates_with_the_controls_values_and_streams(model) -> None:
    pg = widgets.generation_playground(model, VOCAB, prompt="ab", max_new_tokens=40, update_every=4)
    c = pg.controls
    c["prompt"].value = "ROMEO:\n"
    c["temperature"].value = 0.7
    c["top_k"].value = 6
    c["top_p"].value = 0.9
    c["repetition_penalty"].value = 1.2
    c["max_new_tokens"].value = 30
    c["seed"].value = 11
    shown: list[str] = []
    pg.output.observe(lambda change: shown.append(change["new"]), names="value")
    pg.button.click()  # what pressing Generate does
    expected = _reference(
        model, "ROMEO:\n", 30, 11, temperature=0.7, top_k=6, top_p=0.9, repetition_penalty=1.2
    )
    assert pg.text == expected
    assert len(shown) >= 30 // 4  # the text was shown while it grew, not only at the end
    assert "<b>ROMEO:\n</b>" in shown[-1] and shown[-1].count("<pre") == 1
    assert "30 characters" in pg.status.value
    # the "off" positions of the sliders switch the filters off
    c["top_k"].value, c["top_p"].value, c["repetition_penalty"].value = 0, 1.0, 1.0
    assert pg.settings()["top_k"] is None and pg.settings()["top_p"] is None
    assert pg.generate() == _reference(model, "ROMEO:\n", 30, 11, temperature=0.7)
    c["temperature"].value = 0.0  # greedy; changing a control generates at once
    assert pg.text == _reference(model, "ROMEO:\n", 30, 0, temperature=0)
    c["temperature"].value, c["seed"].value = 1.0, 5
    assert pg.text == _reference(model, "ROMEO:\n", 30, 5, temperature=1.0)
    assert all(control.continuous_update is False for control in c.values())


def test_playground_shows_a_message_for_an_unknown_character(model) -> None:
    pg = widgets.generation_playground(model, VOCAB, prompt="ab", max_new_tokens=10)
    pg.controls["prompt"].value = "xyz"
    assert pg.generate() == ""
    assert "lacks" in pg.output.value and "x" in pg.output.value
    with pytest.raises(ValueError, match="prompt holds characters"):
        widgets.generation_playground(model, VOCAB, prompt="Q")
    with pytest.raises(ValueError, match="update_every must be an int >= 1"):
        widgets.generation_playground(model, VOCAB, update_every=0)
