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


def _labelled_values(labels: Any, values: Any) -> tuple[list[str], np.ndarray]:
    """Check that ``labels`` (distinct) and ``values`` (numbers) pair up one to one."""
    if isinstance(labels, str) or not isinstance(labels, Sequence | np.ndarray | pd.Index):
        raise TypeError(f"labels must be a list or tuple of labels; got {type(labels).__name__}")
    numbers = _as_numbers("values", values)
    if len(labels) != len(numbers):
        raise ValueError(
            f"labels and values must have the same length; got {len(labels)} labels and {len(numbers)} values"
        )
    if len(numbers) == 0:
        raise ValueError("labels and values must not be empty")
    names = [str(label) for label in labels]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"labels must be distinct; repeated: {repeated}")
    return names, numbers


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
    names, y = _labelled_values(labels, values)
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
    ``widgets.tokenize_all``. Whitespace is made visible (``token_label``), every token is
    HTML-escaped, and ``<unk>`` tokens are drawn in red. Show the result with
    ``IPython.display.HTML(...)``.
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
            if token == "<unk>":  # an unknown word or character: the tokenizer gave up here
                colour = "#ffb3b3; outline:1px solid #cf222e"
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


# --------------------------------------------------------------------------------------------
# Notebook 08 (the Transformer block and GPT): curves against a shared x axis
# --------------------------------------------------------------------------------------------


def line_chart(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    *,
    points: Mapping[str, tuple[float, float]] | None = None,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    log_x: bool = False,
    log_y: bool = False,
    markers: bool | None = None,
) -> go.Figure:
    """One line per entry of ``series`` ``{name: y values}``, all against the same ``x``.

    For functions (GELU vs ReLU), profiles (a gradient norm per layer) or scaling curves.
    ``points`` ``{name: (x, y)}`` adds labelled single points (e.g. named model sizes).
    ``log_x``/``log_y`` switch an axis to a log scale (its values must then be > 0).
    ``markers`` draws a dot at each value (default: only when there are at most 30 x values).
    """
    xs = _as_numbers("x", x)
    if len(xs) == 0:
        raise ValueError("x must not be empty")
    if not isinstance(series, Mapping) or not series:
        raise TypeError(
            f"series must be a non-empty dict {{name: y values}}; got {type(series).__name__}"
        )
    for name, flag in (("log_x", log_x), ("log_y", log_y)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False; got {flag!r}")
    if log_x and not np.all(xs > 0):
        raise ValueError("x must be > 0 everywhere when log_x=True")
    show_markers = len(xs) <= 30 if markers is None else markers
    fig = go.Figure()
    for name, values in series.items():
        ys = _as_numbers(f"series[{name!r}]", values)
        if len(ys) != len(xs):
            raise ValueError(
                f"series[{name!r}] must have one value per x ({len(xs)}); got {len(ys)}"
            )
        if log_y and not np.all(ys[np.isfinite(ys)] > 0):
            raise ValueError(f"series[{name!r}] must be > 0 everywhere when log_y=True")
        fig.add_trace(
            go.Scatter(x=xs, y=ys, mode="lines+markers" if show_markers else "lines", name=str(name))
        )
    for name, point in (points or {}).items():
        if len(point) != 2:
            raise ValueError(f"points[{name!r}] must be (x, y); got {point!r}")
        px, py = (float(v) for v in point)
        fig.add_trace(
            go.Scatter(
                x=[px],
                y=[py],
                mode="markers+text",
                name=str(name),
                text=[str(name)],
                textposition="middle right",
                marker={"size": 10, "symbol": "diamond", "color": "#444"},
                showlegend=False,
            )
        )
    _layout(fig, title, xlabel, ylabel)
    if log_x:
        fig.update_xaxes(type="log")
    if log_y:
        fig.update_yaxes(type="log", exponentformat="power")
    return fig


__all__ += ["line_chart"]


# --------------------------------------------------------------------------------------------
# Notebook 07 (attention): several heads' weights side by side; curves in small panels
# --------------------------------------------------------------------------------------------


def attention_heads(
    weights: Any,
    tokens: Sequence[str],
    *,
    title: str = "Attention weights per head",
    head_names: Sequence[str] | None = None,
    show_values: bool | None = None,
) -> go.Figure:
    """One heatmap per head, side by side: ``weights`` of shape ``(h, T, T)`` (rows = queries,
    columns = keys, each row sums to 1) for the ``T`` ``tokens``. Colours run from 0 to 1 in
    every panel, so the heads can be compared."""
    from plotly.subplots import make_subplots

    if hasattr(weights, "detach"):
        weights = weights.detach().cpu().numpy()
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"weights must be an array of numbers of shape (h, T, T); got {type(weights).__name__}"
        ) from err
    if w.ndim != 3 or w.shape[1] != w.shape[2] or 0 in w.shape:
        raise ValueError(f"weights must have shape (h, T, T) with h, T >= 1; got {w.shape}")
    h, T, _ = w.shape
    if isinstance(tokens, str) or len(tokens) != T:
        raise ValueError(f"tokens must be a list of T = {T} token strings; got {tokens!r}")
    names = list(head_names) if head_names is not None else [f"head {i}" for i in range(h)]
    if len(names) != h:
        raise ValueError(f"head_names must name each of the {h} heads; got {len(names)} names")
    labels = [str(t) for t in tokens]
    show = show_values if show_values is not None else T <= 8
    fig = make_subplots(rows=1, cols=h, subplot_titles=names, horizontal_spacing=0.04)
    for i in range(h):
        trace = go.Heatmap(
            z=w[i],
            x=list(range(T)),
            y=list(range(T)),
            zmin=0.0,
            zmax=1.0,
            colorscale="Blues",
            showscale=i == h - 1,
            customdata=[[(labels[r], labels[c]) for c in range(T)] for r in range(T)],
            hovertemplate=(
                f"{names[i]}<br>query %{{customdata[0]}}<br>key %{{customdata[1]}}"
                "<br>weight %{z:.3f}<extra></extra>"
            ),
        )
        if show:
            trace.update(texttemplate="%{z:.2f}")
        fig.add_trace(trace, row=1, col=i + 1)
        fig.update_xaxes(
            tickmode="array", tickvals=list(range(T)), ticktext=labels, showgrid=False,
            row=1, col=i + 1,
        )
        fig.update_yaxes(
            tickmode="array", tickvals=list(range(T)), ticktext=labels if i == 0 else [""] * T,
            autorange="reversed", showgrid=False, row=1, col=i + 1,
        )
    fig.update_layout(
        template=TEMPLATE,
        font=_FONT,
        title={"text": title, "x": 0.02, "xanchor": "left"},
        margin={"l": 70, "r": 30, "t": 90, "b": 60},
        width=max(520, 300 * h + 120),
        height=max(360, 300 + 8 * T),
    )
    return fig


def line_panels(
    x: Sequence[float],
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    title: str = "",
    xlabel: str = "",
    log_x: bool = False,
    log_y: Sequence[str] = (),
) -> go.Figure:
    """Small multiples: one panel per entry of ``panels`` ``{panel title: {series: y values}}``,
    side by side, all against the same ``x``. A series name has the same colour in every panel
    and one legend entry. ``log_y`` lists the panels whose y axis is logarithmic."""
    from plotly.subplots import make_subplots

    xs = _as_numbers("x", x)
    if len(xs) == 0:
        raise ValueError("x must not be empty")
    if not isinstance(panels, Mapping) or not panels:
        raise TypeError("panels must be a non-empty dict {panel title: {series name: y values}}")
    if not isinstance(log_x, bool):
        raise TypeError(f"log_x must be True or False; got {log_x!r}")
    if log_x and not np.all(xs > 0):
        raise ValueError("x must be > 0 everywhere when log_x=True")
    unknown = [p for p in log_y if p not in panels]
    if isinstance(log_y, str) or unknown:
        raise ValueError(f"log_y must list panel titles out of {list(panels)}; got {log_y!r}")
    colours = ("#d62728", "#3b6ea8", "#2ca02c", "#9467bd", "#ff7f0e")
    colour_of: dict[str, str] = {}
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=list(panels))
    for col, (panel, series) in enumerate(panels.items(), start=1):
        if not isinstance(series, Mapping) or not series:
            raise TypeError(f"panels[{panel!r}] must be a non-empty dict {{series: y values}}")
        for name, values in series.items():
            ys = _as_numbers(f"panels[{panel!r}][{name!r}]", values)
            if len(ys) != len(xs):
                raise ValueError(
                    f"panels[{panel!r}][{name!r}] must have one value per x ({len(xs)}); "
                    f"got {len(ys)}"
                )
            if panel in log_y and not np.all(ys > 0):
                raise ValueError(f"panels[{panel!r}][{name!r}] must be > 0 (log y axis)")
            first = name not in colour_of
            colour = colour_of.setdefault(name, colours[len(colour_of) % len(colours)])
            fig.add_trace(
                go.Scatter(
                    x=xs, y=ys, mode="lines+markers", name=str(name), legendgroup=str(name),
                    showlegend=first, line={"color": colour, "width": 2},
                ),
                row=1, col=col,
            )
        fig.update_xaxes(title_text=xlabel, type="log" if log_x else None, row=1, col=col)
        if panel in log_y:
            fig.update_yaxes(type="log", exponentformat="power", row=1, col=col)
    fig.update_layout(
        template=TEMPLATE,
        font=_FONT,
        title={"text": title, "x": 0.02, "xanchor": "left"},
        margin={"l": 60, "r": 30, "t": 90, "b": 60},
        width=max(500, 340 * len(panels)),
        height=400,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.1, "xanchor": "right", "x": 1.0},
    )
    return fig


__all__ += ["attention_heads", "line_panels"]


# --------------------------------------------------------------------------- notebook 03: embeddings

_GROUP_COLOURS = ["#3b6ea8", "#d1495b", "#2e933c", "#edae49", "#7a5195", "#00798c", "#8d6a9f", "#666666"]


def embedding_scatter3d(
    points: pd.DataFrame, *, group: str | None = "group", title: str = "Word vectors (PCA, 3-D)"
) -> go.Figure:
    """Words as labelled points in 3-D, one colour per group: drag to rotate, scroll to zoom.

    ``points`` has columns ``word, x, y, z`` (e.g. ``Embeddings.project(words, dims=3)``) and,
    optionally, a ``group`` column naming each word's group. When ``points.attrs`` holds
    ``explained_variance_ratio`` (as ``project`` sets it), the axis titles show each
    component's share of the variance.
    """
    if not isinstance(points, pd.DataFrame):
        raise TypeError(f"points must be a pandas DataFrame; got {type(points).__name__}")
    missing = [c for c in ("word", "x", "y", "z") if c not in points.columns]
    if missing:
        raise ValueError(
            f"points must have columns word, x, y, z; missing {missing} (columns: {list(points.columns)})"
        )
    if points.empty:
        raise ValueError("points must hold at least one word")
    if group is not None and group not in points.columns:
        points = points.assign(**{group: "words"})
    groups = ["words"] if group is None else list(dict.fromkeys(points[group]))
    fig = go.Figure()
    for i, name in enumerate(groups):
        part = points if group is None else points[points[group] == name]
        fig.add_trace(
            go.Scatter3d(
                x=part["x"], y=part["y"], z=part["z"],
                mode="markers+text",
                text=part["word"],
                textposition="top center",
                textfont={"size": 12},
                marker={"size": 5, "color": _GROUP_COLOURS[i % len(_GROUP_COLOURS)], "opacity": 0.9},
                name=str(name),
                hovertemplate="%{text}<extra>" + str(name) + "</extra>",
            )
        )
    ratio = points.attrs.get("explained_variance_ratio")
    names = [
        f"PC{i + 1} ({ratio[i]:.0%})" if ratio is not None and i < len(ratio) else f"PC{i + 1}"
        for i in range(3)
    ]
    _layout(fig, title, "", "")
    fig.update_layout(
        scene={"xaxis_title": names[0], "yaxis_title": names[1], "zaxis_title": names[2]},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        margin={"l": 0, "r": 0, "t": 60, "b": 0},
        height=600,
    )
    return fig


def signed_bar(
    labels: Sequence[Any],
    values: Sequence[float],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    positive: str = "",
    negative: str = "",
) -> go.Figure:
    """Horizontal bars that may be negative: positive values in one colour, negative in another.

    For scores with a direction (e.g. how much nearer a word sits to one word list than to
    another). ``positive``/``negative`` name the two directions in the legend. Bars keep the
    given order, top to bottom.
    """
    names, x = _labelled_values(labels, values)
    fig = go.Figure()
    for sign, colour, name in ((1, "#3b6ea8", positive), (-1, "#d1495b", negative)):
        keep = [i for i in range(len(x)) if (x[i] >= 0) == (sign > 0)]
        fig.add_trace(
            go.Bar(
                x=x[keep], y=[names[i] for i in keep], orientation="h", marker_color=colour,
                name=name or ("≥ 0" if sign > 0 else "< 0"),
                hovertemplate="%{y}: %{x:.3f}<extra></extra>",
            )
        )
    _layout(fig, title, xlabel, ylabel)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=names, autorange="reversed")
    fig.update_layout(
        barmode="overlay",
        showlegend=bool(positive or negative),
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        height=max(300, 26 * len(names) + 120),
    )
    fig.add_vline(x=0, line_color="#444", line_width=1)
    return fig


__all__ += ["embedding_scatter3d", "signed_bar"]


def highlight_curves(
    curves: Mapping[str, Sequence[float] | pd.Series],
    highlight: str | None = None,
    *,
    title: str = "Loss",
    xlabel: str = "step",
    ylabel: str = "loss",
    log_y: bool = False,
) -> go.Figure:
    """Several curves on one plot, one of them (``highlight``) drawn bold, the rest thin and grey.

    ``curves`` is a dict ``{name: values}`` as for :func:`loss_curves` (a Series is plotted
    against its index). ``highlight=None`` draws every curve in its own colour.
    """
    if not isinstance(curves, Mapping):
        raise TypeError(f"curves must be a dict {{name: values}}; got {type(curves).__name__}")
    if highlight is not None and highlight not in curves:
        raise ValueError(f"highlight must be one of {list(curves)} or None; got {highlight!r}")
    fig = loss_curves(dict(curves), title=title, xlabel=xlabel, ylabel=ylabel, log_y=log_y)
    if highlight is not None:
        for trace in fig.data:
            if trace.name == highlight:
                trace.update(line={"width": 4, "color": "#d62728"}, opacity=1.0)
            else:
                trace.update(line={"width": 1.5, "color": "#9e9e9e"}, opacity=0.6)
        fig.data = [t for t in fig.data if t.name != highlight] + [
            t for t in fig.data if t.name == highlight
        ]  # the highlighted curve on top
    return fig


__all__ += ["highlight_curves"]


# --------------------------------------------------------------------------- notebook 05: LSTM & GRU


def gate_heatmap(
    values: Any,
    text: str,
    *,
    units: Sequence[int] | None = None,
    title: str = "Gate activations",
    zmin: float | None = None,
    zmax: float | None = None,
) -> go.Figure:
    """One row per hidden unit, one column per character of ``text``: what a gate (or the cell
    state) of a recurrent network did while it read the text.

    ``values`` has shape ``(T, H)`` (step ``t``, unit ``j``), ``T = len(text)``; ``units`` picks
    the rows to draw (default: all ``H``). Gates in ``[0, 1]`` (σ) use a sequential scale from 0
    to 1; values with negative entries (tanh candidates, cell states) a diverging scale centred
    on 0. Invisible characters are shown as ␣ ⏎ ⇥.
    """
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    try:
        v = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"values must be an array of numbers of shape (T, H); got {type(values).__name__}"
        ) from err
    _check_str("text", text)
    if v.ndim != 2 or 0 in v.shape:
        raise ValueError(f"values must have shape (T, H) with T, H >= 1; got {v.shape}")
    if v.shape[0] != len(text):
        raise ValueError(
            f"values must have one row per character of text ({len(text)}); got {v.shape[0]}"
        )
    H = v.shape[1]
    if units is None:
        units = list(range(H))
    if isinstance(units, str) or not all(
        isinstance(u, int | np.integer) and not isinstance(u, bool) and 0 <= u < H for u in units
    ) or len(units) == 0:
        raise ValueError(f"units must be a non-empty list of unit indices in [0, {H}); got {units!r}")
    units = [int(u) for u in units]
    z = v[:, units].T  # (units, T)
    diverging = bool(np.nanmin(z) < 0) if zmin is None else zmin < 0
    if diverging:
        bound = float(np.nanmax(np.abs(z))) or 1.0
        lo, hi, scale = -bound, bound, "RdBu_r"
    else:
        lo, hi, scale = 0.0, 1.0, "Viridis"
    lo = lo if zmin is None else zmin
    hi = hi if zmax is None else zmax
    chars = [char_label(c) for c in text]
    T = len(text)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(range(T)),
            y=list(range(len(units))),
            zmin=lo,
            zmax=hi,
            colorscale=scale,
            customdata=[[(f"unit {u}", f"{t}: {chars[t]}") for t in range(T)] for u in units],
            hovertemplate="%{customdata[0]}<br>char %{customdata[1]}<br>value %{z:.3f}<extra></extra>",
            colorbar={"thickness": 14},
        )
    )
    _layout(fig, title, "", "unit")
    fig.update_xaxes(
        tickmode="array", tickvals=list(range(T)), ticktext=chars, tickangle=0, showgrid=False,
        tickfont={"family": "DejaVu Sans Mono, Menlo, Consolas, monospace", "size": 13},
    )
    fig.update_yaxes(
        tickmode="array", tickvals=list(range(len(units))), ticktext=[str(u) for u in units],
        autorange="reversed", showgrid=False,
    )
    fig.update_layout(width=max(500, 16 * T + 160), height=max(260, 20 * len(units) + 140))
    return fig


__all__ += ["gate_heatmap"]


# --------------------------------------------------------------------------- notebook 06: seq2seq


def _axis_text(token: str) -> str:
    """A token as plotly axis text: spaces etc. made visible (``char_label``) and HTML-escaped,
    since plotly reads tick labels as HTML (``<eos>`` would vanish as an unknown tag)."""
    import html

    return html.escape(char_label(token) if len(token) == 1 else token)


def alignment_heatmap(
    weights: Any,
    source: Sequence[str],
    output: Sequence[str],
    *,
    title: str = "Attention: which source characters each output character read",
    cell: int = 26,
) -> go.Figure:
    """The attention weights of one translation: source tokens across (x), output tokens down
    (y), ``weights[t, j]`` = how much output ``t`` attended to source position ``j``.

    ``weights`` has shape ``(len(output), len(source))`` (a tensor, array or nested list; rows
    of a softmax, so each sums to 1). ``source`` and ``output`` are strings or lists of tokens
    (e.g. ``[*"2026-11-28", "<eos>"]``); spaces show as ␣. The colour scale runs from 0 to 1 and
    every cell is ``cell`` pixels square.
    """
    if isinstance(source, str):
        source = list(source)
    if isinstance(output, str):
        output = list(output)
    for name, tokens in (("source", source), ("output", output)):
        if not isinstance(tokens, Sequence) or not all(isinstance(t, str) for t in tokens):
            raise TypeError(f"{name} must be a str or a list of str tokens; got {tokens!r}")
    if hasattr(weights, "detach"):
        weights = weights.detach().cpu().numpy()
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"weights must be a 2-D array of numbers; got {type(weights).__name__}"
        ) from err
    if w.shape != (len(output), len(source)):
        raise ValueError(
            f"weights must have shape (len(output), len(source)) = {(len(output), len(source))}; "
            f"got {w.shape}"
        )
    if isinstance(cell, bool) or not isinstance(cell, int) or cell < 4:
        raise ValueError(f"cell must be an int >= 4 (pixels); got {cell!r}")
    fig = heatmap(
        w,
        [_axis_text(t) for t in source],
        [_axis_text(t) for t in output],
        title,
        xlabel="source character",
        ylabel="output",
        zmin=0.0,
        zmax=1.0,
        show_values=False,
    )
    fig.data[0].update(
        colorbar={"title": {"text": "α", "side": "right"}, "thickness": 12, "len": 1.0},
        hovertemplate="output %{customdata[0]}<br>source %{customdata[1]}<br>α = %{z:.3f}"
        "<extra></extra>",
    )
    fig.update_xaxes(tickangle=0, side="bottom")
    fig.update_layout(
        width=max(420, cell * len(source) + 190),
        height=max(260, cell * len(output) + 150),
        margin={"l": 80, "r": 30, "t": 60, "b": 60},
        title_font_size=15,
    )
    return fig


__all__ += ["alignment_heatmap"]


# --------------------------------------------------------------------------- notebook 09: training


_DASHBOARD_COLUMNS = ("step", "lr", "train_loss", "val_loss", "grad_norm")


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """The mean of the last ``window`` values at each position (fewer at the start)."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    n = np.arange(1, len(values) + 1)
    lo = np.maximum(n - window, 0)
    return (sums[n] - sums[lo]) / (n - lo)


def training_dashboard(
    history: pd.DataFrame,
    *,
    smooth: int = 50,
    grad_clip: float | None = None,
    title: str = "Training run",
) -> go.Figure:
    """A training run at a glance: three panels above each other, sharing the step axis.

    1. loss: the training loss of every step (faint), its moving average over the last
       ``smooth`` steps, and the validation loss where it was measured (markers);
    2. the learning rate ``lr_t`` of every step (the schedule);
    3. the gradient norm ‖g‖ before clipping, with the clipping threshold ``grad_clip``
       (dashed) when given: steps above the line were scaled down to it.

    ``history`` is a DataFrame with the columns ``step, lr, train_loss, val_loss, grad_norm``
    (what :meth:`labkit.train.Trainer.fit` returns); ``val_loss`` may be NaN between
    validations.
    """
    from plotly.subplots import make_subplots

    if not isinstance(history, pd.DataFrame):
        raise TypeError(f"history must be a pandas DataFrame; got {type(history).__name__}")
    missing = [c for c in _DASHBOARD_COLUMNS if c not in history.columns]
    if missing:
        raise ValueError(
            f"history must have the columns {list(_DASHBOARD_COLUMNS)}; missing {missing}"
        )
    if history.empty:
        raise ValueError("history must have at least one row (one training step)")
    if isinstance(smooth, bool) or not isinstance(smooth, int) or smooth < 1:
        raise ValueError(f"smooth must be an int >= 1 (steps); got {smooth!r}")
    if grad_clip is not None and (
        isinstance(grad_clip, bool) or not isinstance(grad_clip, Real) or not grad_clip > 0
    ):
        raise ValueError(f"grad_clip must be None or a number > 0; got {grad_clip!r}")
    _check_str("title", title)
    step = history["step"].to_numpy(dtype=float)
    train = history["train_loss"].to_numpy(dtype=float)
    val = history[["step", "val_loss"]].dropna()
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        row_heights=[0.56, 0.22, 0.22],
        subplot_titles=("loss (cross-entropy, nats)", "learning rate", "gradient norm ‖g‖"),
    )
    fig.add_trace(
        go.Scatter(
            x=step,
            y=train,
            mode="lines",
            name="train (each step)",
            line={"color": "#3b6ea8", "width": 1},
            opacity=0.3,
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=step,
            y=_moving_average(train, smooth),
            mode="lines",
            name=f"train (mean of {smooth} steps)" if smooth > 1 else "train",
            line={"color": "#3b6ea8", "width": 2},
        ),
        row=1,
        col=1,
    )
    if not val.empty:
        fig.add_trace(
            go.Scatter(
                x=val["step"].to_numpy(dtype=float),
                y=val["val_loss"].to_numpy(dtype=float),
                mode="lines+markers",
                name="validation",
                line={"color": "#d62728", "width": 2},
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=step,
            y=history["lr"].to_numpy(dtype=float),
            mode="lines",
            name="learning rate",
            line={"color": "#2ca02c", "width": 2},
            showlegend=False,
        ),
        row=2,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=step,
            y=history["grad_norm"].to_numpy(dtype=float),
            mode="lines",
            name="‖g‖",
            line={"color": "#9467bd", "width": 1},
            showlegend=False,
        ),
        row=3,
        col=1,
    )
    if grad_clip is not None:
        fig.add_hline(
            y=float(grad_clip),
            line_dash="dash",
            line_color="#444",
            row=3,
            col=1,
            annotation_text=f"clip at {grad_clip:g}",
            annotation_position="top right",
        )
    fig.update_xaxes(title_text="step", row=3, col=1)
    fig.update_yaxes(exponentformat="power", row=2, col=1)
    fig.update_layout(
        template=TEMPLATE,
        font=_FONT,
        title={"text": title, "x": 0.02, "xanchor": "left"},
        height=640,
        margin={"l": 70, "r": 30, "t": 90, "b": 60},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.04, "xanchor": "right", "x": 1.0},
    )
    return fig


__all__ += ["training_dashboard"]


# --------------------------------------------------------------------------- notebook 10: decoding


def next_token_bars(
    distributions: Mapping[str, Any],
    labels: Sequence[str],
    *,
    top_n: int = 15,
    title: str = "Next-token probabilities",
    xlabel: str = "next token",
    ylabel: str = "probability",
) -> go.Figure:
    """Several next-token distributions over the same vocabulary, as grouped bars.

    ``distributions`` ``{name: probabilities}`` (one value per entry of ``labels``, each in
    [0, 1]; e.g. ``softmax(z/τ)`` for a few temperatures, or after top-k / top-p filtering);
    ``labels`` names the tokens (characters show as in :func:`char_label`). The ``top_n`` tokens
    most likely under the *first* distribution are shown, most likely first, one group each.
    """
    if not isinstance(distributions, Mapping) or not distributions:
        raise TypeError(
            "distributions must be a non-empty dict {name: probabilities}; "
            f"got {type(distributions).__name__}"
        )
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise TypeError(f"labels must be a list of token strings; got {type(labels).__name__}")
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise ValueError(f"top_n must be an int >= 1; got {top_n!r}")
    probs = {}
    for name, values in distributions.items():
        p = _as_numbers(f"distributions[{name!r}]", values)
        if len(p) != len(labels):
            raise ValueError(
                f"distributions[{name!r}] must have one value per label ({len(labels)}); "
                f"got {len(p)}"
            )
        if not np.all((p >= 0) & (p <= 1)):
            raise ValueError(f"distributions[{name!r}] must hold probabilities in [0, 1]")
        probs[str(name)] = p
    first = next(iter(probs.values()))
    order = np.argsort(-first, kind="stable")[: min(top_n, len(labels))]
    shown = [char_label(labels[i]) if len(labels[i]) == 1 else str(labels[i]) for i in order]
    colours = ("#3b6ea8", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf")
    fig = go.Figure()
    for k, (name, p) in enumerate(probs.items()):
        fig.add_trace(
            go.Bar(x=shown, y=p[order], name=name, marker_color=colours[k % len(colours)])
        )
    _layout(fig, title, xlabel, ylabel)
    fig.update_layout(
        barmode="group",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
    )
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=shown, tickangle=0)
    return fig


__all__ += ["next_token_bars"]


# --------------------------------------------------------------------------------------------
# Notebook 11 (pretrained encoders): comparing classifiers
# --------------------------------------------------------------------------------------------


def accuracy_bars(
    accuracies: Mapping[str, float],
    *,
    chance: float | None = None,
    title: str = "Test accuracy",
) -> go.Figure:
    """One bar per model with its accuracy (a fraction in [0, 1], printed as a percentage),
    and a dashed line at ``chance`` (the accuracy of guessing, e.g. 1/3 for three balanced
    classes)."""
    if not isinstance(accuracies, Mapping) or not accuracies:
        raise TypeError(
            "accuracies must be a non-empty dict {model name: accuracy}; got "
            f"{type(accuracies).__name__}"
        )
    names, values = _labelled_values(list(accuracies), list(accuracies.values()))
    if not np.all((values >= 0) & (values <= 1)):
        raise ValueError(f"accuracies must be fractions in [0, 1]; got {values.tolist()}")
    if chance is not None and (
        isinstance(chance, bool) or not isinstance(chance, Real) or not 0 <= chance <= 1
    ):
        raise ValueError(f"chance must be None or a fraction in [0, 1]; got {chance!r}")
    fig = bar(names, values, title=title, ylabel="accuracy", text_format=".1%")
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    if chance is not None:
        fig.add_hline(
            y=chance,
            line_dash="dash",
            line_color="#888",
            annotation_text=f"chance {chance:.1%}",
            annotation_position="top left",
        )
    return fig


__all__ += ["accuracy_bars"]


# --------------------------------------------------------------------------- notebook 12: Llama


def rope_circles(
    head_dim: int = 64,
    base: float = 10000.0,
    positions: int = 24,
    pairs: Sequence[int] = (0, 4, 12),
    *,
    title: str = "RoPE: each coordinate pair turns by its own angle per position",
) -> go.Figure:
    """Where rotary position embeddings move the unit vector ``(1, 0)`` of a few coordinate pairs.

    Pair ``i`` (coordinates ``i`` and ``i + d/2``) is turned by ``t·θ_i`` at position ``t``, with
    ``θ_i = base^(−2i/d)``: one marker per position ``0 … positions − 1``, one trace per pair. Low
    pairs turn fast (they tell near positions apart), high pairs slowly (far ones).
    """
    for name, value in (("head_dim", head_dim), ("positions", positions)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}")
    if head_dim % 2:
        raise ValueError(f"head_dim must be even (coordinates turn in pairs); got {head_dim}")
    if isinstance(base, bool) or not isinstance(base, int | float) or base <= 1:
        raise ValueError(f"base must be a number > 1; got {base!r}")
    if isinstance(pairs, str) or not isinstance(pairs, Sequence) or not pairs:
        raise TypeError(f"pairs must be a non-empty list of pair indices; got {pairs!r}")
    for i in pairs:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < head_dim // 2:
            raise ValueError(f"pairs must hold ints in [0, {head_dim // 2}); got {i!r}")
    t = np.arange(positions)
    fig = go.Figure()
    for i in pairs:
        theta = base ** (-2 * i / head_dim)
        fig.add_trace(
            go.Scatter(
                x=np.cos(t * theta),
                y=np.sin(t * theta),
                mode="lines+markers+text",
                text=[str(p) if p in (0, 1, 2, positions - 1) else "" for p in t],
                textposition="top center",
                name=f"pair {i}: θ = {theta:.3g} rad/position",
            )
        )
    _layout(fig, title, "coordinate i", "coordinate i + d/2")
    fig.update_yaxes(scaleanchor="x", scaleratio=1, range=[-1.2, 1.2])
    fig.update_xaxes(range=[-1.2, 1.2])
    return fig


__all__ += ["rope_circles"]


# ----------------------------------------------------------------- notebook 13: adapting an LLM


def accuracy_intervals(
    rows: Mapping[str, Sequence[float]],
    *,
    chance: float | None = None,
    title: str = "Test accuracy with its 95 % interval",
) -> go.Figure:
    """One horizontal bar per model: ``rows`` ``{name: (accuracy, low, high)}``, fractions in
    [0, 1] with ``low ≤ accuracy ≤ high`` (e.g. a Wilson interval), drawn as an error bar; a dashed
    line at ``chance``. Two models whose intervals overlap widely are not shown apart by the data."""
    if not isinstance(rows, Mapping) or not rows:
        raise TypeError(
            f"rows must be a non-empty dict {{name: (accuracy, low, high)}}; got {type(rows).__name__}"
        )
    names, values = [], []
    for name, row in rows.items():
        triple = _as_numbers(f"rows[{name!r}]", row)
        if triple.shape != (3,):
            raise ValueError(f"rows[{name!r}] must be (accuracy, low, high); got {list(row)!r}")
        acc, low, high = triple
        if not 0 <= low <= acc <= high <= 1:
            raise ValueError(
                f"rows[{name!r}] must satisfy 0 ≤ low ≤ accuracy ≤ high ≤ 1; got {triple.tolist()}"
            )
        names.append(str(name))
        values.append(triple)
    bad_chance = isinstance(chance, bool) or not isinstance(chance, Real) or not 0 <= chance <= 1
    if chance is not None and bad_chance:
        raise ValueError(f"chance must be None or a fraction in [0, 1]; got {chance!r}")
    v = np.array(values)
    fig = go.Figure(
        go.Bar(
            x=v[:, 0],
            y=names,
            orientation="h",
            text=[f"{a:.1%}" for a in v[:, 0]],
            textposition="inside",
            insidetextanchor="start",  # at the bar's root, clear of the error bar at its tip
            error_x={"type": "data", "symmetric": False, "array": v[:, 2] - v[:, 0],
                     "arrayminus": v[:, 0] - v[:, 1]},
        )
    )
    _layout(fig, title, "accuracy", "")
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    fig.update_yaxes(autorange="reversed")
    if chance is not None:
        fig.add_vline(x=chance, line_dash="dash", line_color="#888", annotation_text=f"chance {chance:.1%}")
    return fig


__all__ += ["accuracy_intervals"]
