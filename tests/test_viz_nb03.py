"""Figures and widgets added for notebook 03 (embeddings)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

from labkit import viz, widgets
from labkit.embeddings import Embeddings


def _emb() -> Embeddings:
    g = torch.Generator().manual_seed(0)
    vocab = ["king", "queen", "lord", "lady", "hand", "eye", "head", "heart"]
    return Embeddings(torch.randn(len(vocab), 6, generator=g), vocab)


GROUPS = {"titles": ["king", "queen", "lord", "lady"], "body": ["hand", "eye", "head", "heart", "toe"]}


def test_embedding_scatter3d_one_trace_per_group_with_variance_in_axis_titles() -> None:
    points = _emb().project(["king", "queen", "lord", "lady", "hand", "eye"], dims=3)
    points["group"] = ["t"] * 4 + ["b"] * 2
    fig = viz.embedding_scatter3d(points)
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["t", "b"]
    assert list(fig.data[0].text) == ["king", "queen", "lord", "lady"]
    assert fig.data[1].x[0] == pytest.approx(points.loc[4, "x"])
    ratio = points.attrs["explained_variance_ratio"]
    assert fig.layout.scene.xaxis.title.text == f"PC1 ({ratio[0]:.0%})"
    # without a group column: one trace
    assert len(viz.embedding_scatter3d(points.drop(columns="group")).data) == 1


def test_embedding_scatter3d_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="DataFrame"):
        viz.embedding_scatter3d({"word": ["a"]})
    with pytest.raises(ValueError, match=r"missing \['z'\]"):
        viz.embedding_scatter3d(pd.DataFrame({"word": ["a"], "x": [0], "y": [0]}))
    with pytest.raises(ValueError, match="at least one word"):
        viz.embedding_scatter3d(pd.DataFrame(columns=["word", "x", "y", "z"]))


def test_signed_bar_splits_by_sign_and_keeps_order() -> None:
    fig = viz.signed_bar(["a", "b", "c"], [0.2, -0.1, 0.0], positive="he", negative="she")
    pos, neg = fig.data
    assert list(pos.y) == ["a", "c"] and list(neg.y) == ["b"]
    assert list(neg.x) == [-0.1]
    assert (pos.name, neg.name) == ("he", "she")
    assert list(fig.layout.yaxis.categoryarray) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="same length"):
        viz.signed_bar(["a"], [1, 2])
    with pytest.raises(ValueError, match="distinct"):
        viz.signed_bar(["a", "a"], [1, 2])
    with pytest.raises(TypeError, match="labels"):
        viz.signed_bar("ab", [1, 2])


def test_projection_figure_skips_unknown_words_and_names_them() -> None:
    fig = widgets.projection_figure(_emb(), GROUPS, ("titles", "body"), extra="crown, king")
    words = [w for trace in fig.data for w in trace.text]
    assert words == ["king", "queen", "lord", "lady", "hand", "eye", "head", "heart"]
    assert "toe" in fig.layout.title.text and "crown" in fig.layout.title.text
    assert [t.name for t in fig.data] == ["titles", "body"]
    fig2 = widgets.projection_figure(_emb(), GROUPS, ("titles",), extra="hand eye")
    assert [t.name for t in fig2.data] == ["titles", "your words"]


def test_projection_figure_rejects_bad_choices() -> None:
    with pytest.raises(ValueError, match="not in groups"):
        widgets.projection_figure(_emb(), GROUPS, ("nope",))
    with pytest.raises(ValueError, match="at least 4 known words"):
        widgets.projection_figure(_emb(), {"few": ["king", "queen"]}, ("few",))


def test_projection_explorer_redraws_when_a_control_changes() -> None:
    panel = widgets.projection_explorer(_emb(), GROUPS)
    assert [t.name for t in panel.result.data] == ["titles", "body"]
    panel.controls["chosen"].value = ("body",)
    assert [t.name for t in panel.result.data] == ["body"]
    panel.controls["extra"].value = "king queen"
    assert [t.name for t in panel.result.data] == ["body", "your words"]
