"""The viz and widgets functions added for notebook 02 (neural networks): viz.highlight_curves,
widgets.learning_rate_figure and widgets.learning_rate_explorer."""

import pandas as pd
import plotly.graph_objects as go
import pytest

from labkit import viz, widgets

CURVES = {
    1e-4: pd.Series([4.4, 4.3, 4.2], index=[10, 20, 30]),
    1e-2: pd.Series([3.0, 2.5, 2.2], index=[10, 20, 30]),
    1.0: pd.Series([5.0, 6.0, 7.0], index=[10, 20, 30]),
}


def test_highlight_curves_draws_the_chosen_curve_on_top_in_colour():
    named = {"a": [3.0, 2.0, 1.0], "b": pd.Series([2.0, 1.5], index=[0, 2])}
    fig = viz.highlight_curves(named, "a", title="t")
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["b", "a"]  # highlighted last, so drawn on top
    a, b = fig.data[1], fig.data[0]
    assert a.line.width > b.line.width and a.line.color != b.line.color
    assert list(a.y) == [3.0, 2.0, 1.0] and list(b.x) == [0, 2]
    assert fig.layout.title.text == "t"


def test_highlight_curves_without_highlight_is_loss_curves():
    named = {"a": [3.0, 2.0], "b": [2.0, 1.0]}
    fig = viz.highlight_curves(named, None, log_y=True)
    assert [t.name for t in fig.data] == ["a", "b"]
    assert fig.layout.yaxis.type == "log"


def test_highlight_curves_checks_its_input():
    with pytest.raises(ValueError, match="highlight must be one of"):
        viz.highlight_curves({"a": [1.0]}, "z")
    with pytest.raises(TypeError, match="curves must be a dict"):
        viz.highlight_curves([1.0, 2.0])


def test_learning_rate_figure_highlights_the_run():
    fig = widgets.learning_rate_figure(CURVES, 1e-2)
    assert [t.name for t in fig.data][-1] == "lr = 0.01"
    assert sorted(t.name for t in fig.data) == ["lr = 0.0001", "lr = 0.01", "lr = 1"]
    assert list(fig.data[-1].y) == [3.0, 2.5, 2.2]
    assert "lr = 0.01" in fig.layout.title.text


def test_learning_rate_figure_checks_its_input():
    with pytest.raises(ValueError, match="lr must be one of"):
        widgets.learning_rate_figure(CURVES, 0.5)
    with pytest.raises(TypeError, match="non-empty mapping"):
        widgets.learning_rate_figure({}, 0.5)


def test_learning_rate_explorer_slider_redraws():
    panel = widgets.learning_rate_explorer(CURVES)
    assert panel.controls["lr"].value == 1e-2  # the middle learning rate by default
    assert panel.result.data[-1].name == "lr = 0.01"
    panel.controls["lr"].value = 1.0  # what moving the slider does
    assert panel.result.data[-1].name == "lr = 1"
    assert list(panel.result.data[-1].y) == [5.0, 6.0, 7.0]
    with pytest.raises(ValueError, match="lr must be one of"):
        widgets.learning_rate_explorer(CURVES, lr=3.0)
    with pytest.raises(TypeError, match="non-empty mapping"):
        widgets.learning_rate_explorer({})
