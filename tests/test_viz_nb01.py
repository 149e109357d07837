"""The viz and widgets functions added for notebook 01 (NLP basics): token_label, tokens_html,
rank_frequency, vocab_tradeoff, widgets.tokenize_all and widgets.tokenizer_explorer."""

import html

import numpy as np
import plotly.graph_objects as go
import pytest

from labkit import tokenize, viz, widgets

TEXT = "the cat sat on the mat. the cat ate the rat."


@pytest.fixture(scope="module")
def tokenizers():
    return {
        "characters": tokenize.CharTokenizer(unk_token="<unk>").fit(TEXT),
        "words": tokenize.WordTokenizer().fit(TEXT),
        "BPE": tokenize.BPETokenizer().train(TEXT * 3, vocab_size=270),
    }


def test_token_label_makes_whitespace_visible():
    assert viz.token_label(" the") == "␣the"
    assert viz.token_label("a\nb\tc") == "a⏎b⇥c"
    assert viz.token_label("é<") == "é<"
    with pytest.raises(TypeError, match="token must be a str"):
        viz.token_label(3)


def test_tokens_html_one_row_per_tokenizer_escaped():
    out = viz.tokens_html({"A": ["<b>", " x"], "B & C": ["y"], "empty": []})
    assert out.startswith("<table") and out.endswith("</table>")
    assert out.count("<tr") == 3
    assert "&lt;b&gt;" in out and "<b><b>" not in out  # tokens are escaped
    assert "B &amp; C" in out  # names too
    assert "␣x" in out
    assert "2 tokens" in out and "1 token<" in out and "0 tokens" in out
    assert out.count("<span") == 3
    # neighbouring tokens get different colours; <unk> stands out
    spans = viz.tokens_html({"t": ["a", "b", "<unk>"]}).split("<span")[1:]
    colours = [s.split("background:")[1].split(";")[0] for s in spans]
    assert colours[0] != colours[1] and colours[2] == "#ffb3b3"
    assert html.escape("<unk>") in spans[2]


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([["a"]], "rows must be a dict"),
        ({"a": "abc"}, r"rows\['a'\] must be a list"),
        ({"a": ["x", 1]}, r"rows\['a'\]\[1\] must be a str"),
    ],
)
def test_tokens_html_rejects_bad_input(rows, match):
    with pytest.raises(TypeError, match=match):
        viz.tokens_html(rows)


def test_rank_frequency_sorts_counts_and_draws_the_fit():
    counts = {"b": 10, "a": 100, "c": 1, "d": 5}
    fig = viz.rank_frequency(counts, fit=(-1.0, np.log(100)), fit_ranks=(1, 4))
    assert isinstance(fig, go.Figure)
    data, line = fig.data
    assert list(data.x) == [1, 2, 3, 4] and list(data.y) == [100, 10, 5, 1]
    assert list(data.text) == ["a", "b", "d", "c"]  # words on hover, in rank order
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert line.x[0] == 1 and np.isclose(line.x[-1], 4)
    assert np.allclose(line.y, 100 / np.asarray(line.x))  # f = e^intercept * r^slope
    assert "slope -1.00" in line.name
    # a plain sequence of counts works too, and no fit means one trace
    fig = viz.rank_frequency([3, 9, 1])
    assert len(fig.data) == 1 and list(fig.data[0].y) == [9, 3, 1] and fig.data[0].text is None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"counts": []}, ValueError, "must not be empty"),
        ({"counts": [3, 0]}, ValueError, "must all be > 0"),
        ({"counts": [3, 2], "fit": (1.0,)}, TypeError, "fit must be"),
        ({"counts": [3, 2], "fit": (-1.0, 1.0), "fit_ranks": (5, 2)}, ValueError, "fit_ranks"),
        ({"counts": "abc"}, TypeError, "counts must be a sequence"),
    ],
)
def test_rank_frequency_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        viz.rank_frequency(**kwargs)


def test_vocab_tradeoff_line_and_reference_points():
    fig = viz.vocab_tradeoff(
        [256, 512, 1024],
        np.array([1.0, 0.6, 0.45]),
        references={"chars": (83, 1.0), "words": (30000, 0.23)},
    )
    bpe, chars, words = fig.data
    assert list(bpe.x) == [256, 512, 1024] and np.allclose(bpe.y, [1.0, 0.6, 0.45])
    assert chars.name == "chars" and list(chars.x) == [83] and list(words.y) == [0.23]
    assert fig.layout.xaxis.type == "log"
    assert fig.layout.yaxis.title.text == "tokens per character"
    assert len(viz.vocab_tradeoff([256], [1.0]).data) == 1


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([256, 512], [1.0]), {}, "same length"),
        (([], []), {}, "non-empty"),
        (([0, 512], [1.0, 0.5]), {}, "must all be > 0"),
        (([256], [1.0]), {"references": {"w": (1, 2, 3)}}, "must be \\(vocab_size"),
    ],
)
def test_vocab_tradeoff_rejects_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.vocab_tradeoff(*args, **kwargs)


def test_tokenize_all_matches_each_tokenizer(tokenizers):
    text = "the dog sat."
    out = widgets.tokenize_all(text, tokenizers)
    assert list(out) == ["characters", "words", "BPE"]
    assert out["characters"] == ["t", "h", "e", " ", "<unk>", "o", "<unk>", " ", "s", "a", "t", "."]
    assert out["words"] == ["the", "<unk>", "sat", "."]  # "dog" was never seen
    assert out["BPE"] == tokenizers["BPE"].tokenize(text)
    assert "".join(out["BPE"]) == text  # BPE loses nothing
    assert widgets.tokenize_all("", tokenizers) == {"characters": [], "words": [], "BPE": []}


def test_tokenize_all_rejects_bad_input(tokenizers):
    with pytest.raises(TypeError, match="text must be a str"):
        widgets.tokenize_all(None, tokenizers)
    with pytest.raises(TypeError, match="non-empty dict"):
        widgets.tokenize_all("x", {})
    with pytest.raises(TypeError, match=r"tokenizers\['x'\] must have tokenize"):
        widgets.tokenize_all("x", {"x": object()})


def test_tokenizer_explorer_redraws_when_the_text_changes(tokenizers):
    panel = widgets.tokenizer_explorer(tokenizers, "the cat")
    assert isinstance(panel, widgets.Panel)
    first = panel.result.data
    assert first == viz.tokens_html(widgets.tokenize_all("the cat", tokenizers))
    panel.controls["text"].value = "the rat ate."  # what typing in the box does
    assert panel.result.data == viz.tokens_html(widgets.tokenize_all("the rat ate.", tokenizers))
    assert panel.result.data != first
    with pytest.raises(TypeError, match="non-empty dict"):
        widgets.tokenizer_explorer({}, "x")
