"""A generated translation task: dates as people write them → ISO 8601.

    "Saturday, 28 November 2026"  →  "2026-11-28"
    "11/28/26"                    →  "2026-11-28"
    "the 28th of November, 2026"  →  "2026-11-28"

The task is small enough to learn on a CPU in minutes, yet it has what makes translation hard:
the output order differs from the input order (day-month-year → year-month-day), words map to
numbers ("November" → "11"), some input (the weekday) must be ignored, and the source length
varies. An attention model's alignment heatmap shows which source characters each output
character looked at.

Everything is generated from a seed — nothing to download — and deterministic: the same seed
gives the same examples on every machine (Python's ``random.Random``; month and day names are
English and written by this module, not by the locale-dependent ``strftime``).

**Formats** (:data:`FORMATS`): 18 patterns in a small strftime-like language — ``%A``/``%a``
weekday name/abbreviation, ``%B``/``%b`` month name/abbreviation, ``%d`` zero-padded day,
``%-d`` day without padding, ``{th}`` the day's ordinal suffix (st, nd, rd, th), ``%m`` month
``01``–``12``, ``%Y`` year, ``%y`` year's last two digits; plus a letter case. Every source
string belongs to exactly one calendar date (no "01/02/2026" that could be either January or
February: day-first and month-first numeric formats differ in separator or year length).

**Dates** run from 1969-01-01 to 2068-12-31, so that a two-digit year is unambiguous and agrees
with Python's ``%y`` rule (69–99 → 19xx, 00–68 → 20xx).

**Splits** (:func:`make_splits`): the calendar dates themselves are divided first — a seeded
shuffle of all 36,525 days, 80 % / 10 % / 10 % — and each split's examples are drawn only from
its own days. So the splits share no calendar date, and therefore no source string: a test
score measures dates the model has never seen in any format. Within a split, source strings
are distinct.

**Vocabularies**: characters, with three special tokens first — ``<pad>`` = 0, ``<bos>`` = 1,
``<eos>`` = 2 (:class:`Vocab`). :data:`SRC_VOCAB` holds every character any format can produce;
:data:`TGT_VOCAB` the digits and ``-``. The decoder reads ``<bos> + target`` and must predict
``target + <eos>`` (:func:`encode_pairs`), and :func:`make_batch_fn` serves such batches to the
:class:`~labkit.train.Trainer` as ``x = (src, src_lengths, tgt_in)``, ``y = tgt_out``.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

__all__ = [
    "FIRST_DATE",
    "FORMATS",
    "LAST_DATE",
    "SRC_VOCAB",
    "TGT_VOCAB",
    "DateFormat",
    "Vocab",
    "encode_pairs",
    "evaluate",
    "make_batch_fn",
    "make_dataset",
    "make_splits",
    "pad",
    "render",
    "translate",
]

FIRST_DATE = dt.date(1969, 1, 1)
LAST_DATE = dt.date(2068, 12, 31)

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def ordinal_suffix(day: int) -> str:
    """``1 → "st"``, ``2 → "nd"``, ``3 → "rd"``, ``4 → "th"``, …, ``11–13 → "th"``, ``21 → "st"``."""
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


@dataclass(frozen=True)
class DateFormat:
    """A way of writing a date: a ``pattern`` (see the module docstring) and a letter ``case``
    (``None`` as written, ``"lower"`` or ``"upper"``)."""

    name: str
    pattern: str
    case: str | None = None


FORMATS: tuple[DateFormat, ...] = (
    DateFormat("weekday_long", "%A, %-d %B %Y"),  # Saturday, 28 November 2026
    DateFormat("us_short", "%m/%d/%y"),  # 11/28/26
    DateFormat("abbr_dot_lower", "%-d %b. %Y", "lower"),  # 28 nov. 2026
    DateFormat("us_ordinal", "%B %-d{th}, %Y"),  # November 28th, 2026
    DateFormat("dotted_ymd", "%Y.%m.%d"),  # 2026.11.28
    DateFormat("dashed_dmy", "%d-%m-%Y"),  # 28-11-2026
    DateFormat("us_abbr", "%b %-d %Y"),  # Nov 28 2026
    DateFormat("dotted_dmy", "%d.%m.%Y"),  # 28.11.2026
    DateFormat("slashed_ymd", "%Y/%m/%d"),  # 2026/11/28
    DateFormat("weekday_abbr", "%a %-d %b %Y"),  # Sat 28 Nov 2026
    DateFormat("long", "%-d %B %Y"),  # 28 November 2026
    DateFormat("ordinal_of", "the %-d{th} of %B, %Y"),  # the 28th of November, 2026
    DateFormat("us_abbr_upper", "%b %-d, %Y", "upper"),  # NOV 28, 2026
    DateFormat("compact", "%Y%m%d"),  # 20261128
    DateFormat("us_weekday_long", "%A, %B %-d, %Y"),  # Saturday, November 28, 2026
    DateFormat("slashed_dmy", "%d/%m/%Y"),  # 28/11/2026
    DateFormat("iso", "%Y-%m-%d"),  # 2026-11-28
    DateFormat("abbr_short_year", "%-d %b %y"),  # 28 Nov 26
)

_FIELD = re.compile(r"%-d|%[AaBbdmYy]|\{th\}")


def render(date: dt.date, fmt: DateFormat | str) -> str:
    """Write ``date`` in format ``fmt`` (a :class:`DateFormat` or the name of one)."""
    if isinstance(fmt, str):
        fmt = _format(fmt)
    if not isinstance(fmt, DateFormat):
        raise TypeError(f"fmt must be a DateFormat or a format name, got {type(fmt).__name__}")
    if not isinstance(date, dt.date):
        raise TypeError(f"date must be a datetime.date, got {type(date).__name__}")
    weekday, month = WEEKDAYS[date.weekday()], MONTHS[date.month - 1]
    fields = {
        "%A": weekday,
        "%a": weekday[:3],
        "%B": month,
        "%b": month[:3],
        "%d": f"{date.day:02d}",
        "%-d": str(date.day),
        "%m": f"{date.month:02d}",
        "%Y": f"{date.year:04d}",
        "%y": f"{date.year % 100:02d}",
        "{th}": ordinal_suffix(date.day),
    }
    text = "".join(fields.get(piece, piece) for piece in _pieces(fmt.pattern))
    if fmt.case == "lower":
        return text.lower()
    if fmt.case == "upper":
        return text.upper()
    return text


@functools.cache
def _pieces(pattern: str) -> tuple[str, ...]:
    """``"%-d %B %Y"`` → ``("%-d", " ", "%B", " ", "%Y")``: fields and the literal text between."""
    return tuple(p for p in re.split(f"({_FIELD.pattern})", pattern) if p)


def _format(name: str) -> DateFormat:
    for f in FORMATS:
        if f.name == name:
            return f
    raise ValueError(f"fmt must name one of the formats {[f.name for f in FORMATS]}, got {name!r}")


def _all_dates() -> list[dt.date]:
    n = (LAST_DATE - FIRST_DATE).days + 1
    return [FIRST_DATE + dt.timedelta(days=i) for i in range(n)]


def _check_count(name: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{name} must be an int >= 0, got {n!r}")
    return n


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} ({seed!r})")
    return seed


def _draw(pool: Sequence[dt.date], n: int, rng: random.Random, what: str) -> list[tuple[str, str]]:
    """``n`` examples with distinct source strings: a random day of ``pool``, a random format."""
    most = len(pool) * len(FORMATS)
    if n > most // 2:  # leave room, so rejection sampling below finishes quickly
        raise ValueError(
            f"{what}: asked for {n} examples, but its {len(pool)} dates allow at most "
            f"{most // 2} (half of dates × formats)"
        )
    seen: set[str] = set()
    pairs = []
    while len(pairs) < n:
        date = pool[rng.randrange(len(pool))]
        src = render(date, FORMATS[rng.randrange(len(FORMATS))])
        if src in seen:
            continue
        seen.add(src)
        pairs.append((src, date.isoformat()))
    return pairs


def make_dataset(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` pairs ``(source, "YYYY-MM-DD")`` with distinct sources, from any date in the range.

    Deterministic: the same ``(n, seed)`` gives the same list. For train/val/test sets that share
    no date, use :func:`make_splits`.
    """
    n = _check_count("n", n)
    rng = random.Random(_check_seed(seed))
    return _draw(_all_dates(), n, rng, "make_dataset")


def make_splits(
    n_train: int,
    n_val: int,
    n_test: int,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """Train, val and test pairs drawn from *disjoint sets of calendar dates*.

    All days from :data:`FIRST_DATE` to :data:`LAST_DATE` are shuffled with ``seed`` and cut
    by ``fractions``; each split draws its examples (a day of its own, a random format) from its
    part only. No calendar date — hence no source string — appears in two splits.
    """
    sizes = [
        _check_count(name, n)
        for name, n in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test))
    ]
    rng = random.Random(_check_seed(seed))
    if (
        not isinstance(fractions, tuple | list)
        or len(fractions) != 3
        or any(isinstance(f, bool) or not isinstance(f, int | float) or f <= 0 for f in fractions)
        or abs(sum(fractions) - 1) > 1e-9
    ):
        raise ValueError(
            f"fractions must be three positive numbers that sum to 1, got {fractions!r}"
        )
    days = _all_dates()
    rng.shuffle(days)
    a = round(len(days) * fractions[0])
    b = a + round(len(days) * fractions[1])
    pools = (days[:a], days[a:b], days[b:])
    names = ("train", "val", "test")
    train, val, test = (
        _draw(pool, n, random.Random(f"{seed}-{name}"), f"make_splits {name}")
        for pool, n, name in zip(pools, sizes, names, strict=True)
    )
    return train, val, test


# ----------------------------------------------------------------------------- vocabularies


class Vocab:
    """Characters ↔ ids, with ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2 in front."""

    SPECIALS = ("<pad>", "<bos>", "<eos>")
    PAD, BOS, EOS = 0, 1, 2

    def __init__(self, chars: Sequence[str]) -> None:
        chars = list(chars)
        if not chars or any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("chars must be a non-empty sequence of single characters")
        if len(set(chars)) != len(chars):
            raise ValueError("chars must not repeat a character")
        self.itos: list[str] = [*self.SPECIALS, *chars]
        self.stoi: dict[str, int] = {c: i + len(self.SPECIALS) for i, c in enumerate(chars)}

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: 3 specials + {''.join(self.itos[3:])!r})"

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        """The ids of ``text``'s characters, optionally with ``<bos>`` first / ``<eos>`` last."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        bad = [c for c in text if c not in self.stoi]
        if bad:
            raise ValueError(
                f"text {text!r} contains {bad[0]!r}, which is not in this vocabulary "
                f"({''.join(self.itos[3:])!r})"
            )
        ids = [self.stoi[c] for c in text]
        return [self.BOS] * bos + ids + [self.EOS] * eos

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """The text of ``ids``: stops at the first ``<eos>``, leaves out ``<pad>`` and ``<bos>``."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        out = []
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(self):
                raise ValueError(f"ids must be ints in [0, {len(self)}), got {i!r}")
            if i == self.EOS:
                break
            if i >= len(self.SPECIALS):
                out.append(self.itos[i])
        return "".join(out)


def _source_chars() -> list[str]:
    """Every character some format writes for some date (fixed: not drawn from the data)."""
    chars: set[str] = set("0123456789")
    for month in range(1, 13):
        for day in (1, 2, 3, 4, 5, 6, 7, 11, 21, 22, 23):  # every weekday, every suffix
            for fmt in FORMATS:
                chars.update(render(dt.date(2026, month, day), fmt))
    return sorted(chars)


SRC_VOCAB = Vocab(_source_chars())
TGT_VOCAB = Vocab("-0123456789")


def pad(
    seqs: Sequence[Sequence[int]], pad_id: int = Vocab.PAD, length: int | None = None
) -> torch.Tensor:
    """Lists of ids → one ``(N, length)`` LongTensor, padded on the right with ``pad_id``
    (``length`` defaults to the longest list)."""
    longest = max((len(s) for s in seqs), default=0)
    length = longest if length is None else length
    if length < longest:
        raise ValueError(f"length must be >= the longest sequence ({longest}), got {length}")
    out = torch.full((len(seqs), length), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
    return out


def encode_pairs(
    pairs: Sequence[tuple[str, str]],
    src_vocab: Vocab = SRC_VOCAB,
    tgt_vocab: Vocab = TGT_VOCAB,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(src, src_lengths, tgt_in, tgt_out)`` for a list of ``(source, target)`` strings.

    ``src`` ``(N, S)`` padded source ids and ``src_lengths`` ``(N,)``; ``tgt_in`` =
    ``<bos> + target`` and ``tgt_out`` = ``target + <eos>``, both ``(N, T)`` and padded (pad
    positions of ``tgt_out`` are ignored by the loss).
    """
    if not isinstance(pairs, Sequence) or not pairs:
        raise ValueError("pairs must be a non-empty list of (source, target) strings")
    srcs = [src_vocab.encode(s) for s, _ in pairs]
    tgts = [tgt_vocab.encode(t) for _, t in pairs]
    src = pad(srcs, src_vocab.PAD)
    lengths = torch.tensor([len(s) for s in srcs], dtype=torch.long)
    tgt_in = pad([[tgt_vocab.BOS, *t] for t in tgts], tgt_vocab.PAD)
    tgt_out = pad([[*t, tgt_vocab.EOS] for t in tgts], tgt_vocab.PAD)
    return src, lengths, tgt_in, tgt_out


Batch = tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def make_batch_fn(
    train_pairs: Sequence[tuple[str, str]],
    val_pairs: Sequence[tuple[str, str]] | None,
    batch_size: int,
) -> Callable[[str, torch.Generator], Batch]:
    """A ``batch_fn(split, generator)`` for the Trainer: ``((src, src_lengths, tgt_in), tgt_out)``.

    Each call draws ``batch_size`` random examples of the split with the generator (so the
    Trainer's seed fixes the order) and trims the source padding to the batch's longest source.
    The Trainer calls ``model(src, src_lengths, tgt_in, tgt_out)``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    encoded = {"train": encode_pairs(train_pairs)}
    if val_pairs:
        encoded["val"] = encode_pairs(val_pairs)

    def batch_fn(split: str, generator: torch.Generator | None = None) -> Batch:
        if split == "val" and "val" not in encoded:
            raise ValueError(
                "make_batch_fn got no val_pairs, so it has no 'val' batches (the Trainer "
                "validates at eval_every and at the end: pass val_pairs)"
            )
        if split not in encoded:
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        src, lengths, tgt_in, tgt_out = encoded[split]
        rows = torch.randint(len(src), (batch_size,), generator=generator)
        lengths = lengths[rows]
        src = src[rows, : int(lengths.max())]
        return (src, lengths, tgt_in[rows]), tgt_out[rows]

    return batch_fn


# ------------------------------------------------------------------------ using a trained model


def translate(
    model: torch.nn.Module, texts: Sequence[str], max_len: int = 12, beam_width: int = 1
) -> list[str]:
    """Translate date strings with a trained :class:`~labkit.seq2seq.Seq2Seq` model.

    Greedy decoding (``beam_width=1``, batched) or beam search (one text at a time).
    """
    if isinstance(texts, str):
        texts = [texts]
    device = next(model.parameters()).device
    if beam_width == 1:
        src, lengths, _, _ = encode_pairs([(t, "") for t in texts])
        tokens, _ = model.greedy_decode(src.to(device), lengths.to(device), max_len=max_len)
        return [TGT_VOCAB.decode(row) for row in tokens]
    out = []
    for t in texts:
        src = torch.tensor([SRC_VOCAB.encode(t)], device=device)
        tokens, _ = model.beam_decode(src, beam_width=beam_width, max_len=max_len)
        out.append(TGT_VOCAB.decode(tokens))
    return out


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, pairs: Sequence[tuple[str, str]], batch_size: int = 512
) -> dict[str, float]:
    """Greedy-decoding scores on ``pairs``: ``exact`` (whole date right) and ``char`` (share of
    the 10 output characters right, position by position)."""
    exact = chars = 0
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        for guess, (_, want) in zip(translate(model, [s for s, _ in chunk]), chunk, strict=True):
            exact += guess == want
            chars += sum(a == b for a, b in zip(guess, want, strict=False))
    n = max(len(pairs), 1)
    return {"exact": exact / n, "char": chars / (10 * n)}
