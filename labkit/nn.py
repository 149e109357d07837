"""Neural language models, first kind: cross-entropy and the MLP language model (Bengio et al. 2003).

Cross-entropy
-------------
A model gives a distribution ``q`` over the next token; the data says the true distribution ``p``
(one-hot: all mass on the token that came next). The cross-entropy is

    H(p, q) = − Σ_v p(v) · log q(v)          (for a one-hot p:  − log q(target))

and ``q = softmax(z)`` for the logits ``z``, so ``log q(v) = z_v − log Σ_u exp(z_u)``. Computed
naively, ``exp(z_u)`` overflows for large logits; subtracting ``m = max_u z_u`` first changes
nothing mathematically and keeps every exponent ≤ 0:

    log Σ_u exp(z_u) = m + log Σ_u exp(z_u − m)

A model that knows nothing (uniform ``q``) scores ``H = log V`` for a vocabulary of ``V`` tokens;
that is the loss a freshly initialised language model should start near.

The MLP language model
----------------------
Bengio, Ducharme, Vincent & Jauvin (2003), "A Neural Probabilistic Language Model": look up an
embedding ``C[w]`` (a learned vector) for each of the previous ``n`` tokens, concatenate them,
and map through one hidden layer to logits over the vocabulary:

    x = [C[w_{t−n+1}]; …; C[w_t]]            (n · n_embd numbers)
    h = tanh(x W₁ + b₁)                       (n_hidden numbers)
    logits = h W₂ + b₂                        (vocab_size numbers: the next token's scores)

Every labkit language model (this MLP, the RNNs, the GPT) follows one convention:
``model(idx, targets=None) -> (logits, loss)`` with ``idx`` of shape ``(B, T)``, ``logits`` of
shape ``(B, T, vocab_size)`` (position ``t`` predicts token ``t + 1``), and ``loss`` the mean
cross-entropy over all ``B·T`` positions when ``targets`` is given, else ``None``. So one trainer
and one sampler serve them all.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from labkit._checks import describe as _describe
from labkit._checks import token_ids

__all__ = ["MLPConfig", "MLPLanguageModel", "cross_entropy", "log_softmax"]


def log_softmax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``log softmax(z)_v = z_v − m − log Σ_u exp(z_u − m)`` with ``m = max_u z_u`` (no overflow)."""
    m = logits.amax(dim=dim, keepdim=True).detach()  # a constant shift: no gradient needed
    shifted = logits - m
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100
) -> torch.Tensor:
    """Mean cross-entropy ``H(p, q) = − Σ_v p(v) log q(v)`` with ``q = softmax(logits)``.

    The readable reference for ``torch.nn.functional.cross_entropy`` (which the models use; the
    two are tested equal, values and gradients).

    - ``logits``: shape ``(..., V)``, the unnormalised scores.
    - ``targets``: either token ids of shape ``(...)`` (``p`` is one-hot, so ``H = −log q(target)``;
      positions equal to ``ignore_index`` are left out of the mean, as padding is), or a
      probability distribution of the same shape as ``logits`` (soft targets).
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor, got {_describe(logits)}")
    if logits.dim() < 1:
        raise ValueError("logits must have at least one dimension (the vocabulary)")
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a tensor, got {type(targets).__name__}")
    log_q = log_softmax(logits, dim=-1)
    if targets.is_floating_point():  # soft targets: a distribution p per position
        if targets.shape != logits.shape:
            raise ValueError(
                f"soft targets must have the shape of logits {tuple(logits.shape)}, "
                f"got {tuple(targets.shape)}"
            )
        return -(targets * log_q).sum(dim=-1).mean()
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets (token ids) must have shape {tuple(logits.shape[:-1])} "
            f"(logits without the last dimension), got {tuple(targets.shape)}"
        )
    keep = targets != ignore_index
    if not bool(keep.any()):
        return logits.sum() * float("nan")  # like torch: a mean over nothing is NaN
    vocab = logits.shape[-1]
    kept = targets[keep]
    if bool((kept < 0).any() or (kept >= vocab).any()):
        raise ValueError(f"targets must be token ids in [0, {vocab}); got values outside it")
    # −log q(target): pick each position's target entry (the one-hot p does exactly this)
    return -log_q[keep].gather(-1, kept.unsqueeze(-1)).mean()


@dataclass
class MLPConfig:
    """Sizes of an :class:`MLPLanguageModel`.

    - ``vocab_size``: number of distinct tokens ``V``.
    - ``context``: how many previous tokens the model sees (Bengio's ``n``; the block length).
    - ``n_embd``: size of each token's embedding vector.
    - ``n_hidden``: width of the tanh hidden layer.
    - ``dropout``: dropout probability on the hidden layer during training (0 = off).
    """

    vocab_size: int
    context: int = 3
    n_embd: int = 16
    n_hidden: int = 128
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context", "n_embd", "n_hidden"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"MLPConfig.{name} must be a positive int, got {value!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, int | float):
            raise ValueError(f"MLPConfig.dropout must be a number in [0, 1), got {self.dropout!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"MLPConfig.dropout must be in [0, 1), got {self.dropout!r}")


class MLPLanguageModel(nn.Module):
    """Bengio et al. (2003): embeddings of the last ``context`` tokens → tanh layer → logits.

    Positions near the start of a sequence have fewer than ``context`` tokens before them; the
    missing ones are filled with a dedicated *padding* token (index ``vocab_size`` of the
    embedding table, a learned vector that no real token uses). So position ``t`` predicts token
    ``t + 1`` from ``idx[t − context + 1 : t + 1]``, padded on the left, at every ``t`` — the
    same ``(x, y)`` batches a GPT trains on work here unchanged.
    """

    config_class = MLPConfig

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        if not isinstance(config, MLPConfig):
            raise TypeError(f"config must be an MLPConfig, got {type(config).__name__}")
        self.config = config
        c = config
        self.pad_index = c.vocab_size
        self.embedding = nn.Embedding(c.vocab_size + 1, c.n_embd)  # C, plus one padding row
        self.hidden = nn.Linear(c.context * c.n_embd, c.n_hidden)  # W₁, b₁
        self.dropout = nn.Dropout(c.dropout)
        self.output = nn.Linear(c.n_hidden, c.vocab_size)  # W₂, b₂
        # Small output weights: the first predictions are near uniform, so the loss starts near
        # log V instead of far above it (a confidently wrong start wastes the first steps).
        with torch.no_grad():
            self.output.weight.mul_(0.1)
            self.output.bias.zero_()

    def num_params(self) -> int:
        """The number of trainable numbers in the model."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def windows(self, idx: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` token ids → ``(B, T, context)``: the tokens each position looks at."""
        n = self.config.context
        padded = F.pad(idx, (n - 1, 0), value=self.pad_index)  # (B, T + n − 1)
        return padded.unfold(1, n, 1)  # a sliding window of width n, step 1

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``idx`` (B, T) token ids → ``(logits (B, T, V), loss or None)``."""
        token_ids("idx", idx, self.config.vocab_size)
        B, T = idx.shape
        x = self.embedding(self.windows(idx))  # (B, T, n, n_embd)
        x = x.reshape(B, T, -1)  # concatenate the n embeddings: (B, T, n · n_embd)
        h = self.dropout(torch.tanh(self.hidden(x)))  # (B, T, n_hidden)
        logits = self.output(h)  # (B, T, V)
        if targets is None:
            return logits, None
        token_ids("targets", targets, self.config.vocab_size, shape=(B, T), ignore=-100)
        loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T).long())
        return logits, loss
