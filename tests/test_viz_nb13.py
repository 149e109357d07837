"""The figure notebook 13 adds: viz.accuracy_intervals."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from labkit import viz


def test_accuracy_intervals_draws_each_interval_around_its_accuracy() -> None:
    rows = {"zero-shot": (0.35, 0.30, 0.41), "LoRA": (0.52, 0.46, 0.58)}
    fig = viz.accuracy_intervals(rows, chance=1 / 3)
    assert isinstance(fig, go.Figure)
    bar = fig.data[0]
    assert list(bar.y) == ["zero-shot", "LoRA"]
    np.testing.assert_allclose(bar.x, [0.35, 0.52])
    np.testing.assert_allclose(bar.x + bar.error_x.array, [0.41, 0.58])  # the high ends
    np.testing.assert_allclose(bar.x - bar.error_x.arrayminus, [0.30, 0.46])  # the low ends
    assert fig.layout.shapes[0].x0 == pytest.approx(1 / 3)  # the chance line
    assert list(bar.text) == ["35.0%", "52.0%"]


def test_accuracy_intervals_checks_its_inputs() -> None:
    with pytest.raises(TypeError, match="rows must be a non-empty dict"):
        viz.accuracy_intervals({})
    with pytest.raises(ValueError, match=r"rows\['a'\] must be \(accuracy, low, high\)"):
        viz.accuracy_intervals({"a": (0.5, 0.4)})
    with pytest.raises(ValueError, match="low ≤ accuracy ≤ high"):
        viz.accuracy_intervals({"a": (0.5, 0.6, 0.7)})
    with pytest.raises(ValueError, match="chance must be None or a fraction"):
        viz.accuracy_intervals({"a": (0.5, 0.4, 0.6)}, chance=2)
