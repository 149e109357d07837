"""A Llama-family decoder (Touvron et al. 2023) that runs real pretrained weights from a GGUF file.

The same decoder-only Transformer as :mod:`labkit.gpt`, with four changes the Llama family made:

    x₀ = E[idx]                                          no position table: positions enter via RoPE
    for each of the n_layer blocks:
        x = x + Wᴼ · Attention(RoPE(W_Q h), RoPE(W_K h), W_V h),  h = RMSNorm₁(x)
        x = x + W_down · (SiLU(W_gate h) ⊙ W_up h),               h = RMSNorm₂(x)
    logits = RMSNorm_f(x) Eᵀ                             the LM head, tied to the embedding E

- **RMSNorm** (Zhang & Sennrich 2019): ``y = x / √(mean(x²) + ε) · g`` — LayerNorm without the mean
  subtraction and without a bias (:func:`rms_norm`).
- **RoPE**, rotary position embeddings (Su et al. 2021): each head's query and key are rotated, pair
  of coordinates by pair, by an angle ``θ_i·t`` that grows with the position ``t``, with
  ``θ_i = base^(−2i/d_head)``. Then ``q_tᵀk_s`` depends on ``t − s`` only: attention sees relative
  positions (:func:`rope_angles`, :func:`apply_rope`).
- **Grouped-query attention** (GQA, Ainslie et al. 2023): fewer key/value heads than query heads;
  each K/V head serves ``n_head / n_kv_head`` query heads (:func:`repeat_kv`). The KV cache
  shrinks by the same factor.
- **SwiGLU** MLP (Shazeer 2020): ``W_down (SiLU(W_gate h) ⊙ W_up h)``, ``SiLU(z) = z·σ(z)``, no biases.

Generation uses a **KV cache** (:class:`KVCache`): the keys and values of the tokens seen so far are
kept, so each new token costs one position's work instead of re-running the whole sequence.
:mod:`labkit.generate` uses it through :meth:`Llama.next_token_logits`.

Loading: :func:`from_gguf` reads a GGUF file (llama.cpp's format; :mod:`labkit.pretrained.gguf_reader`),
dequantises the weights to float32 and undoes llama.cpp's reordering of the query and key rows
(:func:`unpermute_qk`). :func:`load_smollm2` fetches SmolLM2-135M-Instruct and returns the model
and its :class:`Tokenizer` (byte-level BPE and the ChatML chat template).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from labkit._checks import float_tensor

__all__ = [
    "IMPLS",
    "KVCache",
    "Llama",
    "LlamaConfig",
    "Tokenizer",
    "apply_rope",
    "from_gguf",
    "load_smollm2",
    "repeat_kv",
    "rms_norm",
    "rope_angles",
    "rotate_half",
    "unpermute_qk",
]

IMPLS = ("fast", "reference")
# torch ≥ 2.5's fused attention shares key/value heads among query heads itself (enable_gqa)
_SDPA_GQA = tuple(int(p) for p in torch.__version__.split(".")[:2]) >= (2, 5)


def _bad(field: str, expected: str, value: Any) -> ValueError:
    return ValueError(f"LlamaConfig.{field} must be {expected}; got {value!r}")


@dataclass
class LlamaConfig:
    """Sizes of a :class:`Llama` (SmolLM2-135M's values as defaults).

    ``vocab_size`` V, ``block_size`` (longest context), ``n_layer`` L, ``n_head`` query heads,
    ``n_kv_head`` key/value heads (divides ``n_head``), ``n_embd`` d (``n_head · d_head``),
    ``ffn_hidden`` (SwiGLU width), ``rope_base``, ``norm_eps`` (RMSNorm ε), ``tie_weights``
    (LM head = embedding), ``attn_impl`` (``"fast"``: the fused kernel; ``"reference"``: the
    formula).
    """

    vocab_size: int = 49152
    block_size: int = 8192
    n_layer: int = 30
    n_head: int = 9
    n_kv_head: int = 3
    n_embd: int = 576
    ffn_hidden: int = 1536
    rope_base: float = 100000.0
    norm_eps: float = 1e-5
    tie_weights: bool = True
    attn_impl: str = "fast"

    def __post_init__(self) -> None:
        for name in (
            "vocab_size",
            "block_size",
            "n_layer",
            "n_head",
            "n_kv_head",
            "n_embd",
            "ffn_hidden",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise _bad(name, "a positive int", v)
        if self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2:
            raise _bad("n_embd", f"n_head={self.n_head} × an even head size", self.n_embd)
        if self.n_head % self.n_kv_head:
            raise _bad("n_kv_head", f"a divisor of n_head={self.n_head}", self.n_kv_head)
        for name in ("rope_base", "norm_eps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
                raise _bad(name, "a number > 0", v)
        if not isinstance(self.tie_weights, bool):
            raise _bad("tie_weights", "True or False", self.tie_weights)
        if self.attn_impl not in IMPLS:
            raise _bad("attn_impl", f"one of {IMPLS}", self.attn_impl)

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @classmethod
    def from_gguf_metadata(cls, meta: Mapping[str, Any]) -> LlamaConfig:
        """The config a GGUF file's ``llama.*`` metadata describes; other architectures are refused."""
        arch = meta.get("general.architecture")
        if arch != "llama":
            raise ValueError(
                f"the GGUF file must hold a 'llama' architecture model; it says general.architecture={arch!r}"
            )
        n_embd = int(meta["llama.embedding_length"])
        n_head = int(meta["llama.attention.head_count"])
        rope_dim = int(meta.get("llama.rope.dimension_count", n_embd // n_head))
        if rope_dim != n_embd // n_head:
            raise ValueError(f"partial rotary embeddings are not supported (rope dims {rope_dim})")
        return cls(
            vocab_size=int(
                meta.get("llama.vocab_size", len(meta.get("tokenizer.ggml.tokens", ())))
            ),
            block_size=int(meta["llama.context_length"]),
            n_layer=int(meta["llama.block_count"]),
            n_head=n_head,
            n_kv_head=int(meta.get("llama.attention.head_count_kv", n_head)),
            n_embd=n_embd,
            ffn_hidden=int(meta["llama.feed_forward_length"]),
            rope_base=float(meta.get("llama.rope.freq_base", 10000.0)),
            norm_eps=float(meta["llama.attention.layer_norm_rms_epsilon"]),
        )


# ---------------------------------------------------------------------------- the pieces


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """``y = x / √(mean(x²) + ε) · g`` over the last axis (computed in float32)."""
    x32 = x.float()
    y = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * y.to(x.dtype)


class RMSNorm(nn.Module):
    """:func:`rms_norm` with a learned gain ``g`` (initialised to ones)."""

    def __init__(self, d: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x, self.weight, self.eps)


def rope_angles(
    head_dim: int, positions: torch.Tensor, base: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos`` and ``sin`` of the rotation angles, each ``(T, head_dim)``.

    Frequencies ``θ_i = base^(−2i/d)`` for ``i = 0 … d/2 − 1``; position ``t`` rotates pair ``i`` by
    ``t·θ_i``. The ``d/2`` angles are written twice (``[θ, θ]``) because :func:`apply_rope` pairs
    coordinate ``i`` with coordinate ``i + d/2``.
    """
    if head_dim % 2:
        raise ValueError(f"head_dim must be even (coordinates rotate in pairs), got {head_dim}")
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    angles = positions.float()[:, None] * inv_freq[None, :]  # (T, d/2)
    emb = torch.cat([angles, angles], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``[x₁, x₂] → [−x₂, x₁]`` on the last axis split in halves: a 90° turn of every pair
    ``(x_i, x_{i+d/2})``."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair ``(x_i, x_{i+d/2})`` at position ``t`` by the angle ``t·θ_i``:

        x'_i       = x_i cos(tθ_i) − x_{i+d/2} sin(tθ_i)
        x'_{i+d/2} = x_{i+d/2} cos(tθ_i) + x_i sin(tθ_i)

    i.e. ``x·cos + rotate_half(x)·sin``. ``x``: ``(..., T, d)``; ``cos``, ``sin``: ``(T, d)``.
    """
    return x * cos + rotate_half(x) * sin


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """``(B, H_kv, T, d) → (B, H_kv·n_rep, T, d)``: each key/value head repeated for the ``n_rep``
    query heads of its group (heads ``g·n_rep … g·n_rep + n_rep − 1`` share K/V head ``g``)."""
    if n_rep == 1:
        return x
    b, h, t, d = x.shape
    return x[:, :, None].expand(b, h, n_rep, t, d).reshape(b, h * n_rep, t, d)


def unpermute_qk(w: np.ndarray | torch.Tensor, n_heads: int) -> Any:
    """Undo llama.cpp's reordering of a query/key projection's rows.

    llama.cpp rotates *adjacent* pairs ``(x_{2i}, x_{2i+1})``; Hugging Face's Llama (and
    :func:`apply_rope`) rotates ``(x_i, x_{i+d/2})``. The converter to GGUF therefore interleaves
    the two halves of each head's rows; this puts them back: within each head, rows
    ``0, 2, 4, …`` become the first half and rows ``1, 3, 5, …`` the second.
    """
    rows = w.shape[0]
    if rows % (2 * n_heads):
        raise ValueError(
            f"w must have a multiple of 2·n_heads={2 * n_heads} rows, got shape {tuple(w.shape)}"
        )
    half = rows // n_heads // 2
    return w.reshape(n_heads, half, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


# ----------------------------------------------------------------------------- KV cache


class KVCache:
    """Keys and values of the tokens seen so far, per layer: ``(B, H_kv, length, d_head)`` each.

    Storage grows by doubling, so appending one token is (amortised) a copy of that token only.
    """

    def __init__(self, n_layer: int) -> None:
        self.keys: list[torch.Tensor | None] = [None] * n_layer
        self.values: list[torch.Tensor | None] = [None] * n_layer
        self.length = 0  # tokens held (same in every layer once a forward pass is complete)
        self._filled = [0] * n_layer

    def append(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the new ``k``, ``v`` ``(B, H_kv, T_new, d)`` of ``layer``; return all keys and values."""
        start, t_new = self._filled[layer], k.shape[2]
        end = start + t_new
        buf_k = self.keys[layer]
        if buf_k is None or buf_k.shape[2] < end:
            capacity = max(end, 2 * (buf_k.shape[2] if buf_k is not None else 0), 64)
            new_k = k.new_empty(k.shape[0], k.shape[1], capacity, k.shape[3])
            new_v = torch.empty_like(new_k)
            if buf_k is not None:
                new_k[:, :, :start] = buf_k[:, :, :start]
                new_v[:, :, :start] = self.values[layer][:, :, :start]  # type: ignore[index]
            self.keys[layer], self.values[layer] = new_k, new_v
        self.keys[layer][:, :, start:end] = k  # type: ignore[index]
        self.values[layer][:, :, start:end] = v  # type: ignore[index]
        self._filled[layer] = end
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]  # type: ignore[index]


# --------------------------------------------------------------------------------- model


class Attention(nn.Module):
    """Causal grouped-query self-attention with rotary positions; no biases."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = cfg.n_head, cfg.n_kv_head, cfg.head_dim
        self.impl = cfg.attn_impl
        kv_dim = cfg.n_kv_head * cfg.head_dim
        self.q_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)
        self.k_proj = nn.Linear(cfg.n_embd, kv_dim, bias=False)
        self.v_proj = nn.Linear(cfg.n_embd, kv_dim, bias=False)
        self.o_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_head, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.n_kv_head, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.n_kv_head, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.append(layer, k, v)
        n_rep = self.n_head // self.n_kv_head
        if not (self.impl == "fast" and _SDPA_GQA):  # the fused kernel can share K/V heads itself
            k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)
        y = self._attend(q, k, v)
        return self.o_proj(y.transpose(1, 2).reshape(b, t, -1))

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``softmax(q kᵀ/√d + mask) v``; the ``T_q`` queries are the last ``T_q`` of the ``T_k`` keys."""
        t_q, t_k = q.shape[2], k.shape[2]
        if self.impl == "fast":
            gqa = {"enable_gqa": True} if k.shape[1] != q.shape[1] else {}
            if t_q == 1:  # one new token sees every key
                return F.scaled_dot_product_attention(q, k, v, **gqa)
            if t_q == t_k:
                return F.scaled_dot_product_attention(q, k, v, is_causal=True, **gqa)
        mask = torch.ones(t_q, t_k, dtype=torch.bool, device=q.device).tril(diagonal=t_k - t_q)
        if self.impl == "fast":
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **gqa)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        scores = scores.masked_fill(~mask, float("-inf"))
        return torch.softmax(scores.float(), dim=-1).to(v.dtype) @ v


class MLP(nn.Module):
    """SwiGLU: ``W_down (SiLU(W_gate h) ⊙ W_up h)``."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(cfg.n_embd, cfg.ffn_hidden, bias=False)
        self.up_proj = nn.Linear(cfg.n_embd, cfg.ffn_hidden, bias=False)
        self.down_proj = nn.Linear(cfg.ffn_hidden, cfg.n_embd, bias=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Block(nn.Module):
    """``x + Attn(RMSNorm(x))``, then ``x + MLP(RMSNorm(x))``."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: KVCache | None,
        layer: int,
    ) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache, layer)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    """The decoder: ``model(idx, targets=None) -> (logits, loss)`` like :class:`labkit.gpt.GPT`.

    Parameter names follow Hugging Face's ``LlamaForCausalLM`` without the ``model.`` prefix
    (``embed_tokens``, ``layers.N.self_attn.q_proj``, ``norm``, ``lm_head``), so a transformers state
    dict loads with :meth:`load_hf_state_dict`.

    ``use_cache`` (default True) switches :meth:`next_token_logits` between the KV cache and
    re-running the whole sequence, for comparing the two.
    """

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        if not isinstance(config, LlamaConfig):
            raise TypeError(f"config must be a LlamaConfig, got {type(config).__name__}")
        self.config = config
        self.block_size = config.block_size
        self.use_cache = True
        self.embed_tokens = nn.Embedding(config.vocab_size, config.n_embd)
        self.layers = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.norm = RMSNorm(config.n_embd, config.norm_eps)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.embed_tokens.weight
        for p in self.parameters():  # random weights for tests; real ones come from a file
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def train(self, mode: bool = True) -> Llama:
        """As ``nn.Module.train``, but a no-op when the mode is already set: the model has no
        dropout, and :mod:`labkit.generate` sets eval mode around every token (walking ~300
        modules each time would cost more than a tenth of a token's time here)."""
        if self.training == mode:
            return self
        return super().train(mode)

    def num_params(self) -> int:
        """Parameters, counting a tied embedding/LM head once."""
        return sum(p.numel() for p in self.parameters())

    def _check_idx(self, idx: object, start: int = 0) -> torch.Tensor:
        if not isinstance(idx, torch.Tensor) or idx.is_floating_point() or idx.dtype == torch.bool:
            got = f"{idx.dtype} tensor" if isinstance(idx, torch.Tensor) else type(idx).__name__
            raise TypeError(f"idx must be an integer tensor of token ids, got a {got}")
        if idx.dim() != 2 or idx.shape[1] == 0:
            raise ValueError(
                f"idx must have shape (batch, time) with time ≥ 1, got {tuple(idx.shape)}"
            )
        if start + idx.shape[1] > self.block_size:
            raise ValueError(
                f"idx is too long: {start} cached + {idx.shape[1]} new tokens > the model's context "
                f"of block_size={self.block_size} tokens"
            )
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= self.config.vocab_size:
            raise ValueError(
                f"idx must hold token ids in [0, {self.config.vocab_size}), got values in [{lo}, {hi}]"
            )
        return idx

    def run_blocks(
        self,
        x: torch.Tensor,
        start: int,
        stop: int | None = None,
        cache: KVCache | None = None,
        positions_start: int = 0,
    ) -> torch.Tensor:
        """Blocks ``start … stop − 1`` (``stop=None``: to the last) applied to the residual stream
        ``x`` ``(B, T, d)`` of the tokens at positions ``positions_start …``; no final norm.

            for i in start … stop − 1:   x ← Block_i(x)

        ``run_blocks(E[idx], 0)`` then ``norm`` is :meth:`hidden_states`; splitting at ``k`` gives
        the same: ``run_blocks(run_blocks(x, 0, k), k)``. So the stream after the lower ``k``
        blocks can be computed once and kept, and only the upper blocks run again (notebook 13,
        §5). With ``cache``, blocks ``i`` read and extend its layer ``i`` (which must hold exactly
        ``positions_start`` tokens); ``cache.length`` is left to the caller.
        """
        stop = self._check_blocks(x, start, stop, cache, positions_start)
        positions = torch.arange(positions_start, positions_start + x.shape[1], device=x.device)
        cos, sin = rope_angles(self.config.head_dim, positions, self.config.rope_base)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        for i in range(start, stop):
            x = self.layers[i](x, cos, sin, cache, i)
        return x

    def _check_blocks(
        self, x: object, start: object, stop: object, cache: object, positions_start: object
    ) -> int:
        n = self.config.n_layer
        t = float_tensor("x", x, ("batch", "time", ("n_embd", self.config.n_embd))).shape[1]
        stop = n if stop is None else stop
        for name, value in (("start", start), ("stop", stop), ("positions_start", positions_start)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        if not start <= stop <= n:
            raise ValueError(f"start, stop must satisfy 0 <= start <= stop <= {n}, got {start}, {stop}")
        if positions_start + t > self.block_size:
            raise ValueError(
                f"x is too long: positions_start={positions_start} + {t} tokens > the model's "
                f"context of block_size={self.block_size} tokens"
            )
        if cache is not None and not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a KVCache or None, got {type(cache).__name__}")
        held = {cache._filled[i] for i in range(start, stop)} if cache is not None else set()
        if held - {positions_start}:
            raise ValueError(
                f"positions_start must equal the tokens the cache holds in blocks {start}…{stop - 1} "
                f"({sorted(held)}), got {positions_start}"
            )
        return stop

    def hidden_states(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """The final normalised hidden states ``(B, T, d)`` for ``idx``, which follow the
        ``cache.length`` tokens already in ``cache`` (if given); the cache then holds them too."""
        start = cache.length if cache is not None else 0
        idx = self._check_idx(idx, start)
        x = self.run_blocks(self.embed_tokens(idx), 0, None, cache, start)
        if cache is not None:
            cache.length = start + idx.shape[1]
        return self.norm(x)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``(B, T, V)`` for every position and, with ``targets``, the mean cross-entropy."""
        logits = self.lm_head(self.hidden_states(idx))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        return logits, loss

    def next_token_logits(
        self, idx: torch.Tensor, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, KVCache | None]:
        """Logits ``(B, V)`` for the token after ``idx`` ``(B, T)``, and the cache to pass next time.

        The hook :mod:`labkit.generate` uses: it passes the whole sequence so far and the cache this
        method returned last (``None`` the first time); only the tokens the cache has not seen run
        through the model. Without ``use_cache``, or once the sequence outgrows ``block_size``, the
        (last ``block_size`` tokens of the) sequence runs from scratch.
        """
        if not self.use_cache or idx.shape[-1] > self.block_size:
            context = idx[:, -self.block_size :]
            return self.lm_head(self.hidden_states(context)[:, -1]), None
        if cache is None or cache.length >= idx.shape[1]:
            cache = KVCache(self.config.n_layer)
        h = self.hidden_states(idx[:, cache.length :], cache)
        return self.lm_head(h[:, -1]), cache

    def load_hf_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """Load a Hugging Face ``LlamaForCausalLM`` state dict (names with the ``model.`` prefix)."""
        ours = {k.removeprefix("model."): v for k, v in state.items()}
        if self.config.tie_weights:
            ours.pop("lm_head.weight", None)
            ours["lm_head.weight"] = ours["embed_tokens.weight"]
        self.load_state_dict(ours, strict=True)


# ------------------------------------------------------------------------------ loading

# GGUF tensor names → ours (N = layer)
_GGUF_NAMES = {
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_norm": "post_attention_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}


def _our_name(gguf_name: str) -> str:
    if gguf_name == "token_embd.weight":
        return "embed_tokens.weight"
    if gguf_name == "output_norm.weight":
        return "norm.weight"
    if gguf_name == "output.weight":
        return "lm_head.weight"
    blk, n, part, suffix = gguf_name.split(".")
    return f"layers.{n}.{_GGUF_NAMES[part]}.{suffix}"


def from_gguf(
    path: str | Path, n_layer: int | None = None, dtype: torch.dtype = torch.float32
) -> tuple[Llama, Tokenizer]:
    """The model and tokenizer stored in a GGUF file, weights dequantised to ``dtype``.

    ``n_layer`` keeps only the first layers (a quicker, smaller model for experiments; the full
    model is ``None``).
    """
    from labkit.pretrained.gguf_reader import read_gguf

    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    gguf = read_gguf(path)
    config = LlamaConfig.from_gguf_metadata(gguf.metadata)
    if n_layer is not None:
        if (
            isinstance(n_layer, bool)
            or not isinstance(n_layer, int)
            or not 1 <= n_layer <= config.n_layer
        ):
            raise ValueError(
                f"n_layer must be an int in [1, {config.n_layer}] or None, got {n_layer!r}"
            )
        config.n_layer = n_layer
    config.tie_weights = "output.weight" not in gguf.tensors
    with torch.device("meta"):
        model = Llama(config)
    state: dict[str, torch.Tensor] = {}
    for name in gguf.tensors:
        if name.startswith("blk.") and int(name.split(".")[1]) >= config.n_layer:
            continue
        w = gguf.load(name)
        if ".attn_q." in name:
            w = unpermute_qk(w, config.n_head)
        elif ".attn_k." in name:
            w = unpermute_qk(w, config.n_kv_head)
        state[_our_name(name)] = torch.from_numpy(np.require(w, np.float32, ["C", "W"])).to(dtype)
        del w
    if config.tie_weights:
        state["lm_head.weight"] = state["embed_tokens.weight"]
    model.load_state_dict(state, strict=True, assign=True)
    if config.tie_weights:
        model.lm_head.weight = model.embed_tokens.weight
    return model.eval(), Tokenizer.from_gguf_metadata(gguf.metadata)


def load_smollm2(
    n_layer: int | None = None, dtype: torch.dtype = torch.float32
) -> tuple[Llama, Tokenizer]:
    """SmolLM2-135M-Instruct (Allal et al. 2025), fetched through :mod:`labkit.pretrained.registry`."""
    from labkit.pretrained import registry

    return from_gguf(registry.fetch("smollm2-135m-instruct"), n_layer=n_layer, dtype=dtype)


# ----------------------------------------------------------------------------- tokenizer

# llama.cpp's "smollm" pre-tokenizer: digits one by one, then GPT-2's split
_DIGITS = r"\p{N}"
_GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
_CONTROL = 3  # tokenizer.ggml.token_type of special tokens such as <|im_start|>


class Tokenizer:
    """Byte-level BPE (GPT-2 style) built with the ``tokenizers`` library from a GGUF's metadata,
    plus the chat template.

    ``encode(text) -> list[int]``, ``decode(ids) -> str``, ``chat_prompt(messages)`` (ChatML text),
    ``eos_id`` (``<|im_end|>``, which ends an assistant's turn).
    """

    def __init__(
        self,
        tokens: Sequence[str],
        merges: Sequence[str],
        special: Sequence[str] = (),
        eos_id: int | None = None,
        bos_id: int | None = None,
        pre: str = "smollm",
        chat_template: str | None = None,
    ) -> None:
        from tokenizers import AddedToken, Regex, decoders, models, pre_tokenizers
        from tokenizers import Tokenizer as HFTokenizer

        vocab = {tok: i for i, tok in enumerate(tokens)}
        pairs = [tuple(m.split(" ", 1)) for m in merges]
        tok = HFTokenizer(
            models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False)
        )
        splits = [pre_tokenizers.Split(Regex(_GPT2_SPLIT), behavior="isolated")]
        if pre == "smollm":
            splits.insert(0, pre_tokenizers.Split(Regex(_DIGITS), behavior="isolated"))
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [*splits, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
        )
        tok.decoder = decoders.ByteLevel()
        tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in special])
        self._tok = tok
        self.tokens = list(tokens)
        self.eos_id, self.bos_id = eos_id, bos_id
        self.chat_template = chat_template

    @classmethod
    def from_gguf_metadata(cls, meta: Mapping[str, Any]) -> Tokenizer:
        kind = meta.get("tokenizer.ggml.model")
        if kind != "gpt2":
            raise ValueError(
                f"tokenizer.ggml.model must be 'gpt2' (byte-level BPE); the file says {kind!r}"
            )
        tokens = meta["tokenizer.ggml.tokens"]
        types = meta.get("tokenizer.ggml.token_type", [1] * len(tokens))
        return cls(
            tokens,
            meta["tokenizer.ggml.merges"],
            special=[t for t, kind in zip(tokens, types, strict=True) if kind == _CONTROL],
            eos_id=meta.get("tokenizer.ggml.eos_token_id"),
            bos_id=meta.get("tokenizer.ggml.bos_token_id"),
            pre=meta.get("tokenizer.ggml.pre", "gpt2"),
            chat_template=meta.get("tokenizer.chat_template"),
        )

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; special tokens written in the text (``<|im_start|>``) stay whole."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int] | torch.Tensor, skip_special: bool = False) -> str:
        """The text of token ids (bytes joined first, so a character split over tokens comes out whole)."""
        if isinstance(ids, torch.Tensor):
            ids = ids.flatten().tolist()
        return self._tok.decode(list(ids), skip_special_tokens=skip_special)

    def chat_prompt(
        self, messages: Sequence[Mapping[str, str]], add_generation_prompt: bool = True
    ) -> str:
        """ChatML, the template SmolLM2 was trained with::

            <|im_start|>system
            You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
            <|im_start|>user
            What is 2+2?<|im_end|>
            <|im_start|>assistant

        A default system message comes first unless the first message is one.
        """
        if isinstance(messages, str | Mapping) or not all(
            isinstance(m, Mapping)
            and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str)
            for m in messages
        ):
            raise TypeError('messages must be a list of {"role": str, "content": str} dicts')
        turns = list(messages)
        if turns and turns[0]["role"] != "system":
            system = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
            turns = [{"role": "system", "content": system}, *turns]
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in turns)
        return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


# ------------------------------------------------------------------- the reference to check against


def transformers_reference(path: str | Path, n_layer: int | None = None) -> Any:
    """Hugging Face ``transformers``' ``LlamaForCausalLM`` (float32) with the same GGUF weights,
    to check :class:`Llama` against. Needs ``transformers`` (a test dependency, not labkit's).

    The weights go through transformers' own GGUF code: ``gguf.quants.dequantize``, then
    transformers' ``LlamaTensorProcessor`` (its own undoing of llama.cpp's Q/K row order) and its
    GGUF→transformers name map. (``LlamaForCausalLM.from_pretrained(..., gguf_file=...)`` runs the
    same steps, but needs ``accelerate`` and parses the whole vocabulary a second time.)
    """
    from gguf.quants import dequantize
    from transformers import LlamaConfig as HFConfig
    from transformers import LlamaForCausalLM
    from transformers.modeling_gguf_pytorch_utils import TENSOR_PROCESSORS, get_gguf_hf_weights_map

    from labkit.pretrained.gguf_reader import read_gguf

    gguf = read_gguf(path)
    ours = LlamaConfig.from_gguf_metadata(gguf.metadata)
    layers = ours.n_layer if n_layer is None else n_layer
    config = HFConfig(
        vocab_size=ours.vocab_size,
        hidden_size=ours.n_embd,
        intermediate_size=ours.ffn_hidden,
        num_hidden_layers=layers,
        num_attention_heads=ours.n_head,
        num_key_value_heads=ours.n_kv_head,
        max_position_embeddings=ours.block_size,
        rope_theta=ours.rope_base,
        rms_norm_eps=ours.norm_eps,
        tie_word_embeddings="output.weight" not in gguf.tensors,
        bos_token_id=gguf.metadata.get("tokenizer.ggml.bos_token_id"),
        eos_token_id=gguf.metadata.get("tokenizer.ggml.eos_token_id"),
    )
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    processor = TENSOR_PROCESSORS["llama"](
        config={"num_attention_heads": ours.n_head, "num_key_value_heads": ours.n_kv_head}
    )
    names = get_gguf_hf_weights_map(model, processor)
    state = {}
    for name in gguf.tensors:
        if name.startswith("blk.") and int(name.split(".")[1]) >= layers:
            continue
        raw, kind = gguf.raw(name)
        weights = processor.process(weights=dequantize(raw, kind), name=name).weights
        state[names[name]] = torch.from_numpy(np.array(weights, dtype=np.float32))
    if config.tie_word_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    model.load_state_dict(state, strict=True, assign=True)
    model.tie_weights()
    model.model.rotary_emb = type(model.model.rotary_emb)(config=config)  # its buffers, off "meta"
    return model.eval()
