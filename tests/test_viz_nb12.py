"""The figure and widget functions notebook 12 adds: viz.rope_circles and the chat panel."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from labkit import generate, viz, widgets
from labkit.pretrained.llama import Llama, LlamaConfig, Tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")


def test_rope_circles_puts_position_t_at_angle_t_theta() -> None:
    fig = viz.rope_circles(head_dim=8, base=100.0, positions=5, pairs=[0, 3])
    assert isinstance(fig, go.Figure)
    assert [t.name.split(":")[0] for t in fig.data] == ["pair 0", "pair 3"]
    theta = 100.0 ** (-2 * 3 / 8)
    np.testing.assert_allclose(fig.data[1].x, np.cos(np.arange(5) * theta))
    np.testing.assert_allclose(fig.data[1].y, np.sin(np.arange(5) * theta))
    np.testing.assert_allclose(np.hypot(fig.data[0].x, fig.data[0].y), 1.0)  # on the unit circle
    assert fig.data[0].x[0] == 1.0 and fig.data[0].y[0] == 0.0  # position 0: not turned
    assert fig.layout.yaxis.scaleanchor == "x"


def test_rope_circles_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="head_dim must be even"):
        viz.rope_circles(head_dim=7)
    with pytest.raises(ValueError, match="positions must be a positive int"):
        viz.rope_circles(positions=0)
    with pytest.raises(ValueError, match=r"pairs must hold ints in \[0, 4\)"):
        viz.rope_circles(head_dim=8, pairs=[4])
    with pytest.raises(TypeError, match="pairs must be a non-empty list"):
        viz.rope_circles(pairs=[])
    with pytest.raises(ValueError, match="base must be a number > 1"):
        viz.rope_circles(base=1)


SPECIAL = ["<|im_end|>", "<|im_start|>"]


@pytest.fixture(scope="module")
def chat_model():
    """A random tiny Llama with a byte-level tokenizer (every byte a token, no merges)."""
    from tokenizers.pre_tokenizers import ByteLevel

    alphabet = sorted(ByteLevel.alphabet())
    tok = Tokenizer(SPECIAL + alphabet, [], special=SPECIAL, eos_id=0, bos_id=1)
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=tok.vocab_size,
        block_size=512,
        n_layer=1,
        n_head=2,
        n_kv_head=1,
        n_embd=16,
        ffn_hidden=32,
    )
    model = Llama(cfg).eval()
    with torch.no_grad():  # make the end-of-turn token likely, so replies end by themselves
        model.embed_tokens.weight[0] += (
            0.6 * model.embed_tokens.weight.mean(0) / model.embed_tokens.weight.mean(0).norm()
        )
    return model, tok


def test_chat_reply_streams_the_greedy_continuation_until_the_end_of_turn(chat_model) -> None:
    model, tok = chat_model
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    steps = list(
        widgets.chat_reply(model, tok, history, "How are you?", max_new_tokens=60, temperature=0)
    )
    assert steps and all(b.startswith(a) for a, b in zip(steps, steps[1:], strict=False))
    prompt = tok.chat_prompt([*history, {"role": "user", "content": "How are you?"}])
    idx = torch.tensor([tok.encode(prompt)])
    new = generate.greedy(model, idx, 60)[0, idx.shape[1] :].tolist()
    expected = tok.decode(new[: new.index(0)] if 0 in new else new)
    assert steps[-1] == expected
    assert "<|im_end|>" not in steps[-1]


def test_chat_panel_keeps_the_conversation(chat_model) -> None:
    model, tok = chat_model
    chat = widgets.chat_panel(model, tok, max_new_tokens=16, temperature=0.0, update_every=1)
    reply = chat.send("Hello")
    assert chat.history == [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": reply},
    ]
    chat.controls["temperature"].value = 1.0
    chat.controls["seed"].value = 3
    again = chat.send("More")
    expected = list(widgets.chat_reply(model, tok, chat.history[:2], "More", 16, 1.0, 0.9, 3))
    assert again == (expected[-1] if expected else "")
    assert len(chat.history) == 4 and "tokens/s" in chat.status.value
    assert "user:" in chat.output.value and "More" in chat.output.value
    chat.message.value = "typed"
    chat.send()
    assert chat.history[-2]["content"] == "typed" and chat.message.value == ""
    chat.clear()
    assert chat.history == [] and chat.output.value == ""


def test_chat_reply_checks_its_inputs(chat_model) -> None:
    model, tok = chat_model
    with pytest.raises(ValueError, match="message must be a non-empty string"):
        next(widgets.chat_reply(model, tok, [], "  "))
    with pytest.raises(TypeError, match="history must be a list of"):
        next(widgets.chat_reply(model, tok, "Hi", "Hello"))
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        next(widgets.chat_reply(model, tok, [], "Hello", seed=-1))
    with pytest.raises(ValueError, match="update_every must be an int >= 1"):
        widgets.chat_panel(model, tok, update_every=0)
