"""The figure notebook 09 adds: viz.training_dashboard (loss, learning rate, gradient norm)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from labkit import viz
from labkit.train import HISTORY_COLUMNS


def _history(n: int = 10) -> pd.DataFrame:
    steps = np.arange(1, n + 1)
    return pd.DataFrame(
        {
            "step": steps,
            "lr": np.linspace(0.1, 1.0, n) * 1e-3,
            "train_loss": 4.0 - 0.1 * steps,
            "val_loss": [4.0 - 0.1 * s if s % 5 == 0 else math.nan for s in steps],
            "grad_norm": np.where(steps % 3 == 0, 2.0, 0.5),
            "tokens_seen": steps * 64,
            "elapsed": steps * 0.1,
        },
        columns=HISTORY_COLUMNS,
    )


def test_training_dashboard_draws_every_series_on_its_panel() -> None:
    h = _history()
    fig = viz.training_dashboard(h, smooth=3, grad_clip=1.0, title="run")
    assert isinstance(fig, go.Figure)
    names = [t.name for t in fig.data]
    assert names == [
        "train (each step)",
        "train (mean of 3 steps)",
        "validation",
        "learning rate",
        "‖g‖",
    ]
    raw, smoothed, val, lr, grad = fig.data
    assert list(raw.y) == list(h.train_loss)
    # the moving average of the last 3 steps (fewer at the start)
    expected = [np.mean(h.train_loss[max(0, i - 2) : i + 1]) for i in range(len(h))]
    assert np.allclose(smoothed.y, expected)
    assert list(val.x) == [5, 10] and np.allclose(val.y, [3.5, 3.0])  # only measured steps
    assert np.allclose(lr.y, h.lr) and np.allclose(grad.y, h.grad_norm)
    assert (raw.yaxis, lr.yaxis, grad.yaxis) == ("y", "y2", "y3")  # three panels
    assert any(shape.y0 == 1.0 for shape in fig.layout.shapes)  # the clipping threshold
    assert fig.layout.title.text == "run"


def test_training_dashboard_without_validation_or_clip() -> None:
    h = _history().assign(val_loss=math.nan)
    fig = viz.training_dashboard(h, smooth=1)
    assert [t.name for t in fig.data] == ["train (each step)", "train", "learning rate", "‖g‖"]
    assert np.allclose(fig.data[1].y, h.train_loss)  # smooth=1: the raw values
    assert not fig.layout.shapes


def test_training_dashboard_checks_its_inputs() -> None:
    h = _history()
    with pytest.raises(TypeError, match="history must be a pandas DataFrame; got dict"):
        viz.training_dashboard({"step": [1]})
    with pytest.raises(ValueError, match=r"missing \['grad_norm'\]"):
        viz.training_dashboard(h.drop(columns="grad_norm"))
    with pytest.raises(ValueError, match="at least one row"):
        viz.training_dashboard(h.iloc[:0])
    with pytest.raises(ValueError, match="smooth must be an int >= 1"):
        viz.training_dashboard(h, smooth=0)
    with pytest.raises(ValueError, match="grad_clip must be None or a number > 0; got -1"):
        viz.training_dashboard(h, grad_clip=-1)
