"""Attention: every output is a weighted average of values, weighted by how well queries match keys.

Scaled dot-product attention (Vaswani et al. 2017, "Attention Is All You Need")
-------------------------------------------------------------------------------
For queries ``Q`` (T_q × d_k), keys ``K`` (T_k × d_k) and values ``V`` (T_k × d_v):

    scores  = Q Kᵀ / √d_k                       (T_q × T_k: how well query i matches key j)
    weights = softmax(scores)  along each row   (each row sums to 1)
    Attention(Q, K, V) = weights · V            (T_q × d_v)

Why divide by √d_k: if the entries of ``q`` and ``k`` are independent with mean 0 and variance 1,
the dot product ``q·k = Σ_i q_i k_i`` has variance ``d_k``. Without the scaling, large ``d_k``
pushes the softmax into saturation (one weight ≈ 1, gradients ≈ 0); dividing by ``√d_k`` brings
the variance back to 1.

Masks
-----
A mask is a boolean tensor broadcastable to ``(..., T_q, T_k)``; ``True`` means "query i may
attend to key j". Masked scores are set to ``−∞`` before the softmax, so their weight is exactly
``exp(−∞) = 0``. Two masks cover almost every use:

- :func:`causal_mask` — position ``i`` sees positions ``j ≤ i`` only (a language model must not
  look at the tokens it is asked to predict).
- :func:`padding_mask` — sequences of different lengths are padded to one length; the padding
  keys are masked out. (This, and not multi-head attention, is what lets a Transformer handle
  batches of sequences of different lengths.)

A query whose row is masked completely has nothing to attend to; its weights and output are
defined as **zeros** here (a plain softmax of all ``−∞`` would give NaN).

Multi-head attention
--------------------
``h`` heads, each attending in its own ``d_k = d_model / h`` dimensional subspace:

    head_i = Attention(X_q W_i^Q, X_k W_i^K, X_v W_i^V)
    MultiHead(X_q, X_k, X_v) = Concat(head_1, …, head_h) Wᴼ

In code the ``h`` projections ``W_i^Q`` are one ``d_model × d_model`` matrix whose output is cut
into ``h`` slices of width ``d_k`` (likewise for K and V).

Two implementations of the same computation: ``impl="reference"`` is the formula above written
out (and can return the attention weights); ``impl="fast"`` calls
``torch.nn.functional.scaled_dot_product_attention`` (a fused kernel). They are tested equal.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from labkit._checks import describe as _describe
from labkit._checks import float_tensor, int_vector

__all__ = [
    "MultiHeadAttention",
    "causal_mask",
    "padding_mask",
    "scaled_dot_product_attention",
]

IMPLS = ("reference", "fast")


def _check_mask(mask: object, scores_shape: tuple[int, ...]) -> torch.Tensor:
    """A mask must be a bool tensor that broadcasts to ``scores_shape`` = (..., T_q, T_k)."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True = may attend), got {_describe(mask)}")
    try:
        fits = torch.broadcast_shapes(mask.shape, scores_shape) == torch.Size(scores_shape)
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"mask must be broadcastable to the attention scores' shape {tuple(scores_shape)} "
            f"(..., T_q, T_k); got shape {tuple(mask.shape)}"
        )
    return mask


def _check_qkv(q: object, k: object, v: object) -> torch.Size:
    """``q``, ``k``, ``v`` fit ``(..., T_q, d_k)``, ``(..., T_k, d_k)``, ``(..., T_k, d_v)``;
    returns the broadcast leading (batch, head) shape."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {_describe(t)}")
        if t.dim() < 2:
            raise ValueError(
                f"{name} must have shape (..., T, d) with at least 2 dimensions, "
                f"got shape {tuple(t.shape)}"
            )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same last dimension d_k (a query is compared with each key "
            f"by a dot product); got q with d_k={q.shape[-1]} and k with d_k={k.shape[-1]}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of positions T_k (one value per key); got "
            f"k with T_k={k.shape[-2]} and v with T_k={v.shape[-2]}"
        )
    try:
        batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the leading (batch, head) dimensions of q, k, v must broadcast; got "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        ) from None
    return batch


def causal_mask(T: int, device: str | torch.device | None = None) -> torch.Tensor:
    """``(T, T)`` bool mask, ``True`` on and below the diagonal: query ``i`` sees keys ``j ≤ i``."""
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"causal_mask: T must be a positive int, got {T!r}")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: torch.Tensor | list[int], T: int) -> torch.Tensor:
    """Key-padding mask of shape ``(B, 1, T)``: ``mask[b, 0, j] = j < lengths[b]``.

    Sequence ``b`` has ``lengths[b]`` real tokens followed by padding. The middle dimension of
    size 1 broadcasts over the queries, so the mask fits scores of shape ``(B, T_q, T)``; for
    per-head scores ``(B, h, T_q, T)`` :class:`MultiHeadAttention` adds the head dimension.
    """
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"padding_mask: T must be a positive int, got {T!r}")
    lengths = int_vector("padding_mask: lengths", lengths)
    if lengths.numel() and (int(lengths.min()) < 0 or int(lengths.max()) > T):
        raise ValueError(
            f"padding_mask: lengths must lie in [0, T={T}], got values from "
            f"{int(lengths.min())} to {int(lengths.max())}"
        )
    positions = torch.arange(T, device=lengths.device)
    return (positions[None, :] < lengths[:, None]).unsqueeze(1)  # (B, 1, T)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    return_weights: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``softmax(Q Kᵀ / √d_k) V``, written out step by step.

    - ``q``: ``(..., T_q, d_k)``, ``k``: ``(..., T_k, d_k)``, ``v``: ``(..., T_k, d_v)``; the
      leading dimensions (batch, heads) must broadcast.
    - ``mask``: optional bool tensor broadcastable to ``(..., T_q, T_k)``; ``True`` = may attend.
      Masked keys get weight exactly 0; a query with every key masked gets zero weights and a
      zero output (not NaN).
    - ``return_weights``: also return the attention weights ``(..., T_q, T_k)``.

    Equal to ``torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)``.
    """
    batch = _check_qkv(q, k, v)
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T_q, T_k)
    if mask is None:
        weights = torch.softmax(scores, dim=-1)
    else:
        mask = _check_mask(mask, (*batch, q.shape[-2], k.shape[-2]))
        scores = scores.masked_fill(~mask, float("-inf"))  # exp(−∞) = 0: no weight
        # A row with every key masked would be softmax(−∞, …, −∞) = 0/0 = NaN. Give such rows
        # finite scores for the softmax, then set their weights to zero.
        anything = mask.any(dim=-1, keepdim=True)
        scores = scores.masked_fill(~anything, 0.0)
        weights = torch.softmax(scores, dim=-1).masked_fill(~anything, 0.0)
    out = weights @ v  # (..., T_q, d_v)
    return (out, weights) if return_weights else out


class MultiHeadAttention(nn.Module):
    """``MultiHead(X_q, X_k, X_v) = Concat(head_1, …, head_h) Wᴼ`` with
    ``head_i = Attention(X_q W_i^Q, X_k W_i^K, X_v W_i^V)``.

    - ``d_model``: size of each input/output vector; ``n_heads``: ``h``, which must divide
      ``d_model`` (each head works in ``d_k = d_model / h`` dimensions).
    - ``dropout``: dropout on the attention weights while training.
    - ``bias``: whether the four projections have biases.
    - ``impl``: ``"reference"`` (the formula, can return weights) or ``"fast"``
      (``F.scaled_dot_product_attention``). The attribute may be changed at any time; both use
      the same parameters.

    Parameters: ``q_proj``, ``k_proj``, ``v_proj`` (``W^Q``, ``W^K``, ``W^V``, each
    ``d_model × d_model``) and ``out_proj`` (``Wᴼ``): ``4·d_model² (+ 4·d_model biases)``.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        impl: str = "reference",
    ) -> None:
        super().__init__()
        for name, value in (("d_model", d_model), ("n_heads", n_heads)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if d_model % n_heads != 0:
            raise ValueError(
                f"d_model must be divisible by n_heads (each head gets d_model / n_heads "
                f"dimensions); got d_model={d_model}, n_heads={n_heads}"
            )
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, int | float)
            or not 0 <= dropout < 1
        ):
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_k = d_model // n_heads
        self.dropout = float(dropout)
        self.impl = impl
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)  # W^Q (all heads side by side)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)  # W^K
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)  # W^V
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)  # Wᴼ
        self.attn_dropout = nn.Dropout(dropout)

    @property
    def impl(self) -> str:
        return self._impl

    @impl.setter
    def impl(self, value: str) -> None:
        if value not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {value!r}")
        self._impl = value

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, n_heads={self.n_heads}, impl={self.impl!r}"

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, d_model)`` → ``(B, h, T, d_k)``."""
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.d_k).transpose(1, 2)

    def _check_inputs(
        self, query: object, key: object, value: object, causal: object, return_weights: object
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``query``, ``key``, ``value`` as ``(B, T, d_model)`` tensors (``key`` and ``value``
        default to ``query``), and the switches checked against them."""
        for name, flag in (("causal", causal), ("return_weights", return_weights)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {_describe(flag)}")
        shape = ("batch", "time", ("d_model", self.d_model))
        query = float_tensor("query", query, shape)
        key = query if key is None else float_tensor("key", key, shape)
        value = key if value is None else float_tensor("value", value, shape)
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(
                f"key and value must have the same (batch, time) shape; got key "
                f"{tuple(key.shape)} and value {tuple(value.shape)}"
            )
        if key.shape[0] != query.shape[0]:
            raise ValueError(
                f"query and key must have the same batch size; got query {tuple(query.shape)} "
                f"and key {tuple(key.shape)}"
            )
        if causal and query.shape[1] != key.shape[1]:
            raise ValueError(
                f"causal=True needs T_q == T_k; got T_q={query.shape[1]}, T_k={key.shape[1]}"
            )
        if return_weights and self.impl != "reference":
            raise ValueError(
                "return_weights=True needs impl='reference' (the fused kernel of impl='fast' "
                f"never forms the weights); this module has impl={self.impl!r}. "
                "Set module.impl = 'reference' first."
            )
        return query, key, value

    def _head_mask(self, mask: object, B: int, T_q: int, T_k: int) -> torch.Tensor | None:
        """Bring a user mask to a shape that broadcasts over ``(B, h, T_q, T_k)``; it is used
        exactly as given (causality is never guessed from its values: say ``causal=True``)."""
        if mask is None:
            return None
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError(
                f"mask must be a bool tensor (True = may attend), got {_describe(mask)}"
            )
        if mask.dim() == 3:  # (B, T_q, T_k) or (B, 1, T_k): the same mask for every head
            mask = mask.unsqueeze(1)
        if mask.dim() not in (2, 4):
            raise ValueError(
                f"mask must broadcast to (T_q, T_k) = ({T_q}, {T_k}), (batch, T_q, T_k) = "
                f"({B}, {T_q}, {T_k}) or (batch, n_heads, T_q, T_k) = ({B}, {self.n_heads}, "
                f"{T_q}, {T_k}); got shape {tuple(mask.shape)}"
            )
        return _check_mask(mask, (B, self.n_heads, T_q, T_k))

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        causal: bool = False,
        return_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Attend from ``query`` ``(B, T_q, d_model)`` to ``key``/``value`` ``(B, T_k, d_model)``.

        ``key`` and ``value`` default to ``query`` (self-attention). ``mask``: bool, ``True`` = may
        attend, broadcastable to ``(T_q, T_k)``, ``(B, T_q, T_k)`` (e.g. :func:`padding_mask`'s
        ``(B, 1, T_k)``) or ``(B, h, T_q, T_k)``; it is used as given. ``causal=True`` adds the
        causal mask (and lets the fast kernel skip the masked half).
        Returns the output ``(B, T_q, d_model)``, and with ``return_weights=True`` (reference
        implementation only) also the weights ``(B, h, T_q, T_k)``.
        """
        query, key, value = self._check_inputs(query, key, value, causal, return_weights)
        B, T_q, _ = query.shape
        mask = self._head_mask(mask, B, T_q, key.shape[1])

        q = self._split_heads(self.q_proj(query))  # (B, h, T_q, d_k)
        k = self._split_heads(self.k_proj(key))  # (B, h, T_k, d_k)
        v = self._split_heads(self.v_proj(value))  # (B, h, T_k, d_k)

        weights = None
        if self.impl == "reference":
            full = mask
            if causal:
                c = causal_mask(T_q, device=query.device)
                full = c if full is None else full & c
            out, weights = scaled_dot_product_attention(q, k, v, mask=full, return_weights=True)
            if self.training and self.dropout > 0:  # dropout on the weights, then recombine
                weights = self.attn_dropout(weights)
                out = weights @ v
        else:
            p = self.dropout if self.training else 0.0
            if mask is None:
                out = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=causal)
            else:
                full = mask & causal_mask(T_q, device=query.device) if causal else mask
                out = F.scaled_dot_product_attention(q, k, v, attn_mask=full, dropout_p=p)
                # some kernels give NaN for a query with every key masked; labkit defines zeros
                out = out.masked_fill(~full.any(dim=-1, keepdim=True), 0.0)

        out = out.transpose(1, 2).reshape(B, T_q, self.d_model)  # Concat(head_1, …, head_h)
        out = self.out_proj(out)  # · Wᴼ
        return (out, weights) if return_weights else out
