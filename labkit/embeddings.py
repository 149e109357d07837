"""Word embeddings: word2vec skip-gram with negative sampling (SGNS), and queries on any vectors.

**Skip-gram** (Mikolov et al. 2013, "Distributed Representations of Words and Phrases and their
Compositionality"). Every word ``w`` gets two vectors: ``v_w`` (a row of the input/centre table
``W_in``) and ``u_w`` (a row of the output/context table ``W_out``). For each position ``t`` of
the text, the centre word ``c = w_t`` should predict the context words ``o = w_{t+j}`` with
``1 ≤ |j| ≤ b_t``, where ``b_t`` is drawn uniformly from ``1..window`` (the *dynamic window*: near
words are used more often than far ones).

**Negative sampling** replaces the softmax over the whole vocabulary by a binary task: tell the
true context word ``o`` apart from ``K`` *noise* words ``n_1..n_K`` drawn from the unigram
distribution raised to the power 3/4, ``P_n(w) ∝ count(w)^0.75`` (a noise word may, rarely,
be the context word itself; the C code skips those, here they are kept). The loss of one pair is::

    L(c, o) = −log σ(u_oᵀ v_c) − Σ_k log σ(−u_{n_k}ᵀ v_c)          σ(x) = 1 / (1 + e^(−x))

and its gradients (what autograd computes; ``σ(x) − 1 = −σ(−x)``)::

    ∂L/∂v_c     = (σ(u_oᵀ v_c) − 1) u_o + Σ_k σ(u_{n_k}ᵀ v_c) u_{n_k}
    ∂L/∂u_o     = (σ(u_oᵀ v_c) − 1) v_c
    ∂L/∂u_{n_k} = σ(u_{n_k}ᵀ v_c) v_c

**Subsampling** of frequent words: a word with relative frequency ``f = count / total`` is kept
(each time it occurs, independently, once per epoch) with probability::

    keep(w) = min(1, sqrt(t / f) + t / f)

which is the formula of the released word2vec C code; the paper writes the discard probability
as ``1 − sqrt(t / f)``. The paper's ``t = 1e-5`` is meant for corpora of billions of words; on a
small corpus (Shakespeare, ~200k words) it would throw away most of the text, so the default here
is the C code's ``t = 1e-3``. Words seen fewer than ``min_count`` times are removed before
training (and so are not in the vocabulary).

**Queries** (class ``Embeddings``, usable for any matrix of word vectors) use cosine similarity
``cos(a, b) = aᵀb / (‖a‖ ‖b‖)``; an analogy "a : b :: c : ?" is answered by the words nearest to
``b̂ − â + ĉ`` (unit vectors; the three inputs excluded), e.g. ``man : king :: woman : queen``.

>>> emb = Embeddings(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]), ["cat", "dog", "car"])
>>> [w for w, _ in emb.most_similar("cat", k=2)]
['dog', 'car']
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from labkit.device import as_device

__all__ = [
    "Embeddings",
    "SkipGram",
    "UnknownWordError",
    "Word2Vec",
    "Word2VecConfig",
    "build_vocab",
    "keep_probabilities",
    "noise_distribution",
    "sample_negatives",
    "sgns_loss",
    "skipgram_pairs",
    "subsample",
    "train_word2vec",
    "words",
]

_WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)*")


# ----------------------------------------------------------------------------- input checks


def _check_int(where: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{where}: {name} must be an int >= {minimum}, got {type(value).__name__} ({value!r})"
        )
    if value < minimum:
        raise ValueError(f"{where}: {name} must be an int >= {minimum}, got {value}")
    return int(value)


def _check_float(where: str, name: str, value: Any, minimum: float, strict: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{where}: {name} must be a number, got {type(value).__name__} ({value!r})")
    value = float(value)
    bad = not math.isfinite(value) or (value <= minimum if strict else value < minimum)
    if bad:
        rel = ">" if strict else ">="
        raise ValueError(f"{where}: {name} must be a finite number {rel} {minimum}, got {value}")
    return value


def _check_words(where: str, name: str, tokens: Any) -> list[str]:
    if isinstance(tokens, str):
        raise TypeError(
            f"{where}: {name} must be a list of word strings, got one str; "
            "split it first, e.g. labkit.embeddings.words(text)"
        )
    if not isinstance(tokens, Sequence):
        raise TypeError(
            f"{where}: {name} must be a list of word strings, got {type(tokens).__name__}"
        )
    out = list(tokens)
    if not out:
        raise ValueError(f"{where}: {name} must contain at least one word, got an empty list")
    for i, w in enumerate(out):
        if not isinstance(w, str):
            raise TypeError(
                f"{where}: {name} must contain only str, got {type(w).__name__} ({w!r}) at index {i}"
            )
    return out


def _as_generator(seed: int | torch.Generator | None) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:  # follow the global RNG, so labkit.seed(n) makes the draws reproducible
        seed = int(torch.randint(2**62, (1,)).item())
    return torch.Generator().manual_seed(_check_int("generator", "seed", seed, 0))


# ----------------------------------------------------------------------------- text and vocabulary


def words(text: str) -> list[str]:
    """Lower-cased word tokens: runs of letters, with inner apostrophes kept ("o'er", "is't").

    >>> words("Is't a verdict? O'er the hills, ROMEO!")
    ["is't", 'a', 'verdict', "o'er", 'the', 'hills', 'romeo']
    """
    if not isinstance(text, str):
        raise TypeError(f"words: text must be a str, got {type(text).__name__}")
    return _WORD_RE.findall(text.lower())


def build_vocab(tokens: Sequence[str], min_count: int = 1) -> tuple[list[str], np.ndarray]:
    """The words seen at least ``min_count`` times, most frequent first (ties alphabetical), and counts.

    >>> build_vocab(["b", "a", "b", "c", "a", "b"], min_count=2)
    (['b', 'a'], array([3, 2]))
    """
    tokens = _check_words("build_vocab", "tokens", tokens)
    min_count = _check_int("build_vocab", "min_count", min_count, 1)
    kept = [(w, c) for w, c in Counter(tokens).items() if c >= min_count]
    kept.sort(key=lambda wc: (-wc[1], wc[0]))
    return [w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64)


def _as_counts(where: str, counts: Any) -> torch.Tensor:
    c = torch.as_tensor(np.asarray(counts), dtype=torch.float64)
    if c.ndim != 1 or c.numel() == 0:
        raise ValueError(
            f"{where}: counts must be a non-empty 1-D array of word counts, got shape {tuple(c.shape)}"
        )
    if not torch.isfinite(c).all() or (c <= 0).any():
        raise ValueError(f"{where}: counts must all be positive and finite, got {c.tolist()[:10]}")
    return c


def keep_probabilities(counts: Any, t: float) -> torch.Tensor:
    """Probability of keeping each occurrence of a word: ``min(1, sqrt(t/f) + t/f)``, ``f = count/total``.

    ``t = 0`` turns subsampling off (every word kept).

    >>> keep_probabilities([9_000, 1_000], t=0.01).tolist()  # doctest: +ELLIPSIS
    [0.1165..., 0.4162...]
    """
    c = _as_counts("keep_probabilities", counts)
    t = _check_float("keep_probabilities", "t", t, 0.0, strict=False)
    if t == 0:
        return torch.ones_like(c)
    ratio = t / (c / c.sum())
    return (ratio.sqrt() + ratio).clamp(max=1.0)


def noise_distribution(counts: Any, power: float = 0.75) -> torch.Tensor:
    """The negative-sampling distribution ``P_n(w) = count(w)^power / Σ_v count(v)^power``.

    >>> noise_distribution([16, 1]).tolist()  # 16^0.75 = 8  # doctest: +ELLIPSIS
    [0.888..., 0.111...]
    """
    c = _as_counts("noise_distribution", counts)
    power = _check_float("noise_distribution", "power", power, 0.0, strict=False)
    p = c**power
    return p / p.sum()


def subsample(
    ids: torch.Tensor, keep: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Drop each token ``ids[i]`` independently with probability ``1 − keep[ids[i]]``."""
    g = _as_generator(generator)
    u = torch.rand(ids.shape, generator=g, dtype=torch.float64)
    return ids[u < keep.to(torch.float64)[ids]]


def sample_negatives(
    noise: torch.Tensor, shape: tuple[int, ...], generator: torch.Generator | None = None
) -> torch.Tensor:
    """Word ids drawn i.i.d. from the noise distribution ``noise`` (shape ``(V,)``), as a tensor of ``shape``."""
    g = _as_generator(generator)
    n = math.prod(shape)
    return torch.multinomial(noise.float(), n, replacement=True, generator=g).reshape(shape)


def skipgram_pairs(
    ids: Sequence[int] | torch.Tensor,
    window: int,
    dynamic: bool = True,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """All (centre, context) pairs of a token sequence: ``(ids[t], ids[t+j])`` for ``1 ≤ |j| ≤ b_t``.

    ``b_t = window`` when ``dynamic`` is False; otherwise it is drawn uniformly from ``1..window``
    for each centre position (the paper's random window shrink). Pairs come ordered by centre
    position, then by context position.

    >>> c, o = skipgram_pairs([10, 11, 12], window=1, dynamic=False)
    >>> list(zip(c.tolist(), o.tolist()))
    [(10, 11), (11, 10), (11, 12), (12, 11)]
    """
    window = _check_int("skipgram_pairs", "window", window, 1)
    ids = torch.as_tensor(ids, dtype=torch.long).reshape(-1)
    n = ids.numel()
    if dynamic:
        b = torch.randint(1, window + 1, (n,), generator=_as_generator(generator))
    else:
        b = torch.full((n,), window)
    pos = torch.arange(n)
    centres, contexts = [], []
    for d in range(1, min(window, n - 1) + 1):
        right = pos[: n - d][b[: n - d] >= d]  # centre t, context t + d
        left = pos[d:][b[d:] >= d]  # centre t, context t - d
        centres += [right, left]
        contexts += [right + d, left - d]
    if not centres:
        empty = torch.empty(0, dtype=torch.long)
        return empty, empty
    pc, po = torch.cat(centres), torch.cat(contexts)
    order = torch.argsort(pc * n + po)
    return ids[pc[order]], ids[po[order]]


# ----------------------------------------------------------------------------- loss and model


def sgns_loss(v_c: torch.Tensor, u_o: torch.Tensor, u_neg: torch.Tensor) -> torch.Tensor:
    """Skip-gram negative-sampling loss of each pair: ``−log σ(u_oᵀv_c) − Σ_k log σ(−u_{n_k}ᵀv_c)``.

    Shapes: ``v_c`` and ``u_o`` are ``(B, d)``, ``u_neg`` is ``(B, K, d)``; returns ``(B,)``.
    ``log σ`` is computed stably as ``F.logsigmoid``.
    """
    if v_c.ndim != 2 or u_o.shape != v_c.shape:
        raise ValueError(
            f"sgns_loss: v_c and u_o must both have shape (B, d), got {tuple(v_c.shape)} and {tuple(u_o.shape)}"
        )
    if u_neg.ndim != 3 or u_neg.shape[0] != v_c.shape[0] or u_neg.shape[2] != v_c.shape[1]:
        raise ValueError(
            f"sgns_loss: u_neg must have shape (B, K, d) = ({v_c.shape[0]}, K, {v_c.shape[1]}), "
            f"got {tuple(u_neg.shape)}"
        )
    pos = (u_o * v_c).sum(-1)  # (B,)    u_oᵀ v_c
    neg = torch.einsum("bkd,bd->bk", u_neg, v_c)  # (B, K)  u_{n_k}ᵀ v_c
    return -F.logsigmoid(pos) - F.logsigmoid(-neg).sum(-1)


class SkipGram(torch.nn.Module):
    """The two embedding tables of word2vec: ``W_in`` (centre vectors v) and ``W_out`` (context vectors u).

    Initialised as in the C code: ``W_in ~ U(−0.5/d, 0.5/d)``, ``W_out = 0``.
    """

    def __init__(self, vocab_size: int, dim: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        w = (torch.rand(vocab_size, dim, generator=_as_generator(generator)) - 0.5) / dim
        self.W_in = torch.nn.Parameter(w)
        self.W_out = torch.nn.Parameter(torch.zeros(vocab_size, dim))

    def forward(
        self, centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor
    ) -> torch.Tensor:
        """Per-pair SGNS loss for ids ``centre (B,)``, ``context (B,)``, ``negatives (B, K)``."""
        return sgns_loss(
            F.embedding(centre, self.W_in),
            F.embedding(context, self.W_out),
            F.embedding(negatives, self.W_out),
        )


# ----------------------------------------------------------------------------- queries


class UnknownWordError(KeyError):
    """A word that is not in the vocabulary (its message is shown as is, not quoted)."""

    def __str__(self) -> str:
        return str(self.args[0])


class Embeddings:
    """Queries on a matrix of word vectors (row ``i`` is the vector of ``vocab[i]``).

    Works for word2vec vectors and for any other vectors (e.g. sentence embeddings of a BERT
    encoder, with the sentences as the "vocabulary").
    """

    unknown_hint = ""

    def __init__(self, vectors: torch.Tensor | np.ndarray, vocab: Sequence[str]) -> None:
        if isinstance(vectors, np.ndarray):
            vectors = torch.from_numpy(vectors)
        if not isinstance(vectors, torch.Tensor):
            raise TypeError(
                f"Embeddings: vectors must be a torch.Tensor or numpy array, got {type(vectors).__name__}"
            )
        if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
            raise ValueError(
                f"Embeddings: vectors must have shape (V, d) with V, d > 0, got {tuple(vectors.shape)}"
            )
        if not vectors.is_floating_point():
            vectors = vectors.float()
        vocab = _check_words("Embeddings", "vocab", vocab)
        if len(vocab) != vectors.shape[0]:
            raise ValueError(
                f"Embeddings: vocab must have one word per row of vectors ({vectors.shape[0]}), got {len(vocab)} words"
            )
        index = {w: i for i, w in enumerate(vocab)}
        if len(index) != len(vocab):
            dup = next(w for w, n in Counter(vocab).items() if n > 1)
            raise ValueError(
                f"Embeddings: vocab must not repeat a word, got {dup!r} more than once"
            )
        self.vectors = vectors.detach()
        self.vocab = vocab
        self._index = index
        self._unit = F.normalize(self.vectors, dim=1)

    def __len__(self) -> int:
        return len(self.vocab)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} words, dim={self.vectors.shape[1]})"

    def index(self, word: str) -> int:
        """Row of ``word``; an unknown word raises ``UnknownWordError`` (a ``KeyError``)."""
        if not isinstance(word, str):
            raise TypeError(f"word must be a str, got {type(word).__name__} ({word!r})")
        try:
            return self._index[word]
        except KeyError:
            raise UnknownWordError(
                f"{word!r} is not in the vocabulary ({len(self)} words){self.unknown_hint}"
            ) from None

    def vector(self, word: str) -> torch.Tensor:
        """The vector of ``word`` (shape ``(d,)``)."""
        return self.vectors[self.index(word)]

    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words."""
        return float(self._unit[self.index(w1)] @ self._unit[self.index(w2)])

    def _query(
        self, name: str, q: str | torch.Tensor | np.ndarray
    ) -> tuple[torch.Tensor, list[str]]:
        if isinstance(q, str):
            return self._unit[self.index(q)], [q]
        if isinstance(q, (np.ndarray, list, tuple)):
            q = torch.as_tensor(np.asarray(q, dtype=np.float64))
        if not isinstance(q, torch.Tensor):
            raise TypeError(f"{name} must be a word (str) or a vector, got {type(q).__name__}")
        d = self.vectors.shape[1]
        if q.shape != (d,):
            raise ValueError(f"{name} must be a vector of shape ({d},), got shape {tuple(q.shape)}")
        q = q.to(self._unit)
        return F.normalize(q, dim=0), []

    def _nearest(self, q_unit: torch.Tensor, k: int, exclude: list[str]) -> list[tuple[str, float]]:
        cos = (self._unit @ q_unit).clone()
        for w in exclude:
            cos[self.index(w)] = -math.inf
        k = min(k, len(self) - len(set(exclude)))
        if k <= 0:
            return []
        top = torch.topk(cos, k)
        return [
            (self.vocab[i], float(c))
            for c, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        ]

    def most_similar(
        self,
        word_or_vector: str | torch.Tensor | np.ndarray,
        k: int = 10,
        exclude: Sequence[str] = (),
    ) -> list[tuple[str, float]]:
        """The ``k`` words with the highest cosine similarity, as ``[(word, cos), ...]``, best first.

        A query word is left out of its own answer; ``exclude`` leaves out more words.
        """
        k = _check_int("most_similar", "k", k, 1)
        q, self_ex = self._query("most_similar: word_or_vector", word_or_vector)
        return self._nearest(
            q, k, self_ex + [self._check_member("most_similar", w) for w in exclude]
        )

    def _check_member(self, where: str, w: Any) -> str:
        if not isinstance(w, str):
            raise TypeError(f"{where}: words must be str, got {type(w).__name__} ({w!r})")
        self.index(w)
        return w

    def analogy(self, a: str, b: str, c: str, k: int = 5) -> list[tuple[str, float]]:
        """Answer "a is to b as c is to ?" with the words nearest to ``b̂ − â + ĉ`` (unit vectors), inputs excluded.

        ``analogy("man", "king", "woman")`` asks for king − man + woman (hoping for "queen").
        """
        k = _check_int("analogy", "k", k, 1)
        a, b, c = (self._check_member("analogy", w) for w in (a, b, c))
        target = self._unit[self.index(b)] - self._unit[self.index(a)] + self._unit[self.index(c)]
        return self._nearest(F.normalize(target, dim=0), k, [a, b, c])

    def project(self, words: Sequence[str] | None = None, dims: int = 2) -> pd.DataFrame:
        """PCA of the vectors of ``words`` (default: all) onto their first ``dims`` (2 or 3) components.

        Centre ``X̃ = X − mean(X)``, SVD ``X̃ = U S Vᵀ`` (``torch.linalg.svd``); the coordinates
        are ``X̃ V[:, :dims] = U S``. Each component's sign is fixed so that its largest-magnitude
        entry is positive. Returns a DataFrame with columns ``word, x, y[, z]``;
        ``df.attrs["explained_variance_ratio"]`` holds ``S_i² / Σ_j S_j²`` of the kept components.
        """
        if isinstance(dims, bool) or dims not in (2, 3):
            raise ValueError(f"project: dims must be 2 or 3, got {dims!r}")
        if words is None:
            words = self.vocab
        words = [self._check_member("project", w) for w in _check_words("project", "words", words)]
        if len(words) <= dims:
            raise ValueError(
                f"project: words must hold more than dims={dims} words, got {len(words)}"
            )
        if self.vectors.shape[1] < dims:
            raise ValueError(
                f"project: dims={dims} exceeds the vector dimension {self.vectors.shape[1]}"
            )
        x = self.vectors[[self.index(w) for w in words]].cpu().double()  # float64: MPS has none
        x = x - x.mean(0)
        _, s, vh = torch.linalg.svd(x, full_matrices=False)
        coords = x @ vh[:dims].T  # (n, dims)
        flip = torch.sign(coords.gather(0, coords.abs().argmax(0, keepdim=True)))
        coords = coords * torch.where(flip == 0, 1.0, flip)
        var = s**2
        ratio = var[:dims] / var.sum() if var.sum() > 0 else torch.zeros(dims)
        df = pd.DataFrame(coords.cpu().numpy(), columns=["x", "y", "z"][:dims])
        df.insert(0, "word", words)
        df.attrs["explained_variance_ratio"] = ratio.cpu().tolist()
        return df


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True)
class Word2VecConfig:
    """Settings of a word2vec (skip-gram, negative sampling) run.

    ``dim`` vector size; ``window`` maximum distance of a context word (shrunk at random per
    centre word when ``dynamic_window``); ``negatives`` K noise words per pair; ``min_count``
    rarer words are dropped; ``subsample_t`` the t of the subsampling formula (0 = off);
    ``lr`` learning rate (linearly decayed to ``lr/100``; Adam by default, or word2vec's plain
    SGD with ``optimizer="sgd"`` on the *summed* batch loss, lr ≈ 0.025 as in the paper);
    ``epochs`` passes over the text, cut short by ``max_steps`` if set; ``batch_size`` pairs per
    step; ``seed`` seeds every random choice (init, subsampling, windows, shuffling, negatives).
    """

    dim: int = 64
    window: int = 5
    negatives: int = 5
    min_count: int = 5
    subsample_t: float = 1e-3
    lr: float = 0.02
    epochs: int = 2
    batch_size: int = 512
    seed: int = 0
    max_steps: int | None = None
    dynamic_window: bool = True
    optimizer: str = "adam"

    def __post_init__(self) -> None:
        w = "Word2VecConfig"
        for name, minimum in (
            ("dim", 1),
            ("window", 1),
            ("negatives", 1),
            ("min_count", 1),
            ("epochs", 1),
            ("batch_size", 1),
            ("seed", 0),
        ):
            _check_int(w, name, getattr(self, name), minimum)
        if self.max_steps is not None:
            _check_int(w, "max_steps", self.max_steps, 1)
        _check_float(w, "subsample_t", self.subsample_t, 0.0, strict=False)
        _check_float(w, "lr", self.lr, 0.0, strict=True)
        if not isinstance(self.dynamic_window, bool):
            raise TypeError(
                f"{w}: dynamic_window must be a bool, got {type(self.dynamic_window).__name__}"
            )
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"{w}: optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")


class Word2Vec(Embeddings):
    """Trained word2vec vectors (``W_in``, the usual choice) with the run's config, counts and loss history.

    ``history`` is a DataFrame with one row per step: ``step, epoch, loss`` (mean loss per pair).
    ``model`` holds both tables (``model.W_out`` are the context vectors).
    """

    def __init__(
        self,
        model: SkipGram,
        vocab: list[str],
        counts: np.ndarray,
        config: Word2VecConfig,
        history: pd.DataFrame,
    ) -> None:
        super().__init__(model.W_in.detach().float().cpu(), vocab)
        self.model = model
        self.counts = counts
        self.config = config
        self.history = history
        self.unknown_hint = (
            f"; it may occur fewer than min_count={config.min_count} times in the training text"
        )

    def count(self, word: str) -> int:
        """How often ``word`` occurred in the training text."""
        return int(self.counts[self.index(word)])


def train_word2vec(
    words: Sequence[str],
    config: Word2VecConfig | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> Word2Vec:
    """Train skip-gram with negative sampling on a list of word tokens; returns a ``Word2Vec``.

    Per epoch: subsample the (min_count-filtered) token stream, build the dynamic-window pairs,
    shuffle them, and for each batch draw K negatives per pair from ``count^0.75`` and take one
    optimiser step on ``sgns_loss``. All randomness comes from one ``torch.Generator`` seeded
    with ``config.seed`` (on the CPU), so the same seed gives the same vectors on the CPU.
    """
    tokens = _check_words("train_word2vec", "words", words)
    if config is None:
        config = Word2VecConfig()
    if not isinstance(config, Word2VecConfig):
        raise TypeError(
            f"train_word2vec: config must be a Word2VecConfig, got {type(config).__name__}"
        )
    dev = as_device(device)
    vocab, counts = build_vocab(tokens, config.min_count)
    if len(vocab) < 2:
        raise ValueError(
            f"train_word2vec: only {len(vocab)} distinct word(s) occur at least min_count="
            f"{config.min_count} times; lower min_count or give more text"
        )
    index = {w: i for i, w in enumerate(vocab)}
    ids = torch.tensor([index[w] for w in tokens if w in index], dtype=torch.long)
    keep = keep_probabilities(counts, config.subsample_t)
    noise = noise_distribution(counts)

    g = torch.Generator().manual_seed(config.seed)
    model = SkipGram(len(vocab), config.dim, generator=g).to(dev)
    if config.optimizer == "adam":
        fused = dev.type in ("cpu", "cuda")  # one fused kernel: ~8x faster steps on the CPU
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=fused)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=config.lr)

    # the pairs of one epoch, to size the run (and the linear learning-rate decay) in advance
    epoch_pairs = []
    for _ in range(config.epochs):
        kept = subsample(ids, keep, g)
        epoch_pairs.append(skipgram_pairs(kept, config.window, config.dynamic_window, g))
    steps_per_epoch = [math.ceil(len(c) / config.batch_size) for c, _ in epoch_pairs]
    total = (
        sum(steps_per_epoch)
        if config.max_steps is None
        else min(config.max_steps, sum(steps_per_epoch))
    )
    if total == 0:
        raise ValueError(
            f"train_word2vec: no (centre, context) pairs are left after min_count={config.min_count} "
            f"and subsampling (subsample_t={config.subsample_t}); give more words, or lower "
            "subsample_t (0 turns subsampling off)"
        )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(1.0 - s / total, 0.01))

    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="word2vec", disable=not progress)
    losses = torch.empty(total, device=dev)  # one buffer: a list of 0-d tensors fragments the heap (GBs)
    epochs: list[int] = []
    step = 0
    for epoch, (centre, context) in enumerate(epoch_pairs):
        if step >= total:
            break
        perm = torch.randperm(len(centre), generator=g)
        centre, context = centre[perm], context[perm]
        for start in range(0, len(centre), config.batch_size):
            if step >= total:
                break
            c = centre[start : start + config.batch_size]
            o = context[start : start + config.batch_size]
            neg = sample_negatives(noise, (len(c), config.negatives), g)
            loss = model(c.to(dev), o.to(dev), neg.to(dev))
            mean = loss.mean()
            opt.zero_grad(set_to_none=True)
            (loss.sum() if config.optimizer == "sgd" else mean).backward()
            opt.step()
            sched.step()
            losses[step] = mean.detach()
            epochs.append(epoch)
            step += 1
            bar.update(1)
            if step % 100 == 0 or step == total:
                bar.set_postfix(loss=f"{losses[step - 1].item():.3f}")
    bar.close()
    history = pd.DataFrame(
        {
            "step": np.arange(1, step + 1),
            "epoch": epochs,
            "loss": losses[:step].float().cpu().numpy(),
        }
    )
    model.eval()
    return Word2Vec(model, vocab, counts, config, history)


# ----------------------------------------------------------------------------- a bias probe (WEAT)


def _word_list(where: str, name: str, emb: Embeddings, ws: Any) -> list[str]:
    ws = _check_words(where, name, ws)
    if len(set(ws)) != len(ws):
        dup = next(w for w, n in Counter(ws).items() if n > 1)
        raise ValueError(f"{where}: {name} must not repeat a word, got {dup!r} more than once")
    for w in ws:
        if w not in emb:
            raise UnknownWordError(
                f"{where}: {name} holds {w!r}, which is not in the vocabulary ({len(emb)} words)"
                f"{emb.unknown_hint}"
            )
    return ws


def association_scores(
    emb: Embeddings, words: Sequence[str], attributes_a: Sequence[str], attributes_b: Sequence[str]
) -> pd.Series:
    """How much closer each word sits to attribute set A than to B (cosine similarity).

    ``s(w, A, B) = mean_{a∈A} cos(w, a) − mean_{b∈B} cos(w, b)``, the per-word score of WEAT
    (Caliskan et al. 2017). Positive: ``w`` is nearer A on average. Returns a Series indexed by word.

    >>> emb = Embeddings(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.2]]), ["he", "she", "brave"])
    >>> round(float(association_scores(emb, ["brave"], ["he"], ["she"])["brave"]), 3)
    0.784
    """
    if not isinstance(emb, Embeddings):
        raise TypeError(
            f"association_scores: emb must be an Embeddings (e.g. a trained Word2Vec), got {type(emb).__name__}"
        )
    where = "association_scores"
    ws = _word_list(where, "words", emb, words)
    a = _word_list(where, "attributes_a", emb, attributes_a)
    b = _word_list(where, "attributes_b", emb, attributes_b)
    unit = emb._unit.double()
    w_unit = unit[[emb.index(w) for w in ws]]
    cos_a = w_unit @ unit[[emb.index(x) for x in a]].T  # (words, |A|)
    cos_b = w_unit @ unit[[emb.index(x) for x in b]].T
    s = cos_a.mean(1) - cos_b.mean(1)
    return pd.Series(s.cpu().numpy(), index=pd.Index(ws, name="word"), name="s(w, A, B)")


@dataclass(frozen=True, eq=False)
class Association:
    """The result of ``association``: a WEAT test of targets X, Y against attributes A, B.

    ``statistic`` = mean_{x∈X} s(x) − mean_{y∈Y} s(y); ``effect_size`` = statistic / std_{w∈X∪Y} s(w)
    (Cohen's-d-like, sample std); ``p_value`` from the permutation test (``exact`` when every
    split of X∪Y was enumerated); ``scores`` the per-word s(w, A, B) of the targets.
    """

    statistic: float
    effect_size: float
    p_value: float
    n_permutations: int
    exact: bool
    alternative: str
    scores: pd.Series


def association(
    emb: Embeddings,
    targets_x: Sequence[str],
    targets_y: Sequence[str],
    attributes_a: Sequence[str],
    attributes_b: Sequence[str],
    *,
    n_permutations: int = 10_000,
    alternative: str = "two-sided",
    seed: int = 0,
) -> Association:
    """WEAT (Caliskan et al. 2017): do targets X sit nearer attributes A (and Y nearer B) than chance?

    With ``s(w) = mean_{a∈A} cos(w, a) − mean_{b∈B} cos(w, b)`` (``association_scores``), the
    statistic is ``S = mean_{x∈X} s(x) − mean_{y∈Y} s(y)`` (the paper sums instead of averaging;
    with |X| = |Y| that is the same test) and the effect size ``d = S / std_{w∈X∪Y} s(w)``.

    **Permutation test.** Under the null hypothesis the labels X/Y are exchangeable: re-split
    X∪Y into groups of sizes |X| and |Y| and recompute S. When there are at most
    ``n_permutations`` splits they are all enumerated and ``p = #{S_i ≥ S} / #splits`` (the observed
    split included); otherwise ``n_permutations`` random splits give ``p = (1 + #{S_i ≥ S}) / (1 + n)``.
    ``alternative``: ``"greater"`` (X nearer A), ``"less"``, or ``"two-sided"`` (compares |S_i| with |S|).

    The p-value only covers the choice of target words; it says nothing about how much S would
    move with another training seed, another corpus, or other word lists.
    """
    if not isinstance(emb, Embeddings):
        raise TypeError(
            f"association: emb must be an Embeddings (e.g. a trained Word2Vec), got {type(emb).__name__}"
        )
    where = "association"
    x = _word_list(where, "targets_x", emb, targets_x)
    y = _word_list(where, "targets_y", emb, targets_y)
    both = set(x) & set(y)
    if both:
        raise ValueError(f"association: targets_x and targets_y must not share words, got {sorted(both)}")
    n_permutations = _check_int(where, "n_permutations", n_permutations, 1)
    seed = _check_int(where, "seed", seed, 0)
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(
            f"association: alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}"
        )
    scores = association_scores(emb, x + y, attributes_a, attributes_b)
    s = scores.to_numpy()
    nx, n = len(x), len(x) + len(y)

    def stat(in_x: np.ndarray) -> np.ndarray:  # in_x: (splits, n) boolean masks
        return (in_x @ s) / nx - ((~in_x) @ s) / (n - nx)

    observed = float(stat(np.arange(n)[None, :] < nx)[0])
    n_splits = math.comb(n, nx)
    exact = n_splits <= n_permutations
    if exact:
        from itertools import combinations

        masks = np.zeros((n_splits, n), dtype=bool)
        for i, idx in enumerate(combinations(range(n), nx)):
            masks[i, list(idx)] = True
    else:
        rng = np.random.default_rng(seed)
        order = np.argsort(rng.random((n_permutations, n)), axis=1)
        masks = order < nx  # a uniformly random subset of nx positions per row
    null = stat(masks)
    tol = 1e-12  # a split equal to the observed one counts as "at least as extreme"
    if alternative == "greater":
        hits = null >= observed - tol
    elif alternative == "less":
        hits = null <= observed + tol
    else:
        hits = np.abs(null) >= abs(observed) - tol
    k = int(hits.sum())
    p = k / n_splits if exact else (k + 1) / (n_permutations + 1)
    std = float(np.std(s, ddof=1)) if n > 1 else 0.0
    effect = observed / std if std > 0 else 0.0
    return Association(
        statistic=observed,
        effect_size=effect,
        p_value=float(p),
        n_permutations=n_splits if exact else n_permutations,
        exact=exact,
        alternative=alternative,
        scores=scores,
    )


__all__ += ["Association", "association", "association_scores"]
