"""An n-gram language model: the next token depends only on the previous n - 1 tokens.

**Counting.** A language model gives the probability of a sequence through the chain rule,
``P(w_1..w_N) = Π_i P(w_i | w_1..w_{i-1})``. An n-gram model (Markov assumption) keeps only the
last ``n - 1`` tokens of the history and estimates each factor by counting (maximum likelihood)::

    P_ML(w | h) = c(h, w) / c(h)          h = the previous n - 1 tokens, c(h) = Σ_w c(h, w)

**Start of the sequence.** Before ``w_1`` there is no history, so the sequence is padded on the
left with ``n - 1`` copies of a start symbol ``BOS`` (written ``<s>``). ``BOS`` may appear in a
context but is never predicted, and is not part of the vocabulary. Every one of the ``N`` real
tokens is predicted exactly once, the first one from the context ``<s> … <s>``.

**Smoothing.** Unseen n-grams would get probability 0 (and perplexity ∞). Two fixes:

- add-k (Laplace for k = 1): ``P(w | h) = (c(h, w) + k) / (c(h) + k·|V|)``; k = 0 is plain
  maximum likelihood (undefined for a context never seen, which raises an error).
- interpolation (Jelinek–Mercer): mix the estimates of all orders with weights ``λ_1..λ_n``,
  ``P(w | h) = Σ_j λ_j P_j(w | last j-1 tokens of h)``, where ``P_j`` is the maximum-likelihood
  estimate of order j for j ≥ 2 and ``P_1`` is the add-k unigram ``(c(w) + k) / (N + k·|V|)``.
  An order whose context was never seen is left out and the remaining λ's are renormalised, so
  the probabilities of every context still sum to 1.

**Perplexity** of a sequence of N tokens: ``PP = exp(-(1/N) Σ_i log P(w_i | w_{i-n+1..i-1}))``,
with the BOS padding above; the perplexity of a uniform model is exactly ``|V|``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

__all__ = ["BOS", "NGramLM"]


class _Bos:
    """The start-of-sequence symbol. A singleton distinct from every real token."""

    _instance: _Bos | None = None

    def __new__(cls) -> _Bos:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<s>"

    def __reduce__(self) -> str:
        return "BOS"


BOS = _Bos()
_SMOOTHING = ("add_k", "interpolation")


def _as_token_list(where: str, name: str, tokens: Any, allow_empty: bool = False) -> list[Hashable]:
    """Accept a str (its characters), a sequence or a 1-D numpy array of hashable tokens."""
    if isinstance(tokens, str):
        out: list[Hashable] = list(tokens)
    elif isinstance(tokens, np.ndarray):
        if tokens.ndim != 1:
            raise ValueError(f"{where}: {name} must be 1-D, got an array of shape {tokens.shape}")
        out = tokens.tolist()
    elif isinstance(tokens, Sequence) and not isinstance(tokens, (bytes, bytearray)):
        out = list(tokens)  # list, tuple, range, ...
    else:
        raise TypeError(
            f"{where}: {name} must be a str, a sequence (list, tuple, ...) or a 1-D numpy array "
            f"of tokens, got {type(tokens).__name__}"
        )
    if not out and not allow_empty:
        raise ValueError(f"{where}: {name} must contain at least one token, got an empty sequence")
    return out


class NGramLM:
    """An n-gram language model over any hashable tokens (characters, words, BPE ids).

    Parameters
    ----------
    n : order of the model (1 = unigram, 2 = bigram, ...); ``n >= 1``.
    smoothing : ``"add_k"`` or ``"interpolation"`` (see the module docstring for the formulas).
    k : the add-k constant, ``k >= 0``; with interpolation it smooths the unigram term.
    lambdas : interpolation weights ``(λ_1, ..., λ_n)`` for orders 1..n (unigram first), each
        ``>= 0``, summing to 1, with ``λ_1 > 0``; default equal weights ``1/n``.

    >>> lm = NGramLM(2, k=1).fit("abab")
    >>> lm.vocab, lm.prob("a", "b")          # (c(ab)=2 + 1) / (c(a)=2 + 1*2)
    (['a', 'b'], 0.75)
    """

    def __init__(
        self,
        n: int,
        smoothing: str = "add_k",
        k: float = 1.0,
        lambdas: Sequence[float] | None = None,
    ) -> None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"NGramLM: n must be an int, got {type(n).__name__} ({n!r})")
        if n < 1:
            raise ValueError(f"NGramLM: n must be >= 1, got {n}")
        if smoothing not in _SMOOTHING:
            raise ValueError(f"NGramLM: smoothing must be one of {_SMOOTHING}, got {smoothing!r}")
        if isinstance(k, bool) or not isinstance(k, (int, float)):
            raise TypeError(f"NGramLM: k must be a number, got {type(k).__name__} ({k!r})")
        if not (k >= 0 and math.isfinite(k)):
            raise ValueError(f"NGramLM: k must be a finite number >= 0, got {k}")
        if lambdas is None:
            lam = [1.0 / n] * n
        else:
            if isinstance(lambdas, (str, bytes)) or not isinstance(lambdas, Sequence):
                raise TypeError(
                    f"NGramLM: lambdas must be a sequence of {n} numbers, got {type(lambdas).__name__}"
                )
            lam = [float(x) for x in lambdas]
            if len(lam) != n:
                raise ValueError(
                    f"NGramLM: lambdas must have n={n} weights (orders 1..n), got {len(lam)}"
                )
            if any(not (x >= 0 and math.isfinite(x)) for x in lam) or abs(sum(lam) - 1) > 1e-9:
                raise ValueError(
                    f"NGramLM: lambdas must be >= 0 and sum to 1, got {lam} (sum {sum(lam)})"
                )
            if smoothing == "interpolation" and lam[0] <= 0:
                raise ValueError(
                    f"NGramLM: lambdas[0] (the unigram weight) must be > 0 so every token keeps a "
                    f"nonzero probability, got {lam[0]}"
                )
        self.n = n
        self.smoothing = smoothing
        self.k = float(k)
        self.lambdas = tuple(lam)
        self.vocab: list[Hashable] = []
        self._stoi: dict[Hashable, int] = {}
        # _next[j][context ids (len j-1)] = {next id: count};  _total[j][context] = Σ counts
        self._next: list[dict[tuple[int, ...], dict[int, int]]] = []
        self._total: list[dict[tuple[int, ...], int]] = []
        self.n_tokens = 0

    # ---- fitting -----------------------------------------------------------------------------

    def fit(self, tokens: Any, vocab: Sequence[Hashable] | None = None) -> NGramLM:
        """Count all j-grams, j = 1..n, of ``tokens`` (padded on the left with n-1 ``BOS``).

        The vocabulary is the set of distinct tokens (sorted when they can be compared), or
        ``vocab`` if given (it must contain every token; pass it to give tokens absent from the
        training data a probability, e.g. characters that only occur in a test set).
        Replaces earlier counts; returns ``self``.
        """
        toks = _as_token_list("NGramLM.fit", "tokens", tokens)
        if vocab is None:
            vocab_list = list(dict.fromkeys(toks))
        else:
            vocab_list = list(dict.fromkeys(_as_token_list("NGramLM.fit", "vocab", vocab)))
        try:
            vocab_list = sorted(vocab_list)  # type: ignore[type-var]
        except TypeError:
            pass  # mixed types: keep first-appearance order
        if BOS in vocab_list:
            raise ValueError("NGramLM.fit: BOS is the start symbol and cannot be a token")
        stoi = {t: i + 1 for i, t in enumerate(vocab_list)}  # id 0 is BOS
        try:
            ids = np.fromiter((stoi[t] for t in toks), dtype=np.int64, count=len(toks))
        except KeyError as err:
            raise ValueError(
                f"NGramLM.fit: token {err.args[0]!r} is in tokens but not in vocab"
            ) from None
        except TypeError as err:
            raise TypeError(f"NGramLM.fit: tokens must be hashable ({err})") from None

        self.vocab, self._stoi, self.n_tokens = vocab_list, stoi, len(toks)
        padded = np.concatenate([np.zeros(self.n - 1, dtype=np.int64), ids])
        self._next, self._total = [{}], [{}]  # index 0 unused: orders are 1..n
        for j in range(1, self.n + 1):
            nxt = _count_order(padded, j, self.n, base=len(vocab_list) + 1)
            self._next.append(nxt)
            self._total.append({h: sum(d.values()) for h, d in nxt.items()})
        return self

    train = fit

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def count(self, ngram: Any) -> int:
        """How often the j-gram ``ngram`` (1 <= j <= n, may start with ``BOS``) was counted."""
        self._require_fit("NGramLM.count")
        g = self._ids("NGramLM.count", "ngram", ngram, allow_bos=True)
        if not 1 <= len(g) <= self.n:
            raise ValueError(f"NGramLM.count: ngram must have 1..{self.n} tokens, got {len(g)}")
        return self._next[len(g)].get(tuple(g[:-1]), {}).get(g[-1], 0)

    # ---- probabilities -----------------------------------------------------------------------

    def _require_fit(self, where: str) -> None:
        if not self.vocab:
            raise ValueError(f"{where}: the model has no counts yet; call fit(tokens) first")

    def _ids(self, where: str, name: str, tokens: Any, allow_bos: bool) -> list[int]:
        out = []
        for t in _as_token_list(where, name, tokens, allow_empty=True):
            if t is BOS and allow_bos:
                out.append(0)
                continue
            i = self._stoi.get(t)  # type: ignore[arg-type]
            if i is None:
                raise ValueError(
                    f"{where}: {name} contains {t!r}, which is not in the vocabulary of "
                    f"{self.vocab_size} tokens (fit with vocab=... to include it)"
                )
            out.append(i)
        return out

    def _context(self, where: str, context: Any) -> tuple[int, ...]:
        """The last n-1 ids of ``context``, left-padded with BOS (id 0)."""
        if context is None:
            context = []
        ids = self._ids(where, "context", context, allow_bos=True)
        m = self.n - 1
        ids = ([0] * m + ids)[len(ids) :] if m else []
        return tuple(ids)

    def _prob_id(self, h: tuple[int, ...], w: int) -> float:
        V = self.vocab_size
        if self.smoothing == "add_k":
            tot = self._total[self.n].get(h, 0)
            if tot == 0 and self.k == 0:
                raise ValueError(
                    f"NGramLM: context {self._show(h)} was never seen in training, so the maximum-"
                    f"likelihood estimate (k=0) is 0/0; use k > 0 or smoothing='interpolation'"
                )
            c = self._next[self.n].get(h, {}).get(w, 0)
            return (c + self.k) / (tot + self.k * V)
        p = self.lambdas[0] * (self._next[1][()].get(w, 0) + self.k) / (self.n_tokens + self.k * V)
        weight = self.lambdas[0]
        for j in range(2, self.n + 1):
            hj = h[len(h) - (j - 1) :]
            tot = self._total[j].get(hj, 0)
            if tot and self.lambdas[j - 1] > 0:
                p += self.lambdas[j - 1] * self._next[j][hj].get(w, 0) / tot
                weight += self.lambdas[j - 1]
        return p / weight

    def _show(self, h: tuple[int, ...]) -> str:
        return repr(tuple(BOS if i == 0 else self.vocab[i - 1] for i in h))

    def prob(self, context: Any, token: Hashable) -> float:
        """``P(token | context)``; only the last n-1 tokens of ``context`` matter, and a shorter
        context (or ``None``) is padded on the left with ``BOS``."""
        self._require_fit("NGramLM.prob")
        h = self._context("NGramLM.prob", context)
        (w,) = self._ids("NGramLM.prob", "token", [token], allow_bos=False)
        return self._prob_id(h, w)

    def log_prob(self, context: Any, token: Hashable) -> float:
        """Natural log of ``prob(context, token)`` (``-inf`` if the probability is 0)."""
        p = self.prob(context, token)
        return math.log(p) if p > 0 else -math.inf

    def probs(self, context: Any = None) -> np.ndarray:
        """The next-token distribution after ``context``: a float64 array aligned with
        ``self.vocab`` that sums to 1."""
        self._require_fit("NGramLM.probs")
        h = self._context("NGramLM.probs", context)
        return self._probs_id(h)

    def _probs_id(self, h: tuple[int, ...]) -> np.ndarray:
        V = self.vocab_size

        def counts_vec(d: dict[int, int]) -> np.ndarray:
            v = np.zeros(V)
            if d:
                v[np.fromiter(d.keys(), dtype=np.int64) - 1] = np.fromiter(
                    d.values(), dtype=np.float64
                )
            return v

        if self.smoothing == "add_k":
            tot = self._total[self.n].get(h, 0)
            if tot == 0 and self.k == 0:
                self._prob_id(h, 1)  # raises the explanatory error
            return (counts_vec(self._next[self.n].get(h, {})) + self.k) / (tot + self.k * V)
        p = (
            self.lambdas[0]
            * (counts_vec(self._next[1][()]) + self.k)
            / (self.n_tokens + self.k * V)
        )
        weight = self.lambdas[0]
        for j in range(2, self.n + 1):
            hj = h[len(h) - (j - 1) :]
            tot = self._total[j].get(hj, 0)
            if tot and self.lambdas[j - 1] > 0:
                p += self.lambdas[j - 1] * counts_vec(self._next[j][hj]) / tot
                weight += self.lambdas[j - 1]
        return p / weight

    def perplexity(self, tokens: Any) -> float:
        """``exp(-(1/N) Σ_i log P(w_i | previous n-1 tokens))`` over the N tokens, the first
        ones predicted from ``BOS``-padded contexts exactly as in ``fit``."""
        self._require_fit("NGramLM.perplexity")
        ids = self._ids("NGramLM.perplexity", "tokens", tokens, allow_bos=False)
        if not ids:
            raise ValueError("NGramLM.perplexity: tokens must contain at least one token, got none")
        m = self.n - 1
        padded = [0] * m + ids
        total = 0.0
        for i in range(len(ids)):
            p = self._prob_id(tuple(padded[i : i + m]), padded[i + m])
            if p <= 0:
                return math.inf
            total += math.log(p)
        return math.exp(-total / len(ids))

    # ---- generation --------------------------------------------------------------------------

    def sample(
        self,
        n_tokens: int,
        context: Any = None,
        seed: int | None = None,
        generator: np.random.Generator | None = None,
    ) -> list[Hashable]:
        """Draw ``n_tokens`` tokens one at a time from ``probs(last n-1 tokens)``.

        ``context`` (default: start of sequence) conditions the first draws; it is not part of
        the returned list. The same ``seed`` (or a ``generator`` in the same state) gives the
        same tokens; give at most one of the two.
        """
        self._require_fit("NGramLM.sample")
        if isinstance(n_tokens, bool) or not isinstance(n_tokens, int):
            raise TypeError(
                f"NGramLM.sample: n_tokens must be an int, got {type(n_tokens).__name__}"
            )
        if n_tokens < 0:
            raise ValueError(f"NGramLM.sample: n_tokens must be >= 0, got {n_tokens}")
        if seed is not None and generator is not None:
            raise ValueError("NGramLM.sample: give seed or generator, not both")
        if generator is None:
            if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
                raise TypeError(
                    f"NGramLM.sample: seed must be an int or None, got {type(seed).__name__}"
                )
            generator = np.random.default_rng(seed)
        elif not isinstance(generator, np.random.Generator):
            raise TypeError(
                f"NGramLM.sample: generator must be a numpy.random.Generator, got {type(generator).__name__}"
            )
        h = list(self._context("NGramLM.sample", context))
        m = self.n - 1
        out: list[Hashable] = []
        for _ in range(n_tokens):
            cdf = np.cumsum(self._probs_id(tuple(h[len(h) - m :]) if m else ()))
            i = int(np.searchsorted(cdf, generator.random() * cdf[-1], side="right"))
            i = min(i, len(cdf) - 1)
            out.append(self.vocab[i])
            h.append(i + 1)
        return out

    def __repr__(self) -> str:
        extra = (
            f"k={self.k}" if self.smoothing == "add_k" else f"k={self.k}, lambdas={self.lambdas}"
        )
        return f"NGramLM(n={self.n}, smoothing={self.smoothing!r}, {extra}, vocab_size={self.vocab_size})"


def _count_order(
    padded: np.ndarray, j: int, n: int, base: int
) -> dict[tuple[int, ...], dict[int, int]]:
    """Count the j-grams that end on a real token of ``padded`` (which starts with n-1 BOS = 0).

    Fast path: each j-gram of ids in [0, base) is one integer ``Σ id_i · base^(j-1-i)``;
    ``np.unique`` counts those, and only the distinct j-grams go through Python.
    """
    start = n - 1  # position of the first real token
    m = len(padded) - start  # number of real tokens = number of j-grams
    out: dict[tuple[int, ...], dict[int, int]] = {}
    if base**j < 2**62:
        code = np.zeros(m, dtype=np.int64)
        for i in range(j):
            s = start - j + 1 + i
            code = code * base + padded[s : s + m]
        uniq, cnt = np.unique(code, return_counts=True)
        digits = []
        for _ in range(j):
            digits.append((uniq % base).tolist())
            uniq = uniq // base
        digits.reverse()  # digits[0] = first token of the j-gram
        for *ctx, w, c in zip(*digits, cnt.tolist(), strict=True):
            out.setdefault(tuple(ctx), {})[w] = c
        return out
    # huge vocabularies: count tuples directly
    cols = [padded[start - j + 1 + i : start - j + 1 + i + m].tolist() for i in range(j)]
    for g, c in Counter(zip(*cols, strict=True)).items():
        out.setdefault(g[:-1], {})[g[-1]] = c
    return out
