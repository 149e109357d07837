"""Notebook 05's pictures and knobs: viz.gate_heatmap and the gate explorer in labkit.widgets
(recurrent_gates, gate_figure, gate_explorer)."""

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from labkit import data, viz, widgets
from labkit.rnn import CharRNN, CharRNNConfig

VOCAB = data.CharVocab.from_text("abc de\n")


def _model(cell: str) -> CharRNN:
    torch.manual_seed(0)
    return CharRNN(CharRNNConfig(len(VOCAB), cell=cell, n_embd=4, hidden_size=5, num_layers=2))


def test_gate_heatmap_puts_characters_across_and_units_down():
    v = torch.rand(4, 6)
    fig = viz.gate_heatmap(v, "ab c", units=[5, 0, 2], title="T")
    assert isinstance(fig, go.Figure) and fig.layout.title.text == "T"
    (trace,) = fig.data
    assert trace.type == "heatmap"
    assert np.allclose(trace.z, v[:, [5, 0, 2]].T.numpy())  # (units, T)
    assert list(fig.layout.xaxis.ticktext) == ["a", "b", "␣", "c"]
    assert list(fig.layout.yaxis.ticktext) == ["5", "0", "2"]
    assert (trace.zmin, trace.zmax) == (0.0, 1.0)  # a gate in [0, 1]: a fixed 0..1 scale
    assert fig.layout.yaxis.autorange == "reversed"


def test_gate_heatmap_centres_signed_values_on_zero():
    v = np.array([[-2.0, 0.5], [1.0, 0.0]])
    (trace,) = viz.gate_heatmap(v, "xy").data
    assert (trace.zmin, trace.zmax) == (-2.0, 2.0)
    assert len(viz.gate_heatmap(v, "xy").data[0].y) == 2  # default: every unit


def test_gate_heatmap_rejects_bad_input():
    with pytest.raises(ValueError, match="one row per character"):
        viz.gate_heatmap(np.ones((3, 2)), "ab")
    with pytest.raises(ValueError, match="shape"):
        viz.gate_heatmap(np.ones(3), "abc")
    with pytest.raises(ValueError, match="units"):
        viz.gate_heatmap(np.ones((2, 2)), "ab", units=[2])
    with pytest.raises(ValueError, match="units"):
        viz.gate_heatmap(np.ones((2, 2)), "ab", units=[])
    with pytest.raises(TypeError, match="text"):
        viz.gate_heatmap(np.ones((2, 2)), ["a", "b"])
    with pytest.raises(TypeError, match="values"):
        viz.gate_heatmap([["x"]], "a")


@pytest.mark.parametrize(("cell", "names"), [("lstm", "ifgoc"), ("gru", "rzn")])
def test_recurrent_gates_are_the_models_own(cell, names):
    model = _model(cell).train()
    text = "abc de\nab"
    gates = widgets.recurrent_gates(model, VOCAB, text, layer=1)
    assert list(gates) == list(names)
    assert all(g.shape == (len(text), 5) for g in gates.values())
    assert model.impl == "fast" and model.training  # both restored
    with torch.no_grad():  # the same run, from the reference module directly
        model.impl = "reference"
        x = model.embedding(VOCAB.encode(text, as_tensor=True)[None])
        out, _, ref = model.rnn(x, return_gates=True)
    for name in names:
        assert torch.equal(gates[name], ref[name][1, 0])
    if cell == "lstm":  # the top layer's output is o ⊙ tanh(c)
        g = widgets.recurrent_gates(model, VOCAB, text, layer=1)
        assert torch.allclose(out[0], g["o"] * torch.tanh(g["c"]), atol=1e-6)


def test_recurrent_gates_rejects_bad_input():
    model = _model("lstm")
    with pytest.raises(TypeError, match="lstm"):
        widgets.recurrent_gates(_model("rnn"), VOCAB, "ab")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        widgets.recurrent_gates(model, VOCAB, "abz")
    with pytest.raises(ValueError, match="layer"):
        widgets.recurrent_gates(model, VOCAB, "ab", layer=2)
    with pytest.raises(ValueError, match="text"):
        widgets.recurrent_gates(model, VOCAB, "")
    with pytest.raises(ValueError, match="gate"):
        widgets.gate_figure(model, VOCAB, "ab", gate="z")


def test_gate_explorer_redraws_on_change():
    model = _model("lstm")
    lines = ["abc", "de\na"]
    panel = widgets.gate_explorer(model, VOCAB, lines, units=[0, 3])
    assert panel.controls["gate"].value == "f"
    f = widgets.recurrent_gates(model, VOCAB, "abc")["f"]
    assert np.allclose(panel.result.data[0].z, f[:, [0, 3]].T.numpy())
    panel.controls["line"].value = "de\na"
    panel.controls["gate"].value = "c"
    c = widgets.recurrent_gates(model, VOCAB, "de\na")["c"]
    assert np.allclose(panel.result.data[0].z, c[:, [0, 3]].T.numpy())
    assert list(panel.result.layout.xaxis.ticktext) == ["d", "e", "⏎", "a"]
    gru = widgets.gate_explorer(_model("gru"), VOCAB, lines)
    assert gru.controls["gate"].value == "z" and len(gru.result.data[0].y) == 5
    with pytest.raises(TypeError, match="lines"):
        widgets.gate_explorer(model, VOCAB, "abc")
