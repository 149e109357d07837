"""The figure notebook 10 adds: viz.next_token_bars (several next-token distributions)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from labkit import viz


def test_next_token_bars_shows_the_top_tokens_of_the_first_distribution() -> None:
    labels = ["a", "b", " ", "\n"]
    p1 = [0.1, 0.2, 0.6, 0.1]
    p2 = torch.tensor([0.25, 0.25, 0.25, 0.25])
    fig = viz.next_token_bars({"τ = 1": p1, "τ = ∞": p2}, labels, top_n=3, title="t")
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["τ = 1", "τ = ∞"]
    assert list(fig.data[0].x) == ["␣", "b", "a"]  # most likely first; ties keep vocab order
    assert np.allclose(fig.data[0].y, [0.6, 0.2, 0.1])
    assert np.allclose(fig.data[1].y, [0.25, 0.25, 0.25])  # the same tokens for every series
    assert fig.layout.barmode == "group" and fig.layout.title.text == "t"
    every = viz.next_token_bars({"p": p1}, labels, top_n=10)
    assert len(every.data[0].x) == 4  # top_n larger than the vocabulary: all of it


def test_next_token_bars_checks_its_inputs() -> None:
    with pytest.raises(TypeError, match="distributions must be a non-empty dict"):
        viz.next_token_bars({}, ["a"])
    with pytest.raises(TypeError, match="labels must be a list of token strings; got str"):
        viz.next_token_bars({"p": [1.0]}, "a")
    with pytest.raises(
        ValueError, match=r"distributions\['p'\] must have one value per label \(2\); got 1"
    ):
        viz.next_token_bars({"p": [1.0]}, ["a", "b"])
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        viz.next_token_bars({"p": [1.5, -0.5]}, ["a", "b"])
    with pytest.raises(ValueError, match="top_n must be an int >= 1; got 0"):
        viz.next_token_bars({"p": [1.0]}, ["a"], top_n=0)
