"""Notebook 04's knob: the RNN gradient explorer in labkit.widgets (rnn_cell_with_radius,
rnn_gradient_norms, rnn_gradient_figure, rnn_gradient_explorer)."""

import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from labkit import widgets
from labkit.rnn import RNNCell, grad_norms_by_distance


@pytest.mark.parametrize("radius", [0.5, 1.0, 3.0])
def test_cell_with_radius_has_every_singular_value_equal_to_radius(radius):
    cell = widgets.rnn_cell_with_radius(radius, hidden_size=16, input_size=4)
    assert isinstance(cell, RNNCell) and cell.weight_hh.shape == (16, 16)
    sv = torch.linalg.svdvals(cell.weight_hh.detach())
    assert torch.allclose(sv, torch.full((16,), radius), atol=1e-4)
    eig = torch.linalg.eigvals(cell.weight_hh.detach()).abs()
    assert torch.allclose(eig, torch.full((16,), radius), atol=1e-3)  # spectral radius too


def test_cell_with_radius_is_reproducible_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = widgets.rnn_cell_with_radius(1.0, seed=3)
    assert torch.equal(torch.rand(1), before)
    b = widgets.rnn_cell_with_radius(1.0, seed=3)
    c = widgets.rnn_cell_with_radius(1.0, seed=4)
    for name, p in a.named_parameters():
        assert torch.equal(p, dict(b.named_parameters())[name])
    assert not torch.equal(a.weight_hh, c.weight_hh)


def test_cell_with_radius_rejects_bad_input():
    for bad in (0, -1.0, True, "1"):
        with pytest.raises(ValueError, match="radius"):
            widgets.rnn_cell_with_radius(bad)
    with pytest.raises(ValueError, match="nonlinearity"):
        widgets.rnn_cell_with_radius(1.0, nonlinearity="sigmoid")


def test_gradient_norms_vanish_and_explode_within_the_bound():
    small, large = widgets.rnn_gradient_norms(0.5), widgets.rnn_gradient_norms(3.0)
    assert small.shape == large.shape == (51,)
    assert small[50] / small[0] < 1e-10  # vanishes
    assert large[50] / large[0] > 1e4  # explodes
    k = torch.arange(51, dtype=torch.float64)
    for radius, g in ((0.5, small), (3.0, large)):
        assert torch.all(g <= g[0] * radius**k * (1 + 1e-4))  # ‖∂L/∂h_t‖ ≤ ‖∂L/∂h_T‖ σ_max^k


def test_gradient_norms_equal_grad_norms_by_distance_on_the_same_cell():
    got = widgets.rnn_gradient_norms(1.5, seq_len=20, hidden_size=8, nonlinearity="relu", seed=2)
    cell = widgets.rnn_cell_with_radius(1.5, 8, nonlinearity="relu", seed=2)
    want = grad_norms_by_distance(cell, 20, 8, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(got, want)


def test_gradient_figure_shows_measured_curve_and_bound():
    fig = widgets.rnn_gradient_figure(2.0, "tanh", seq_len=11, hidden_size=8)
    assert isinstance(fig, go.Figure) and len(fig.data) == 2
    measured, bound = fig.data
    g = widgets.rnn_gradient_norms(2.0, 11, 8, "tanh").double().numpy()
    assert np.allclose(measured.y, g)
    assert np.allclose(bound.y, g[0] * 2.0 ** np.arange(11))
    assert bound.line.dash == "dash"
    assert fig.layout.yaxis.type == "log" and "2" in fig.layout.title.text
    assert tuple(fig.layout.yaxis.range) == (-30, 30)  # fixed, so the slider moves the curve


def test_gradient_figure_hides_exact_zeros_on_the_log_axis():
    # dead ReLU units can give a gradient of exactly 0, which has no logarithm
    fig = widgets.rnn_gradient_figure(0.25, "relu", seq_len=51, hidden_size=4)
    y = np.asarray(fig.data[0].y, dtype=float)
    assert np.all((y > 0) | np.isnan(y))


def test_gradient_explorer_redraws_on_slider_and_dropdown():
    panel = widgets.rnn_gradient_explorer(radius=1.0, seq_len=11)
    assert isinstance(panel, widgets.Panel)
    assert panel.result.layout.title.text.startswith("tanh RNN, σ_max(W_hh) = 1:")
    panel.controls["radius"].value = 3.0
    assert "= 3:" in panel.result.layout.title.text
    panel.controls["nonlinearity"].value = "relu"
    assert panel.result.layout.title.text.startswith("relu RNN")
    expected = widgets.rnn_gradient_norms(3.0, 11, nonlinearity="relu").double().numpy()
    assert np.allclose(panel.result.data[0].y, np.where(expected > 0, expected, math.nan), equal_nan=True)
    with pytest.raises(ValueError, match="radius"):
        widgets.rnn_gradient_explorer(radius=0.3)


def test_gradient_figure_leaves_out_float32_overflow_and_says_so():
    fig = widgets.rnn_gradient_figure(3.0, "relu")  # a ReLU RNN this large overflows float32
    y = np.asarray(fig.data[0].y, dtype=float)
    assert not np.any(np.isinf(y)) and np.isnan(y).any()
    assert "overflow" in fig.layout.title.text
    assert "overflow" not in widgets.rnn_gradient_figure(3.0, "tanh").layout.title.text
