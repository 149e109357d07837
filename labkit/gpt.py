"""GPT: a decoder-only Transformer language model (Radford et al. 2018, 2019; Vaswani et al. 2017).

The whole model, for token ids ``idx`` of shape ``(B, T)`` with ``T ≤ block_size``:

    x₀ = E[idx] + P[0:T]                                  token embedding + position embedding
    for each of the n_layer blocks (pre-LayerNorm, as in GPT-2):
        x = x + Dropout(CausalSelfAttention(LN₁(x)))      tokens exchange information
        x = x + Dropout(MLP(LN₂(x)))                       each token is processed on its own
    logits = LN_f(x) Eᵀ                                    the LM head, tied to the embedding E

with ``MLP(x) = GELU(x W₁ + b₁) W₂ + b₂`` (hidden width 4·d) and causal multi-head self-attention
from :mod:`labkit.attention` (position ``t`` only sees positions ``≤ t``, so it can be trained to
predict token ``t + 1`` at every position at once). ``logits[:, t]`` scores the token after
``idx[:, t]``; the loss is the mean cross-entropy against ``targets``.

Position embeddings ``P`` are learned (GPT-2) or fixed sinusoids (Vaswani 2017, see
:func:`sinusoidal_positions`).

Initialisation follows GPT-2: every weight matrix and embedding ~ N(0, 0.02²), biases 0; the two
projections that write into the residual stream in each block (attention's Wᴼ and the MLP's
W₂) get std 0.02/√(2·n_layer), because the residual stream adds 2·n_layer such outputs and
their variances add up.

The model follows labkit's convention ``model(idx, targets=None) -> (logits, loss)``, has a
dataclass ``config`` and ``num_params()``, so :class:`labkit.train.Trainer`,
:mod:`labkit.checkpoint` and :mod:`labkit.generate` work with it unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from labkit._checks import token_ids
from labkit.attention import IMPLS, MultiHeadAttention

__all__ = ["GPT", "GPTConfig", "PRESETS", "Block", "sinusoidal_positions"]

POS_EMBEDDINGS = ("learned", "sinusoidal")
GELUS = ("tanh", "exact")

#: Named sizes. "gpt2" is GPT-2 small (124M parameters); "shakespeare-char" is the character-level
#: model of nanoGPT's Shakespeare example. Pass ``vocab_size`` (and any other field) to override.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(block_size=32, n_layer=2, n_head=2, n_embd=32),
    "small": dict(block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.1),
    "shakespeare-char": dict(block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2),
    "gpt2": dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768),
}


def _bad(field: str, expected: str, value: Any) -> ValueError:
    return ValueError(f"GPTConfig.{field} must be {expected}; got {value!r}")


@dataclass
class GPTConfig:
    """Sizes and switches of a :class:`GPT`.

    - ``vocab_size`` V, ``block_size`` (longest context T), ``n_layer`` L, ``n_head`` h,
      ``n_embd`` d (must be divisible by h).
    - ``dropout``: on the embeddings, the attention weights and both residual branches.
    - ``bias``: biases in the Linear layers and LayerNorms (GPT-2: True).
    - ``pos_embedding``: ``"learned"`` (a block_size × d table) or ``"sinusoidal"`` (fixed).
    - ``tie_weights``: the LM head reuses the token embedding matrix (GPT-2: True).
    - ``attn_impl``: ``"fast"`` (fused kernel) or ``"reference"`` (the formula; can return
      attention maps). Both compute the same thing.
    - ``gelu``: ``"tanh"``, GPT-2's approximation ``x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))``, or
      ``"exact"``, ``x·Φ(x)`` (nanoGPT's choice; on the CPU several times faster to compute).

    ``GPTConfig.preset("tiny", vocab_size=65)`` gives a named size (see :data:`PRESETS`).
    """

    vocab_size: int
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    pos_embedding: str = "learned"
    tie_weights: bool = True
    attn_impl: str = "fast"
    gelu: str = "tanh"

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise _bad(name, "a positive int", v)
        if self.n_embd % self.n_head != 0:
            raise _bad("n_embd", f"divisible by n_head={self.n_head}", self.n_embd)
        d = self.dropout
        if isinstance(d, bool) or not isinstance(d, int | float) or not 0 <= d < 1:
            raise _bad("dropout", "a number in [0, 1)", d)
        for name in ("bias", "tie_weights"):
            if not isinstance(getattr(self, name), bool):
                raise _bad(name, "True or False", getattr(self, name))
        if self.pos_embedding not in POS_EMBEDDINGS:
            raise _bad("pos_embedding", f"one of {POS_EMBEDDINGS}", self.pos_embedding)
        if self.attn_impl not in IMPLS:
            raise _bad("attn_impl", f"one of {IMPLS}", self.attn_impl)
        if self.gelu not in GELUS:
            raise _bad("gelu", f"one of {GELUS}", self.gelu)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> GPTConfig:
        """A named size from :data:`PRESETS`, with ``overrides`` (``vocab_size`` is required
        unless the preset has one)."""
        if name not in PRESETS:
            raise ValueError(f"preset name must be one of {sorted(PRESETS)}; got {name!r}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise TypeError(f"GPTConfig has no field(s) {unknown}; fields are {sorted(fields)}")
        values = {**PRESETS[name], **overrides}
        if "vocab_size" not in values:
            raise TypeError(f"GPTConfig.preset({name!r}) needs vocab_size=...")
        return cls(**values)

    def param_count(self, non_embedding: bool = False) -> int:
        """The number of parameters, in closed form (tested equal to ``GPT.num_params()``).

        With d = n_embd, L = n_layer, V = vocab_size, T = block_size, and b = 1 with biases,
        0 without:

        - token embedding: ``V·d``; learned positions: ``T·d`` (sinusoidal: 0, not learned)
        - each block: LN₁ and LN₂ ``2·(d + b·d)``; attention W^Q, W^K, W^V, Wᴼ ``4·d² + b·4d``;
          MLP W₁ (d × 4d), W₂ (4d × d) ``8·d² + b·(4d + d)``.
          So per block ``12·d² + 13·d`` with biases, ``12·d² + 2·d`` without.
        - final LayerNorm: ``d + b·d``
        - LM head: 0 when tied to the token embedding, else ``V·d`` (it has no bias)

        ``non_embedding=True`` leaves out the embedding tables and the (un)embedding matrix, as
        Kaplan et al. (2020) count N: ``L·(12·d² + 13·d) + 2·d`` with biases, whatever V and T.
        """
        d, L, V, T = self.n_embd, self.n_layer, self.vocab_size, self.block_size
        b = int(self.bias)
        per_block = 2 * (d + b * d) + 4 * d * d + b * 4 * d + 8 * d * d + b * 5 * d
        core = L * per_block + (d + b * d)
        if non_embedding:
            return core
        positions = T * d if self.pos_embedding == "learned" else 0
        head = 0 if self.tie_weights else V * d
        return core + V * d + positions + head

    def flops_per_token(self, T: int | None = None, training: bool = True) -> int:
        """Floating-point operations per token (a multiply-add counts as 2), for context ``T``
        (default ``block_size``).

        Forward: every weight of a matrix multiply costs 2 FLOPs per token, so ``2·N`` with
        ``N = param_count(non_embedding=True) + V·d`` (the blocks plus the LM head's V·d matrix;
        an embedding lookup costs nothing), plus attention itself: per layer ``Q Kᵀ`` and
        ``weights · V`` each cost ``2·T·d`` per token, so ``4·L·d·T``. The backward pass costs
        twice the forward, so training costs 3× (Kaplan et al. 2020; Chowdhery et al. 2022):

            training ≈ 6·N + 12·L·d·T          forward only ≈ 2·N + 4·L·d·T

        (``T`` here is the full context, as in the PaLM paper; with a causal mask a fused kernel
        can skip about half of the attention term.)
        """
        T = self.block_size if T is None else T
        if isinstance(T, bool) or not isinstance(T, int) or T < 1:
            raise ValueError(f"T must be a positive int (the context length), got {T!r}")
        N = self.param_count(non_embedding=True) + self.vocab_size * self.n_embd
        forward = 2 * N + 4 * self.n_layer * self.n_embd * T
        return 3 * forward if training else forward


def sinusoidal_positions(T: int, d: int) -> torch.Tensor:
    """The fixed position encodings of Vaswani et al. (2017), shape ``(T, d)``:

        PE[pos, 2i]   = sin(pos / 10000^(2i/d))
        PE[pos, 2i+1] = cos(pos / 10000^(2i/d))

    Each pair of dimensions is a sine/cosine of one frequency; frequencies fall geometrically
    from 1 to 1/10000^((d-2)/d) (just above 1/10000), so nearby positions get similar vectors and ``PE[pos + k]`` is a linear
    function (a rotation) of ``PE[pos]``. An odd ``d`` drops the last cosine.
    """
    for name, v in (("T", T), ("d", d)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"sinusoidal_positions: {name} must be a positive int, got {v!r}")
    pos = torch.arange(T, dtype=torch.float64)[:, None]  # (T, 1)
    two_i = torch.arange(0, d, 2, dtype=torch.float64)  # 0, 2, 4, …
    angle = pos / 10000 ** (two_i / d)  # (T, ⌈d/2⌉)
    pe = torch.zeros(T, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d // 2])
    return pe.float()


class MLP(nn.Module):
    """``GELU(x W₁ + b₁) W₂ + b₂``: widen to 4·d, a non-linearity, back to d."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        d = config.n_embd
        self.fc = nn.Linear(d, 4 * d, bias=config.bias)  # W₁
        self.gelu = nn.GELU(approximate="tanh" if config.gelu == "tanh" else "none")
        self.proj = nn.Linear(4 * d, d, bias=config.bias)  # W₂ (a residual projection)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.gelu(self.fc(x)))


class Block(nn.Module):
    """One pre-LayerNorm Transformer block: ``x + attn(LN₁(x))``, then ``x + mlp(LN₂(x))``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        d = config.n_embd
        self.ln1 = nn.LayerNorm(d, bias=config.bias)
        self.attn = MultiHeadAttention(
            d, config.n_head, dropout=config.dropout, bias=config.bias, impl=config.attn_impl
        )
        self.ln2 = nn.LayerNorm(d, bias=config.bias)
        self.mlp = MLP(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), causal=True))
        x = x + self.drop(self.mlp(self.ln2(x)))
        return x


def _check_context(idx: torch.Tensor, block_size: int) -> None:
    """At most ``block_size`` tokens per sequence: there is no position embedding beyond."""
    if idx.shape[1] > block_size:
        raise ValueError(
            f"idx has {idx.shape[1]} tokens per sequence but the model's block_size (longest "
            f"context) is {block_size}; crop the input to its last {block_size} tokens"
        )


class GPT(nn.Module):
    """A GPT language model: ``GPT(GPTConfig(vocab_size=65))``; see the module docstring."""

    config_class = GPTConfig

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.n_embd)  # E
        if c.pos_embedding == "learned":
            self.pos_emb = nn.Embedding(c.block_size, c.n_embd)  # P, learned
        else:  # fixed, so a buffer (moves with .to(), not trained, not saved)
            pe = sinusoidal_positions(c.block_size, c.n_embd)
            self.register_buffer("pos_table", pe, persistent=False)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:
            self.lm_head.weight = self.tok_emb.weight  # one matrix: embed with E, unembed with Eᵀ
        self._init_weights()

    def _init_weights(self) -> None:
        """GPT-2 initialisation (see the module docstring)."""
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear):
                std = residual_std if name.endswith(("attn.out_proj", "mlp.proj")) else 0.02
                nn.init.normal_(module.weight, mean=0.0, std=std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
        # (LayerNorms keep their default: gain 1, bias 0.) With tied weights the head's
        # matrix is the embedding, initialised last above with std 0.02.

    @property
    def block_size(self) -> int:
        """The longest context the model accepts (used by :mod:`labkit.generate` to crop)."""
        return self.config.block_size

    def set_attn_impl(self, impl: str) -> GPT:
        """Switch every block's attention to ``"reference"`` or ``"fast"``; returns the model."""
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
        self.config.attn_impl = impl
        for block in self.blocks:
            block.attn.impl = impl
        return self

    def num_params(self, non_embedding: bool = False) -> int:
        """Trainable parameters (a tied matrix counted once); ``non_embedding=True`` leaves out
        the token and position embeddings and the LM head (Kaplan's N). Equals
        :meth:`GPTConfig.param_count`."""
        skip: set[int] = set()
        if non_embedding:
            skip = {id(self.tok_emb.weight), id(self.lm_head.weight)}
            if hasattr(self, "pos_emb"):
                skip.add(id(self.pos_emb.weight))
        return sum(p.numel() for p in self.parameters() if p.requires_grad and id(p) not in skip)

    def flops_per_token(self, T: int | None = None, training: bool = True) -> int:
        """See :meth:`GPTConfig.flops_per_token`: training ≈ 6·N + 12·n_layer·n_embd·T."""
        return self.config.flops_per_token(T, training=training)

    def _embed(self, idx: torch.Tensor) -> torch.Tensor:
        """Check ``idx`` and return ``x₀ = E[idx] + P[0:T]`` (after dropout), shape (B, T, d).

        Under ``torch.compile`` the token ids (here and the targets in :meth:`forward`) are not
        range-checked: that reads their values and would cut the compiled graph in pieces."""
        c = self.config
        if not torch.compiler.is_compiling():
            token_ids("idx", idx, c.vocab_size)
        _check_context(idx, c.block_size)
        T = idx.shape[1]
        if c.pos_embedding == "learned":
            pos = self.pos_emb(torch.arange(T, device=idx.device))  # (T, d)
        else:
            pos = self.pos_table[:T]
        return self.drop(self.tok_emb(idx) + pos)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``idx`` (B, T) token ids → ``(logits (B, T, V), loss or None)``; ``T ≤ block_size``.

        ``targets`` (B, T): the next token at each position (−100 = ignore); the loss is the
        mean cross-entropy over the positions.
        """
        c = self.config
        x = self._embed(idx)  # (B, T, d)
        B, T = idx.shape
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        if targets is None:
            return logits, None
        if not torch.compiler.is_compiling():
            token_ids("targets", targets, c.vocab_size, shape=(B, T), ignore=-100)
        loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T).long())
        return logits, loss

    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """The attention weights of every layer for ``idx``: a list of ``n_layer`` tensors of
        shape ``(B, n_head, T, T)`` (computed with the reference implementation)."""
        x = self._embed(idx)
        maps = []
        for block in self.blocks:
            impl = block.attn.impl
            block.attn.impl = "reference"
            try:
                a, w = block.attn(block.ln1(x), causal=True, return_weights=True)
            finally:
                block.attn.impl = impl
            maps.append(w)
            x = x + block.drop(a)
            x = x + block.drop(block.mlp(block.ln2(x)))
        return maps

    def generate(self, idx: torch.Tensor, max_new_tokens: int, **sampling: Any) -> torch.Tensor:
        """Continue ``idx`` by ``max_new_tokens`` tokens with :func:`labkit.generate.sample`
        (``temperature``, ``top_k``, ``top_p``, ``repetition_penalty``, ``generator``, ...;
        ``temperature=0`` is greedy)."""
        from labkit.generate import sample

        return sample(self, idx, max_new_tokens, **sampling)
