"""Text → tokens → ids, three ways: characters, words, and byte-level BPE.

A language model never sees text, only integer ids. A *tokenizer* fixes the alphabet of those
ids and the two maps between text and ids::

    encode: str -> list[int]        decode: list[int] -> str

Three classic choices, from smallest to most practical vocabulary:

- ``CharTokenizer``: one id per distinct character. Tiny vocabulary, long sequences.
- ``WordTokenizer``: one id per word (split by a regular expression), rare words become
  ``<unk>``. Short sequences, huge vocabulary, and an out-of-vocabulary problem.
- ``BPETokenizer``: byte-level byte-pair encoding (Sennrich et al. 2016; the byte-level variant
  of GPT-2, Radford et al. 2019). Start from the 256 byte values and repeatedly *merge the most
  frequent adjacent pair* into a new token. Any string can be encoded (every string is bytes),
  so ``decode(encode(s)) == s`` holds for every string, even for characters never seen in
  training, and frequent words become single tokens.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import operator
import os
import re
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

__all__ = [
    "GPT2_SPLIT_PATTERN",
    "WORD_PATTERN",
    "BPETokenizer",
    "CharTokenizer",
    "WordTokenizer",
]


# --------------------------------------------------------------------------------------------
# input checks shared by the three tokenizers
# --------------------------------------------------------------------------------------------


def _check_str(where: str, name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(
            f"{where}: {name} must be a str, got {type(value).__name__} ({value!r:.60})"
        )
    return value


def _check_ids(where: str, name: str, ids: Any, vocab_size: int) -> list[int]:
    """Check that ``ids`` is a sequence of ints in ``[0, vocab_size)``; returns it as a list."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(
            f"{where}: {name} must be a sequence of ints, got {type(ids).__name__} ({ids!r:.60})"
        )
    out = list(ids)
    for i, t in enumerate(out):
        # numpy / torch integer scalars are fine; bool and float (also as tensors) are not.
        is_bool = isinstance(t, bool) or str(getattr(t, "dtype", "")).endswith("bool")
        try:
            t = operator.index(t) if not is_bool else None
        except TypeError:
            t = None
        if t is None:
            raise TypeError(
                f"{where}: {name}[{i}] must be an int, got {type(out[i]).__name__} ({out[i]!r:.60})"
            )
        if not 0 <= t < vocab_size:
            raise ValueError(
                f"{where}: {name}[{i}] must be a token id in [0, {vocab_size}), got {t}"
            )
        out[i] = t
    return out


def _check_positive_int(where: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{where}: {name} must be an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")
    return value


def _atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename.

    A crash half-way leaves either the old file or the new one, never a truncated file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------------------------
# characters
# --------------------------------------------------------------------------------------------


class CharTokenizer:
    """One token per distinct character (what char-rnn and nanoGPT's Shakespeare demo use).

    The vocabulary is the sorted set of characters seen by ``fit``; id ``i`` is ``itos[i]``.
    A character not seen by ``fit`` is an error by default (``ValueError`` naming it); pass
    ``unk_token="<unk>"`` (any string) to map unseen characters to an extra id 0 instead —
    then ``decode`` prints that string in their place, so the round trip is lost for them.

    >>> tok = CharTokenizer().fit("hello")
    >>> tok.itos, tok.encode("hell"), tok.decode([1, 0])
    (['e', 'h', 'l', 'o'], [1, 0, 2, 2], 'he')
    """

    def __init__(self, unk_token: str | None = None) -> None:
        if unk_token is not None:
            _check_str("CharTokenizer", "unk_token", unk_token)
            if not unk_token:
                raise ValueError("CharTokenizer: unk_token must be a non-empty str or None, got ''")
        self.unk_token = unk_token
        self.itos: list[str] = []
        self.stoi: dict[str, int] = {}

    def fit(self, text: str) -> CharTokenizer:
        """Build the vocabulary from the characters of ``text``; returns ``self``."""
        _check_str("CharTokenizer.fit", "text", text)
        if not text:
            raise ValueError("CharTokenizer.fit: text must be non-empty, got ''")
        chars = sorted(set(text) - {self.unk_token})
        self.itos = ([self.unk_token] if self.unk_token is not None else []) + chars
        self.stoi = {c: i for i, c in enumerate(self.itos)}
        return self

    train = fit  # the same verb as BPETokenizer.train

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    @property
    def unk_id(self) -> int | None:
        """Id of the unknown-character token (0), or ``None`` when unseen characters are errors."""
        return 0 if self.unk_token is not None else None

    def _require_fit(self, where: str) -> None:
        if not self.itos:
            raise ValueError(f"{where}: the tokenizer has no vocabulary yet; call fit(text) first")

    def encode(self, text: str) -> list[int]:
        """Map each character of ``text`` to its id."""
        _check_str("CharTokenizer.encode", "text", text)
        self._require_fit("CharTokenizer.encode")
        stoi, unk = self.stoi, self.unk_id
        if unk is not None:
            return [stoi.get(c, unk) for c in text]
        try:
            return [stoi[c] for c in text]
        except KeyError as err:
            c = err.args[0]
            raise ValueError(
                f"CharTokenizer.encode: text contains {c!r} (position {text.index(c)}), which is not "
                f"in the vocabulary of {self.vocab_size} characters; fit on text that contains it, "
                f"or create the tokenizer with unk_token='<unk>'"
            ) from None

    def decode(self, ids: Sequence[int]) -> str:
        """Join the characters of ``ids`` back into a string."""
        self._require_fit("CharTokenizer.decode")
        ids = _check_ids("CharTokenizer.decode", "ids", ids, self.vocab_size)
        return "".join(self.itos[i] for i in ids)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}, unk_token={self.unk_token!r})"


# --------------------------------------------------------------------------------------------
# words
# --------------------------------------------------------------------------------------------

#: Word-level pre-tokenisation: runs of letters (with inner apostrophes, "don't", "o'er"),
#: numbers (digits with inner "." or ",", "3.14", "1,000"), and every other non-space character
#: on its own ("," "!" "_"). Whitespace separates tokens and is dropped.
WORD_PATTERN = r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[.,]\d+)*|[^\w\s]|_"

_NO_SPACE_BEFORE = set(".,;:!?)]}%…")
_NO_SPACE_AFTER = set("([{$")


class WordTokenizer:
    """One token per word; words seen fewer than ``min_freq`` times become ``<unk>``.

    Pre-tokenisation (``WORD_PATTERN``) splits text into words (letters, with inner apostrophes
    kept: ``"don't"`` is one word), numbers (``"3.14"``) and single punctuation characters, and
    *drops whitespace*. With ``lower=True`` words are lower-cased first.

    The vocabulary is ``<unk>`` (id 0) followed by the words with count ``>= min_freq``, most
    frequent first (ties alphabetical), at most ``max_size`` entries in total.

    ``decode`` joins words with single spaces, without a space before closing punctuation
    (``. , ; : ! ? ) ] }``) or after an opening bracket. Word-level decoding therefore can NOT
    restore the original text exactly: line breaks, repeated spaces, case (with ``lower``) and
    rare words (now ``<unk>``) are lost. That loss is one reason real models use BPE.

    >>> tok = WordTokenizer().fit("the cat sat on the mat.")
    >>> tok.decode(tok.encode("the dog sat."))
    'the <unk> sat.'
    """

    unk_token = "<unk>"

    def __init__(self, min_freq: int = 1, max_size: int | None = None, lower: bool = False) -> None:
        _check_positive_int("WordTokenizer", "min_freq", min_freq, 1)
        if max_size is not None:
            _check_positive_int("WordTokenizer", "max_size", max_size, 1)
        if not isinstance(lower, bool):
            raise TypeError(f"WordTokenizer: lower must be a bool, got {type(lower).__name__}")
        self.min_freq = min_freq
        self.max_size = max_size
        self.lower = lower
        self.itos: list[str] = []
        self.stoi: dict[str, int] = {}
        self.counts: Counter[str] = Counter()

    def split(self, text: str) -> list[str]:
        """Pre-tokenise ``text`` into words, numbers and punctuation (whitespace dropped)."""
        _check_str("WordTokenizer.split", "text", text)
        if self.lower:
            text = text.lower()
        return re.findall(WORD_PATTERN, text)

    def fit(self, text: str) -> WordTokenizer:
        """Count the words of ``text`` and keep those seen at least ``min_freq`` times."""
        _check_str("WordTokenizer.fit", "text", text)
        self.counts = Counter(self.split(text))
        if not self.counts:
            raise ValueError(
                "WordTokenizer.fit: text contains no words (it is empty or all whitespace)"
            )
        kept = sorted(
            (w for w, c in self.counts.items() if c >= self.min_freq),
            key=lambda w: (-self.counts[w], w),
        )
        if self.max_size is not None:
            kept = kept[: self.max_size - 1]
        self.itos = [self.unk_token, *kept]
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        return self

    train = fit

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    @property
    def unk_id(self) -> int:
        return 0

    def _require_fit(self, where: str) -> None:
        if not self.itos:
            raise ValueError(f"{where}: the tokenizer has no vocabulary yet; call fit(text) first")

    def encode(self, text: str) -> list[int]:
        """Split ``text`` into words and map each to its id (``<unk>`` = 0 if unknown)."""
        _check_str("WordTokenizer.encode", "text", text)
        self._require_fit("WordTokenizer.encode")
        return [self.stoi.get(w, 0) for w in self.split(text)]

    def decode(self, ids: Sequence[int]) -> str:
        """Join the words of ``ids`` with spaces (see the class docstring for what is lost)."""
        self._require_fit("WordTokenizer.decode")
        ids = _check_ids("WordTokenizer.decode", "ids", ids, self.vocab_size)
        out: list[str] = []
        for i in ids:
            w = self.itos[i]
            if out and w not in _NO_SPACE_BEFORE and out[-1] not in _NO_SPACE_AFTER:
                out.append(" ")
            out.append(w)
        return "".join(out)

    def __repr__(self) -> str:
        return (
            f"WordTokenizer(vocab_size={self.vocab_size}, min_freq={self.min_freq}, "
            f"max_size={self.max_size}, lower={self.lower})"
        )


# --------------------------------------------------------------------------------------------
# byte-level BPE
# --------------------------------------------------------------------------------------------

#: GPT-2's pre-tokenisation regex, written for Python's ``re`` (which lacks ``\p{L}``/``\p{N}``):
#: English contractions, an optional space + letters, an optional space + digits, an optional
#: space + other symbols (``_`` counts as a symbol, as in GPT-2), and whitespace (a run of spaces
#: before a word leaves its last space to the word: "  hi" -> " ", " hi"). Letters are
#: ``[^\W\d_]`` (Unicode word characters minus digits and underscore), digits are ``\d``.
GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""


def _merge(ids: list[int], a: int, b: int, new_id: int) -> list[int]:
    """Replace every occurrence of the adjacent pair ``(a, b)`` in ``ids`` by ``new_id``,
    scanning left to right without overlaps (``a a a`` with pair ``(a, a)`` -> ``aa a``)."""
    out: list[int] = []
    i, n = 0, len(ids)
    while i < n:
        if i < n - 1 and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


class BPETokenizer:
    """Byte-level byte-pair encoding, trained from scratch.

    **The idea.** Write the text as UTF-8 bytes: ids 0..255 are the 256 byte values. Then repeat
    ``vocab_size - 256`` times: count every adjacent pair of ids, take the most frequent pair
    ``(a, b)``, give it a new id (256, 257, ...) and replace all its occurrences. Each new token
    stands for the concatenation of the bytes of its two parts. Encoding new text replays the
    merges in the order they were learned.

    **Pre-splitting.** Before counting, text is cut into chunks by ``pattern`` (default:
    ``GPT2_SPLIT_PATTERN``: words with their leading space, numbers, punctuation runs,
    whitespace) and merges never cross a chunk boundary, so no token glues the end of one word
    to the start of the next (``"e t"``), and training can work on *unique* chunks with their
    counts. Pass ``pattern=None`` to treat the whole text as one chunk (slow on large text; fine
    for a 100-character demo). Characters a pattern does not match become chunks of their own, so
    nothing is ever dropped.

    **Tie-breaking.** When several pairs share the highest count, the pair that is smallest as a
    tuple of ids ``(a, b)`` wins. Training is therefore deterministic.

    **Speed.** Training counts unique chunks once (chunk -> frequency), keeps the pair counts in
    a dict and an index pair -> set of chunks containing it, and after each merge updates only
    the chunks that contained the merged pair; the best pair comes from a heap with lazy
    deletion. Encoding caches the ids of each chunk.

    >>> tok = BPETokenizer().train("the cat sat on the mat with the hat", vocab_size=262)
    >>> [row["token"] for row in tok.merge_table()]
    ['at', 'th', 'the', ' the', ' c', ' h']
    >>> tok.tokenize(" the bat")
    [' the', ' ', 'b', 'at']
    """

    def __init__(self, pattern: str | None = GPT2_SPLIT_PATTERN) -> None:
        if pattern is not None:
            _check_str("BPETokenizer", "pattern", pattern)
            try:
                self._regex: re.Pattern[str] | None = re.compile(pattern)
            except re.error as err:
                raise ValueError(
                    f"BPETokenizer: pattern is not a valid regex ({err}): {pattern!r}"
                ) from None
        else:
            self._regex = None
        self.pattern = pattern
        self.merges: list[tuple[tuple[int, int], int]] = []
        self.merge_counts: list[int] = []
        self._set_merges([], [])

    # ---- state -------------------------------------------------------------------------------

    def _set_merges(self, merges: list[tuple[int, int]], counts: list[int]) -> None:
        self.merges = [((a, b), 256 + i) for i, (a, b) in enumerate(merges)]
        self.merge_counts = list(counts)
        self._ranks: dict[tuple[int, int], int] = {pair: new for pair, new in self.merges}
        self._vocab: list[bytes] = [bytes([i]) for i in range(256)]
        for (a, b), _ in self.merges:
            self._vocab.append(self._vocab[a] + self._vocab[b])
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        """256 byte tokens plus one per merge."""
        return len(self._vocab)

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes that token ``token_id`` stands for."""
        _check_ids("BPETokenizer.token_bytes", "token_id", [token_id], self.vocab_size)
        return self._vocab[int(token_id)]

    def token_str(self, token_id: int) -> str:
        """A readable form of a token: its bytes as UTF-8, with bytes that are only part of a
        character shown as ``\\xNN`` escapes (e.g. the first byte of "é" is ``'\\xc3'``)."""
        return self.token_bytes(token_id).decode("utf-8", errors="backslashreplace")

    def merge_table(self) -> list[dict[str, Any]]:
        """The merges step by step: one dict per merge with ``step``, ``pair`` (ids), ``new_id``,
        the readable ``left``/``right``/``token`` strings and the pair's training ``count``
        (``None`` for a tokenizer loaded without counts). Ready for ``pandas.DataFrame``."""
        rows = []
        for step, ((a, b), new) in enumerate(self.merges):
            rows.append(
                {
                    "step": step,
                    "pair": (a, b),
                    "new_id": new,
                    "left": self.token_str(a),
                    "right": self.token_str(b),
                    "token": self.token_str(new),
                    "count": self.merge_counts[step] if step < len(self.merge_counts) else None,
                }
            )
        return rows

    # ---- pre-splitting -----------------------------------------------------------------------

    def split(self, text: str) -> list[str]:
        """Cut ``text`` into the chunks that merges never cross; ``"".join(chunks) == text``."""
        _check_str("BPETokenizer.split", "text", text)
        return list(self._iter_chunks(text))

    def _iter_chunks(self, text: str) -> Iterator[str]:
        if self._regex is None:
            if text:
                yield text
            return
        pos = 0
        for m in self._regex.finditer(text):
            start, end = m.span()
            if start > pos:  # a gap the pattern did not match: keep it as its own chunk
                yield text[pos:start]
            if end > start:
                yield text[start:end]
            pos = max(pos, end)
        if pos < len(text):
            yield text[pos:]

    # ---- training ----------------------------------------------------------------------------

    def train(self, text: str, vocab_size: int, verbose: bool = False) -> BPETokenizer:
        """Learn ``vocab_size - 256`` merges from ``text``; returns ``self``.

        Stops early (with fewer tokens than asked) when no adjacent pair is left to merge, which
        happens only on tiny texts. Replaces any merges learned before.
        """
        _check_str("BPETokenizer.train", "text", text)
        _check_positive_int("BPETokenizer.train", "vocab_size", vocab_size, 256)
        _check_utf8("BPETokenizer.train", text)

        chunk_counts = Counter(self._iter_chunks(text))
        words: list[list[int]] = [list(c.encode("utf-8")) for c in chunk_counts]
        freqs: list[int] = list(chunk_counts.values())

        # pair -> total count (weighted by chunk frequency); pair -> indices of chunks holding it
        pair_counts: dict[tuple[int, int], int] = defaultdict(int)
        where: dict[tuple[int, int], set[int]] = defaultdict(set)
        for wi, (w, f) in enumerate(zip(words, freqs, strict=True)):
            for pair in pairwise(w):
                pair_counts[pair] += f
                where[pair].add(wi)
        # max-heap via negated counts; ties -> smallest (a, b). Stale entries are skipped on pop.
        heap = [(-c, pair) for pair, c in pair_counts.items()]
        heapq.heapify(heap)

        merges: list[tuple[int, int]] = []
        counts: list[int] = []
        for new_id in range(256, vocab_size):
            best = None
            while heap:
                neg, pair = heapq.heappop(heap)
                if pair_counts.get(pair, 0) == -neg:
                    best = pair
                    break
            if best is None:
                break  # nothing left to merge
            a, b = best
            merges.append(best)
            counts.append(-neg)
            if verbose:
                print(f"merge {new_id - 255}: {best} -> {new_id} (count {-neg})")

            changed: set[tuple[int, int]] = set()
            for wi in where.pop(best):
                w = words[wi]
                new_w = _merge(w, a, b, new_id)
                if len(new_w) == len(w):
                    continue
                f = freqs[wi]
                old_pairs = Counter(pairwise(w))
                new_pairs = Counter(pairwise(new_w))
                for pair, n in old_pairs.items():
                    pair_counts[pair] -= n * f
                    if pair not in new_pairs and pair != best:
                        where[pair].discard(wi)
                for pair, n in new_pairs.items():
                    pair_counts[pair] += n * f
                    if pair not in old_pairs:
                        where[pair].add(wi)
                changed.update(old_pairs)
                changed.update(new_pairs)
                words[wi] = new_w
            for pair in changed:
                c = pair_counts[pair]
                if c > 0:
                    heapq.heappush(heap, (-c, pair))
                else:
                    del pair_counts[pair]
                    where.pop(pair, None)
        self._set_merges(merges, counts)
        return self

    # ---- encoding / decoding -----------------------------------------------------------------

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = list(chunk.encode("utf-8"))
        ranks = self._ranks
        while len(ids) >= 2:
            # the pair learned earliest (smallest new id) is applied first, as in training
            pair = min(pairwise(ids), key=lambda p: ranks.get(p, 1 << 62))
            new_id = ranks.get(pair)
            if new_id is None:
                break
            ids = _merge(ids, pair[0], pair[1], new_id)
        return ids

    def encode(self, text: str) -> list[int]:
        """Text -> token ids. Works for every string (the alphabet is all 256 bytes)."""
        _check_str("BPETokenizer.encode", "text", text)
        _check_utf8("BPETokenizer.encode", text)
        cache = self._cache
        out: list[int] = []
        for chunk in self._iter_chunks(text):
            ids = cache.get(chunk)
            if ids is None:
                ids = self._encode_chunk(chunk)
                if len(cache) >= 100_000:
                    cache.clear()
                cache[chunk] = ids
            out.extend(ids)
        return out

    def decode(self, ids: Sequence[int]) -> str:
        """Token ids -> text: concatenate the tokens' bytes and read them as UTF-8.

        For ids produced by ``encode`` this is exact. An arbitrary id sequence may cut a
        multi-byte character in half; such bytes are shown as U+FFFD (the replacement character).
        """
        ids = _check_ids("BPETokenizer.decode", "ids", ids, self.vocab_size)
        vocab = self._vocab
        return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")

    def tokenize(self, text: str) -> list[str]:
        """``text`` as a list of readable token strings (``token_str`` of each id)."""
        return [self.token_str(t) for t in self.encode(text)]

    # ---- save / load ---------------------------------------------------------------------------

    _FORMAT = "labkit.tokenize.BPETokenizer"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self._FORMAT,
            "version": 1,
            "pattern": self.pattern,
            "merges": [list(pair) for pair, _ in self.merges],
            "merge_counts": self.merge_counts,
        }

    @classmethod
    def from_dict(cls, d: Any) -> BPETokenizer:
        if not isinstance(d, dict) or d.get("format") != cls._FORMAT:
            raise ValueError(
                f"BPETokenizer.from_dict: expected a dict with format={cls._FORMAT!r}, "
                f"got {type(d).__name__} with format={d.get('format') if isinstance(d, dict) else None!r}"
            )
        if d.get("version") != 1:
            raise ValueError(
                f"BPETokenizer.from_dict: unsupported version {d.get('version')!r} (expected 1)"
            )
        merges = d.get("merges")
        if not isinstance(merges, list):
            raise ValueError(
                f"BPETokenizer.from_dict: merges must be a list, got {type(merges).__name__}"
            )
        pairs: list[tuple[int, int]] = []
        for i, m in enumerate(merges):
            ok = (
                isinstance(m, list)
                and len(m) == 2
                and all(
                    isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 256 + i for x in m
                )
            )
            if not ok:
                raise ValueError(
                    f"BPETokenizer.from_dict: merges[{i}] must be a pair of token ids below {256 + i}, got {m!r}"
                )
            pairs.append((m[0], m[1]))
        counts = d.get("merge_counts") or []
        tok = cls(pattern=d.get("pattern"))
        tok._set_merges(pairs, counts)
        return tok

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the tokenizer as JSON (atomically: temp file + rename); returns the path."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(
                f"BPETokenizer.save: path must be a str or PathLike, got {type(path).__name__}"
            )
        path = Path(path)
        _atomic_write_text(path, json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BPETokenizer:
        """Read a tokenizer written by ``save``."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(
                f"BPETokenizer.load: path must be a str or PathLike, got {type(path).__name__}"
            )
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"BPETokenizer.load: {path} is not valid JSON ({err})") from None
        return cls.from_dict(d)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BPETokenizer):
            return NotImplemented
        return self.pattern == other.pattern and self.merges == other.merges

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)})"


def _check_utf8(where: str, text: str) -> None:
    """Reject lone surrogates (e.g. ``"\\ud800"``): they are not characters and have no UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(
            f"{where}: text contains {text[err.start]!r} at position {err.start}, a lone surrogate "
            f"that has no UTF-8 encoding"
        ) from None
