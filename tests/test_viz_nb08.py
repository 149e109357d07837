"""The figure and widget functions notebook 08 adds: viz.line_chart and the GPT size explorer."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from labkit import viz, widgets
from labkit.gpt import GPTConfig


def test_line_chart_one_trace_per_series_and_points() -> None:
    x = [1, 2, 4, 8]
    fig = viz.line_chart(
        x,
        {"a": [1.0, 2.0, 3.0, 4.0], "b": np.array([4, 3, 2, 1])},
        points={"GPT-2": (3, 2.5)},
        title="t",
        xlabel="x",
        ylabel="y",
        log_x=True,
        log_y=True,
    )
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["a", "b", "GPT-2"]
    assert list(fig.data[1].y) == [4, 3, 2, 1] and list(fig.data[0].x) == x
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert fig.data[0].mode == "lines+markers"
    assert fig.layout.title.text == "t" and fig.layout.xaxis.title.text == "x"
    many = viz.line_chart(np.linspace(0, 1, 100), {"s": np.zeros(100)})
    assert many.data[0].mode == "lines" and many.layout.yaxis.type is None


def test_line_chart_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match=r"series\['a'\] must have one value per x \(2\); got 3"):
        viz.line_chart([1, 2], {"a": [1, 2, 3]})
    with pytest.raises(TypeError, match="series must be a non-empty dict"):
        viz.line_chart([1, 2], [1, 2])
    with pytest.raises(TypeError, match="series must be a non-empty dict"):
        viz.line_chart([1, 2], {})
    with pytest.raises(ValueError, match="x must not be empty"):
        viz.line_chart([], {"a": []})
    with pytest.raises(ValueError, match="x must be > 0"):
        viz.line_chart([0, 1], {"a": [1, 2]}, log_x=True)
    with pytest.raises(ValueError, match="must be > 0 everywhere when log_y"):
        viz.line_chart([1, 2], {"a": [0, 2]}, log_y=True)
    with pytest.raises(TypeError, match="x must contain only numbers"):
        viz.line_chart(["a", "b"], {"a": [1, 2]})
    with pytest.raises(ValueError, match=r"points\['p'\] must be \(x, y\)"):
        viz.line_chart([1, 2], {"a": [1, 2]}, points={"p": (1, 2, 3)})
    with pytest.raises(TypeError, match="log_y must be True or False"):
        viz.line_chart([1, 2], {"a": [1, 2]}, log_y="yes")


@pytest.mark.parametrize(
    ("n_layer", "n_embd", "vocab_size", "block_size"),
    [(12, 768, 50257, 1024), (2, 32, 65, 32), (6, 384, 65, 256), (48, 1600, 50257, 1024)],
)
def test_gpt_size_parts_add_up_to_labkit_counts(n_layer, n_embd, vocab_size, block_size) -> None:
    parts = widgets.gpt_size_parts(n_layer, n_embd, vocab_size, block_size)
    config = GPTConfig(
        vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=1, n_embd=n_embd
    )
    assert sum(parts["parameters"].values()) == config.param_count()
    assert sum(parts["training FLOPs per token"].values()) == config.flops_per_token()


def test_gpt2_small_is_124m_parameters() -> None:
    parts = widgets.gpt_size_parts(12, 768, 50257, 1024)
    assert sum(parts["parameters"].values()) == 124_439_808  # GPT-2 small, tied head


def test_gpt_size_figure_shows_both_totals() -> None:
    fig = widgets.gpt_size_figure(12, 768, 50257, 1024)
    assert len(fig.data) == 2
    assert "124 M parameters" in fig.layout.title.text
    params = dict(zip(fig.data[0].y, fig.data[0].x, strict=True))
    assert params["MLP L·(8d²+5d)"] == 12 * (8 * 768**2 + 5 * 768)
    with pytest.raises(ValueError, match="n_layer"):
        widgets.gpt_size_figure(0, 768)


def test_gpt_size_explorer_redraws_on_a_knob() -> None:
    panel = widgets.gpt_size_explorer()
    assert "124 M parameters" in panel.result.layout.title.text
    panel.controls["n_layer"].value = 24
    panel.controls["n_embd"].value = 1024
    assert "L = 24, d = 1024" in panel.result.layout.title.text
    assert "355 M parameters" in panel.result.layout.title.text  # GPT-2 medium: 354,823,168
    panel.controls["vocab_size"].value = 65
    assert "V = 65," in panel.result.layout.title.text
    with pytest.raises(ValueError, match="n_embd"):
        widgets.gpt_size_explorer(n_embd=0)
