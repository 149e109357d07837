"""labkit.widgets: the plain functions, and that the controls redraw when a value changes.

Runs headless (no browser, no kernel): changing ``control.value`` is exactly what dragging a
slider does, so the tests set values and look at ``panel.result``; a fake kernel checks that
each redraw clears the ``Output`` and displays the new result inside it.
Works with ipywidgets 7.7 (Colab) and 8.
"""

import ipywidgets
import numpy as np
import plotly.graph_objects as go
import pytest

from labkit import viz, widgets

TEXT = "the quick brown fox jumps over the lazy dog\n" * 3 + "zzz"


def test_char_frequency_figure_is_the_viz_chart():
    fig = widgets.char_frequency_figure(TEXT, top_n=4)
    assert isinstance(fig, go.Figure)
    ref = viz.char_frequency_bar(TEXT, 4)
    assert list(fig.data[0].x) == list(ref.data[0].x)
    assert np.allclose(fig.data[0].y, ref.data[0].y)
    assert fig.data[0].x[0] == viz.char_label(" ")  # spaces are the commonest character here


def test_text_samples():
    samples = widgets.text_samples("x" * 1000, sizes=(10, 100, 5000))
    assert list(samples.values()) == ["x" * 1000, "x" * 10, "x" * 100]  # 5000 > len: skipped
    assert list(samples)[1] == "first 10 characters"
    with pytest.raises(ValueError, match="text must be a non-empty str"):
        widgets.text_samples("")
    with pytest.raises(ValueError, match="sizes must hold positive ints"):
        widgets.text_samples("abc", sizes=(0,))


def test_panel_calls_render_with_control_values_and_redraws():
    calls = []

    def render(n, word):
        calls.append((n, word))
        return f"{word} x {n}"

    panel = widgets.Panel(
        render,
        n=ipywidgets.IntSlider(value=2, min=1, max=5),
        word=ipywidgets.Dropdown(options=["a", "b"], value="a"),
    )
    assert panel.result == "a x 2" and calls == [(2, "a")]
    assert panel.values() == {"n": 2, "word": "a"}
    panel.controls["n"].value = 4
    assert panel.result == "a x 4"
    panel.controls["word"].value = "b"
    assert panel.result == "b x 4"
    assert calls == [(2, "a"), (4, "a"), (4, "b")]
    assert isinstance(panel.widget, ipywidgets.VBox)
    assert panel.widget.children[-1] is panel.output


@pytest.mark.parametrize(
    ("render", "controls", "error", "match"),
    [
        (42, {"n": ipywidgets.IntSlider()}, TypeError, "render must be callable"),
        (lambda: None, {}, ValueError, "at least one control"),
        (lambda n: n, {"n": 3}, TypeError, "control 'n' must be an ipywidgets value widget"),
    ],
)
def test_panel_rejects_bad_input(render, controls, error, match):
    with pytest.raises(error, match=match):
        widgets.Panel(render, **controls)


def test_char_frequency_explorer_slider_changes_the_figure():
    panel = widgets.char_frequency_explorer(TEXT, top_n=3)
    assert list(panel.controls) == ["top_n"]  # one text: no drop-down
    slider = panel.controls["top_n"]
    assert isinstance(slider, ipywidgets.IntSlider) and slider.value == 3
    assert len(panel.result.data[0].x) == 3
    slider.value = 7
    assert len(panel.result.data[0].x) == 7
    assert list(panel.result.data[0].x) == list(viz.char_frequency_bar(TEXT, 7).data[0].x)


def test_char_frequency_explorer_dropdown_switches_text():
    texts = {"all": TEXT, "z only": "zzzz"}
    panel = widgets.char_frequency_explorer(texts, top_n=5)
    assert list(panel.controls) == ["sample", "top_n"]
    assert panel.result.data[0].x[0] == viz.char_label(" ")
    panel.controls["sample"].value = "z only"
    assert list(panel.result.data[0].x) == ["z"]
    assert list(panel.result.data[0].y) == [1.0]


@pytest.mark.parametrize(
    ("texts", "kwargs", "error", "match"),
    [
        ({}, {}, TypeError, "texts must be a non-empty"),
        (["abc"], {}, TypeError, "texts must be a non-empty"),
        ({"a": ""}, {}, ValueError, r"texts\['a'\] must be a non-empty str"),
        ("abc", {"top_n": 0}, ValueError, "top_n must be an int in"),
        ("abc", {"top_n": 100, "max_top_n": 80}, ValueError, "top_n must be an int in"),
    ],
)
def test_char_frequency_explorer_rejects_bad_input(texts, kwargs, error, match):
    with pytest.raises(error, match=match):
        widgets.char_frequency_explorer(texts, **kwargs)


def test_panel_displays_each_result_into_its_output_in_a_kernel(monkeypatch):
    shown = []  # (output widget we were inside, what was displayed) per display call
    cleared = []
    current = []  # the Output whose context is active

    class Recorder(ipywidgets.Output):
        def __enter__(self):
            current.append(self)

        def __exit__(self, *exc):
            current.pop()

    monkeypatch.setattr(widgets, "_in_kernel", lambda: True)
    monkeypatch.setattr(widgets.widgets, "Output", Recorder)
    monkeypatch.setattr(
        widgets, "display", lambda obj: shown.append((current[-1] if current else None, obj))
    )
    monkeypatch.setattr(
        widgets, "clear_output", lambda wait=False: cleared.append((current[-1], wait))
    )

    panel = widgets.Panel(lambda n: n * 10, n=ipywidgets.IntSlider(value=1, min=1, max=5))
    panel.controls["n"].value = 3
    assert shown == [(panel.output, 10), (panel.output, 30)]
    assert cleared == [(panel.output, True), (panel.output, True)]  # wait=True: no flicker


def test_in_kernel_is_false_headless():
    assert widgets._in_kernel() is False
