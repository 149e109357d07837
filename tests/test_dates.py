"""labkit.dates: formats render as strftime would and parse back, deterministic data, disjoint
splits, vocabularies that round-trip, batches for the Trainer."""

import datetime as dt
import re

import pytest
import torch

from labkit import dates

SAMPLE_DATES = [
    dt.date(2026, 11, 28),
    dt.date(1969, 1, 1),
    dt.date(2068, 12, 31),
    dt.date(2000, 2, 29),
    dt.date(1999, 7, 2),
    dt.date(2011, 3, 3),
    dt.date(2012, 4, 11),
    dt.date(2013, 5, 12),
    dt.date(2014, 6, 13),
    dt.date(2015, 8, 21),
    dt.date(2016, 9, 22),
    dt.date(2017, 10, 23),
    dt.date(2019, 12, 9),
]


def _strftime_expectation(date: dt.date, fmt: dates.DateFormat) -> str:
    """What ``datetime.strftime`` writes for the format (C locale: English names)."""
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(date.day % 10, "th")
    if 11 <= date.day <= 13:
        suffix = "th"
    pattern = fmt.pattern.replace("%-d", str(date.day)).replace("{th}", suffix)
    text = date.strftime(pattern)
    return {"lower": text.lower(), "upper": text.upper()}.get(fmt.case, text)


def _parse(text: str, fmt: dates.DateFormat) -> dt.date | None:
    """Parse back with ``datetime.strptime`` (ordinal suffixes removed first)."""
    pattern = fmt.pattern.replace("%-d", "%d").replace("{th}", "")
    if "{th}" in fmt.pattern:
        text = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    try:
        return dt.datetime.strptime(text, pattern).date()
    except ValueError:
        return None


def test_there_are_many_formats_and_the_brief_examples():
    assert len(dates.FORMATS) >= 10
    assert len({f.name for f in dates.FORMATS}) == len(dates.FORMATS)
    d = dt.date(2026, 11, 28)
    written = {dates.render(d, f) for f in dates.FORMATS}
    for example in [
        "Saturday, 28 November 2026",
        "11/28/26",
        "28 nov. 2026",
        "November 28th, 2026",
        "2026.11.28",
        "28-11-2026",
        "Nov 28 2026",
    ]:
        assert example in written


@pytest.mark.parametrize("fmt", dates.FORMATS, ids=lambda f: f.name)
def test_each_format_renders_as_strftime_and_parses_back(fmt):
    for d in SAMPLE_DATES:
        text = dates.render(d, fmt)
        assert text == _strftime_expectation(d, fmt), (fmt.name, d)
        assert _parse(text, fmt) == d, (fmt.name, text)


def test_ordinal_suffixes():
    got = {d: dates.ordinal_suffix(d) for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 24, 30, 31)}
    assert got == {
        1: "st",
        2: "nd",
        3: "rd",
        4: "th",
        11: "th",
        12: "th",
        13: "th",
        21: "st",
        22: "nd",
        23: "rd",
        24: "th",
        30: "th",
        31: "st",
    }


def test_a_source_string_names_exactly_one_date():
    # whole years (leap and not, both ends of the two-digit-year window) in every format
    seen: dict[str, dt.date] = {}
    for year in (1969, 2000, 2012, 2068):
        day = dt.date(year, 1, 1)
        while day.year == year:
            for fmt in dates.FORMATS:
                assert seen.setdefault(dates.render(day, fmt), day) == day
            day += dt.timedelta(days=1)


def test_make_dataset_is_deterministic_and_every_pair_parses_to_its_target():
    a = dates.make_dataset(400, seed=3)
    assert a == dates.make_dataset(400, seed=3)
    assert a != dates.make_dataset(400, seed=4)
    assert len({s for s, _ in a}) == 400  # distinct sources
    for src, tgt in a:
        parsed = {p for f in dates.FORMATS if (p := _parse(src, f)) is not None}
        assert parsed == {dt.date.fromisoformat(tgt)}, src  # parses, and to one date only
        assert dates.FIRST_DATE <= dt.date.fromisoformat(tgt) <= dates.LAST_DATE


def test_splits_share_no_source_and_no_calendar_date():
    train, val, test = dates.make_splits(3000, 300, 300, seed=0)
    assert (len(train), len(val), len(test)) == (3000, 300, 300)
    assert (train, val, test) == dates.make_splits(3000, 300, 300, seed=0)
    for part in (train, val, test):
        assert len({s for s, _ in part}) == len(part)
    srcs = [{s for s, _ in part} for part in (train, val, test)]
    days = [{t for _, t in part} for part in (train, val, test)]
    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert not srcs[i] & srcs[j]
        assert not days[i] & days[j]
    with pytest.raises(ValueError, match="n_val must be an int >= 0"):
        dates.make_splits(10, -1, 10)
    with pytest.raises(ValueError, match="at most"):
        dates.make_splits(10, 10**6, 10)


def test_vocab_round_trip_and_specials():
    pairs = dates.make_dataset(300, seed=1)
    for src, tgt in pairs:
        assert dates.SRC_VOCAB.decode(dates.SRC_VOCAB.encode(src)) == src
        ids = dates.TGT_VOCAB.encode(tgt, bos=True, eos=True)
        assert ids[0] == dates.Vocab.BOS and ids[-1] == dates.Vocab.EOS
        assert dates.TGT_VOCAB.decode(ids + [0, 0]) == tgt
    v = dates.TGT_VOCAB
    assert v.itos[:3] == ["<pad>", "<bos>", "<eos>"] and len(v) == 3 + 11
    assert v.decode([4, 5, v.EOS, 6]) == v.itos[4] + v.itos[5]  # stops at <eos>
    with pytest.raises(ValueError, match="'x'"):
        v.encode("2026-x1")
    with pytest.raises(ValueError, match="ids must be ints in"):
        v.decode([99])


def test_encode_pairs_and_pad():
    pairs = [("11/28/26", "2026-11-28"), ("the 3rd of May, 1999", "1999-05-03")]
    src, lengths, tgt_in, tgt_out = dates.encode_pairs(pairs)
    assert src.shape == (2, 20) and lengths.tolist() == [8, 20]
    assert (src[0, 8:] == 0).all()
    assert tgt_in.shape == tgt_out.shape == (2, 11)
    assert (tgt_in[:, 0] == dates.Vocab.BOS).all() and (tgt_out[:, -1] == dates.Vocab.EOS).all()
    assert torch.equal(tgt_in[:, 1:], tgt_out[:, :-1])
    assert dates.pad([[1], [2, 3]], length=4).tolist() == [[1, 0, 0, 0], [2, 3, 0, 0]]
    with pytest.raises(ValueError, match="length must be"):
        dates.pad([[1, 2, 3]], length=2)


def test_batch_fn_serves_reproducible_trimmed_batches():
    train, val, _ = dates.make_splits(200, 50, 10, seed=2)
    fn = dates.make_batch_fn(train, val, batch_size=16)
    (src, lengths, tgt_in), tgt_out = fn("train", torch.Generator().manual_seed(0))
    (src2, *_), _ = fn("train", torch.Generator().manual_seed(0))
    assert torch.equal(src, src2)
    assert src.shape == (16, int(lengths.max())) and tgt_in.shape == tgt_out.shape == (16, 11)
    for row, n in zip(src, lengths, strict=True):
        text = dates.SRC_VOCAB.decode(row[:n])
        assert text in {s for s, _ in train} and (row[n:] == 0).all()
    (vsrc, _, _), _ = fn("val", torch.Generator().manual_seed(0))
    assert {dates.SRC_VOCAB.decode(r) for r in vsrc} <= {s for s, _ in val}
    with pytest.raises(ValueError, match="split must be .train. or .val."):
        fn("test", None)
