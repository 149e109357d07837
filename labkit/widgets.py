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


# --------------------------------------------------------------------------------------------
# Notebook 08 (the Transformer block and GPT): where a GPT's parameters and FLOPs go
# --------------------------------------------------------------------------------------------


def gpt_size_parts(
    n_layer: int, n_embd: int, vocab_size: int = 50257, block_size: int = 1024
) -> dict[str, dict[str, int]]:
    """The plain function behind ``gpt_size_explorer``: a GPT's parameters and training FLOPs
    per token, split by part (learned positions, biases, LM head tied to the embedding).

    With L = n_layer, d = n_embd, V = vocab_size, T = block_size:

    - parameters: token embedding ``V·d``, positions ``T·d``, attention ``L·(4d² + 4d)``,
      MLP ``L·(8d² + 5d)``, LayerNorms ``L·4d + 2d``; they add up to
      ``GPTConfig.param_count()``;
    - training FLOPs per token: ``6·N_blocks`` (every parameter of the blocks and final
      LayerNorm), ``6·V·d`` (the LM head), ``12·L·d·T`` (attention scores and their
      weighted sum); they add up to ``GPTConfig.flops_per_token()``.
    """
    from labkit.gpt import GPTConfig

    n_head = 1  # the head count changes neither the parameters nor the FLOPs
    config = GPTConfig(
        vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd
    )
    L, d, V, T = n_layer, n_embd, vocab_size, block_size
    params = {
        "token embedding V·d": V * d,
        "positions T·d": T * d,
        "attention L·(4d²+4d)": L * (4 * d * d + 4 * d),
        "MLP L·(8d²+5d)": L * (8 * d * d + 5 * d),
        "LayerNorms L·4d+2d": L * 4 * d + 2 * d,
    }
    flops = {
        "blocks 6·N_blocks": 6 * config.param_count(non_embedding=True),
        "LM head 6·V·d": 6 * V * d,
        "attention 12·L·d·T": 12 * L * d * T,
    }
    return {"parameters": params, "training FLOPs per token": flops}


def _si(n: float) -> str:
    """1234567 -> '1.23 M' (k, M, G, T)."""
    for size, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.3g}"


def gpt_size_figure(
    n_layer: int, n_embd: int, vocab_size: int = 50257, block_size: int = 1024
) -> go.Figure:
    """Two bar charts from ``gpt_size_parts``: where the parameters go (left) and where the
    training FLOPs per token go (right); the title gives both totals."""
    from plotly.subplots import make_subplots

    parts = gpt_size_parts(n_layer, n_embd, vocab_size, block_size)
    params, flops = parts["parameters"], parts["training FLOPs per token"]
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("parameters", "training FLOPs per token"),
        horizontal_spacing=0.28,
    )
    for col, values, colour in ((1, params, "#3b6ea8"), (2, flops, "#d9822b")):
        names = list(values)[::-1]  # first part on top
        fig.add_trace(
            go.Bar(
                x=[values[k] for k in names],
                y=names,
                orientation="h",
                marker_color=colour,
                text=[_si(values[k]) for k in names],
                textposition="outside",
                cliponaxis=False,
                showlegend=False,
                hovertemplate="%{y}: %{x:,}<extra></extra>",
            ),
            row=1,
            col=col,
        )
    title = (
        f"L = {n_layer}, d = {n_embd}, V = {vocab_size:,}, T = {block_size:,}: "
        f"{_si(sum(params.values()))} parameters, {_si(sum(flops.values()))} FLOPs per token (training)"
    )
    viz._layout(fig, title, "", "")
    fig.update_layout(height=360, margin={"l": 170, "r": 50, "t": 90, "b": 40})
    fig.update_yaxes(ticksuffix="  ")
    for col, values in ((1, params), (2, flops)):  # room for the numbers beside the bars
        fig.update_xaxes(range=[0, 1.3 * max(values.values())], row=1, col=col)
    return fig


def gpt_size_explorer(
    n_layer: int = 12, n_embd: int = 768, vocab_size: int = 50257, block_size: int = 1024
) -> Panel:
    """Sliders for ``n_layer`` and ``n_embd`` and drop-downs for the vocabulary and context,
    driving ``gpt_size_figure`` (default: GPT-2 small)."""
    gpt_size_parts(n_layer, n_embd, vocab_size, block_size)  # a bad value fails here, clearly
    vocabs = {"65 (characters)": 65, "50,257 (GPT-2 BPE)": 50257}
    if vocab_size not in vocabs.values():
        vocabs[f"{vocab_size:,}"] = vocab_size
    contexts = sorted({64, 256, 1024, 2048, block_size})
    return Panel(
        gpt_size_figure,
        n_layer=widgets.IntSlider(
            value=n_layer, min=1, max=max(48, n_layer), description="n_layer",
            continuous_update=False,
        ),
        n_embd=widgets.IntSlider(
            value=n_embd, min=64, max=max(2048, n_embd), step=64, description="n_embd",
            continuous_update=False,
        ),
        vocab_size=widgets.Dropdown(
            options=list(vocabs.items()), value=vocab_size, description="vocab"
        ),
        block_size=widgets.Dropdown(options=contexts, value=block_size, description="context T"),
    )


__all__ += ["gpt_size_explorer", "gpt_size_figure", "gpt_size_parts"]


# --------------------------------------------------------------------------------------------
# Notebook 07 (attention): which word attends to which, head by head
# --------------------------------------------------------------------------------------------


def word_vectors(words: list[str], d_model: int, seed: int = 0) -> Any:
    """A fixed random vector per distinct word, ``(len(words), d_model)``, entries ~ N(0, 1).

    A stand-in for learned word embeddings: the same word (and ``seed``) always gives the same
    vector, in any sentence, on any machine (the generator is seeded from the word's CRC-32)."""
    import zlib

    import torch

    if isinstance(words, str) or not all(isinstance(w, str) for w in words) or not words:
        raise TypeError(f"words must be a non-empty list of str; got {words!r}")
    if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model < 1:
        raise ValueError(f"d_model must be a positive int; got {d_model!r}")
    rows = []
    for w in words:
        gen = torch.Generator().manual_seed(zlib.crc32(w.encode("utf-8")) + 7919 * seed)
        rows.append(torch.randn(d_model, generator=gen))
    return torch.stack(rows)


def attention_weights(
    mha: Any, sentence: str, head: int = 0, causal: bool = False, seed: int = 0
) -> tuple[list[str], Any]:
    """The plain function behind ``attention_explorer``: the words of ``sentence`` (split on
    spaces) and head ``head``'s attention weights ``(T, T)`` when ``mha`` (a
    ``labkit.attention.MultiHeadAttention``) attends over their ``word_vectors``."""
    import torch

    from labkit.attention import MultiHeadAttention

    if not isinstance(mha, MultiHeadAttention):
        raise TypeError(f"mha must be a labkit MultiHeadAttention; got {type(mha).__name__}")
    words = sentence.split() if isinstance(sentence, str) else None
    if not words:
        raise ValueError(f"sentence must be a str with at least one word; got {sentence!r}")
    if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < mha.n_heads:
        raise ValueError(f"head must be an int in [0, {mha.n_heads}); got {head!r}")
    x = word_vectors(words, mha.d_model, seed)[None]  # (1, T, d_model)
    impl = mha.impl
    mha.impl = "reference"  # only the reference implementation forms the weights
    try:
        with torch.no_grad():
            _, w = mha(x, causal=causal, return_weights=True)
    finally:
        mha.impl = impl
    return words, w[0, head]


def attention_figure(
    mha: Any, sentence: str, head: int = 0, causal: bool = False, seed: int = 0
) -> go.Figure:
    """Heatmap of ``attention_weights(mha, sentence, head, causal, seed)``: row = query word,
    column = key word, each row sums to 1."""
    words, w = attention_weights(mha, sentence, head, causal, seed)
    return viz.heatmap(
        w,
        words,
        words,
        title=f"Head {head}{' (causal)' if causal else ''}: who attends to whom",
        xlabel="key (attended to)",
        ylabel="query (attending)",
        zmin=0.0,
        zmax=1.0,
    )


def attention_explorer(mha: Any, sentences: list[str], seed: int = 0) -> Panel:
    """Drop-downs for the sentence and the head, and a causal-mask switch, driving
    ``attention_figure``. ``panel.result`` is the figure."""
    if isinstance(sentences, str) or not sentences:
        raise TypeError("sentences must be a non-empty list of str")
    attention_weights(mha, sentences[0], 0, False, seed)  # fail here, with a clear message
    return Panel(
        lambda sentence, head, causal: attention_figure(mha, sentence, head, causal, seed),
        sentence=widgets.Dropdown(options=list(sentences), description="sentence"),
        head=widgets.Dropdown(options=list(range(mha.n_heads)), value=0, description="head"),
        causal=widgets.Checkbox(value=False, description="causal mask"),
    )


__all__ += ["attention_explorer", "attention_figure", "attention_weights", "word_vectors"]


# --------------------------------------------------------------------------- notebook 03: embeddings


def projection_figure(
    emb: Any, groups: Mapping[str, list[str]], chosen: tuple[str, ...] | list[str], extra: str = ""
) -> go.Figure:
    """The plain function behind ``projection_explorer``: a 3-D PCA of the chosen groups' words.

    ``emb`` is a ``labkit.embeddings.Embeddings``; ``groups`` maps a group name to its words;
    ``chosen`` names the groups to show; ``extra`` is more words, separated by spaces or
    commas (group "your words"). Words not in the vocabulary are skipped and named in the
    title. PCA is fitted to the words shown, so the axes change with the selection.
    """
    if not isinstance(groups, Mapping) or not groups:
        raise TypeError("groups must be a non-empty mapping {group name: [words]}")
    if isinstance(chosen, str):
        chosen = (chosen,)
    unknown = [g for g in chosen if g not in groups]
    if unknown:
        raise ValueError(f"chosen names groups {unknown} that are not in groups ({list(groups)})")
    if not isinstance(extra, str):
        raise TypeError(f"extra must be a str of words; got {type(extra).__name__}")
    wanted = [(w, g) for g in chosen for w in groups[g]]
    wanted += [(w, "your words") for w in extra.replace(",", " ").lower().split()]
    seen: set[str] = set()
    rows, skipped = [], []
    for w, g in wanted:
        if w in seen:
            continue
        seen.add(w)
        (rows if w in emb else skipped).append((w, g))
    if len(rows) < 4:
        raise ValueError(
            f"pick groups or words with at least 4 known words for a 3-D projection; got {[w for w, _ in rows]}"
        )
    points = emb.project([w for w, _ in rows], dims=3)
    points["group"] = [g for _, g in rows]
    title = f"{len(rows)} words, PCA to 3-D"
    if skipped:
        title += f" (not in the vocabulary: {', '.join(w for w, _ in skipped[:6])}{' …' if len(skipped) > 6 else ''})"
    return viz.embedding_scatter3d(points, title=title)


def projection_explorer(
    emb: Any, groups: Mapping[str, list[str]], chosen: tuple[str, ...] | None = None
) -> Panel:
    """Pick word groups (and type extra words) to see them in a rotatable 3-D PCA projection.

    Sits on ``projection_figure(emb, groups, chosen, extra)``.
    """
    if not isinstance(groups, Mapping) or not groups:
        raise TypeError("groups must be a non-empty mapping {group name: [words]}")
    chosen = tuple(groups)[:2] if chosen is None else tuple(chosen)
    picker = widgets.SelectMultiple(
        options=list(groups), value=chosen, description="groups", rows=min(6, len(groups))
    )
    extra = widgets.Text(
        value="", description="more words", placeholder="e.g. sword crown", continuous_update=False
    )
    return Panel(
        lambda chosen, extra: projection_figure(emb, groups, chosen, extra),
        chosen=picker,
        extra=extra,
    )


__all__ += ["projection_explorer", "projection_figure"]


def _lr_label(lr: float) -> str:
    return f"lr = {lr:g}"


def learning_rate_figure(curves: Mapping[float, Any], lr: float):
    """The plain function behind ``learning_rate_explorer``: the loss curves of runs that differ
    only in learning rate (``{lr: values}``), the run with learning rate ``lr`` highlighted."""
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError("curves must be a non-empty mapping {learning rate: loss values}")
    if lr not in curves:
        raise ValueError(f"lr must be one of the learning rates {sorted(curves)}; got {lr!r}")
    named = {_lr_label(k): v for k, v in sorted(curves.items())}
    return viz.highlight_curves(
        named,
        _lr_label(lr),
        title=f"Validation loss, {_lr_label(lr)} highlighted",
        ylabel="validation loss (nats, log scale)",
        log_y=True,  # a diverged run's loss is far above the others
    )


def learning_rate_explorer(curves: Mapping[float, Any], lr: float | None = None) -> Panel:
    """A slider over the learning rates of ``curves`` (``{lr: loss values}``, runs already
    trained) that highlights the chosen run's curve (see ``learning_rate_figure``)."""
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError("curves must be a non-empty mapping {learning rate: loss values}")
    rates = sorted(curves)
    if lr is None:
        lr = rates[len(rates) // 2]
    if lr not in curves:
        raise ValueError(f"lr must be one of the learning rates {rates}; got {lr!r}")
    slider = widgets.SelectionSlider(
        options=[(f"{r:g}", r) for r in rates],
        value=lr,
        description="lr",
        continuous_update=False,
    )
    return Panel(lambda lr: learning_rate_figure(curves, lr), lr=slider)


__all__ += ["learning_rate_explorer", "learning_rate_figure"]


# --------------------------------------------------------------------------- notebook 05: LSTM & GRU


def recurrent_gates(model: Any, vocab: Any, text: str, layer: int = 0) -> dict[str, Any]:
    """The plain function behind ``gate_explorer``: run the LSTM or GRU of ``model`` (a
    ``labkit.rnn.CharRNN``) over ``text`` (encoded with ``vocab``, a ``labkit.data.CharVocab``)
    and return each gate's activations at layer ``layer`` as a ``(T, H)`` tensor: ``i, f, g, o``
    and the cell state ``c`` for an LSTM, ``r, z, n`` for a GRU. Computed with the reference
    implementation (the fused kernel hides its gates) in eval mode; both are restored."""
    import torch

    from labkit.rnn import CharRNN

    if not isinstance(model, CharRNN) or model.config.cell not in ("lstm", "gru"):
        raise TypeError(
            f"model must be a labkit CharRNN with cell 'lstm' or 'gru'; got {type(model).__name__}"
            + (f" with cell {model.config.cell!r}" if isinstance(model, CharRNN) else "")
        )
    if not isinstance(text, str) or not text:
        raise ValueError(f"text must be a non-empty str; got {text!r}")
    L = model.config.num_layers
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < L:
        raise ValueError(f"layer must be an int in [0, {L}); got {layer!r}")
    missing = sorted({c for c in text if c not in vocab})
    if missing:
        raise ValueError(f"text has characters that are not in the vocabulary: {missing!r}")
    device = next(model.parameters()).device
    idx = vocab.encode(text, as_tensor=True).to(device)[None]  # (1, T)
    impl, was_training = model.impl, model.training
    model.impl = "reference"
    model.eval()
    try:
        with torch.no_grad():
            _, _, gates = model.rnn(model.embedding(idx), return_gates=True)
    finally:
        model.impl = impl
        model.train(was_training)
    return {name: g[layer, 0].cpu() for name, g in gates.items()}


GATE_TITLES = {
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate g",
    "o": "output gate o",
    "c": "cell state c",
    "r": "reset gate r",
    "z": "update gate z",
    "n": "candidate n",
}


def gate_figure(
    model: Any, vocab: Any, text: str, gate: str = "f", units: Any = None, layer: int = 0
) -> go.Figure:
    """Heatmap of one gate of ``recurrent_gates(model, vocab, text, layer)``: characters across,
    the chosen ``units`` (default: the first 16) down."""
    gates = recurrent_gates(model, vocab, text, layer)
    if gate not in gates:
        raise ValueError(f"gate must be one of {list(gates)}; got {gate!r}")
    values = gates[gate]
    if units is None:
        units = list(range(min(16, values.shape[1])))
    title = f"{GATE_TITLES.get(gate, gate)} of a {model.config.cell.upper()}, {len(units)} units"
    return viz.gate_heatmap(values, text, units=units, title=title)


def gate_explorer(model: Any, vocab: Any, lines: list[str], units: Any = None) -> Panel:
    """Drop-downs for the line of text and the gate, driving ``gate_figure``."""
    if isinstance(lines, str) or not lines or not all(isinstance(s, str) for s in lines):
        raise TypeError("lines must be a non-empty list of str")
    names = list(recurrent_gates(model, vocab, lines[0]))  # fail here, with a clear message
    return Panel(
        lambda line, gate: gate_figure(model, vocab, line, gate, units),
        line=widgets.Dropdown(options=list(lines), description="line"),
        gate=widgets.Dropdown(
            options=[(GATE_TITLES.get(n, n), n) for n in names],
            value="f" if "f" in names else "z",
            description="gate",
        ),
    )


__all__ += ["gate_explorer", "gate_figure", "recurrent_gates"]


# --------------------------------------------------------------------------------------------
# Notebook 06 (seq2seq + attention): type a date, see its translation and where it looked
# --------------------------------------------------------------------------------------------


def translate_with_attention(model: Any, text: str, max_len: int = 12) -> dict[str, Any]:
    """The plain function behind ``translation_explorer``: greedy-decode one date string with a
    trained ``labkit.seq2seq.Seq2Seq`` on the dates task, keeping the attention weights.

    Returns ``{"source": text (stripped), "translation": the output string, "tokens": the output
    tokens as strings (ending with "<eos>" when the model stopped), "weights": (len(tokens),
    len(source)) tensor or None for a model without attention}``. Characters the source
    vocabulary lacks raise a ``ValueError`` that names them.
    """
    import torch

    from labkit.dates import SRC_VOCAB, TGT_VOCAB

    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    text = text.strip()
    if not text:
        raise ValueError("text must hold a date, e.g. '28 November 2026'; got only spaces")
    device = next(model.parameters()).device
    src = torch.tensor([SRC_VOCAB.encode(text)], device=device)
    tokens, attn = model.greedy_decode(src, max_len=max_len)
    ids = tokens[0].tolist()
    if TGT_VOCAB.EOS in ids:
        ids = ids[: ids.index(TGT_VOCAB.EOS) + 1]
    names = [TGT_VOCAB.itos[i] for i in ids]
    weights = None if attn is None else attn[0, : len(ids)].cpu()
    return {
        "source": text,
        "translation": TGT_VOCAB.decode(ids),
        "tokens": names,
        "weights": weights,
    }


def translation_figure(model: Any, text: str, max_len: int = 12) -> go.Figure:
    """``translate_with_attention`` drawn as an alignment heatmap (``viz.alignment_heatmap``)
    titled "source → translation"."""
    import html

    result = translate_with_attention(model, text, max_len)
    if result["weights"] is None:
        raise ValueError("model has no attention (Seq2SeqConfig.attention='none'): nothing to draw")
    title = f"{html.escape(result['source'])}  →  {html.escape(result['translation'])}"
    return viz.alignment_heatmap(result["weights"], result["source"], result["tokens"], title=title)


def translation_explorer(model: Any, text: str = "the 28th of November, 2026") -> Panel:
    """A text box: type a date in any format, press Enter (or leave the box) and see the
    model's translation and its attention heatmap. A character the model cannot read shows a
    message instead of a figure."""
    from IPython.display import HTML

    translation_figure(model, text)  # a bad model or start text fails here, clearly

    def render(text: str) -> Any:
        try:
            return translation_figure(model, text)
        except ValueError as err:
            import html

            return HTML(f"<p style='color:#cf222e'>{html.escape(str(err))}</p>")

    box = widgets.Text(
        value=text,
        description="date",
        continuous_update=False,
        layout=widgets.Layout(width="420px"),
    )
    return Panel(render, text=box)


__all__ += ["translate_with_attention", "translation_explorer", "translation_figure"]


# --------------------------------------------------------------------------- notebook 04: RNN gradients


def rnn_cell_with_radius(
    radius: float, hidden_size: int = 32, input_size: int = 8, nonlinearity: str = "tanh", seed: int = 0
) -> Any:
    """A ``labkit.rnn.RNNCell`` whose ``W_hh`` is ``radius · Q`` for a random orthogonal ``Q``.

    Every singular value (and every eigenvalue's modulus) of ``W_hh`` is then exactly ``radius``,
    so ``radius`` is both its spectral radius and its largest singular value σ_max. The other
    weights keep torch's initialisation (seeded by ``seed``)."""
    import torch

    from labkit.rnn import RNNCell

    if isinstance(radius, bool) or not isinstance(radius, int | float) or not radius > 0:
        raise ValueError(f"radius must be a number > 0; got {radius!r}")
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():  # leave the global RNG as it was
        torch.manual_seed(seed)
        cell = RNNCell(input_size, hidden_size, nonlinearity=nonlinearity)
    q, r = torch.linalg.qr(torch.randn(hidden_size, hidden_size, generator=gen))
    q = q * torch.sign(torch.diagonal(r))  # a uniformly random orthogonal matrix
    with torch.no_grad():
        cell.weight_hh.copy_(radius * q)
    return cell


def rnn_gradient_norms(
    radius: float,
    seq_len: int = 51,
    hidden_size: int = 32,
    nonlinearity: str = "tanh",
    batch_size: int = 8,
    seed: int = 0,
) -> Any:
    """The plain function behind ``rnn_gradient_explorer``: ``g[k] = ‖∂L/∂h_{T−1−k}‖`` for
    ``k = 0 … seq_len − 1`` (``labkit.rnn.grad_norms_by_distance``) of
    ``rnn_cell_with_radius(radius, hidden_size, nonlinearity=nonlinearity, seed=seed)`` run
    over standard-normal inputs, with ``L = Σ h_{T−1}``."""
    import torch

    from labkit.rnn import grad_norms_by_distance

    cell = rnn_cell_with_radius(radius, hidden_size, nonlinearity=nonlinearity, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    return grad_norms_by_distance(cell, seq_len, batch_size, generator=gen)


def rnn_gradient_figure(
    radius: float, nonlinearity: str = "tanh", seq_len: int = 51, hidden_size: int = 32
) -> go.Figure:
    """``rnn_gradient_norms`` against the distance ``k`` on a log axis, with the bound
    ``g[0] · radius^k`` (σ_max(W_hh)^k; valid for tanh and ReLU, whose slopes are at most 1)."""
    import numpy as np

    g = rnn_gradient_norms(radius, seq_len, hidden_size, nonlinearity).double().numpy()
    k = np.arange(seq_len)
    with np.errstate(over="ignore", under="ignore"):
        bound = g[0] * float(radius) ** k
    overflow = not np.all(np.isfinite(g))  # a float32 gradient beyond ~3e38 becomes inf
    # 0 (underflow, dead ReLUs) has no log, and inf no place on the axis: leave both out
    g = np.where(np.isfinite(g) & (g > 0), g, np.nan)
    note = " (beyond float32: overflow)" if overflow else ""
    fig = viz.line_chart(
        k,
        {"measured ‖∂L/∂h_t‖": g, "bound ‖∂L/∂h_T‖ · σ_max^k": bound},
        title=f"{nonlinearity} RNN, σ_max(W_hh) = {radius:g}: the gradient up to {seq_len - 1} steps back{note}",
        xlabel="distance k = T − 1 − t (steps back in time)",
        ylabel="gradient norm",
        log_y=True,
        markers=False,
    )
    fig.data[1].line.dash = "dash"
    fig.update_yaxes(range=[-30, 30], dtick=5)  # fixed: the slider moves the curve, not the axis
    fig.update_layout(
        legend={"x": 0.02, "y": 0.02, "xanchor": "left", "yanchor": "bottom", "bgcolor": "rgba(255,255,255,0.8)"}
    )
    return fig


def rnn_gradient_explorer(radius: float = 1.0, seq_len: int = 51) -> Panel:
    """A slider for σ_max(W_hh) (the weight scale) and a drop-down for the nonlinearity, driving
    ``rnn_gradient_figure``."""
    radii = [0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 2.5, 3.0]
    if radius not in radii:
        raise ValueError(f"radius must be one of {radii}; got {radius!r}")
    return Panel(
        lambda radius, nonlinearity: rnn_gradient_figure(radius, nonlinearity, seq_len),
        radius=widgets.SelectionSlider(
            options=radii,
            value=radius,
            description="σ_max(W_hh)",
            continuous_update=False,
            style={"description_width": "initial"},
        ),
        nonlinearity=widgets.Dropdown(options=["tanh", "relu"], value="tanh", description="nonlinearity"),
    )


__all__ += ["rnn_cell_with_radius", "rnn_gradient_explorer", "rnn_gradient_figure", "rnn_gradient_norms"]


# --------------------------------------------------------------------------- notebook 10: generation playground


def _check_prompt(vocab: Any, prompt: Any) -> str:
    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"prompt must be a non-empty str; got {prompt!r}")
    unknown = [c for c in dict.fromkeys(prompt) if c not in vocab]
    if unknown:
        raise ValueError(f"prompt holds characters the model's vocabulary lacks: {unknown}")
    return prompt


def stream_text(
    model: Any,
    vocab: Any,
    prompt: str,
    max_new_tokens: int = 200,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    seed: int = 0,
) -> Any:
    """Yield the continuation of ``prompt`` as it grows, one token at a time: the plain function
    behind :func:`generation_playground`.

    The tokens come from :func:`labkit.generate.stream` with a ``torch.Generator`` seeded with
    ``seed`` on the model's device, so the same settings give the same text as
    ``generate.sample`` (``temperature=0`` is greedy; ``top_k``/``top_p`` ``None`` = off).
    ``vocab`` encodes and decodes text (a :class:`labkit.data.CharVocab`).
    """
    import torch

    from labkit import generate

    _check_prompt(vocab, prompt)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0; got {seed!r}")
    device = next(iter(model.parameters())).device
    idx = vocab.encode(prompt, as_tensor=True)[None].to(device)
    generator = torch.Generator(device).manual_seed(seed)
    tokens = generate.stream(
        model, idx, max_new_tokens, temperature, top_k, top_p, repetition_penalty, generator
    )
    new: list[int] = []
    for token in tokens:
        new.append(token)
        yield vocab.decode(new)


class GenerationPlayground:
    """Prompt, temperature, top-k, top-p, repetition penalty, length and seed controls, a
    Generate button and the text, which grows on screen token by token as it is sampled.

    ``playground.controls`` holds the controls by name; ``playground.generate()`` (what the
    button does, and what changing a control does) samples with their values, updates
    ``playground.output`` (an ``HTML`` widget) every ``update_every`` tokens and returns the
    continuation, also kept in ``playground.text``. top-k 0 and top-p 1 mean "off"; temperature
    0 is greedy. A prompt with characters the model does not know shows a message instead.
    Sliders and the prompt box report a change when released or left, not while they move.
    """

    def __init__(
        self,
        model: Any,
        vocab: Any,
        prompt: str = "ROMEO:\n",
        max_new_tokens: int = 300,
        temperature: float = 0.8,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
        update_every: int = 4,
    ) -> None:
        _check_prompt(vocab, prompt)
        if isinstance(update_every, bool) or not isinstance(update_every, int) or update_every < 1:
            raise ValueError(f"update_every must be an int >= 1; got {update_every!r}")
        self.model, self.vocab, self.update_every = model, vocab, update_every
        wide = {"description_width": "initial"}
        self.controls: dict[str, widgets.ValueWidget] = {
            "prompt": widgets.Textarea(
                value=prompt, description="prompt", layout=widgets.Layout(width="420px")
            ),
            "temperature": widgets.FloatSlider(
                value=temperature,
                min=0.0,
                max=2.0,
                step=0.05,
                description="temperature",
                style=wide,
            ),
            "top_k": widgets.IntSlider(
                value=top_k, min=0, max=len(vocab), description="top-k (0 = off)", style=wide
            ),
            "top_p": widgets.FloatSlider(
                value=top_p, min=0.05, max=1.0, step=0.05, description="top-p (1 = off)", style=wide
            ),
            "repetition_penalty": widgets.FloatSlider(
                value=1.0, min=1.0, max=2.0, step=0.05, description="repetition penalty", style=wide
            ),
            "max_new_tokens": widgets.IntSlider(
                value=max_new_tokens, min=10, max=2000, step=10, description="length", style=wide
            ),
            "seed": widgets.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed"),
        }
        for control in self.controls.values():
            control.continuous_update = False
            control.observe(lambda _change: self.generate(), names="value")
        self.button = widgets.Button(description="Generate", button_style="primary")
        self.button.on_click(lambda _button: self.generate())
        self.output = widgets.HTML()
        self.status = widgets.Label()
        self.text = ""
        area = widgets.Output()  # the text sits in an Output, like every Panel's result
        if _in_kernel():
            with area:
                display(self.output)
        c = self.controls
        self.widget = widgets.VBox(
            [
                widgets.HBox([c["prompt"], widgets.VBox([self.button, c["seed"]])]),
                widgets.HBox([c["temperature"], c["top_k"], c["top_p"]]),
                widgets.HBox([c["repetition_penalty"], c["max_new_tokens"]]),
                area,
                self.status,
            ]
        )

    def settings(self) -> dict[str, Any]:
        """The controls' values as :func:`stream_text` arguments (top-k 0 and top-p 1 → None)."""
        v = {name: control.value for name, control in self.controls.items()}
        v["top_k"] = v["top_k"] or None
        v["top_p"] = None if v["top_p"] >= 1.0 else v["top_p"]
        return v

    def _show(self, prompt: str, text: str) -> None:
        import html

        self.output.value = (
            "<pre style='white-space:pre-wrap; font-size:13px; line-height:1.35'>"
            f"<b>{html.escape(prompt)}</b>{html.escape(text)}</pre>"
        )

    def generate(self) -> str:
        """Sample a continuation with the current settings, showing it as it grows."""
        import html
        import time

        settings = self.settings()
        prompt = settings.pop("prompt")
        self.text = ""
        start = time.perf_counter()
        try:
            for n, text in enumerate(stream_text(self.model, self.vocab, prompt, **settings), 1):
                self.text = text
                if n % self.update_every == 0:
                    self._show(prompt, text)
        except ValueError as err:
            self.output.value = f"<p style='color:#cf222e'>{html.escape(str(err))}</p>"
            self.status.value = ""
            return self.text
        self._show(prompt, self.text)
        seconds = time.perf_counter() - start
        self.status.value = f"{len(self.text)} characters in {seconds:.1f} s ({len(self.text) / max(seconds, 1e-9):.0f}/s)"
        return self.text

    def _ipython_display_(self) -> None:
        display(self.widget)


def generation_playground(model: Any, vocab: Any, **settings: Any) -> GenerationPlayground:
    """A :class:`GenerationPlayground` for ``model`` and its ``vocab``; ``settings`` are the
    controls' starting values (``prompt``, ``temperature``, ``top_k``, ``top_p``,
    ``max_new_tokens``, ``seed``). Show it, then press Generate (or call ``.generate()``)."""
    return GenerationPlayground(model, vocab, **settings)


__all__ += ["GenerationPlayground", "generation_playground", "stream_text"]


# --------------------------------------------------------------------------- notebook 11: BERT


def bert_attention(model: Any, tokenizer: Any, sentence: str) -> tuple[list[str], Any]:
    """The plain function behind ``bert_attention_explorer``: the WordPiece tokens of
    ``sentence`` (with [CLS] and [SEP]) and every head's attention weights, a tensor of shape
    ``(layers, heads, T, T)`` (row = query token, column = key token; rows sum to 1), from a
    ``labkit.pretrained.bert.BertModel`` and its ``Tokenizer``."""
    import torch

    from labkit.pretrained.bert import BertModel, Tokenizer

    if not isinstance(model, BertModel):
        raise TypeError(f"model must be a labkit BertModel; got {type(model).__name__}")
    if not isinstance(tokenizer, Tokenizer):
        raise TypeError(
            f"tokenizer must be a labkit bert Tokenizer; got {type(tokenizer).__name__}"
        )
    if not isinstance(sentence, str) or not sentence.strip():
        raise ValueError(f"sentence must be a non-empty str; got {sentence!r}")
    batch = tokenizer([sentence])
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(**batch, output_attentions=True)
    finally:
        model.train(was_training)
    return tokenizer.tokenize(sentence), torch.stack([a[0] for a in out.attentions])


def bert_attention_figure(
    model: Any, tokenizer: Any, sentence: str, layer: int = 0, head: int = 0
) -> go.Figure:
    """Heatmap of one head's attention in one layer for ``sentence`` (see ``bert_attention``)."""
    tokens, weights = bert_attention(model, tokenizer, sentence)
    n_layers, n_heads = weights.shape[:2]
    for name, value, n in (("layer", layer, n_layers), ("head", head, n_heads)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
            raise ValueError(f"{name} must be an int in [0, {n}); got {value!r}")
    return viz.heatmap(
        weights[layer, head],
        tokens,
        tokens,
        title=f"Layer {layer}, head {head}: who attends to whom",
        xlabel="key (attended to)",
        ylabel="query (attending)",
        zmin=0.0,
        zmax=1.0,
    )


def bert_attention_explorer(
    model: Any, tokenizer: Any, sentences: list[str], layer: int = 0, head: int = 0
) -> Panel:
    """Drop-downs for the sentence, the layer and the head, driving ``bert_attention_figure``;
    it opens on ``layer`` and ``head``. ``panel.result`` is the figure."""
    if isinstance(sentences, str) or not sentences:
        raise TypeError("sentences must be a non-empty list of str")
    bert_attention_figure(model, tokenizer, sentences[0], layer, head)  # fail here, clearly
    n_layers, n_heads = model.config.num_hidden_layers, model.config.num_attention_heads
    return Panel(
        lambda sentence, layer, head: bert_attention_figure(
            model, tokenizer, sentence, layer, head
        ),
        sentence=widgets.Dropdown(options=list(sentences), description="sentence"),
        layer=widgets.Dropdown(options=list(range(n_layers)), value=layer, description="layer"),
        head=widgets.Dropdown(options=list(range(n_heads)), value=head, description="head"),
    )


def search_table(
    encoder: Any,
    corpus_embeddings: Any,
    lines: list[str],
    query: str,
    k: int = 5,
    sources: list[str] | None = None,
) -> Any:
    """The plain function behind ``semantic_search_explorer``: the ``k`` ``lines`` nearest to
    ``query`` by cosine similarity of their sentence embeddings, as a table (rank, cosine,
    line, and the line's source when ``sources`` is given)."""
    import pandas as pd

    from labkit.pretrained.bert import SentenceEncoder, semantic_search

    if not isinstance(encoder, SentenceEncoder):
        raise TypeError(f"encoder must be a SentenceEncoder; got {type(encoder).__name__}")
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"query must be a non-empty str; got {query!r}")
    if len(lines) != len(corpus_embeddings):
        raise ValueError(
            f"lines must have one line per row of corpus_embeddings ({len(corpus_embeddings)}); "
            f"got {len(lines)}"
        )
    if sources is not None and len(sources) != len(lines):
        raise ValueError(
            f"sources must name one source per line ({len(lines)}); got {len(sources)}"
        )
    scores, idx = semantic_search(encoder.encode([query]), corpus_embeddings, k)
    rows = {
        "rank": list(range(1, k + 1)),
        "cosine": [round(float(s), 3) for s in scores[0]],
        "line": [lines[i] for i in idx[0].tolist()],
    }
    if sources is not None:
        rows["source"] = [sources[i] for i in idx[0].tolist()]
    return pd.DataFrame(rows).set_index("rank")


def semantic_search_explorer(
    encoder: Any,
    corpus_embeddings: Any,
    lines: list[str],
    query: str = "I cannot sleep at night",
    k: int = 5,
    sources: list[str] | None = None,
) -> Panel:
    """A text box for the query and a slider for ``k``, driving ``search_table``; the table
    updates when you press Enter. ``panel.result`` is the table."""
    search_table(encoder, corpus_embeddings, lines, query, k, sources)  # fail here, clearly
    return Panel(
        lambda query, k: search_table(encoder, corpus_embeddings, lines, query, k, sources),
        query=widgets.Text(value=query, description="query", continuous_update=False),
        k=widgets.IntSlider(value=k, min=1, max=min(20, len(lines)), description="k"),
    )


__all__ += [
    "bert_attention",
    "bert_attention_explorer",
    "bert_attention_figure",
    "search_table",
    "semantic_search_explorer",
]


# --------------------------------------------------------------------------- notebook 12: chat


def _check_messages(history: Any) -> list[dict[str, str]]:
    if isinstance(history, str | Mapping) or not all(
        isinstance(m, Mapping)
        and isinstance(m.get("role"), str)
        and isinstance(m.get("content"), str)
        for m in history
    ):
        raise TypeError('history must be a list of {"role": str, "content": str} dicts')
    return [dict(m) for m in history]


def chat_reply(
    model: Any,
    tokenizer: Any,
    history: list[dict[str, str]],
    message: str,
    max_new_tokens: int = 128,
    temperature: float = 0.7,
    top_p: float | None = 0.9,
    seed: int = 0,
) -> Any:
    """Yield the assistant's reply to ``message`` as it grows, one token at a time: the plain
    function behind :func:`chat_panel`.

    The conversation so far (``history``, a list of ``{"role", "content"}`` messages) and the new
    user message go through the tokenizer's chat template; tokens come from
    :func:`labkit.generate.stream` (seeded with ``seed``; ``temperature=0`` is greedy,
    ``top_p=None`` or 1 is off) and stop at the end-of-turn token ``<|im_end|>``.
    """
    import torch

    from labkit import generate

    if not isinstance(message, str) or not message.strip():
        raise ValueError(f"message must be a non-empty string; got {message!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0; got {seed!r}")
    messages = [*_check_messages(history), {"role": "user", "content": message}]
    device = next(iter(model.parameters())).device
    idx = torch.tensor([tokenizer.encode(tokenizer.chat_prompt(messages))], device=device)
    generator = torch.Generator(device).manual_seed(seed)
    end = tokenizer.decode([tokenizer.eos_id])
    tokens = generate.stream(
        model,
        idx,
        max_new_tokens,
        temperature,
        top_p=None if top_p is None or top_p >= 1 else top_p,
        generator=generator,
        stop=end,
        decode=tokenizer.decode,
    )
    new: list[int] = []
    for token in tokens:
        new.append(token)
        yield tokenizer.decode(new)


class ChatPanel:
    """A chat with an instruct model: a message box, Send and Clear buttons, temperature, top-p,
    length and seed controls, and the transcript, where the reply grows token by token.

    ``chat.send("Hi!")`` (what Send does) streams a reply with the current settings, adds both
    turns to ``chat.history`` and returns the reply; ``chat.clear()`` starts over. The transcript
    is an ``HTML`` widget (``chat.output``), updated every ``update_every`` tokens.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        max_new_tokens: int = 128,
        temperature: float = 0.7,
        top_p: float = 0.9,
        seed: int = 0,
        update_every: int = 2,
    ) -> None:
        if isinstance(update_every, bool) or not isinstance(update_every, int) or update_every < 1:
            raise ValueError(f"update_every must be an int >= 1; got {update_every!r}")
        self.model, self.tokenizer, self.update_every = model, tokenizer, update_every
        self.history: list[dict[str, str]] = []
        wide = {"description_width": "initial"}
        self.message = widgets.Text(
            placeholder="Ask something and press Send", layout=widgets.Layout(width="420px")
        )
        self.controls: dict[str, widgets.ValueWidget] = {
            "temperature": widgets.FloatSlider(
                value=temperature,
                min=0.0,
                max=2.0,
                step=0.05,
                description="temperature",
                style=wide,
            ),
            "top_p": widgets.FloatSlider(
                value=top_p, min=0.05, max=1.0, step=0.05, description="top-p (1 = off)", style=wide
            ),
            "max_new_tokens": widgets.IntSlider(
                value=max_new_tokens, min=8, max=512, step=8, description="length", style=wide
            ),
            "seed": widgets.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed"),
        }
        send = widgets.Button(description="Send", button_style="primary")
        send.on_click(lambda _button: self.send())
        clear = widgets.Button(description="Clear")
        clear.on_click(lambda _button: self.clear())
        self.output = widgets.HTML()
        self.status = widgets.Label()
        c = self.controls
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.message, send, clear]),
                widgets.HBox([c["temperature"], c["top_p"]]),
                widgets.HBox([c["max_new_tokens"], c["seed"]]),
                self.output,
                self.status,
            ]
        )

    def _show(self, pending: str | None = None) -> None:
        import html

        turns = [*self.history]
        if pending is not None:
            turns.append({"role": "assistant", "content": pending + " ▌"})
        self.output.value = "".join(
            f"<p style='margin:4px 0'><b>{html.escape(m['role'])}:</b> "
            f"<span style='white-space:pre-wrap'>{html.escape(m['content'])}</span></p>"
            for m in turns
        )

    def send(self, message: str | None = None) -> str:
        """Reply to ``message`` (default: the message box), streaming; returns the reply."""
        import time

        message = self.message.value if message is None else message
        settings = {name: control.value for name, control in self.controls.items()}
        start, reply = time.perf_counter(), ""
        stream = chat_reply(self.model, self.tokenizer, self.history, message, **settings)
        self.history.append({"role": "user", "content": message})
        n = 0
        for n, reply in enumerate(stream, 1):
            if n % self.update_every == 0:
                self._show(reply)
        self.history.append({"role": "assistant", "content": reply})
        self.message.value = ""
        self._show()
        seconds = time.perf_counter() - start
        self.status.value = f"{n} tokens in {seconds:.1f} s ({n / max(seconds, 1e-9):.1f} tokens/s)"
        return reply

    def clear(self) -> None:
        """Forget the conversation."""
        self.history = []
        self._show()
        self.status.value = ""

    def _ipython_display_(self) -> None:
        display(self.widget)


def chat_panel(model: Any, tokenizer: Any, **settings: Any) -> ChatPanel:
    """A :class:`ChatPanel` for an instruct ``model`` and its ``tokenizer`` (with ``chat_prompt``,
    ``encode``, ``decode`` and ``eos_id``); ``settings`` are the controls' starting values."""
    return ChatPanel(model, tokenizer, **settings)


__all__ += ["ChatPanel", "chat_panel", "chat_reply"]
