r"""Recurrent networks: a state ``h_t`` that is updated once per token and carries the past along.

The three cells, written from their equations
---------------------------------------------
``x_t`` is the input at step ``t`` (size ``I``), ``h_{t−1}`` the previous hidden state (size
``H``); ``σ`` is the logistic sigmoid and ``⊙`` elementwise multiplication.

**Elman RNN** (``RNNCell``)::

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)

**LSTM** (``LSTMCell``; Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000)
keeps a second state, the cell ``c_t``, that is changed only by (gated) addition::

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t−1} + b_hi)        input gate
    f_t = σ(W_if x_t + b_if + W_hf h_{t−1} + b_hf)        forget gate
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t−1} + b_hg)     candidate
    o_t = σ(W_io x_t + b_io + W_ho h_{t−1} + b_ho)        output gate
    c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)

**GRU** (``GRUCell``; Cho et al. 2014), one state and two gates::

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t−1} + b_hr)        reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t−1} + b_hz)        update gate
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t−1} + b_hn))
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}

Parameters are laid out exactly as torch lays them out, so weights copy 1:1 between these
modules and ``torch.nn.RNNCell/LSTMCell/GRUCell`` (``weight_ih``, ``weight_hh``, ``bias_ih``,
``bias_hh``) and ``torch.nn.RNN/LSTM/GRU`` (``weight_ih_l{k}``, … for layer ``k``): the gate
matrices are stacked row-wise in torch's order — LSTM ``i, f, g, o``, GRU ``r, z, n`` — so
``weight_ih`` is ``(G·H, I)`` with ``G`` = 1, 4 or 3 gates.

Sequences, layers, two speeds
-----------------------------
:class:`RNN`, :class:`LSTM` and :class:`GRU` run a cell over a whole batch-first sequence
``(B, T, I)``, stacking ``num_layers`` layers (layer ``k + 1`` reads layer ``k``'s outputs, with
dropout between layers while training). They return what torch returns: ``(output, h_n)`` or,
for the LSTM, ``(output, (h_n, c_n))``; ``output`` is the top layer's ``h_t`` for every ``t``.

One set of parameters, two ways to run them: ``impl="reference"`` is the Python loop over
time steps written from the equations above (it can also return every gate activation, for
heatmaps); ``impl="fast"`` hands the same parameters to torch's fused kernel (``torch.lstm`` —
what ``nn.LSTM`` calls; cuDNN on a GPU). The two are tested equal to each other and to
``torch.nn.RNN/LSTM/GRU``, values and gradients.

Backpropagation through time and why gradients vanish or explode
----------------------------------------------------------------
The gradient of a loss at the last step ``T`` with respect to an earlier state is a product of
one Jacobian per step in between::

    ∂L/∂h_t = ∂L/∂h_T · Π_{s=t+1..T} ∂h_s/∂h_{s−1},   for the Elman RNN
    ∂h_s/∂h_{s−1} = diag(1 − h_s²) W_hh

A product of many such matrices shrinks geometrically (vanishing gradients: the network cannot
learn long-range dependencies) or grows geometrically (exploding gradients) — a vanilla RNN does
*not* avoid either. The LSTM's additive cell path (``∂c_t/∂c_{t−1} = f_t``) lets gradients
survive many steps when the forget gate stays near 1, which mitigates vanishing; exploding
gradients are handled by clipping the gradient norm (``TrainConfig.grad_clip``).
:func:`grad_norms_by_distance` measures ``‖∂L/∂h_t‖`` for every ``t``.

A character-level language model
--------------------------------
:class:`CharRNN` (embedding → RNN/LSTM/GRU → linear head) follows labkit's model convention
``model(idx, targets=None) -> (logits, loss)``. Trained with *truncated* backpropagation through
time, the hidden state is carried from one chunk of text to the next (``carry_state=True`` and
:class:`StatefulBatches`), but gradients stop at the chunk boundary (the state is detached).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from labkit._checks import describe as _describe
from labkit._checks import float_tensor, fraction, int_vector, positive_int, token_ids

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "CharRNN",
    "CharRNNConfig",
    "GRUCell",
    "LSTMCell",
    "RNNCell",
    "StatefulBatches",
    "grad_norms_by_distance",
    "gru_cell",
    "lstm_cell",
    "rnn_cell",
]

IMPLS = ("reference", "fast")
CELLS = ("rnn", "lstm", "gru")
NONLINEARITIES = ("tanh", "relu")

State = tuple[torch.Tensor, ...]  # (h,) for the RNN and GRU, (h, c) for the LSTM


_check_positive_int = positive_int


def _check_dropout(value: object, name: str = "dropout") -> float:
    return fraction(name, value)


# ------------------------------------------------------------------------------ the equations
#
# Each update takes the two affine maps of the equations already computed:
#     gx = W_ih x_t + b_ih      (the input's part; for a sequence, computed for all t at once)
#     gh = W_hh h_{t−1} + b_hh  (the recurrent part; one step at a time)
# Both have G·H columns: the gates side by side, in torch's order.


def _rnn_update(gx: torch.Tensor, gh: torch.Tensor, nonlinearity: str = "tanh") -> torch.Tensor:
    """``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)`` (or ReLU instead of tanh)."""
    pre = gx + gh
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def _lstm_update(
    gx: torch.Tensor, gh: torch.Tensor, c: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """LSTM: gates ``i, f, g, o`` → ``c_t = f ⊙ c_{t−1} + i ⊙ g``, ``h_t = o ⊙ tanh(c_t)``."""
    i, f, g, o = (gx + gh).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_new = f * c + i * g
    h_new = o * torch.tanh(c_new)
    return h_new, c_new, {"i": i, "f": f, "g": g, "o": o}


def _gru_update(
    gx: torch.Tensor, gh: torch.Tensor, h: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """GRU: ``r, z`` gates, candidate ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))``,
    ``h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}``. The reset gate multiplies the *recurrent* part of ``n``
    only, which is why ``gx`` and ``gh`` are kept apart here."""
    x_r, x_z, x_n = gx.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    h_new = (1 - z) * n + z * h
    return h_new, {"r": r, "z": z, "n": n}


def rnn_cell(
    x: torch.Tensor,
    h: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor | None = None,
    b_hh: torch.Tensor | None = None,
    nonlinearity: str = "tanh",
) -> torch.Tensor:
    """One Elman step: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)``."""
    return _rnn_update(F.linear(x, w_ih, b_ih), F.linear(h, w_hh, b_hh), nonlinearity)


def lstm_cell(
    x: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor],
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor | None = None,
    b_hh: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step: ``(h_{t−1}, c_{t−1}) → (h_t, c_t)`` (equations in the module docstring)."""
    h, c = state
    h_new, c_new, _ = _lstm_update(F.linear(x, w_ih, b_ih), F.linear(h, w_hh, b_hh), c)
    return h_new, c_new


def gru_cell(
    x: torch.Tensor,
    h: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor | None = None,
    b_hh: torch.Tensor | None = None,
) -> torch.Tensor:
    """One GRU step: ``h_{t−1} → h_t`` (equations in the module docstring)."""
    return _gru_update(F.linear(x, w_ih, b_ih), F.linear(h, w_hh, b_hh), h)[0]


# ------------------------------------------------------------------------------------- cells


class _Cell(nn.Module):
    """Parameters shared by the three cells, named and shaped as torch's cells name them."""

    n_gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size = _check_positive_int("input_size", input_size)
        self.hidden_size = _check_positive_int("hidden_size", hidden_size)
        self.bias = bool(bias)
        G, H, n_in = self.n_gates, hidden_size, input_size
        self.weight_ih = nn.Parameter(torch.empty(G * H, n_in))  # W_ih: the gates stacked row-wise
        self.weight_hh = nn.Parameter(torch.empty(G * H, H))  # W_hh
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(G * H))
            self.bias_hh = nn.Parameter(torch.empty(G * H))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's initialisation: every entry uniform in ``[−1/√H, 1/√H]``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"

    def _check_x(self, x: object) -> torch.Tensor:
        return float_tensor("x", x, ("batch", ("input_size", self.input_size)))

    def _check_h(self, name: str, h: object, x: torch.Tensor) -> torch.Tensor:
        if h is None:
            return x.new_zeros(x.shape[0], self.hidden_size)
        if not isinstance(h, torch.Tensor) or not h.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {_describe(h)}")
        if tuple(h.shape) != (x.shape[0], self.hidden_size):
            raise ValueError(
                f"{name} must have shape (batch={x.shape[0]}, hidden_size={self.hidden_size}), "
                f"got shape {tuple(h.shape)}"
            )
        return h


class RNNCell(_Cell):
    """``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)``; ``nonlinearity="relu"`` uses ReLU.

    ``cell(x, h=None) -> h_new`` with ``x`` ``(B, input_size)``, ``h`` ``(B, hidden_size)``
    (zeros when ``None``). Equal to ``torch.nn.RNNCell`` with the same weights.
    """

    n_gates = 1

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"
    ) -> None:
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        x = self._check_x(x)
        h = self._check_h("h", h, x)
        w = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return rnn_cell(x, h, *w, nonlinearity=self.nonlinearity)


class LSTMCell(_Cell):
    """One LSTM step (gates ``i, f, g, o``; equations in the module docstring).

    ``cell(x, (h, c)=None) -> (h_new, c_new)``; zeros when the state is ``None``. Equal to
    ``torch.nn.LSTMCell`` with the same weights.
    """

    n_gates = 4

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._check_x(x)
        if state is None:
            state = (None, None)
        if not isinstance(state, tuple | list) or len(state) != 2:
            raise TypeError(f"state must be a pair (h, c) or None, got {_describe(state)}")
        h, c = self._check_h("h", state[0], x), self._check_h("c", state[1], x)
        return lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(_Cell):
    """One GRU step (gates ``r, z`` and candidate ``n``; equations in the module docstring).

    ``cell(x, h=None) -> h_new``. Equal to ``torch.nn.GRUCell`` with the same weights.
    """

    n_gates = 3

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        x = self._check_x(x)
        h = self._check_h("h", h, x)
        return gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


# --------------------------------------------------------------------------------- sequences


class _Recurrent(nn.Module):
    """A stack of ``num_layers`` recurrent layers run over a batch-first sequence.

    Parameters per layer ``k``: ``weight_ih_l{k}`` ``(G·H, I_k)``, ``weight_hh_l{k}``
    ``(G·H, H)``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` ``(G·H,)``, with ``I_0 = input_size`` and
    ``I_k = hidden_size`` above — torch's names, shapes and order.
    """

    kind = "rnn"
    n_gates = 1
    gate_names: tuple[str, ...] = ()

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        dropout: float = 0.0,
        impl: str = "reference",
    ) -> None:
        super().__init__()
        self.input_size = _check_positive_int("input_size", input_size)
        self.hidden_size = _check_positive_int("hidden_size", hidden_size)
        self.num_layers = _check_positive_int("num_layers", num_layers)
        self.bias = bool(bias)
        self.dropout = _check_dropout(dropout)
        self.impl = impl
        G, H = self.n_gates, hidden_size
        for k in range(num_layers):
            size_in = input_size if k == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(G * H, size_in)))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(G * H, H)))
            if bias:
                self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(G * H)))
                self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(G * H)))
        self.reset_parameters()

    @property
    def impl(self) -> str:
        return self._impl

    @impl.setter
    def impl(self, value: str) -> None:
        if value not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {value!r}")
        self._impl = value

    def reset_parameters(self) -> None:
        """torch's initialisation: every entry uniform in ``[−1/√H, 1/√H]``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.dropout:
            s += f", dropout={self.dropout}"
        return s + f", impl={self.impl!r}"

    def layer_weights(
        self, k: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """``(W_ih, W_hh, b_ih, b_hh)`` of layer ``k`` (biases ``None`` when ``bias=False``)."""
        w_ih, w_hh = getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}")
        if not self.bias:
            return w_ih, w_hh, None, None
        return w_ih, w_hh, getattr(self, f"bias_ih_l{k}"), getattr(self, f"bias_hh_l{k}")

    # ---------------------------------------------------------------- what each kind defines

    def _step(
        self, gx: torch.Tensor, state: State, w_hh: torch.Tensor, b_hh: torch.Tensor | None
    ) -> tuple[State, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def _fused(self) -> Callable:
        raise NotImplementedError

    # ------------------------------------------------------------------------- input checks

    def _check_input(self, x: object) -> torch.Tensor:
        return float_tensor("x", x, ("batch", "time", ("input_size", self.input_size)))

    def _check_state(self, state: object, x: torch.Tensor) -> State:
        """``None`` → zeros; else the state as a tuple, checked against ``x``."""
        L, B, H = self.num_layers, x.shape[0], self.hidden_size
        n = 2 if self.kind == "lstm" else 1
        if state is None:
            zeros = x.new_zeros(L, B, H)
            return (zeros, zeros) if n == 2 else (zeros,)
        if n == 2:
            if not isinstance(state, tuple | list) or len(state) != 2:
                raise TypeError(f"state must be a pair (h_0, c_0) or None, got {_describe(state)}")
            names, parts = ("h_0", "c_0"), tuple(state)
        else:
            names, parts = ("state",), (state,)
        for name, t in zip(names, parts, strict=True):
            if not isinstance(t, torch.Tensor) or not t.is_floating_point():
                raise TypeError(f"{name} must be a floating-point tensor, got {_describe(t)}")
            if tuple(t.shape) != (L, B, H):
                raise ValueError(
                    f"{name} must have shape (num_layers={L}, batch={B}, hidden_size={H}), "
                    f"got shape {tuple(t.shape)}"
                )
        return parts

    def _check_lengths(self, lengths: object, x: torch.Tensor) -> torch.Tensor | None:
        if lengths is None:
            return None
        lengths = int_vector("lengths", lengths)
        B, T = x.shape[:2]
        if lengths.numel() != B:
            raise ValueError(
                f"lengths must have one entry per sequence (batch={B}), got {lengths.numel()}"
            )
        if int(lengths.min()) < 1 or int(lengths.max()) > T:
            raise ValueError(
                f"lengths must lie in [1, time={T}], got values from {int(lengths.min())} "
                f"to {int(lengths.max())}"
            )
        return lengths

    # ------------------------------------------------------------------------------ forward

    def forward(
        self,
        x: torch.Tensor,
        state: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
        lengths: torch.Tensor | None = None,
        return_gates: bool = False,
    ):
        """Run the stack over ``x`` ``(B, T, input_size)`` from ``state`` (zeros if ``None``).

        - ``state``: ``h_0`` ``(num_layers, B, H)`` (RNN, GRU) or ``(h_0, c_0)`` (LSTM).
        - ``lengths``: optional ``(B,)`` true lengths of padded sequences; past its length a
          sequence's state stops changing (so ``h_n`` is the state after its last real token)
          and its outputs are zeros — ``nn.LSTM`` on a packed sequence does the same.
        - ``return_gates`` (reference LSTM/GRU only): also return a dict of gate activations,
          each ``(num_layers, B, T, H)``: ``i, f, g, o`` and the cell state ``c`` for the LSTM,
          ``r, z, n`` for the GRU.

        Returns ``(output, h_n)`` or ``(output, (h_n, c_n))`` like torch, ``output`` being
        ``(B, T, H)`` (the top layer's ``h_t``); plus the gate dict with ``return_gates``.
        """
        x = self._check_input(x)
        parts = self._check_state(state, x)
        lengths = self._check_lengths(lengths, x)
        if return_gates:
            if not self.gate_names:
                raise ValueError(
                    "return_gates=True: a vanilla RNN has no gates (use an LSTM or GRU)"
                )
            if self.impl != "reference":
                raise ValueError(
                    "return_gates=True needs impl='reference' (the fused kernel never shows its "
                    f"gates); this module has impl={self.impl!r}. Set module.impl = 'reference'."
                )
        if self.impl == "fast":
            output, final = self._forward_fast(x, parts, lengths)
            gates = None
        else:
            output, final, gates = self._forward_reference(x, parts, lengths, return_gates)
        final_state = final if self.kind == "lstm" else final[0]
        return (output, final_state, gates) if return_gates else (output, final_state)

    def _forward_reference(
        self,
        x: torch.Tensor,
        parts: State,
        lengths: torch.Tensor | None,
        return_gates: bool = False,
        keep_hidden: list[list[torch.Tensor]] | None = None,
    ) -> tuple[torch.Tensor, State, dict[str, torch.Tensor] | None]:
        """The equations, one layer and one time step at a time.

        ``keep_hidden``, if given, receives per layer the list of the ``h_t`` tensors the
        recurrence used (for :func:`grad_norms_by_distance`).
        """
        B, T, _ = x.shape
        alive = None
        if lengths is not None:  # alive[b, t]: step t is a real token of sequence b
            alive = torch.arange(T, device=x.device)[None, :] < lengths.to(x.device)[:, None]
        layer_input = x
        finals: list[State] = []
        gate_log: dict[str, list[torch.Tensor]] = {name: [] for name in self.gate_names}
        for k in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self.layer_weights(k)
            # The input's part W_ih x_t + b_ih does not depend on h: one matmul for all t.
            gx = F.linear(layer_input, w_ih, b_ih)  # (B, T, G·H)
            state = tuple(p[k] for p in parts)  # this layer's (h,) or (h, c), each (B, H)
            outputs, steps = [], []
            for t in range(T):
                new_state, gates = self._step(gx[:, t], state, w_hh, b_hh)
                if alive is not None:  # a finished sequence keeps its state, outputs zeros
                    m = alive[:, t, None]
                    new_state = tuple(
                        torch.where(m, new, old) for new, old in zip(new_state, state, strict=True)
                    )
                    outputs.append(torch.where(m, new_state[0], 0.0))
                else:
                    outputs.append(new_state[0])
                state = new_state
                steps.append(state[0])
                if return_gates:
                    if self.kind == "lstm":
                        gates = {**gates, "c": state[1]}
                    for name in self.gate_names:
                        gate_log[name].append(gates[name])
            if keep_hidden is not None:
                keep_hidden.append(steps)
            finals.append(state)
            layer_output = torch.stack(outputs, dim=1)  # (B, T, H)
            if self.dropout and k < self.num_layers - 1:  # dropout between layers, as torch
                layer_input = F.dropout(layer_output, self.dropout, self.training)
            else:
                layer_input = layer_output
        final = tuple(torch.stack(f, dim=0) for f in zip(*finals, strict=True))  # (L, B, H)
        gates_out = None
        if return_gates:
            L = self.num_layers
            gates_out = {
                name: torch.stack(v, dim=1).view(B, L, T, -1).transpose(0, 1)
                for name, v in gate_log.items()
            }
        return layer_input, final, gates_out

    def _flat_weights(self) -> list[torch.Tensor]:
        return [p for k in range(self.num_layers) for p in self.layer_weights(k) if p is not None]

    def _forward_fast(
        self, x: torch.Tensor, parts: State, lengths: torch.Tensor | None
    ) -> tuple[torch.Tensor, State]:
        """The same parameters through torch's fused kernel (what ``nn.LSTM`` etc. call)."""
        hx = parts if self.kind == "lstm" else parts[0]
        args = (self._flat_weights(), self.bias, self.num_layers, self.dropout, self.training)
        fused = self._fused()
        with warnings.catch_warnings():
            # On CUDA, cuDNN prefers the weights in one contiguous buffer (nn.LSTM keeps them
            # so); ours are separate tensors, which costs a copy per call and a warning.
            warnings.filterwarnings("ignore", message=".*not part of single contiguous chunk")
            if lengths is None:
                result = fused(x, hx, *args, False, True)  # bidirectional=False, batch_first
                return result[0], tuple(result[1:])
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            order, undo = packed.sorted_indices, packed.unsorted_indices
            if self.kind == "lstm":
                hx = tuple(h.index_select(1, order) for h in hx)
            else:
                hx = hx.index_select(1, order)
            result = fused(packed.data, packed.batch_sizes, hx, *args, False)
        out_packed = PackedSequence(result[0], packed.batch_sizes, order, undo)
        output, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=x.shape[1])
        return output, tuple(h.index_select(1, undo) for h in result[1:])


class RNN(_Recurrent):
    """A stack of Elman layers, ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)``.

    ``RNN(input_size, hidden_size, num_layers=1, bias=True, dropout=0.0, impl="reference",
    nonlinearity="tanh")``; ``rnn(x, h_0=None, lengths=None) -> (output, h_n)``, batch first.
    Equal to ``torch.nn.RNN(..., batch_first=True)`` given the same weights.
    """

    kind = "rnn"
    n_gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        dropout: float = 0.0,
        impl: str = "reference",
        nonlinearity: str = "tanh",
    ) -> None:
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, dropout, impl)
        self.nonlinearity = nonlinearity

    def _step(self, gx, state, w_hh, b_hh):
        return (_rnn_update(gx, F.linear(state[0], w_hh, b_hh), self.nonlinearity),), {}

    def _fused(self) -> Callable:
        return torch.rnn_tanh if self.nonlinearity == "tanh" else torch.rnn_relu


class LSTM(_Recurrent):
    """A stack of LSTM layers (gates ``i, f, g, o``; equations in the module docstring).

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, dropout=0.0, impl="reference")``;
    ``lstm(x, (h_0, c_0)=None, lengths=None) -> (output, (h_n, c_n))``, batch first. Equal to
    ``torch.nn.LSTM(..., batch_first=True)`` given the same weights.
    """

    kind = "lstm"
    n_gates = 4
    gate_names = ("i", "f", "g", "o", "c")

    def _step(self, gx, state, w_hh, b_hh):
        h, c = state
        h_new, c_new, gates = _lstm_update(gx, F.linear(h, w_hh, b_hh), c)
        return (h_new, c_new), gates

    def _fused(self) -> Callable:
        return torch.lstm


class GRU(_Recurrent):
    """A stack of GRU layers (gates ``r, z``, candidate ``n``; equations in the module docstring).

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, dropout=0.0, impl="reference")``;
    ``gru(x, h_0=None, lengths=None) -> (output, h_n)``, batch first. Equal to
    ``torch.nn.GRU(..., batch_first=True)`` given the same weights.
    """

    kind = "gru"
    n_gates = 3
    gate_names = ("r", "z", "n")

    def _step(self, gx, state, w_hh, b_hh):
        h_new, gates = _gru_update(gx, F.linear(state[0], w_hh, b_hh), state[0])
        return (h_new,), gates

    def _fused(self) -> Callable:
        return torch.gru


SEQUENCE_MODULES: dict[str, type[_Recurrent]] = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


# --------------------------------------------------------------------- a character-level LM


@dataclass
class CharRNNConfig:
    """Sizes of a :class:`CharRNN`.

    - ``vocab_size``: number of distinct characters ``V``.
    - ``cell``: ``"rnn"``, ``"lstm"`` or ``"gru"``.
    - ``n_embd``: size of each character's embedding; ``hidden_size``: ``H``;
      ``num_layers``: stacked recurrent layers.
    - ``dropout``: between recurrent layers and before the output layer while training.
    - ``impl``: ``"reference"`` (the Python loop) or ``"fast"`` (torch's fused kernel).
    - ``carry_state``: truncated BPTT — in training mode, each call continues from the previous
      call's final state, detached (see :class:`CharRNN`).
    """

    vocab_size: int
    cell: str = "lstm"
    n_embd: int = 32
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.0
    impl: str = "fast"
    carry_state: bool = False

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_embd", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CharRNNConfig.{name} must be a positive int, got {value!r}")
        if self.cell not in CELLS:
            raise ValueError(f"CharRNNConfig.cell must be one of {CELLS}, got {self.cell!r}")
        if self.impl not in IMPLS:
            raise ValueError(f"CharRNNConfig.impl must be one of {IMPLS}, got {self.impl!r}")
        _check_dropout(self.dropout, "CharRNNConfig.dropout")
        if not isinstance(self.carry_state, bool):
            raise ValueError(f"CharRNNConfig.carry_state must be a bool, got {self.carry_state!r}")


class CharRNN(nn.Module):
    """A character-level language model: embedding → RNN/LSTM/GRU → linear layer → logits.

    ``model(idx, targets=None, state=None) -> (logits, loss)`` with ``idx`` ``(B, T)``; position
    ``t`` predicts token ``t + 1`` (labkit's convention, so the :class:`~labkit.train.Trainer` and
    :mod:`labkit.generate` work unchanged). :meth:`run` also returns the final state, for
    generating one character at a time.

    Truncated backpropagation through time (``carry_state=True``): a long text is cut into
    chunks of ``T`` characters, and ``B`` parallel streams run through it (see
    :class:`StatefulBatches`). With ``carry_state`` on and the model in training mode, a call
    without an explicit ``state`` starts from the final state of the previous call — so the
    model sees context beyond ``T`` characters — but that state is *detached* from the graph:
    gradients flow back at most ``T`` steps, and the graph does not grow from batch to batch.
    The carried state is dropped (zeros) when the batch size, device or dtype changes, and by
    :meth:`reset_state`. In eval mode (validation, generation) every call starts from zeros
    unless a ``state`` is passed; the carried training state is kept for the next training call.
    """

    config_class = CharRNNConfig

    def __init__(self, config: CharRNNConfig) -> None:
        super().__init__()
        if not isinstance(config, CharRNNConfig):
            raise TypeError(f"config must be a CharRNNConfig, got {type(config).__name__}")
        self.config = c = config
        self.embedding = nn.Embedding(c.vocab_size, c.n_embd)
        self.rnn = SEQUENCE_MODULES[c.cell](
            c.n_embd, c.hidden_size, c.num_layers, dropout=c.dropout, impl=c.impl
        )
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size, c.vocab_size)
        self.carry_state = c.carry_state
        self._carried: State | None = None

    @property
    def impl(self) -> str:
        return self.rnn.impl

    @impl.setter
    def impl(self, value: str) -> None:
        self.rnn.impl = value

    def num_params(self) -> int:
        """The number of trainable numbers in the model."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def reset_state(self) -> None:
        """Forget the carried state: the next training call starts from zeros."""
        self._carried = None

    @property
    def carried_state(self) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None:
        """The state the next training call continues from (``None``: zeros)."""
        if self._carried is None:
            return None
        return self._carried if self.config.cell == "lstm" else self._carried[0]

    def run(
        self,
        idx: torch.Tensor,
        state: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
        """``idx`` ``(B, T)`` from ``state`` → ``(logits (B, T, V), final state)``."""
        token_ids("idx", idx, self.config.vocab_size)
        output, final = self.rnn(self.embedding(idx), state)
        return self.head(self.drop(output)), final

    def _usable_carried(self, idx: torch.Tensor) -> State | None:
        s = self._carried
        if s is None or s[0].shape[1] != idx.shape[0] or s[0].device != idx.device:
            return None
        if s[0].dtype != self.head.weight.dtype:
            return None
        return s

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        state: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``idx`` ``(B, T)`` → ``(logits (B, T, V), mean cross-entropy or None)``."""
        carrying = self.carry_state and self.training
        if state is None and carrying:
            carried = self._usable_carried(idx)
            if carried is not None:
                state = carried if self.config.cell == "lstm" else carried[0]
        logits, final = self.run(idx, state)
        if carrying:  # keep the values, drop the graph: gradients stop at the chunk boundary
            parts = final if isinstance(final, tuple) else (final,)
            self._carried = tuple(p.detach() for p in parts)
        if targets is None:
            return logits, None
        B, T = idx.shape
        token_ids("targets", targets, self.config.vocab_size, shape=(B, T), ignore=-100)
        loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T).long())
        return logits, loss


class StatefulBatches:
    """A ``batch_fn`` for the Trainer that serves *consecutive* chunks for truncated BPTT.

    The training text is cut into ``batch_size`` equal streams laid side by side (stream ``b``
    starts at ``b · len(text) / batch_size``). Call ``k`` returns chunk ``k`` of every stream::

        x[b] = stream_b[k·T : (k+1)·T],   y[b] = stream_b[k·T + 1 : (k+1)·T + 1]

    so row ``b`` of one batch continues exactly where row ``b`` of the previous batch ended,
    and a model with ``carry_state=True`` carries the right state into it. After the last whole
    chunk the streams start over; ``on_wrap`` (e.g. ``model.reset_state``) is called then, since
    the carried state no longer belongs to the text that follows.

    ``"val"`` batches are random windows of ``val_data`` drawn with the trainer's generator
    (the model does not carry state in eval mode), so validation sees the same batches every
    time. The ``"train"`` order ignores the generator: it is fixed by the text itself. (The
    position in the streams is not saved in checkpoints; a resumed run restarts the streams.)
    """

    def __init__(
        self,
        train_data: torch.Tensor,
        block_size: int,
        batch_size: int,
        val_data: torch.Tensor | None = None,
        on_wrap: Callable[[], None] | None = None,
    ) -> None:
        from labkit.data import _as_token_tensor

        self.block_size = _check_positive_int("block_size", block_size)
        self.batch_size = _check_positive_int("batch_size", batch_size)
        data = _as_token_tensor(train_data, "train_data")
        stream_len = (len(data) - 1) // batch_size
        if stream_len < block_size:
            raise ValueError(
                f"train_data of length {len(data)} is too short for batch_size={batch_size} "
                f"streams of at least block_size={block_size} + 1 tokens"
            )
        used = stream_len * batch_size
        self.x_streams = data[:used].view(batch_size, stream_len)
        self.y_streams = data[1 : used + 1].view(batch_size, stream_len)
        self.chunks_per_epoch = stream_len // block_size
        self.val_data = None if val_data is None else _as_token_tensor(val_data, "val_data")
        if on_wrap is not None and not callable(on_wrap):
            raise TypeError(f"on_wrap must be callable or None, got {type(on_wrap).__name__}")
        self.on_wrap = on_wrap
        self.position = 0  # the next chunk's index

    def reset(self) -> None:
        """Start the streams over from their beginnings."""
        self.position = 0

    def __call__(
        self, split: str, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if split == "val":
            if self.val_data is None:
                raise ValueError("StatefulBatches got no val_data, so it has no 'val' batches")
            from labkit.data import get_batch

            return get_batch(self.val_data, self.block_size, self.batch_size, generator=generator)
        if split != "train":
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if self.position == self.chunks_per_epoch:
            self.position = 0
            if self.on_wrap is not None:
                self.on_wrap()
        T, k = self.block_size, self.position
        self.position += 1
        return self.x_streams[:, k * T : (k + 1) * T], self.y_streams[:, k * T : (k + 1) * T]


# ---------------------------------------------------------------- vanishing / exploding, measured


_TORCH_CELLS = (nn.RNNCell, nn.LSTMCell, nn.GRUCell)


def grad_norms_by_distance(
    model: nn.Module,
    seq_len: int,
    batch_size: int = 1,
    *,
    inputs: torch.Tensor | None = None,
    targets: torch.Tensor | None = None,
    layer: int = -1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``‖∂L/∂h_t‖`` for a loss ``L`` at the last step, by distance ``k = T − 1 − t`` from it.

    Returns a 1-D tensor ``g`` of length ``seq_len`` with ``g[k] = ‖∂L/∂h_{T−1−k}‖`` (the
    Frobenius norm over the batch and the hidden units): ``g[0]`` is at the loss, ``g[k]`` is
    ``k`` steps back in time. A falling curve means vanishing gradients, a rising one exploding.

    ``model`` may be

    - a cell (labkit's or torch's ``RNNCell``/``LSTMCell``/``GRUCell``): it is stepped over
      ``inputs`` ``(B, T, input_size)`` (default: standard normal), and ``L = Σ h_{T−1}``;
    - an :class:`RNN`/:class:`LSTM`/:class:`GRU`: the same, through layer ``layer``'s states
      (default the top one; the reference loop is used whatever ``impl`` says);
    - a :class:`CharRNN`: ``inputs`` are token ids ``(B, T)`` (default: random), and ``L`` is
      the cross-entropy of the *last* position's prediction against ``targets`` ``(B,)``
      (default: random ids).

    ``h_t`` is the hidden state (for the LSTM ``h_t``, not the cell ``c_t``). Computed in eval
    mode (no dropout); the model's mode is restored.
    """
    T = _check_positive_int("seq_len", seq_len)
    B = _check_positive_int("batch_size", batch_size)
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a labkit/torch recurrent cell or model, got {_describe(model)}"
        )
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {_describe(generator)}")
    param = next(model.parameters())
    device, dtype = param.device, param.dtype

    def _inputs(shape: tuple[int, ...], vocab: int | None = None) -> torch.Tensor:
        if inputs is not None:
            if not isinstance(inputs, torch.Tensor) or tuple(inputs.shape) != shape:
                raise ValueError(
                    f"inputs must be a tensor of shape {shape}, got {_describe(inputs)}"
                )
            return inputs.to(device)
        if vocab is not None:
            return torch.randint(vocab, shape, generator=generator).to(device)
        return torch.randn(shape, generator=generator, dtype=dtype).to(device)

    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():  # even when called under torch.no_grad()
            if isinstance(model, (_Cell, *_TORCH_CELLS)):
                x = _inputs((B, T, model.input_size))
                is_lstm = isinstance(model, LSTMCell | nn.LSTMCell)
                h = x.new_zeros(B, model.hidden_size)
                state = (h, h) if is_lstm else h
                hs = []
                for t in range(T):
                    state = model(x[:, t], state)
                    hs.append(state[0] if is_lstm else state)
                loss = hs[-1].sum()
            elif isinstance(model, _Recurrent | CharRNN):
                rnn = model.rnn if isinstance(model, CharRNN) else model
                if not -rnn.num_layers <= layer < rnn.num_layers:
                    raise ValueError(
                        f"layer must index one of the {rnn.num_layers} layers, got {layer!r}"
                    )
                if isinstance(model, CharRNN):
                    V = model.config.vocab_size
                    idx = _inputs((B, T), vocab=V)
                    x = model.embedding(idx)
                else:
                    x = _inputs((B, T, rnn.input_size))
                kept: list[list[torch.Tensor]] = []
                output, _, _ = rnn._forward_reference(
                    x, rnn._check_state(None, x), None, False, kept
                )
                hs = kept[layer]
                if isinstance(model, CharRNN):
                    if targets is None:
                        y = torch.randint(V, (B,), generator=generator).to(device)
                    else:
                        y = torch.as_tensor(targets, device=device)
                        if tuple(y.shape) != (B,):
                            raise ValueError(
                                f"targets must have shape ({B},), got {_describe(targets)}"
                            )
                    loss = F.cross_entropy(model.head(output[:, -1]), y)
                else:
                    loss = output[:, -1].sum()
            else:
                raise TypeError(
                    "model must be an RNNCell/LSTMCell/GRUCell (labkit's or torch's), a labkit "
                    f"RNN/LSTM/GRU or a CharRNN; got {type(model).__name__}"
                )
            grads = torch.autograd.grad(loss, hs, allow_unused=True)
    finally:
        model.train(was_training)
    norms = torch.stack(
        [torch.zeros((), device=device) if g is None else g.norm() for g in grads]
    ).detach()
    return norms.flip(0)  # index k = distance from the last step
