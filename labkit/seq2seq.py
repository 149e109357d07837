r"""Sequence to sequence with attention: an encoder reads the source, a decoder writes the target.

The encoder–decoder (Sutskever et al. 2014; Cho et al. 2014)
-----------------------------------------------------------
An encoder RNN reads the source ``x_1 … x_S`` into states ``h_1 … h_S``; a decoder RNN writes
the target one token at a time, each step reading the previous target token ``y_{t−1}`` (during
training the *true* previous token: teacher forcing). Without attention the decoder's only view
of the source is one fixed vector — here the encoder's final state ``h_S`` — however long the
source: a bottleneck.

Attention (Bahdanau, Cho & Bengio 2015)
---------------------------------------
At every step the decoder looks at *all* encoder states again. With the decoder's previous
state ``s_{t−1}`` as the query::

    e_tj = score(s_{t−1}, h_j)                          one score per source position j
    α_tj = exp(e_tj) / Σ_k exp(e_tk)                    softmax over the source (padding masked)
    c_t  = Σ_j α_tj h_j                                 the context vector
    s_t  = RNN(s_{t−1}, [E y_{t−1}; c_t])               the decoder step
    p(y_t | y_<t, x) = softmax(W_out [s_t; c_t] + b)

Two scores:

- ``"additive"`` (Bahdanau 2015):  ``score(s, h) = vᵀ tanh(W_q s + W_k h)``
- ``"dot"`` (Luong, Pham & Manning 2015):  ``score(s, h) = sᵀ h``

and ``"none"``: ``c_t = h_S`` at every step (the plain encoder–decoder). Both scores use
Bahdanau's arrangement (attend with ``s_{t−1}``, then step); Luong et al. attend with ``s_t``
after the step — a different wiring of the same idea. The weights ``α`` (steps × source
positions) are the alignment: plotted as a heatmap they show which source characters each
output character was read from. (Bahdanau's encoder is bidirectional; this one reads left to
right, which is enough for the dates task.)

Padding follows :mod:`labkit.attention`'s mask semantics — ``True`` = may attend: padded source
positions get a score of ``−∞``, so exactly zero weight. The encoder is told the true lengths
(``lengths=``, see :mod:`labkit.rnn`), so its final state is the one after the last real token.

Decoding: :meth:`Seq2Seq.greedy_decode` (the most likely token at each step) and
:meth:`Seq2Seq.beam_decode` (keep the ``beam_width`` best partial translations by total
log-probability); both return the tokens *and* the attention weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from labkit._checks import describe as _describe
from labkit._checks import finite_logits, int_vector, token_ids
from labkit.rnn import IMPLS, SEQUENCE_MODULES, _check_dropout

__all__ = [
    "ATTENTIONS",
    "AdditiveAttention",
    "DotAttention",
    "Seq2Seq",
    "Seq2SeqConfig",
    "masked_softmax",
    "token_accuracy",
]

ATTENTIONS = ("additive", "dot", "none")
CELLS = ("gru", "lstm")


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Softmax over the last dimension, where ``mask`` is ``False`` the weight is exactly 0.

    ``mask`` (bool, broadcastable to ``scores``; ``True`` = may attend) as in
    :mod:`labkit.attention`; a row with nothing to attend to gets all-zero weights.
    """
    if mask is None:
        return torch.softmax(scores, dim=-1)
    scores = scores.masked_fill(~mask, float("-inf"))
    anything = mask.any(dim=-1, keepdim=True)
    scores = scores.masked_fill(~anything, 0.0)  # avoid softmax(−∞, …, −∞) = NaN
    return torch.softmax(scores, dim=-1).masked_fill(~anything, 0.0)


class AdditiveAttention(nn.Module):
    """Bahdanau attention: ``score(s, h_j) = vᵀ tanh(W_q s + W_k h_j)``, ``α = softmax(score)``,
    ``c = Σ_j α_j h_j``.

    ``W_q`` ``(attn_size × query_size)``, ``W_k`` ``(attn_size × key_size)`` and ``v``
    ``(attn_size,)``, no biases — the formula as written. ``W_k h_j`` does not change while
    decoding, so :meth:`project_keys` computes it once per source.
    """

    def __init__(self, query_size: int, key_size: int, attn_size: int) -> None:
        super().__init__()
        self.W_q = nn.Linear(query_size, attn_size, bias=False)
        self.W_k = nn.Linear(key_size, attn_size, bias=False)
        self.v = nn.Linear(attn_size, 1, bias=False)

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """``W_k h_j`` for every source position: ``(B, S, key_size) → (B, S, attn_size)``."""
        return self.W_k(keys)

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        mask: torch.Tensor | None = None,
        projected_keys: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``query`` ``(B, query_size)``, ``keys`` ``(B, S, key_size)``, ``mask`` ``(B, S)`` →
        ``(context (B, key_size), weights (B, S))``."""
        if projected_keys is None:
            projected_keys = self.project_keys(keys)
        e = self.v(torch.tanh(self.W_q(query)[:, None, :] + projected_keys)).squeeze(-1)  # (B, S)
        alpha = masked_softmax(e, mask)
        return (alpha[:, :, None] * keys).sum(dim=1), alpha


class DotAttention(nn.Module):
    """Luong's dot score: ``score(s, h_j) = sᵀ h_j`` (no parameters; query and keys must have
    the same size), ``α = softmax(score)``, ``c = Σ_j α_j h_j``."""

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        return keys

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        mask: torch.Tensor | None = None,
        projected_keys: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        e = (keys @ query[:, :, None]).squeeze(-1)  # (B, S): h_jᵀ s for every j
        alpha = masked_softmax(e, mask)
        return (alpha[:, :, None] * keys).sum(dim=1), alpha


@dataclass
class Seq2SeqConfig:
    """Sizes and choices of a :class:`Seq2Seq` model.

    - ``src_vocab_size``, ``tgt_vocab_size``: the two vocabularies (e.g. ``len(SRC_VOCAB)``).
    - ``cell``: ``"gru"`` or ``"lstm"``; ``attention``: ``"additive"``, ``"dot"`` or ``"none"``.
    - ``n_embd``: token embedding size; ``hidden_size``: encoder and decoder state size;
      ``num_layers``: layers of each; ``attn_size``: the additive score's tanh layer
      (default ``hidden_size``).
    - ``dropout``: on embeddings, between layers and before the output layer, while training.
    - ``impl``: ``"reference"`` or ``"fast"`` for the recurrent layers (see :mod:`labkit.rnn`).
    - ``pad_id``, ``bos_id``, ``eos_id``: the special tokens (the same ids in both vocabularies;
      :class:`labkit.dates.Vocab` uses 0, 1, 2).
    """

    src_vocab_size: int
    tgt_vocab_size: int
    cell: str = "gru"
    attention: str = "additive"
    n_embd: int = 32
    hidden_size: int = 64
    num_layers: int = 1
    attn_size: int | None = None
    dropout: float = 0.0
    impl: str = "fast"
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "n_embd", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Seq2SeqConfig.{name} must be a positive int, got {value!r}")
        a = self.attn_size
        if a is not None and (isinstance(a, bool) or not isinstance(a, int) or a < 1):
            raise ValueError(f"Seq2SeqConfig.attn_size must be None or a positive int, got {a!r}")
        if self.cell not in CELLS:
            raise ValueError(f"Seq2SeqConfig.cell must be one of {CELLS}, got {self.cell!r}")
        if self.attention not in ATTENTIONS:
            raise ValueError(
                f"Seq2SeqConfig.attention must be one of {ATTENTIONS}, got {self.attention!r}"
            )
        if self.impl not in IMPLS:
            raise ValueError(f"Seq2SeqConfig.impl must be one of {IMPLS}, got {self.impl!r}")
        _check_dropout(self.dropout, "Seq2SeqConfig.dropout")
        for name in ("pad_id", "bos_id", "eos_id"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Seq2SeqConfig.{name} must be an int >= 0, got {value!r}")
            if value >= min(self.src_vocab_size, self.tgt_vocab_size):
                raise ValueError(
                    f"Seq2SeqConfig.{name}={value} must be a token id of both vocabularies "
                    f"(< {min(self.src_vocab_size, self.tgt_vocab_size)})"
                )


class _Memory:
    """What the decoder reads at every step: encoder states, mask, precomputed keys, and the
    fixed context of the model without attention."""

    def __init__(
        self,
        keys: torch.Tensor,
        mask: torch.Tensor,
        projected: torch.Tensor | None,
        fixed_context: torch.Tensor | None,
    ) -> None:
        self.keys = keys  # (B, S, H): the encoder states h_j
        self.mask = mask  # (B, S) bool: True = a real source token
        self.projected = projected  # (B, S, A): W_k h_j, computed once (additive attention)
        self.fixed_context = fixed_context  # (B, H): h_S, the context without attention

    def select(self, rows: torch.Tensor) -> _Memory:
        """The memory of the sources ``rows`` (beam search repeats one source per beam)."""

        def pick(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.index_select(0, rows)

        return _Memory(
            pick(self.keys), pick(self.mask), pick(self.projected), pick(self.fixed_context)
        )


class Seq2Seq(nn.Module):
    """An RNN encoder–decoder with additive, dot or no attention (see the module docstring).

    ``model(src, src_lengths, tgt_in, tgt_out=None) -> (logits, loss)``:

    - ``src`` ``(B, S)`` source ids, padded on the right with ``pad_id``;
    - ``src_lengths`` ``(B,)`` true source lengths, *or* a bool mask ``(B, S)`` (``True`` = real
      token), *or* ``None`` (lengths = number of non-pad tokens);
    - ``tgt_in`` ``(B, T)``: ``<bos> y_1 … y_{T−1}`` — what the decoder reads (teacher forcing);
    - ``tgt_out`` ``(B, T)``: ``y_1 … y_T`` (ending with ``<eos>``) — what it must predict.
      Positions holding ``pad_id`` are left out of the mean cross-entropy.

    ``logits`` is ``(B, T, tgt_vocab_size)``. The :class:`~labkit.train.Trainer` calls
    ``model(*x, y)`` with ``x = (src, src_lengths, tgt_in)``, as
    :func:`labkit.dates.make_batch_fn` serves.
    """

    config_class = Seq2SeqConfig

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        if not isinstance(config, Seq2SeqConfig):
            raise TypeError(f"config must be a Seq2SeqConfig, got {type(config).__name__}")
        self.config = c = config
        H, E = c.hidden_size, c.n_embd
        rnn = SEQUENCE_MODULES[c.cell]
        self.src_embedding = nn.Embedding(c.src_vocab_size, E)
        self.tgt_embedding = nn.Embedding(c.tgt_vocab_size, E)
        self.encoder = rnn(E, H, c.num_layers, dropout=c.dropout, impl=c.impl)
        self.decoder = rnn(E + H, H, c.num_layers, dropout=c.dropout, impl=c.impl)  # [E y; c]
        if c.attention == "additive":
            self.attention: nn.Module | None = AdditiveAttention(H, H, c.attn_size or H)
        elif c.attention == "dot":
            self.attention = DotAttention()
        else:
            self.attention = None
        self.drop = nn.Dropout(c.dropout)
        self.out = nn.Linear(2 * H, c.tgt_vocab_size)  # W_out [s_t; c_t] + b

    @property
    def impl(self) -> str:
        return self.encoder.impl

    @impl.setter
    def impl(self, value: str) -> None:
        self.encoder.impl = value
        self.decoder.impl = value

    def num_params(self) -> int:
        """The number of trainable numbers in the model."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    # --------------------------------------------------------------------------------- checks

    def _check_ids(self, name: str, t: object, vocab: int) -> torch.Tensor:
        return token_ids(name, t, vocab).long()

    def _lengths(self, src: torch.Tensor, src_lengths: object) -> torch.Tensor:
        B, S = src.shape
        if src_lengths is None:
            lengths = (src != self.config.pad_id).sum(dim=1)
        elif isinstance(src_lengths, torch.Tensor) and src_lengths.dtype == torch.bool:
            if tuple(src_lengths.shape) != (B, S):
                raise ValueError(
                    f"a source mask must have the shape of src {(B, S)}, got "
                    f"{tuple(src_lengths.shape)}"
                )
            lengths = src_lengths.sum(dim=1)
            if not torch.equal(src_lengths, _length_mask(lengths, S)):
                raise ValueError(
                    "a source mask must be True on a prefix of each row (padding on the right)"
                )
        else:
            lengths = int_vector("src_lengths", src_lengths, src.device)
            if lengths.numel() != B:
                raise ValueError(
                    f"src_lengths must have one entry per source (batch={B}), got {lengths.numel()}"
                )
        if lengths.numel() and (int(lengths.min()) < 1 or int(lengths.max()) > S):
            raise ValueError(
                f"src_lengths must lie in [1, {S}] (each source at least one token), got values "
                f"from {int(lengths.min())} to {int(lengths.max())}"
            )
        return lengths.to(src.device)

    # ------------------------------------------------------------------------ encode, one step

    def encode(
        self, src: torch.Tensor, src_lengths: torch.Tensor | None = None
    ) -> tuple[_Memory, torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
        """Read the source: the decoder's memory and its initial state (the encoder's final one)."""
        src = self._check_ids("src", src, self.config.src_vocab_size)
        lengths = self._lengths(src, src_lengths)
        mask = _length_mask(lengths, src.shape[1])  # (B, S), True = real token
        keys, state = self.encoder(self.drop(self.src_embedding(src)), lengths=lengths)
        if self.attention is None:
            h_n = state[0] if isinstance(state, tuple) else state
            memory = _Memory(keys, mask, None, h_n[-1])  # c_t = h_S, the top layer's final state
        else:
            memory = _Memory(keys, mask, self.attention.project_keys(keys), None)
        return memory, state

    def decode_step(
        self,
        y_prev: torch.Tensor,
        state: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
        memory: _Memory,
    ) -> tuple[torch.Tensor, torch.Tensor | tuple, torch.Tensor | None]:
        """One decoder step: ``y_{t−1}`` ``(B,)`` and ``s_{t−1}`` → ``(logits (B, V), s_t,
        attention weights (B, S) or None)``."""
        h = state[0] if isinstance(state, tuple) else state
        if self.attention is None:
            context, weights = memory.fixed_context, None
        else:  # query: the top layer's previous state s_{t−1}
            context, weights = self.attention(h[-1], memory.keys, memory.mask, memory.projected)
        emb = self.drop(self.tgt_embedding(y_prev))
        out, state = self.decoder(torch.cat([emb, context], dim=-1)[:, None, :], state)
        logits = self.out(self.drop(torch.cat([out[:, 0], context], dim=-1)))
        return logits, state, weights

    # ----------------------------------------------------------------------------- training

    def forward(
        self,
        src: torch.Tensor,
        src_lengths: torch.Tensor | None,
        tgt_in: torch.Tensor,
        tgt_out: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher-forced logits ``(B, T, V)`` and the mean cross-entropy over non-pad targets."""
        c = self.config
        tgt_in = self._check_ids("tgt_in", tgt_in, c.tgt_vocab_size)
        memory, state = self.encode(src, src_lengths)
        if tgt_in.shape[0] != memory.keys.shape[0]:
            raise ValueError(
                f"tgt_in must have the batch size of src ({memory.keys.shape[0]}), "
                f"got shape {tuple(tgt_in.shape)}"
            )
        steps = []
        for t in range(tgt_in.shape[1]):
            logits, state, _ = self.decode_step(tgt_in[:, t], state, memory)
            steps.append(logits)
        logits = torch.stack(steps, dim=1)  # (B, T, V)
        if tgt_out is None:
            return logits, None
        tgt_out = self._check_ids("tgt_out", tgt_out, c.tgt_vocab_size)
        if tgt_out.shape != tgt_in.shape:
            raise ValueError(
                f"tgt_out must have the shape of tgt_in {tuple(tgt_in.shape)}, "
                f"got {tuple(tgt_out.shape)}"
            )
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=c.pad_id
        )
        return logits, loss

    # ----------------------------------------------------------------------------- decoding

    def _check_max_len(self, max_len: object) -> int:
        if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
            raise ValueError(f"max_len must be a positive int, got {max_len!r}")
        return max_len

    @torch.no_grad()
    def greedy_decode(
        self, src: torch.Tensor, src_lengths: torch.Tensor | None = None, max_len: int = 32
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The most likely token at every step, for a batch of sources.

        Returns ``tokens`` ``(B, n)`` — each row ends with ``<eos>`` (then ``pad_id``) unless it
        reached ``max_len`` first; ``n ≤ max_len`` — and the attention weights ``(B, n, S)``
        (``None`` without attention; zero after a row's ``<eos>``). Runs in eval mode.
        """
        c = self.config
        max_len = self._check_max_len(max_len)
        was_training = self.training
        self.eval()
        try:
            memory, state = self.encode(src, src_lengths)
            B = memory.keys.shape[0]
            y = torch.full((B,), c.bos_id, dtype=torch.long, device=memory.keys.device)
            done = torch.zeros(B, dtype=torch.bool, device=y.device)
            tokens, weights = [], []
            for _ in range(max_len):
                logits, state, alpha = self.decode_step(y, state, memory)
                y = logits.argmax(dim=-1).masked_fill(done, c.pad_id)
                tokens.append(y)
                if alpha is not None:
                    weights.append(alpha.masked_fill(done[:, None], 0.0))
                done = done | (y == c.eos_id)
                if bool(done.all()):
                    break
        finally:
            self.train(was_training)
        attn = torch.stack(weights, dim=1) if weights else None
        return torch.stack(tokens, dim=1), attn

    @torch.no_grad()
    def beam_decode(
        self,
        src: torch.Tensor,
        beam_width: int = 4,
        max_len: int = 32,
        src_length: int | None = None,
        length_penalty: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Beam search for one source ``src`` ``(S,)`` or ``(1, S)``.

        Keeps the ``beam_width`` partial translations with the highest total log-probability
        ``Σ_t log p(y_t | y_<t, x)``. Each step ranks every extension of every kept translation
        and takes the best: one that ends with ``<eos>`` is finished; the others (up to
        ``beam_width``) stay open. The search stops when ``beam_width`` translations are
        finished (or after ``max_len`` steps); the best finished one by ``score / n^length_penalty``
        (``n`` tokens) wins. ``beam_width=1`` is greedy decoding.

        Returns ``tokens`` ``(n,)`` (ending with ``<eos>`` unless ``max_len`` was reached) and the
        attention weights ``(n, S)`` of that translation (``None`` without attention).
        """
        c = self.config
        if isinstance(beam_width, bool) or not isinstance(beam_width, int) or beam_width < 1:
            raise ValueError(f"beam_width must be an int >= 1, got {beam_width!r}")
        max_len = self._check_max_len(max_len)
        _check_length_penalty(length_penalty)
        if isinstance(src, torch.Tensor) and src.dim() == 1:
            src = src[None]
        if not isinstance(src, torch.Tensor) or src.dim() != 2 or src.shape[0] != 1:
            raise ValueError(
                f"beam_decode takes one source of shape (S,) or (1, S), got {_describe(src)}"
            )
        if src_length is not None and (
            isinstance(src_length, bool) or not isinstance(src_length, int)
        ):
            raise TypeError(f"src_length must be an int or None, got {_describe(src_length)}")
        lengths = None if src_length is None else torch.tensor([src_length], device=src.device)

        def normalised(score: float, n: int) -> float:
            return score / max(n, 1) ** length_penalty

        was_training = self.training
        self.eval()
        try:
            memory, state = self.encode(src, lengths)
            device = memory.keys.device
            S = memory.keys.shape[1]
            scores = torch.zeros(1, device=device)  # total log-probability of each open beam
            seqs = torch.empty(1, 0, dtype=torch.long, device=device)  # their tokens
            attns = torch.empty(1, 0, S, device=device)  # their attention rows
            y = torch.full((1,), c.bos_id, dtype=torch.long, device=device)
            finished: list[tuple[float, torch.Tensor, torch.Tensor]] = []
            for step in range(1, max_len + 1):
                mem = memory.select(torch.zeros(len(y), dtype=torch.long, device=device))
                logits, state, alpha = self.decode_step(y, state, mem)
                if alpha is None:
                    alpha = torch.zeros(len(y), S, device=device)
                logp = F.log_softmax(logits.float(), dim=-1)  # (n_beams, V)
                V = logp.shape[-1]
                candidates = (scores[:, None] + logp).flatten()
                best = candidates.topk(min(2 * beam_width, candidates.numel()))
                keep_beam, keep_tok, keep_score = [], [], []
                for rank, (score, flat) in enumerate(
                    zip(best.values.tolist(), best.indices.tolist(), strict=True)
                ):
                    b, tok = divmod(flat, V)
                    if tok == c.eos_id:
                        if rank < beam_width:
                            seq = torch.cat([seqs[b], seqs.new_tensor([tok])])
                            att = torch.cat([attns[b], alpha[b][None]])
                            finished.append((normalised(score, step), seq, att))
                        continue
                    if len(keep_beam) < beam_width:
                        keep_beam.append(b)
                        keep_tok.append(tok)
                        keep_score.append(score)
                if len(finished) >= beam_width or not keep_beam:
                    break
                rows = torch.tensor(keep_beam, device=device)
                y = torch.tensor(keep_tok, device=device)
                seqs = torch.cat([seqs[rows], y[:, None]], dim=1)
                attns = torch.cat([attns[rows], alpha[rows][:, None]], dim=1)
                scores = torch.tensor(keep_score, device=device)
                state = (
                    tuple(s.index_select(1, rows) for s in state)
                    if isinstance(state, tuple)
                    else state.index_select(1, rows)
                )
            else:  # max_len reached: the open beams compete too
                finished += [
                    (normalised(s, seqs.shape[1]), seqs[i], attns[i])
                    for i, s in enumerate(scores.tolist())
                ]
        finally:
            self.train(was_training)
        _, tokens, attn = max(finished, key=lambda f: f[0])
        return tokens, (attn if self.attention is not None else None)


def _check_length_penalty(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"length_penalty must be a finite number, got {value!r}")
    return float(value)


def _length_mask(lengths: torch.Tensor, S: int) -> torch.Tensor:
    """``(B, S)`` bool: ``mask[b, j] = j < lengths[b]`` (True = a real token, may attend)."""
    return torch.arange(S, device=lengths.device)[None, :] < lengths[:, None]


def token_accuracy(logits: torch.Tensor, targets: torch.Tensor, pad_id: int = 0) -> float:
    """Share of non-pad positions where ``argmax(logits)`` equals the target (teacher forced)."""
    finite_logits("logits", logits)
    if not isinstance(targets, torch.Tensor) or targets.is_floating_point():
        raise TypeError(f"targets must be an integer tensor of token ids, got {_describe(targets)}")
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"targets must have shape {tuple(logits.shape[:-1])} (logits without the last "
            f"dimension), got {tuple(targets.shape)}"
        )
    keep = targets != pad_id
    right = (logits.argmax(dim=-1) == targets) & keep
    return right.sum().item() / max(keep.sum().item(), 1)
