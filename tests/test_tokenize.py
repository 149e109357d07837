"""labkit.tokenize: char / word tokenizers and byte-level BPE against a naive reference."""

from __future__ import annotations

import doctest
import json
import re
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import labkit.tokenize as tokenize_module
from labkit.tokenize import GPT2_SPLIT_PATTERN, BPETokenizer, CharTokenizer, WordTokenizer

SAMPLE = """First Citizen:
Before we proceed any further, hear me speak.

All:
Speak, speak.

First Citizen:
You are all resolved rather to die than to famish?

All:
Resolved. resolved.

First Citizen:
First, you know Caius Marcius is chief enemy to the people.
"""
# text outside the training sample: accents, CJK, emoji (4-byte UTF-8), combining marks, tabs
UNSEEN = "Café naïve — 東京 🙂🚀 e\u0301 \t x_y  3.14\r\n"


def test_docstring_examples() -> None:
    assert doctest.testmod(tokenize_module).failed == 0


# ---------------------------------------------------------------------------------------------
# CharTokenizer
# ---------------------------------------------------------------------------------------------


def test_char_round_trip_and_vocab() -> None:
    tok = CharTokenizer().fit(SAMPLE)
    assert tok.itos == sorted(set(SAMPLE))
    assert tok.vocab_size == len(set(SAMPLE))
    ids = tok.encode(SAMPLE)
    assert len(ids) == len(SAMPLE)
    assert tok.decode(ids) == SAMPLE
    assert tok.train is not None and CharTokenizer().train(SAMPLE).itos == tok.itos


def test_char_unknown_is_an_error_naming_the_character() -> None:
    tok = CharTokenizer().fit("abc")
    with pytest.raises(ValueError, match=r"'z'.*position 1.*unk_token"):
        tok.encode("az")


def test_char_unk_token_option() -> None:
    tok = CharTokenizer(unk_token="<unk>").fit("abc")
    assert tok.unk_id == 0 and tok.itos[0] == "<unk>" and tok.vocab_size == 4
    assert tok.encode("azb") == [1, 0, 2]
    assert tok.decode(tok.encode("azb")) == "a<unk>b"


def test_char_bad_inputs() -> None:
    with pytest.raises(TypeError, match="text must be a str, got int"):
        CharTokenizer().fit(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="text must be non-empty"):
        CharTokenizer().fit("")
    with pytest.raises(ValueError, match="call fit"):
        CharTokenizer().encode("a")
    tok = CharTokenizer().fit("ab")
    with pytest.raises(ValueError, match=r"ids\[1\] must be a token id in \[0, 2\), got 7"):
        tok.decode([0, 7])
    with pytest.raises(TypeError, match=r"ids\[0\] must be an int, got float"):
        tok.decode([0.0])
    with pytest.raises(TypeError, match="ids must be a sequence of ints, got str"):
        tok.decode("ab")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unk_token must be a str"):
        CharTokenizer(unk_token=1)  # type: ignore[arg-type]


@given(st.text(min_size=1, max_size=200))
def test_char_round_trip_property(text: str) -> None:
    tok = CharTokenizer().fit(text)
    assert tok.decode(tok.encode(text)) == text


# ---------------------------------------------------------------------------------------------
# WordTokenizer
# ---------------------------------------------------------------------------------------------


def test_word_split_rules() -> None:
    tok = WordTokenizer()
    assert tok.split("Don't  stop,\nit's 3.14 or 1,000 (x_y)!") == [
        "Don't",
        "stop",
        ",",
        "it's",
        "3.14",
        "or",
        "1,000",
        "(",
        "x",
        "_",
        "y",
        ")",
        "!",
    ]
    assert WordTokenizer(lower=True).split("The THE the") == ["the", "the", "the"]


def test_word_vocab_min_freq_order_and_unk() -> None:
    tok = WordTokenizer(min_freq=2).fit("b a b a c b .")
    assert tok.itos == ["<unk>", "b", "a"]  # by frequency, then alphabetical; c and . dropped
    assert tok.counts["c"] == 1
    assert tok.encode("a c b zebra") == [2, 0, 1, 0]
    assert tok.vocab_size == 3
    assert WordTokenizer(max_size=2).fit("b a b a c").itos == [
        "<unk>",
        "a",
    ]  # tie a/b: alphabetical


def test_word_decode_joins_sensibly() -> None:
    text = "Speak, speak. ( Really ) yes!"
    tok = WordTokenizer().fit(text)
    assert tok.decode(tok.encode("Speak,   speak.\n(Really) yes!")) == "Speak, speak. (Really) yes!"
    # whitespace is not restored exactly: documented
    assert tok.decode(tok.encode("yes\n\nyes")) == "yes yes"


def test_word_bad_inputs() -> None:
    with pytest.raises(ValueError, match="min_freq must be >= 1, got 0"):
        WordTokenizer(min_freq=0)
    with pytest.raises(TypeError, match="min_freq must be an int, got float"):
        WordTokenizer(min_freq=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="lower must be a bool"):
        WordTokenizer(lower="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no words"):
        WordTokenizer().fit("   \n")
    with pytest.raises(TypeError, match="text must be a str, got bytes"):
        WordTokenizer().fit(b"abc")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# BPE: a naive reference written the straightforward way (recount every pair at every step)
# ---------------------------------------------------------------------------------------------


def naive_merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def naive_train(text: str, vocab_size: int) -> tuple[list[tuple[int, int]], list[list[int]]]:
    """Every chunk occurrence separately, every pair recounted at every step; ties -> smallest pair."""
    chunks = [list(c.encode("utf-8")) for c in re.findall(GPT2_SPLIT_PATTERN, text)]
    merges = []
    for new_id in range(256, vocab_size):
        counts = Counter(p for ids in chunks for p in pairwise(ids))
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        merges.append(pair)
        chunks = [naive_merge(ids, pair, new_id) for ids in chunks]
    return merges, chunks


def naive_encode(text: str, merges: list[tuple[int, int]]) -> list[int]:
    """Replay the merges in training order on each chunk."""
    out = []
    for chunk in re.findall(GPT2_SPLIT_PATTERN, text):
        ids = list(chunk.encode("utf-8"))
        for i, pair in enumerate(merges):
            ids = naive_merge(ids, pair, 256 + i)
        out.extend(ids)
    return out


def test_bpe_matches_naive_reference_on_shakespeare() -> None:
    text = SAMPLE * 3 + "the thee them theme there, thereby!"
    tok = BPETokenizer().train(text, vocab_size=256 + 60)
    merges, chunks = naive_train(text, 256 + 60)
    assert [pair for pair, _ in tok.merges] == merges
    assert [new for _, new in tok.merges] == list(range(256, 316))
    assert tok.encode(text) == [t for ids in chunks for t in ids]
    for s in (SAMPLE, UNSEEN, "the theme thereby"):
        assert tok.encode(s) == naive_encode(s, merges)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet="ab c\né", min_size=0, max_size=60), extra=st.integers(0, 25))
def test_bpe_matches_naive_reference_property(text: str, extra: int) -> None:
    # a tiny alphabet makes ties and repeated symbols ("aaaa") common: the hard cases
    tok = BPETokenizer().train(text, vocab_size=256 + extra)
    merges, chunks = naive_train(text, 256 + extra)
    assert [pair for pair, _ in tok.merges] == merges
    assert tok.encode(text) == [t for ids in chunks for t in ids]
    assert tok.encode("abba cab aaa é") == naive_encode("abba cab aaa é", merges)


def test_bpe_tie_breaking_is_smallest_pair() -> None:
    # every pair occurs once: the smallest (a, b) by id wins, then again among the rest
    tok = BPETokenizer().train("dcba", vocab_size=258)
    assert [pair for pair, _ in tok.merges] == [(98, 97), (99, 256)]  # "ba", then "c"+"ba"
    assert tok.merge_counts == [1, 1]
    again = BPETokenizer().train("dcba", vocab_size=258)
    assert again == tok


def test_bpe_stops_when_nothing_is_left_to_merge() -> None:
    tok = BPETokenizer().train("ab", vocab_size=1000)
    assert tok.vocab_size == 257 and tok.token_bytes(256) == b"ab"


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_bpe_round_trip_for_any_string(text: str) -> None:
    assert TRAINED.decode(TRAINED.encode(text)) == text


TRAINED = BPETokenizer().train(SAMPLE * 2 + UNSEEN[:5], vocab_size=256 + 80)


def test_bpe_round_trip_unseen_characters() -> None:
    ids = TRAINED.encode(UNSEEN)
    assert all(0 <= i < TRAINED.vocab_size for i in ids)
    assert TRAINED.decode(ids) == UNSEEN
    assert BPETokenizer().decode(BPETokenizer().encode(UNSEEN)) == UNSEEN  # no merges at all


@given(st.text(), st.sampled_from([GPT2_SPLIT_PATTERN, r"a+", r"\s+", r"[^\W\d_]+"]))
def test_split_is_a_partition(text: str, pattern: str) -> None:
    chunks = BPETokenizer(pattern=pattern).split(text)
    assert "".join(chunks) == text and all(chunks)


def test_gpt2_pattern_chunks() -> None:
    assert BPETokenizer().split("Hello world's  3.14!! _x\n") == [
        "Hello",
        " world",
        "'s",
        " ",
        " 3",
        ".",
        "14",
        "!!",
        " _",
        "x",
        "\n",
    ]


def test_bpe_merges_do_not_cross_words() -> None:
    tok = BPETokenizer().train("ab ab ab ab", vocab_size=300)
    assert all(b" " not in tok.token_bytes(i)[1:] for i in range(tok.vocab_size))
    # without pre-splitting the whole text is one chunk and merges may span spaces
    whole = BPETokenizer(pattern=None).train("ab ab ab ab", vocab_size=300)
    assert any(b" " in whole.token_bytes(i)[1:] for i in range(256, whole.vocab_size))
    assert whole.decode(whole.encode("ab ab x")) == "ab ab x"


def test_bpe_inspection_helpers() -> None:
    tok = BPETokenizer().train("café café café", vocab_size=262)
    table = tok.merge_table()
    assert len(table) == len(tok.merges) == tok.vocab_size - 256
    for row in table:
        a, b = row["pair"]
        assert tok.token_bytes(row["new_id"]) == tok.token_bytes(a) + tok.token_bytes(b)
        assert row["count"] >= 1
    assert tok.token_str(0xC3) == "\\xc3"  # first byte of "é" alone
    assert "".join(tok.tokenize(" café")) == " café"
    assert tok.token_str(ord("a")) == "a"


def test_bpe_save_load_round_trip(tmp_path: Path) -> None:
    path = TRAINED.save(tmp_path / "sub" / "bpe.json")
    assert [p.name for p in path.parent.iterdir()] == ["bpe.json"]  # no temp file left behind
    loaded = BPETokenizer.load(path)
    assert loaded == TRAINED
    assert loaded.merge_counts == TRAINED.merge_counts
    assert loaded.encode(SAMPLE + UNSEEN) == TRAINED.encode(SAMPLE + UNSEEN)
    custom = BPETokenizer(pattern=r"\w+").train("ab ab", vocab_size=257)
    assert BPETokenizer.load(custom.save(tmp_path / "c.json")).pattern == r"\w+"


def test_bpe_load_rejects_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        BPETokenizer.load(bad)
    bad.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="format"):
        BPETokenizer.load(bad)
    d = TRAINED.to_dict()
    d["merges"][3] = [0, 999]  # refers to a token that does not exist yet
    bad.write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"merges\[3\] must be a pair of token ids below 259"):
        BPETokenizer.load(bad)


def test_bpe_bad_inputs() -> None:
    with pytest.raises(ValueError, match="vocab_size must be >= 256, got 255"):
        BPETokenizer().train("abc", vocab_size=255)
    with pytest.raises(TypeError, match="vocab_size must be an int, got float"):
        BPETokenizer().train("abc", vocab_size=300.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="text must be a str, got bytes"):
        BPETokenizer().train(b"abc", vocab_size=300)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="text must be a str, got list"):
        TRAINED.encode(["a"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lone surrogate"):
        TRAINED.encode("a\ud800")
    with pytest.raises(ValueError, match=r"ids\[0\] must be a token id in \[0, 336\), got 336"):
        TRAINED.decode([336])
    with pytest.raises(ValueError, match="pattern is not a valid regex"):
        BPETokenizer(pattern="(")
    with pytest.raises(TypeError, match="path must be a str or PathLike"):
        TRAINED.save(3)  # type: ignore[arg-type]


@given(st.one_of(st.integers(max_value=255), st.floats(), st.text(), st.none()))
def test_bpe_vocab_size_validation_property(value: object) -> None:
    with pytest.raises((TypeError, ValueError), match="vocab_size"):
        BPETokenizer().train("abc", vocab_size=value)  # type: ignore[arg-type]


def test_bpe_on_real_text_round_trips_and_compresses() -> None:
    from labkit import data

    text = data.load_text()[:200_000]  # the default corpus (make test fetches it first)
    tok = BPETokenizer().train(text, vocab_size=256 + 300)
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert len(text.encode()) / len(ids) > 2.0  # compresses well beyond one byte per token
