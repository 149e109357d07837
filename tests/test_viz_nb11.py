"""Notebook 11's pictures and knobs: viz.accuracy_bars, and in labkit.widgets the BERT attention
explorer (bert_attention, bert_attention_figure, bert_attention_explorer) and the semantic search
explorer (search_table, semantic_search_explorer).

A small random BERT with the real WordPiece tokenizer keeps these fast; the real model's
attention is checked in test_pretrained_bert.py and in the notebook."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

from labkit import viz, widgets
from labkit.pretrained import bert, registry


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    config = bert.BertConfig(
        hidden_size=16, num_hidden_layers=2, num_attention_heads=4, intermediate_size=32
    )
    tokenizer = bert.Tokenizer(registry.fetch("all-minilm-l6-v2", progress=False))
    return bert.BertModel(config).eval(), tokenizer


def test_accuracy_bars_show_percentages_and_chance():
    fig = viz.accuracy_bars({"frozen": 0.5, "scratch": 0.4}, chance=1 / 3, title="T")
    assert isinstance(fig, go.Figure) and fig.layout.title.text == "T"
    assert list(fig.data[0].x) == ["frozen", "scratch"]
    assert np.allclose(fig.data[0].y, [0.5, 0.4])
    assert fig.data[0].texttemplate == "%{y:.1%}"
    assert tuple(fig.layout.yaxis.range) == (0, 1)
    line = fig.layout.shapes[0]
    assert line.y0 == line.y1 == pytest.approx(1 / 3) and line.line.dash == "dash"
    assert fig.layout.annotations[0].text == "chance 33.3%"
    assert not viz.accuracy_bars({"a": 1.0}).layout.shapes  # no chance line unless asked


def test_accuracy_bars_rejects_bad_input():
    with pytest.raises(TypeError, match="accuracies must be a non-empty dict"):
        viz.accuracy_bars([0.5])
    with pytest.raises(TypeError, match="accuracies must be a non-empty dict"):
        viz.accuracy_bars({})
    with pytest.raises(ValueError, match=r"fractions in \[0, 1\]"):
        viz.accuracy_bars({"a": 55.0})
    with pytest.raises(ValueError, match="chance must be None or a fraction"):
        viz.accuracy_bars({"a": 0.5}, chance=2)


def test_bert_attention_gives_every_layer_and_head(small):
    model, tok = small
    tokens, w = widgets.bert_attention(model, tok, "To be, or not to be")
    assert tokens == ["[CLS]", "to", "be", ",", "or", "not", "to", "be", "[SEP]"]
    assert w.shape == (2, 4, 9, 9)
    assert torch.allclose(w.sum(-1), torch.ones(2, 4, 9), atol=1e-5)
    with torch.no_grad():
        ref = model(**tok(["To be, or not to be"]), output_attentions=True).attentions
    assert torch.equal(w[1, 2], ref[1][0, 2])
    assert model.layers[0].attn.impl == "fast"  # put back after the weights were formed


def test_bert_attention_figure_and_explorer(small):
    model, tok = small
    fig = widgets.bert_attention_figure(model, tok, "Hello world", layer=1, head=3)
    _, w = widgets.bert_attention(model, tok, "Hello world")
    assert np.allclose(fig.data[0].z, w[1, 3].numpy())
    assert list(fig.layout.xaxis.ticktext) == ["[CLS]", "hello", "world", "[SEP]"]
    assert fig.layout.title.text.startswith("Layer 1, head 3")
    panel = widgets.bert_attention_explorer(model, tok, ["Hello world", "Good night, sweet prince"])
    assert np.allclose(panel.result.data[0].z, w[0, 0].numpy())
    panel.controls["sentence"].value = "Good night, sweet prince"
    panel.controls["layer"].value = 1
    panel.controls["head"].value = 2
    assert panel.result.layout.title.text.startswith("Layer 1, head 2")
    assert len(panel.result.data[0].z) == 7
    assert list(panel.controls["head"].options) == [0, 1, 2, 3]
    opened = widgets.bert_attention_explorer(model, tok, ["Hello world"], layer=1, head=3)
    assert (opened.controls["layer"].value, opened.controls["head"].value) == (1, 3)
    assert np.allclose(opened.result.data[0].z, w[1, 3].numpy())


def test_bert_attention_rejects_bad_input(small):
    model, tok = small
    with pytest.raises(ValueError, match=r"layer must be an int in \[0, 2\); got 2"):
        widgets.bert_attention_figure(model, tok, "Hello", layer=2)
    with pytest.raises(ValueError, match=r"head must be an int in \[0, 4\)"):
        widgets.bert_attention_figure(model, tok, "Hello", head=-1)
    with pytest.raises(ValueError, match="sentence must be a non-empty str"):
        widgets.bert_attention(model, tok, "  ")
    with pytest.raises(TypeError, match="model must be a labkit BertModel"):
        widgets.bert_attention(torch.nn.Linear(2, 2), tok, "Hello")
    with pytest.raises(TypeError, match="sentences must be a non-empty list"):
        widgets.bert_attention_explorer(model, tok, "Hello")
    with pytest.raises(ValueError, match=r"layer must be an int in \[0, 2\); got 5"):
        widgets.bert_attention_explorer(model, tok, ["Hello"], layer=5)
    with pytest.raises(ValueError, match=r"head must be an int in \[0, 4\); got 1.5"):
        widgets.bert_attention_explorer(model, tok, ["Hello"], head=1.5)


def test_search_table_and_explorer(small):
    model, tok = small
    encoder = bert.SentenceEncoder(model, tok)
    lines = ["the king is dead", "a merry jest", "the king is dead", "sleep no more"]
    emb = encoder.encode(lines)
    table = widgets.search_table(encoder, emb, lines, "the king is dead", k=3, sources=list("abcd"))
    assert isinstance(table, pd.DataFrame) and list(table.index) == [1, 2, 3]
    assert list(table.columns) == ["cosine", "line", "source"]
    assert set(table["source"][:2]) == {"a", "c"}  # the identical lines first, cosine 1
    assert table["cosine"].iloc[0] == pytest.approx(1.0, abs=1e-3)
    assert table["cosine"].is_monotonic_decreasing
    panel = widgets.semantic_search_explorer(encoder, emb, lines, query="sleep no more", k=1)
    assert panel.result["line"].tolist() == ["sleep no more"]
    panel.controls["k"].value = 2
    panel.controls["query"].value = "a merry jest"
    assert panel.result["line"].iloc[0] == "a merry jest" and len(panel.result) == 2
    with pytest.raises(ValueError, match=r"lines must have one line per row of corpus_embeddings"):
        widgets.search_table(encoder, emb, lines[:2], "x")
    with pytest.raises(ValueError, match="query must be a non-empty str"):
        widgets.search_table(encoder, emb, lines, "")
    with pytest.raises(ValueError, match=r"k must be at most the corpus size 4, got 5"):
        widgets.search_table(encoder, emb, lines, "x", k=5)
