"""Notebook 06's pictures and knobs: viz.alignment_heatmap and the translation explorer in
labkit.widgets (translate_with_attention, translation_figure, translation_explorer)."""

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from IPython.display import HTML

from labkit import dates, viz, widgets
from labkit.seq2seq import Seq2Seq, Seq2SeqConfig


def tiny_model(attention: str = "additive") -> Seq2Seq:
    torch.manual_seed(0)
    config = Seq2SeqConfig(
        len(dates.SRC_VOCAB), len(dates.TGT_VOCAB), attention=attention, n_embd=8, hidden_size=8
    )
    return Seq2Seq(config)


def test_alignment_heatmap_labels_and_shape():
    w = torch.softmax(torch.randn(3, 4), dim=-1)
    fig = viz.alignment_heatmap(w, "a b<", ["1", "-", "<eos>"], title="T")
    assert isinstance(fig, go.Figure) and fig.layout.title.text == "T"
    (trace,) = fig.data
    assert np.allclose(trace.z, w.numpy()) and trace.zmin == 0 and trace.zmax == 1
    assert list(fig.layout.xaxis.ticktext) == ["a", "␣", "b", "&lt;"]  # space visible, < escaped
    assert list(fig.layout.yaxis.ticktext) == ["1", "-", "&lt;eos&gt;"]  # not swallowed as a tag
    assert fig.layout.yaxis.autorange == "reversed"  # the first output on top
    assert fig.layout.width == 420  # at least 420 px wide; 26 px per column beyond that


def test_alignment_heatmap_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        viz.alignment_heatmap(np.ones((2, 3)), "abcd", "xy")
    with pytest.raises(TypeError, match="source"):
        viz.alignment_heatmap(np.ones((1, 1)), [1], "x")
    with pytest.raises(TypeError, match="weights"):
        viz.alignment_heatmap([["x"]], "a", "b")
    with pytest.raises(ValueError, match="cell"):
        viz.alignment_heatmap(np.ones((1, 1)), "a", "b", cell=0)


def test_translate_with_attention_rows_are_distributions():
    model = tiny_model()
    out = widgets.translate_with_attention(model, "  28 November 2026 ")
    assert out["source"] == "28 November 2026"
    n = len(out["tokens"])
    assert 1 <= n <= 12 and out["weights"].shape == (n, len(out["source"]))
    assert torch.allclose(out["weights"].sum(dim=1), torch.ones(n))
    assert out["translation"] == "".join(t for t in out["tokens"] if t != "<eos>")
    if "<eos>" in out["tokens"]:
        assert out["tokens"].index("<eos>") == n - 1
    # the same as the library's batched greedy translation
    assert out["translation"] == dates.translate(model, ["28 November 2026"])[0]


def test_translate_with_attention_errors_and_no_attention():
    model = tiny_model()
    with pytest.raises(ValueError, match="'@'"):
        widgets.translate_with_attention(model, "28 @ 2026")
    with pytest.raises(ValueError, match="date"):
        widgets.translate_with_attention(model, "   ")
    with pytest.raises(TypeError, match="text"):
        widgets.translate_with_attention(model, 2026)
    plain = tiny_model("none")
    assert widgets.translate_with_attention(plain, "28 Nov 2026")["weights"] is None
    with pytest.raises(ValueError, match="no attention"):
        widgets.translation_figure(plain, "28 Nov 2026")


def test_translation_explorer_redraws_and_reports_bad_text():
    model = tiny_model()
    panel = widgets.translation_explorer(model, "11/28/26")
    assert isinstance(panel.result, go.Figure)
    assert panel.result.layout.title.text.startswith("11/28/26  →  ")
    panel.controls["text"].value = "Sat 28 Nov 2026"
    assert panel.result.layout.title.text.startswith("Sat 28 Nov 2026")
    panel.controls["text"].value = "28 <Nov> 2026"
    assert isinstance(panel.result, HTML) and "&lt;" in panel.result.data
    with pytest.raises(ValueError):
        widgets.translation_explorer(model, "§")
