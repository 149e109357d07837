"""Pictures for the notebooks: small plotly figure functions with titles and labelled axes.

Every function returns a ``plotly.graph_objects.Figure`` (show it by leaving it as the last
expression of a cell, or save it with ``fig.write_image("x.png")``). Inputs are checked up
front, so a mistake gives an error naming the argument instead of a blank or misleading plot.

- ``bar(labels, values)``: one bar per label.
- ``char_frequency_bar(text, top_n)``: the most common characters and their relative
  frequencies p(c) = count(c) / N.
- ``loss_curves(history)``: training / validation curves from a DataFrame or a dict of series.
- ``heatmap(matrix, x_labels, y_labels)``: a matrix (attention weights, confusion counts, ...).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

__all__ = [
    "TEMPLATE",
    "bar",
    "char_frequency_bar",
    "char_label",
    "heatmap",
    "loss_curves",
]

TEMPLATE = "plotly_white"
"""The plotly template every labkit figure uses: white background, light grid."""

_FONT = {"family": "Inter, Helvetica, Arial, sans-serif", "size": 14}

# How invisible characters are shown on an axis.
_VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}


def _layout(fig: go.Figure, title: str, xlabel: str, ylabel: str) -> go.Figure:
    """Apply the common look: template, font, title and axis labels."""
    fig.update_layout(
        template=TEMPLATE,
        font=_FONT,
        title={"text": title, "x": 0.02, "xanchor": "left"},
        xaxis_title=xlabel,
        yaxis_title=ylabel,
        margin={"l": 70, "r": 30, "t": 60, "b": 60},
    )
    return fig


def _check_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str; got {type(value).__name__}")
    return value


def _as_numbers(name: str, values: Any) -> np.ndarray:
    """A 1-D float array from a list/tuple/array/tensor/Series of real numbers, else a clear error."""
    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise TypeError(f"{name} must be a sequence of numbers; got {type(values).__name__}")
    if hasattr(values, "detach"):  # a torch tensor, without importing torch here
        values = values.detach().cpu().numpy()
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must contain only numbers; got {list(values)[:5]!r}...") from err
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional; got shape {arr.shape}")
    return arr


def char_label(c: str) -> str:
    """How a character is written on an axis: space ␣, newline ⏎, tab ⇥, carriage return ␍;
    other invisible characters as their escape (``repr``)."""
    _check_str("c", c)
    return _VISIBLE.get(c, c if c.isprintable() else repr(c))


def bar(
    labels: Sequence[Any],
    values: Sequence[float],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    text_format: str | None = None,
) -> go.Figure:
    """A bar chart with one bar per label, in the order given.

    ``text_format`` (e.g. ``".1%"``) prints each value above its bar.
    """
    if isinstance(labels, str) or not isinstance(labels, Sequence | np.ndarray | pd.Index):
        raise TypeError(f"labels must be a list or tuple of labels; got {type(labels).__name__}")
    y = _as_numbers("values", values)
    if len(labels) != len(y):
        raise ValueError(
            f"labels and values must have the same length; got {len(labels)} labels and {len(y)} values"
        )
    if len(y) == 0:
        raise ValueError("labels and values must not be empty")
    names = [str(label) for label in labels]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"labels must be distinct; repeated: {repeated}")
    trace = go.Bar(x=names, y=y, marker_color="#3b6ea8")
    if text_format is not None:
        trace.update(texttemplate=f"%{{y:{text_format}}}", textposition="outside")
    fig = _layout(go.Figure(trace), title, xlabel, ylabel)
    # Keep the given order even when labels look like numbers, and never skip a label.
    fig.update_xaxes(
        type="category", categoryorder="array", categoryarray=trace.x, tickmode="linear"
    )
    if max(len(name) for name in names) <= 2:  # single characters read best upright
        fig.update_xaxes(tickangle=0, tickfont_size=11 if len(names) > 40 else None)
    return fig


@lru_cache(maxsize=4)
def _char_counts(text: str) -> tuple[tuple[str, int], ...]:
    """(character, count) pairs, most common first (ties in first-seen order); cached, because
    a widget redraws the same multi-megabyte text many times."""
    return tuple(Counter(text).most_common())


def char_frequency_bar(text: str, top_n: int | None = 30, *, title: str | None = None) -> go.Figure:
    """The ``top_n`` most common characters of ``text`` and their relative frequency.

    The relative frequency of a character c in a text of N characters is
    p(c) = count(c) / N, so the bars of all distinct characters together sum to 1.
    ``top_n=None`` shows every distinct character. Ties keep first-seen order.
    """
    _check_str("text", text)
    if not text:
        raise ValueError("text must not be empty")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise ValueError(f"top_n must be a positive int or None; got {top_n!r}")
    counts = _char_counts(text)
    shown = counts[:top_n]
    n = len(text)
    if title is None:
        what = "all" if len(shown) == len(counts) else f"top {len(shown)}"
        title = f"Character frequencies ({what} of {len(counts)} distinct, N = {n:,})"
    return bar(
        [char_label(c) for c, _ in shown],
        [k / n for _, k in shown],
        title=title,
        xlabel="character",
        ylabel="relative frequency p(c)",
    )


def _series_from(
    history: Any, x: str | None, y: Sequence[str] | str | None
) -> dict[str, pd.Series]:
    """Turn a DataFrame or a mapping of sequences into {name: Series indexed by x}."""
    if isinstance(history, pd.DataFrame):
        frame = history
        if x is not None:
            if x not in frame.columns:
                raise ValueError(
                    f"x={x!r} is not a column of history; columns are {list(frame.columns)}"
                )
            frame = frame.set_index(x)
        names = [y] if isinstance(y, str) else y
        if names is None:
            names = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        missing = [c for c in names if c not in frame.columns]
        if missing:
            raise ValueError(
                f"y names columns {missing} missing from history; columns are {list(frame.columns)}"
            )
        return {str(c): frame[c] for c in names}
    if isinstance(history, Mapping):
        if x is not None:
            raise ValueError(
                "x is only used with a DataFrame; for a dict pass pandas Series indexed by step"
            )
        names = [y] if isinstance(y, str) else (list(history) if y is None else y)
        out = {}
        for name in names:
            if name not in history:
                raise ValueError(
                    f"y names {name!r}, which is not a key of history; keys are {list(history)}"
                )
            values = history[name]
            if isinstance(values, pd.Series):
                out[str(name)] = values.astype(float)
            else:
                out[str(name)] = pd.Series(_as_numbers(f"history[{name!r}]", values))
        return out
    raise TypeError(
        f"history must be a pandas DataFrame or a dict of series; got {type(history).__name__}"
    )


def loss_curves(
    history: pd.DataFrame | Mapping[str, Sequence[float] | pd.Series],
    *,
    x: str | None = None,
    y: Sequence[str] | str | None = None,
    title: str = "Loss",
    xlabel: str | None = None,
    ylabel: str = "loss",
    log_y: bool = False,
) -> go.Figure:
    """One line per series: training and validation loss (or any metric) against the step.

    ``history`` is either

    - a DataFrame: ``x`` names the step column (default: the index) and ``y`` the columns to
      plot (default: every numeric column); or
    - a dict ``{"train": [...], "val": pd.Series(values, index=steps)}``: plain sequences are
      plotted against 0, 1, 2, ...; a Series against its index (so a validation loss measured
      every 100 steps lines up with the training loss).

    Missing values (NaN) are skipped, so a validation column filled only every few steps
    still draws a connected line.
    """
    series = _series_from(history, x, y)
    if not series:
        raise ValueError("history has no series to plot")
    fig = go.Figure()
    for name, s in series.items():
        s = s.dropna()
        if s.empty:
            raise ValueError(f"series {name!r} in history has no values")
        fig.add_trace(
            go.Scatter(
                x=s.index.to_numpy(),
                y=s.to_numpy(dtype=float),
                mode="lines+markers" if len(s) <= 30 else "lines",
                name=name,
            )
        )
    xlabel = xlabel if xlabel is not None else (x or "step")
    _layout(fig, title, xlabel, ylabel)
    fig.update_layout(
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0}
    )
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def heatmap(
    matrix: Any,
    x_labels: Sequence[Any] | None = None,
    y_labels: Sequence[Any] | None = None,
    title: str = "",
    *,
    xlabel: str = "",
    ylabel: str = "",
    colorscale: str = "Blues",
    zmin: float | None = None,
    zmax: float | None = None,
    show_values: bool | None = None,
) -> go.Figure:
    """A 2-D matrix as coloured cells; row 0 is drawn at the top (as a matrix is written).

    ``matrix`` may be a nested list, NumPy array or torch tensor of shape (rows, columns);
    ``y_labels`` name the rows and ``x_labels`` the columns. ``show_values`` writes each number
    in its cell (default: only when the matrix has at most 12 x 12 cells).
    """
    if hasattr(matrix, "detach"):
        matrix = matrix.detach().cpu().numpy()
    try:
        z = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"matrix must be a 2-D array of numbers; got {type(matrix).__name__}"
        ) from err
    if z.ndim != 2 or 0 in z.shape:
        raise ValueError(f"matrix must be 2-dimensional and non-empty; got shape {z.shape}")
    rows, cols = z.shape
    for name, labels, want in (("x_labels", x_labels, cols), ("y_labels", y_labels, rows)):
        if labels is not None and len(labels) != want:
            raise ValueError(
                f"{name} must have one label per {'column' if name == 'x_labels' else 'row'} "
                f"({want}); got {len(labels)}"
            )
    for name, bound in (("zmin", zmin), ("zmax", zmax)):
        if bound is not None and (not isinstance(bound, Real) or math.isnan(bound)):
            raise TypeError(f"{name} must be a number or None; got {bound!r}")
    # Cells sit at integer positions and labels are only tick text, so repeated labels
    # (the same token twice in a sentence) stay separate rows/columns.
    x_text = [str(v) for v in x_labels] if x_labels is not None else [str(i) for i in range(cols)]
    y_text = [str(v) for v in y_labels] if y_labels is not None else [str(i) for i in range(rows)]
    trace = go.Heatmap(
        z=z,
        x=list(range(cols)),
        y=list(range(rows)),
        colorscale=colorscale,
        zmin=zmin,
        zmax=zmax,
        customdata=[[(y_text[r], x_text[c]) for c in range(cols)] for r in range(rows)],
        hovertemplate="row %{customdata[0]}<br>column %{customdata[1]}<br>value %{z:.4g}<extra></extra>",
    )
    if show_values if show_values is not None else (rows <= 12 and cols <= 12):
        trace.update(texttemplate="%{z:.2f}")
    fig = _layout(go.Figure(trace), title, xlabel, ylabel)
    fig.update_xaxes(tickmode="array", tickvals=list(range(cols)), ticktext=x_text, showgrid=False)
    fig.update_yaxes(
        tickmode="array",
        tickvals=list(range(rows)),
        ticktext=y_text,
        autorange="reversed",
        showgrid=False,
    )
    return fig


# --------------------------------------------------------------------------------------------
# Notebook 01 (NLP basics): tokens, Zipf's law, the vocabulary-size trade-off
# --------------------------------------------------------------------------------------------

# Light backgrounds that alternate from token to token, so neighbouring tokens stay distinct.
_TOKEN_COLOURS = ("#cfe2ff", "#ffe3b3", "#d3f0d3", "#f5d0e6", "#e2d9f3", "#fff3b0")


def token_label(token: str) -> str:
    """A token written so that whitespace shows: space ␣, newline ⏎, tab ⇥, carriage return ␍
    (``" the"`` -> ``"␣the"``). Other characters are kept as they are."""
    _check_str("token", token)
    return "".join(_VISIBLE.get(c, c) for c in token)


def tokens_html(rows: Mapping[str, Sequence[str]]) -> str:
    """Colour-coded tokens as an HTML table: one row per tokenizer, one coloured box per token.

    ``rows`` maps a name (``"BPE"``) to its list of token strings, e.g. the result of
    ``widgets.tokenize_all``. Whitespace is made visible (``token_label``) and every token is
    HTML-escaped. Show the result with ``IPython.display.HTML(...)``.
    """
    import html

    if not isinstance(rows, Mapping):
        raise TypeError(f"rows must be a dict {{name: list of tokens}}; got {type(rows).__name__}")
    lines = ['<table style="border-collapse:collapse">']
    for name, tokens in rows.items():
        if isinstance(tokens, str) or not isinstance(tokens, Sequence):
            raise TypeError(
                f"rows[{name!r}] must be a list of token strings; got {type(tokens).__name__}"
            )
        boxes = []
        for i, token in enumerate(tokens):
            if not isinstance(token, str):
                raise TypeError(
                    f"rows[{name!r}][{i}] must be a str; got {type(token).__name__} ({token!r})"
                )
            colour = _TOKEN_COLOURS[i % len(_TOKEN_COLOURS)]
            boxes.append(
                f'<span title="token {i}" style="background:{colour}; border-radius:3px; '
                f'padding:1px 2px; margin:1px; display:inline-block; font-family:monospace; '
                f'white-space:pre">{html.escape(token_label(token))}</span>'
            )
        count = f"{len(tokens)} token{'s' if len(tokens) != 1 else ''}"
        lines.append(
            '<tr style="border-bottom:1px solid #ddd">'
            f'<td style="text-align:left; vertical-align:top; padding:4px 8px; white-space:nowrap">'
            f"<b>{html.escape(str(name))}</b><br><small>{count}</small></td>"
            f'<td style="text-align:left; padding:4px; line-height:1.9">{"".join(boxes)}</td></tr>'
        )
    lines.append("</table>")
    return "\n".join(lines)


def rank_frequency(
    counts: Mapping[str, int] | Sequence[int],
    *,
    fit: tuple[float, float] | None = None,
    fit_ranks: tuple[int, int] | None = None,
    title: str = "Rank vs frequency (log-log)",
    xlabel: str = "rank r (1 = most frequent)",
    ylabel: str = "count f(r)",
) -> go.Figure:
    """Zipf's plot: the count of the r-th most frequent item against its rank r, both axes log.

    ``counts`` is a mapping ``{word: count}`` (the words appear on hover) or a plain sequence of
    counts. ``fit=(slope, intercept)`` adds the straight line ``log f = intercept + slope·log r``
    (natural logs) over ``fit_ranks=(first, last)`` (default: every rank), e.g. from a least
    squares fit on the log-log points: Zipf's law says the slope is close to -1.
    """
    if isinstance(counts, Mapping):
        items = sorted(counts.items(), key=lambda kv: -kv[1])
        names = [str(k) for k, _ in items]
        f = _as_numbers("counts", [v for _, v in items])
    else:
        f = np.sort(_as_numbers("counts", counts))[::-1]
        names = None
    if len(f) == 0:
        raise ValueError("counts must not be empty")
    if not np.all(f > 0):
        raise ValueError("counts must all be > 0 (a log-log plot has no place for 0)")
    ranks = np.arange(1, len(f) + 1)
    fig = go.Figure(
        go.Scatter(
            x=ranks,
            y=f,
            mode="lines+markers" if len(f) <= 50 else "lines",
            name="data",
            line={"color": "#3b6ea8", "width": 2},
            text=names,
            hovertemplate=("%{text}<br>" if names else "") + "rank %{x}<br>count %{y}<extra></extra>",
        )
    )
    if fit is not None:
        if len(fit) != 2 or not all(isinstance(v, Real) and math.isfinite(v) for v in fit):
            raise TypeError(f"fit must be (slope, intercept), two finite numbers; got {fit!r}")
        lo, hi = fit_ranks if fit_ranks is not None else (1, len(f))
        if not 1 <= lo < hi:
            raise ValueError(f"fit_ranks must be (first, last) with 1 <= first < last; got {fit_ranks!r}")
        slope, intercept = float(fit[0]), float(fit[1])
        r = np.geomspace(lo, hi, 50)
        fig.add_trace(
            go.Scatter(
                x=r,
                y=np.exp(intercept + slope * np.log(r)),
                mode="lines",
                name=f"least-squares fit, slope {slope:.2f} (ranks {lo:,}–{hi:,})",
                line={"color": "#d62728", "width": 2, "dash": "dash"},
            )
        )
    _layout(fig, title, xlabel, ylabel)
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    fig.update_layout(legend={"x": 0.98, "xanchor": "right", "y": 0.98, "yanchor": "top"})
    return fig


def vocab_tradeoff(
    vocab_sizes: Sequence[int],
    tokens_per_char: Sequence[float],
    *,
    references: Mapping[str, tuple[float, float]] | None = None,
    title: str = "Vocabulary size vs sequence length",
    xlabel: str = "vocabulary size |V| (log scale)",
    ylabel: str = "tokens per character",
) -> go.Figure:
    """A tokenizer family's trade-off: vocabulary size (x, log) against tokens per character (y).

    One line through ``(vocab_sizes[i], tokens_per_char[i])`` (e.g. BPE with more and more
    merges), plus one labelled point per entry of ``references`` ``{name: (vocab_size,
    tokens_per_char)}`` (e.g. the character and word tokenizers).
    """
    x = _as_numbers("vocab_sizes", vocab_sizes)
    y = _as_numbers("tokens_per_char", tokens_per_char)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"vocab_sizes and tokens_per_char must be non-empty and of the same length; "
            f"got {len(x)} and {len(y)}"
        )
    if not np.all(x > 0):
        raise ValueError("vocab_sizes must all be > 0 (the x axis is logarithmic)")
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=y,
            mode="lines+markers",
            name="BPE",
            line={"color": "#3b6ea8", "width": 2},
            hovertemplate="|V| = %{x}<br>%{y:.3f} tokens per character<extra></extra>",
        )
    )
    for i, (name, point) in enumerate((references or {}).items()):
        if len(point) != 2:
            raise ValueError(f"references[{name!r}] must be (vocab_size, tokens_per_char); got {point!r}")
        vx, vy = (float(v) for v in point)
        fig.add_trace(
            go.Scatter(
                x=[vx],
                y=[vy],
                mode="markers+text",
                name=str(name),
                text=[str(name)],
                textposition="top center" if i % 2 == 0 else "bottom center",
                marker={"size": 11, "symbol": "diamond", "color": ("#d62728", "#2ca02c", "#9467bd")[i % 3]},
                hovertemplate=f"{name}<br>|V| = %{{x}}<br>%{{y:.3f}} tokens per character<extra></extra>",
            )
        )
    _layout(fig, title, xlabel, ylabel)
    fig.update_xaxes(type="log")
    fig.update_yaxes(rangemode="tozero")
    return fig


__all__ += ["rank_frequency", "token_label", "tokens_html", "vocab_tradeoff"]
