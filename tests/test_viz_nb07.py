"""Notebook 07's pictures and knobs: viz.attention_heads, viz.line_panels and the attention
explorer in labkit.widgets (word_vectors, attention_weights, attention_figure, attention_explorer)."""

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from labkit import viz, widgets
from labkit.attention import MultiHeadAttention

WORDS = ["the", "cat", "sat"]


def test_attention_heads_one_panel_per_head():
    w = torch.softmax(torch.randn(3, 4, 4), dim=-1)
    fig = viz.attention_heads(w, ["a", "b", "c", "a"], title="T")
    assert isinstance(fig, go.Figure) and fig.layout.title.text == "T"
    assert len(fig.data) == 3 and all(t.type == "heatmap" for t in fig.data)
    for i, trace in enumerate(fig.data):
        assert np.allclose(trace.z, w[i].numpy())
        assert trace.zmin == 0 and trace.zmax == 1  # one colour scale for every head
    assert [t.showscale for t in fig.data] == [False, False, True]
    assert [a.text for a in fig.layout.annotations] == ["head 0", "head 1", "head 2"]
    assert list(fig.layout.xaxis.ticktext) == ["a", "b", "c", "a"]  # repeated tokens stay
    assert fig.layout.yaxis.autorange == "reversed"  # query 0 at the top


def test_attention_heads_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        viz.attention_heads(np.ones((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="tokens"):
        viz.attention_heads(np.ones((1, 2, 2)), ["a"])
    with pytest.raises(ValueError, match="head_names"):
        viz.attention_heads(np.ones((2, 2, 2)), ["a", "b"], head_names=["x"])
    with pytest.raises(TypeError, match="weights"):
        viz.attention_heads([[["x"]]], ["a"])


def test_line_panels_shares_colours_and_legend():
    x = [1, 4, 16]
    fig = viz.line_panels(
        x,
        {"A": {"s": [1, 2, 3], "u": [3, 2, 1]}, "B": {"s": [1, 0.1, 0.01], "u": [1, 1, 1]}},
        title="T",
        xlabel="d",
        log_x=True,
        log_y=["B"],
    )
    assert len(fig.data) == 4
    assert [t.showlegend for t in fig.data] == [True, True, False, False]
    assert fig.data[0].line.color == fig.data[2].line.color != fig.data[1].line.color
    assert list(fig.data[3].y) == [1, 1, 1]
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type == "log"
    assert fig.layout.yaxis2.type == "log" and fig.layout.yaxis.type != "log"
    assert [a.text for a in fig.layout.annotations] == ["A", "B"]


def test_line_panels_rejects_bad_input():
    with pytest.raises(ValueError, match="one value per x"):
        viz.line_panels([1, 2], {"A": {"s": [1]}})
    with pytest.raises(ValueError, match="log_y"):
        viz.line_panels([1, 2], {"A": {"s": [1, 2]}}, log_y=["nope"])
    with pytest.raises(ValueError, match="> 0"):
        viz.line_panels([1, 2], {"A": {"s": [0, 2]}}, log_y=["A"])
    with pytest.raises(TypeError, match="panels"):
        viz.line_panels([1, 2], {})


def test_word_vectors_are_fixed_per_word():
    x = widgets.word_vectors(["the", "cat", "the"], 8)
    assert x.shape == (3, 8)
    assert torch.equal(x[0], x[2]) and not torch.equal(x[0], x[1])
    assert torch.equal(widgets.word_vectors(["cat"], 8)[0], x[1])  # the same in any sentence
    assert not torch.equal(widgets.word_vectors(["cat"], 8, seed=1)[0], x[1])
    with pytest.raises(TypeError):
        widgets.word_vectors("cat", 8)
    with pytest.raises(ValueError, match="d_model"):
        widgets.word_vectors(["cat"], 0)


def test_attention_weights_match_the_module():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2, impl="fast")
    words, w = widgets.attention_weights(mha, "the cat sat", head=1, causal=True)
    assert words == WORDS and w.shape == (3, 3)
    assert mha.impl == "fast"  # left as it was
    _, ref = MultiHeadAttention.forward(
        _reference(mha), widgets.word_vectors(WORDS, 8)[None], causal=True, return_weights=True
    )
    assert torch.allclose(w, ref[0, 1])
    assert torch.allclose(w.sum(-1), torch.ones(3)) and w[0, 1] == 0  # causal: no future
    with pytest.raises(ValueError, match="head"):
        widgets.attention_weights(mha, "the cat", head=2)
    with pytest.raises(ValueError, match="sentence"):
        widgets.attention_weights(mha, "   ")
    with pytest.raises(TypeError, match="MultiHeadAttention"):
        widgets.attention_weights(torch.nn.Linear(2, 2), "the cat")


def _reference(mha):
    mha.impl = "reference"
    return mha


def test_attention_explorer_redraws():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2)
    panel = widgets.attention_explorer(mha, ["the cat sat", "on the mat today"])
    fig = panel.result
    assert list(fig.data[0].x) == [0, 1, 2]
    assert list(fig.layout.xaxis.ticktext) == WORDS
    _, w0 = widgets.attention_weights(mha, "the cat sat", head=0)
    assert np.allclose(fig.data[0].z, w0.numpy())
    panel.controls["head"].value = 1
    panel.controls["causal"].value = True
    _, w1 = widgets.attention_weights(mha, "the cat sat", head=1, causal=True)
    assert np.allclose(panel.result.data[0].z, w1.numpy())
    panel.controls["sentence"].value = "on the mat today"
    assert list(panel.result.layout.yaxis.ticktext) == ["on", "the", "mat", "today"]
    with pytest.raises(TypeError):
        widgets.attention_explorer(mha, "the cat")
