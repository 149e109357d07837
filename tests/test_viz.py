"""labkit.viz: each figure holds the right data, has titles/labels, and rejects bad input."""

from collections import Counter

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

from labkit import viz


def test_bar_keeps_labels_values_and_order():
    fig = viz.bar(["b", "a", "10", "2"], [3, 1, 4, 1.5], title="T", xlabel="X", ylabel="Y")
    assert isinstance(fig, go.Figure)
    (trace,) = fig.data
    assert trace.type == "bar"
    assert list(trace.x) == ["b", "a", "10", "2"]
    assert list(trace.y) == [3, 1, 4, 1.5]
    assert fig.layout.title.text == "T"
    assert fig.layout.xaxis.title.text == "X" and fig.layout.yaxis.title.text == "Y"
    # categorical axis in the given order, even for labels that look like numbers
    assert fig.layout.xaxis.type == "category"
    assert list(fig.layout.xaxis.categoryarray) == ["b", "a", "10", "2"]
    assert fig.layout.template.layout.paper_bgcolor is not None  # a template is applied


def test_bar_accepts_numpy_and_torch_values():
    fig = viz.bar(["x", "y"], torch.tensor([0.25, 0.75]))
    assert np.allclose(fig.data[0].y, [0.25, 0.75])
    fig = viz.bar(("x", "y"), np.array([1, 2]), text_format=".0%")
    assert fig.data[0].texttemplate == "%{y:.0%}"


@pytest.mark.parametrize(
    ("labels", "values", "error", "match"),
    [
        ("abc", [1, 2, 3], TypeError, "labels must be a list"),
        (["a", "b"], [1], ValueError, "same length; got 2 labels and 1 values"),
        (["a"], "1", TypeError, "values must be a sequence of numbers"),
        (["a", "b"], [1, "x"], TypeError, "values must contain only numbers"),
        (["a"], [[1]], ValueError, "values must be 1-dimensional"),
        ([], [], ValueError, "must not be empty"),
        (["a", "a"], [1, 2], ValueError, r"labels must be distinct; repeated: \['a'\]"),
    ],
)
def test_bar_rejects_bad_input(labels, values, error, match):
    with pytest.raises(error, match=match):
        viz.bar(labels, values)


def test_char_label_makes_whitespace_visible():
    assert viz.char_label("a") == "a"
    assert viz.char_label(" ") == "␣"
    assert viz.char_label("\n") == "⏎"
    assert viz.char_label("\x00") == repr("\x00")
    with pytest.raises(TypeError, match="c must be a str"):
        viz.char_label(1)


def test_char_frequency_bar_matches_counting_by_hand():
    text = "abracadabra\n"
    fig = viz.char_frequency_bar(text, top_n=None)
    (trace,) = fig.data
    counts = Counter(text)
    expected = sorted(counts.items(), key=lambda kv: -kv[1])
    assert list(trace.x) == [viz.char_label(c) for c, _ in expected]
    assert np.allclose(trace.y, [k / len(text) for _, k in expected])
    assert np.isclose(sum(trace.y), 1.0)  # all characters shown: p(c) sums to 1
    assert "all of 6 distinct" in fig.layout.title.text
    assert "relative frequency" in fig.layout.yaxis.title.text


def test_char_frequency_bar_top_n():
    fig = viz.char_frequency_bar("aaabbc", top_n=2)
    assert list(fig.data[0].x) == ["a", "b"]
    assert np.allclose(fig.data[0].y, [3 / 6, 2 / 6])
    assert "top 2 of 3" in fig.layout.title.text
    # asking for more than exist shows all
    assert len(viz.char_frequency_bar("aaabbc", top_n=10).data[0].x) == 3


@pytest.mark.parametrize(
    ("text", "top_n", "error", "match"),
    [
        (b"abc", 3, TypeError, "text must be a str"),
        ("", 3, ValueError, "text must not be empty"),
        ("abc", 0, ValueError, "top_n must be a positive int"),
        ("abc", 2.5, ValueError, "top_n must be a positive int"),
        ("abc", True, ValueError, "top_n must be a positive int"),
    ],
)
def test_char_frequency_bar_rejects_bad_input(text, top_n, error, match):
    with pytest.raises(error, match=match):
        viz.char_frequency_bar(text, top_n)


def test_loss_curves_from_dataframe_skips_missing_validation_points():
    history = pd.DataFrame(
        {"step": [0, 10, 20, 30], "train": [4.0, 3.0, 2.5, 2.2], "val": [4.1, np.nan, 2.7, np.nan]}
    )
    fig = viz.loss_curves(history, x="step", title="Training")
    assert [t.name for t in fig.data] == ["train", "val"]
    assert list(fig.data[0].x) == [0, 10, 20, 30] and list(fig.data[0].y) == [4.0, 3.0, 2.5, 2.2]
    assert list(fig.data[1].x) == [0, 20] and list(fig.data[1].y) == [4.1, 2.7]
    assert fig.layout.title.text == "Training"
    assert fig.layout.xaxis.title.text == "step" and fig.layout.yaxis.title.text == "loss"


def test_loss_curves_from_dict_of_lists_and_series():
    history = {"train": [3.0, 2.0, 1.5], "val": pd.Series([2.5, 1.8], index=[0, 2])}
    fig = viz.loss_curves(history, log_y=True)
    train, val = fig.data
    assert list(train.x) == [0, 1, 2] and list(train.y) == [3.0, 2.0, 1.5]
    assert list(val.x) == [0, 2] and list(val.y) == [2.5, 1.8]
    assert fig.layout.yaxis.type == "log"
    only = viz.loss_curves(history, y="val")
    assert [t.name for t in only.data] == ["val"]


def test_loss_curves_default_y_is_numeric_columns_and_index_is_x():
    df = pd.DataFrame({"loss": [2.0, 1.0], "note": ["a", "b"]}, index=[5, 6])
    fig = viz.loss_curves(df)
    assert [t.name for t in fig.data] == ["loss"] and list(fig.data[0].x) == [5, 6]


@pytest.mark.parametrize(
    ("history", "kwargs", "error", "match"),
    [
        ([1, 2, 3], {}, TypeError, "history must be a pandas DataFrame or a dict"),
        (pd.DataFrame({"a": [1]}), {"x": "step"}, ValueError, "x='step' is not a column"),
        (pd.DataFrame({"a": [1]}), {"y": ["b"]}, ValueError, r"y names columns \['b'\] missing"),
        ({"train": [1, 2]}, {"y": "val"}, ValueError, "'val', which is not a key"),
        ({"train": [1, 2]}, {"x": "step"}, ValueError, "x is only used with a DataFrame"),
        ({"train": ["a", "b"]}, {}, TypeError, r"history\['train'\] must contain only numbers"),
        ({"train": [np.nan]}, {}, ValueError, "series 'train' in history has no values"),
        ({}, {}, ValueError, "history has no series"),
    ],
)
def test_loss_curves_rejects_bad_input(history, kwargs, error, match):
    with pytest.raises(error, match=match):
        viz.loss_curves(history, **kwargs)


def test_heatmap_rows_top_down_with_labels():
    m = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5]])
    fig = viz.heatmap(m, ["a", "b", "a"], ["q1", "q2"], "Attention", xlabel="key", ylabel="query")
    (trace,) = fig.data
    assert trace.type == "heatmap"
    assert np.allclose(np.array(trace.z), m.numpy())
    # repeated labels stay separate columns: positions on the axis, labels as tick text
    assert list(fig.layout.xaxis.ticktext) == ["a", "b", "a"]
    assert list(fig.layout.xaxis.tickvals) == [0, 1, 2]
    assert list(fig.layout.yaxis.ticktext) == ["q1", "q2"]
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 at the top, like a matrix
    assert fig.layout.title.text == "Attention"
    assert fig.layout.xaxis.title.text == "key" and fig.layout.yaxis.title.text == "query"
    assert trace.texttemplate  # small matrix: values written in the cells
    assert not viz.heatmap(np.zeros((20, 20))).data[0].texttemplate


@pytest.mark.parametrize(
    ("matrix", "kwargs", "error", "match"),
    [
        (
            [1, 2, 3],
            {},
            ValueError,
            r"matrix must be 2-dimensional and non-empty; got shape \(3,\)",
        ),
        (np.zeros((0, 3)), {}, ValueError, "matrix must be 2-dimensional"),
        ([["a", "b"]], {}, TypeError, "matrix must be a 2-D array of numbers"),
        (
            np.zeros((2, 3)),
            {"x_labels": ["a", "b"]},
            ValueError,
            r"x_labels must have one label per column \(3\); got 2",
        ),
        (
            np.zeros((2, 3)),
            {"y_labels": ["a"]},
            ValueError,
            r"y_labels must have one label per row \(2\); got 1",
        ),
        (np.zeros((2, 2)), {"zmin": "0"}, TypeError, "zmin must be a number or None"),
    ],
)
def test_heatmap_rejects_bad_input(matrix, kwargs, error, match):
    with pytest.raises(error, match=match):
        viz.heatmap(matrix, **kwargs)
