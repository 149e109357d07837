"""Knobs for the notebooks: ipywidgets controls wired to a plain function.

Every control here sits on an ordinary function (for example ``viz.char_frequency_bar``) that
the tests call directly; the widget only collects values and redraws. ``Panel`` does the
wiring: it calls ``render(**values)`` whenever a control changes, keeps the latest result in
``panel.result`` and shows it in an ``Output`` area (the usual ``with output: display(...)``
pattern, which ipywidgets 7 and 8, JupyterLab and Colab all support).

Only API shared by ipywidgets 7.7 (Google Colab) and 8 (JupyterLab 4) is used: ``IntSlider``,
``Dropdown``, ``Output``, ``HBox``/``VBox`` and ``observe``. Figures are displayed into the
``Output`` (not a ``go.FigureWidget``, which needs an extra front-end extension on Colab).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
from IPython import get_ipython
from IPython.display import clear_output, display

from labkit import viz

__all__ = ["Panel", "char_frequency_explorer", "char_frequency_figure", "text_samples"]


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Colab, nbval), where widgets can be shown."""
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Panel:
    """Controls plus an output area that shows ``render(**controls' values)``, kept up to date.

    >>> panel = Panel(lambda n: n * n, n=widgets.IntSlider(value=3, min=1, max=10))
    >>> panel.result
    9
    >>> panel.controls["n"].value = 4  # what dragging the slider does
    >>> panel.result
    16

    Show it by leaving ``panel`` as the last expression of a cell (or ``display(panel)``).
    ``panel.widget`` is the ipywidgets box, for embedding in a larger layout.
    """

    def __init__(self, render: Callable[..., Any], **controls: widgets.ValueWidget) -> None:
        if not callable(render):
            raise TypeError(f"render must be callable; got {type(render).__name__}")
        if not controls:
            raise ValueError("Panel needs at least one control, e.g. n=widgets.IntSlider(...)")
        for name, control in controls.items():
            if not isinstance(control, widgets.ValueWidget):
                raise TypeError(
                    f"control {name!r} must be an ipywidgets value widget "
                    f"(IntSlider, Dropdown, ...); got {type(control).__name__}"
                )
        self.render = render
        self.controls: dict[str, widgets.ValueWidget] = dict(controls)
        self.output = widgets.Output()
        self.result: Any = None
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.widget = widgets.VBox([widgets.HBox(list(self.controls.values())), self.output])
        self.refresh()

    def values(self) -> dict[str, Any]:
        """The controls' current values, by name (the keyword arguments ``render`` receives)."""
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self) -> Any:
        """Call ``render`` with the current values, store and show the result, and return it."""
        self.result = self.render(**self.values())
        if _in_kernel():  # headless (scripts, tests) there is nowhere to show it
            with self.output:
                clear_output(wait=True)
                display(self.result)
        return self.result

    def _on_change(self, change: dict[str, Any]) -> None:
        self.refresh()

    def _ipython_display_(self) -> None:
        display(self.widget)


def char_frequency_figure(text: str, top_n: int = 20) -> go.Figure:
    """The plain function behind ``char_frequency_explorer``: a bar chart of the ``top_n``
    most frequent characters of ``text`` (see ``viz.char_frequency_bar``)."""
    return viz.char_frequency_bar(text, top_n)


def text_samples(text: str, sizes: tuple[int, ...] = (500, 5_000)) -> dict[str, str]:
    """Named pieces of ``text`` for the explorer's drop-down: the whole text and its first
    ``sizes`` characters, to see how estimates from a small sample wobble."""
    if not isinstance(text, str) or not text:
        raise ValueError("text must be a non-empty str")
    samples = {f"whole text ({len(text):,} characters)": text}
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"sizes must hold positive ints; got {n!r}")
        if n < len(text):
            samples[f"first {n:,} characters"] = text[:n]
    return samples


def char_frequency_explorer(
    texts: str | Mapping[str, str], top_n: int = 20, max_top_n: int = 80
) -> Panel:
    """A slider for "top N characters" (and, given several texts, a drop-down to pick one)
    driving the character-frequency bar chart.

    ``texts`` is one text, or a mapping ``{label: text}`` (e.g. from ``text_samples``).
    """
    if isinstance(texts, str):
        texts = {"text": texts}
    if not isinstance(texts, Mapping) or not texts:
        raise TypeError("texts must be a non-empty str or a non-empty mapping {label: text}")
    for label, text in texts.items():
        if not isinstance(text, str) or not text:
            raise ValueError(f"texts[{label!r}] must be a non-empty str")
    if isinstance(top_n, bool) or not isinstance(top_n, int) or not 1 <= top_n <= max_top_n:
        raise ValueError(f"top_n must be an int in [1, max_top_n={max_top_n}]; got {top_n!r}")

    options = dict(texts)
    slider = widgets.IntSlider(
        value=top_n,
        min=1,
        max=max_top_n,
        description="top N",
        continuous_update=False,  # redraw when the slider is released, not on every pixel
    )
    if len(options) == 1:
        (only,) = options.values()
        return Panel(lambda top_n: char_frequency_figure(only, top_n), top_n=slider)
    picker = widgets.Dropdown(options=list(options), description="text")
    return Panel(
        lambda sample, top_n: char_frequency_figure(options[sample], top_n),
        sample=picker,
        top_n=slider,
    )


# --------------------------------------------------------------------------------------------
# Notebook 01 (NLP basics): one text, several tokenizers
# --------------------------------------------------------------------------------------------


def tokenize_all(text: str, tokenizers: Mapping[str, Any]) -> dict[str, list[str]]:
    """The plain function behind ``tokenizer_explorer``: ``text`` cut into tokens by each
    tokenizer, as readable strings, ``{name: [token, ...]}``.

    A tokenizer with a ``tokenize`` method (``BPETokenizer``) is asked for its token strings;
    any other (``CharTokenizer``, ``WordTokenizer``) encodes the text and decodes each id on its
    own, so an unknown word shows as ``<unk>``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    if not isinstance(tokenizers, Mapping) or not tokenizers:
        raise TypeError("tokenizers must be a non-empty dict {name: tokenizer}")
    out: dict[str, list[str]] = {}
    for name, tok in tokenizers.items():
        if hasattr(tok, "tokenize"):
            out[name] = list(tok.tokenize(text))
        elif hasattr(tok, "encode") and hasattr(tok, "decode"):
            out[name] = [tok.decode([i]) for i in tok.encode(text)]
        else:
            raise TypeError(
                f"tokenizers[{name!r}] must have tokenize() or encode()/decode(); "
                f"got {type(tok).__name__}"
            )
    return out


def tokenizer_explorer(
    tokenizers: Mapping[str, Any], text: str = "To be, or not to be: that is the question."
) -> Panel:
    """A text box: type anything and see it cut into tokens by every tokenizer, colour-coded
    (``viz.tokens_html`` of ``tokenize_all(text, tokenizers)``). ``panel.result`` is the HTML."""
    from IPython.display import HTML

    tokenize_all(text, tokenizers)  # fail here, with a clear message, not inside the widget
    box = widgets.Textarea(
        value=text,
        description="text",
        layout=widgets.Layout(width="95%", height="4em"),
    )
    return Panel(lambda text: HTML(viz.tokens_html(tokenize_all(text, tokenizers))), text=box)


__all__ += ["tokenize_all", "tokenizer_explorer"]
