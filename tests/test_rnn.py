"""labkit.rnn: cells and stacks equal torch's (values, states, gradients), reference == fast,
gradcheck in float64, gates, the char-level LM with truncated BPTT, gradient norms by distance."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from labkit import checkpoint, rnn
from labkit.generate import sample
from labkit.train import TrainConfig, Trainer

ATOL = 1e-5


pytestmark = pytest.mark.usefixtures("one_thread")


CELL_PAIRS = [
    ("rnn", lambda: rnn.RNNCell(5, 7), nn.RNNCell),
    ("rnn_relu", lambda: rnn.RNNCell(5, 7, nonlinearity="relu"), None),
    ("lstm", lambda: rnn.LSTMCell(5, 7), nn.LSTMCell),
    ("gru", lambda: rnn.GRUCell(5, 7), nn.GRUCell),
]
SEQ_PAIRS = [("rnn", rnn.RNN, nn.RNN), ("lstm", rnn.LSTM, nn.LSTM), ("gru", rnn.GRU, nn.GRU)]


def _flat(state):
    parts = state if isinstance(state, tuple) else (state,)
    return torch.cat([p.reshape(-1) for p in parts])


def _grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters()}


@pytest.mark.parametrize("name, make, torch_cls", CELL_PAIRS)
def test_cells_equal_torch_cells(name, make, torch_cls):
    torch.manual_seed(0)
    ours = make()
    theirs = nn.RNNCell(5, 7, nonlinearity="relu") if torch_cls is None else torch_cls(5, 7)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(4, 5)
    h = torch.randn(4, 7)
    state = (h, torch.randn(4, 7)) if name == "lstm" else h
    a, b = ours(x, state), theirs(x, state)
    assert (_flat(a) - _flat(b)).abs().max() <= ATOL
    _flat(a).pow(2).sum().backward()
    _flat(b).pow(2).sum().backward()
    for n, g in _grads(ours).items():
        assert (g - dict(theirs.named_parameters())[n].grad).abs().max() <= ATOL, n


@pytest.mark.parametrize("name, make, torch_cls", CELL_PAIRS)
def test_cells_pass_gradcheck_float64(name, make, torch_cls):
    torch.manual_seed(1)
    cell = make().double()
    x = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 7, dtype=torch.float64, requires_grad=True)
    if name == "lstm":
        c = torch.randn(2, 7, dtype=torch.float64, requires_grad=True)
        fn = lambda x, h, c, *w: torch.cat(rnn.lstm_cell(x, (h, c), *w), dim=-1)  # noqa: E731
        inputs = (x, h, c, *cell.parameters())
    else:
        if name == "gru":
            fn = rnn.gru_cell
        else:
            fn = lambda x, h, *w: rnn.rnn_cell(x, h, *w, nonlinearity=cell.nonlinearity)  # noqa: E731
        inputs = (x, h, *cell.parameters())
    assert torch.autograd.gradcheck(fn, inputs)
    # and the module computes what the function computes
    got = cell(x, (h, c)) if name == "lstm" else cell(x, h)
    assert torch.equal(
        _flat(got), _flat(fn(*inputs) if name != "lstm" else fn(*inputs).chunk(2, -1))
    )


@pytest.mark.parametrize("kind, ours_cls, torch_cls", SEQ_PAIRS)
@pytest.mark.parametrize("impl", ["reference", "fast"])
def test_stacks_equal_torch_values_states_and_gradients(kind, ours_cls, torch_cls, impl):
    torch.manual_seed(2)
    ours = ours_cls(5, 8, num_layers=2, impl=impl)
    theirs = torch_cls(5, 8, num_layers=2, batch_first=True)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # torch's names, in order
    theirs.load_state_dict(ours.state_dict())  # weights copy 1:1
    x = torch.randn(3, 6, 5)
    h0 = torch.randn(2, 3, 8)
    state = (h0, torch.randn(2, 3, 8)) if kind == "lstm" else h0
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    out1, s1 = ours(x1, state)
    out2, s2 = theirs(x2, state)
    assert (out1 - out2).abs().max() <= ATOL
    assert (_flat(s1) - _flat(s2)).abs().max() <= ATOL
    w = torch.randn_like(out1)
    ((out1 * w).sum() + _flat(s1).sum()).backward()
    ((out2 * w).sum() + _flat(s2).sum()).backward()
    assert (x1.grad - x2.grad).abs().max() <= ATOL
    theirs_params = dict(theirs.named_parameters())
    for n, g in _grads(ours).items():
        assert (g - theirs_params[n].grad).abs().max() <= ATOL, n


@pytest.mark.parametrize("kind, ours_cls, torch_cls", SEQ_PAIRS)
def test_reference_equals_fast_with_padding_lengths_and_torch_packed(kind, ours_cls, torch_cls):
    torch.manual_seed(3)
    ours = ours_cls(4, 6, num_layers=2)
    theirs = torch_cls(4, 6, num_layers=2, batch_first=True)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(3, 7, 4)
    lengths = torch.tensor([7, 2, 5])
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    p_out, p_state = theirs(packed)
    p_out, _ = nn.utils.rnn.pad_packed_sequence(p_out, batch_first=True, total_length=7)
    for impl in ("reference", "fast"):
        ours.impl = impl
        out, state = ours(x, lengths=lengths)
        assert (out - p_out).abs().max() <= ATOL, impl
        assert (_flat(state) - _flat(p_state)).abs().max() <= ATOL, impl
        assert out[1, 2:].abs().max() == 0  # past its end a sequence outputs zeros


def test_dropout_between_layers_only_while_training():
    torch.manual_seed(4)
    m = rnn.LSTM(3, 5, num_layers=2, dropout=0.5)
    x = torch.randn(2, 4, 3)
    m.eval()
    ref = m(x)[0]
    m.impl = "fast"
    assert (m(x)[0] - ref).abs().max() <= ATOL
    m.impl = "reference"
    m.train()
    assert not torch.allclose(m(x)[0], ref)  # dropout is on


def test_lstm_gates_explain_the_states():
    torch.manual_seed(5)
    m = rnn.LSTM(3, 4, num_layers=2)
    x = torch.randn(2, 5, 3)
    out, (h_n, c_n), g = m(x, return_gates=True)
    assert set(g) == {"i", "f", "g", "o", "c"}
    assert all(v.shape == (2, 2, 5, 4) for v in g.values())
    for name in "ifo":
        assert g[name].min() >= 0 and g[name].max() <= 1  # sigmoid gates
    c_prev = torch.cat([torch.zeros(2, 2, 1, 4), g["c"][:, :, :-1]], dim=2)
    torch.testing.assert_close(g["c"], g["f"] * c_prev + g["i"] * g["g"])  # c_t = f c + i g
    torch.testing.assert_close(out, g["o"][-1] * torch.tanh(g["c"][-1]))  # h_t = o tanh(c_t)
    torch.testing.assert_close(c_n, g["c"][:, :, -1])
    torch.testing.assert_close(m(x)[0], out)  # asking for gates changes nothing


def test_gru_gates_explain_the_state():
    torch.manual_seed(6)
    m = rnn.GRU(3, 4)
    x = torch.randn(2, 5, 3)
    out, h_n, g = m(x, return_gates=True)
    assert set(g) == {"r", "z", "n"}
    h_prev = torch.cat([torch.zeros(2, 1, 4), out[:, :-1]], dim=1)
    torch.testing.assert_close(out, (1 - g["z"][0]) * g["n"][0] + g["z"][0] * h_prev)
    torch.testing.assert_close(h_n[0], out[:, -1])


def test_return_gates_needs_gates_and_the_reference_impl():
    x = torch.randn(1, 2, 3)
    with pytest.raises(ValueError, match="no gates"):
        rnn.RNN(3, 4)(x, return_gates=True)
    with pytest.raises(ValueError, match="impl='reference'"):
        rnn.LSTM(3, 4, impl="fast")(x, return_gates=True)


def test_input_checks_name_the_argument():
    m = rnn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, time, input_size=3\)"):
        m(torch.randn(2, 5, 7))
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        m(torch.ones(2, 5, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(num_layers=2, batch=2"):
        m(torch.randn(2, 5, 3), (torch.zeros(1, 2, 4), torch.zeros(2, 2, 4)))
    with pytest.raises(TypeError, match="pair"):
        m(torch.randn(2, 5, 3), torch.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, time=5\]"):
        m(torch.randn(2, 5, 3), lengths=torch.tensor([6, 1]))
    with pytest.raises(ValueError, match="impl must be one of"):
        rnn.GRU(3, 4, impl="cudnn")
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        rnn.GRUCell(3, 0)
    with pytest.raises(ValueError, match="dropout must be a number in"):
        rnn.RNN(3, 4, dropout=1.0)
    with pytest.raises(ValueError, match=r"h must have shape \(batch=2, hidden_size=4\)"):
        rnn.RNNCell(3, 4)(torch.randn(2, 3), torch.randn(3, 4))


@settings(max_examples=20, deadline=None)
@given(batch=st.integers(1, 3), time=st.integers(1, 3), size=st.integers(1, 6))
def test_any_wrong_input_size_is_a_clear_value_error(batch, time, size):
    m = rnn.GRU(4, 3)
    x = torch.zeros(batch, time, size)
    if size == 4:
        assert m(x)[0].shape == (batch, time, 3)
    else:
        with pytest.raises(
            ValueError, match=f"input_size=4.*got shape \\({batch}, {time}, {size}\\)"
        ):
            m(x)


# ------------------------------------------------------------------------------------ CharRNN


def _char_model(cell="lstm", **kw):
    torch.manual_seed(7)
    return rnn.CharRNN(rnn.CharRNNConfig(vocab_size=11, cell=cell, n_embd=6, hidden_size=10, **kw))


@pytest.mark.parametrize("cell", rnn.CELLS)
def test_char_rnn_shapes_loss_and_impls_agree(cell):
    m = _char_model(cell, num_layers=2)
    idx = torch.randint(11, (3, 9))
    logits, loss = m(idx, idx)
    assert logits.shape == (3, 9, 11)
    assert abs(loss.item() - math.log(11)) < 0.3  # starts near uniform
    m.impl = "reference"
    logits_ref, _ = m(idx)
    assert (logits - logits_ref).abs().max() <= ATOL
    assert m(idx)[1] is None
    with pytest.raises(ValueError, match="idx must hold token ids in"):
        m(torch.full((1, 3), 11))


def test_char_rnn_trains_with_the_trainer_and_round_trips_a_checkpoint(tmp_path):
    text = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] * 40)
    m = _char_model("gru")
    cfg = TrainConfig(
        max_steps=40,
        batch_size=8,
        block_size=12,
        lr=2e-2,
        progress=False,
        eval_every=40,
        eval_batches=2,
    )
    history = Trainer(m, text[:400], text[400:], cfg, device="cpu").fit()
    assert history.train_loss.iloc[-1] < 0.5 * history.train_loss.iloc[0]
    checkpoint.save(tmp_path / "m", m)
    back = checkpoint.load(tmp_path / "m", device="cpu")
    idx = text[None, :20]
    m.eval()
    torch.testing.assert_close(back(idx)[0], m(idx)[0])


def test_carried_state_continues_the_text_and_is_detached():
    m = _char_model("lstm", carry_state=True)
    m.train()
    idx = torch.randint(11, (2, 12))
    whole, _ = m.run(idx)
    first, loss1 = m(idx[:, :6], idx[:, :6])
    second, loss2 = m(idx[:, 6:], idx[:, 6:])
    # the second chunk started from where the first ended: same as one pass over all 12
    assert (torch.cat([first, second], dim=1) - whole).abs().max() <= ATOL
    h, c = m.carried_state
    assert h.grad_fn is None and not h.requires_grad and c.grad_fn is None  # detached
    loss1.backward()
    loss2.backward()  # no "backward through the graph a second time": the graphs are separate
    m.zero_grad()
    for _ in range(3):  # the graph does not grow: each chunk's graph has the same size
        _, loss = m(idx[:, :6], idx[:, :6])
        loss.backward()
    m.eval()  # no carrying in eval mode: a call starts from zeros
    assert (m(idx[:, 6:])[0] - m.run(idx[:, 6:])[0]).abs().max() == 0
    carried = m.carried_state[0].clone()
    out = sample(m, idx[:, :3], 4, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 7)  # labkit.generate works with a CharRNN ...
    assert torch.equal(m.carried_state[0], carried)  # ... and leaves the training state alone
    m.train()
    m(idx[:1, :6])  # another batch size: the carried state starts over
    assert m.carried_state[0].shape == (1, 1, 10)
    m.reset_state()
    assert m.carried_state is None


def _graph_size(t):
    seen, todo = set(), [t.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        todo.extend(f for f, _ in fn.next_functions)
    return len(seen)


def test_graph_size_stays_constant_across_carried_chunks():
    m = _char_model("gru", carry_state=True)
    idx = torch.randint(11, (2, 5))
    sizes = [_graph_size(m(idx, idx)[1]) for _ in range(4)]
    assert sizes[1] == sizes[2] == sizes[3]


def test_stateful_batches_serve_consecutive_chunks_of_parallel_streams():
    data = torch.arange(103)
    wraps = []
    sb = rnn.StatefulBatches(
        data, block_size=4, batch_size=3, val_data=torch.arange(50), on_wrap=lambda: wraps.append(1)
    )
    # stream length (103 - 1) // 3 = 34: streams start at 0, 34, 68; 8 chunks of 4
    x0, y0 = sb("train")
    x1, _ = sb("train")
    assert x0.tolist() == [[0, 1, 2, 3], [34, 35, 36, 37], [68, 69, 70, 71]]
    assert torch.equal(y0, x0 + 1)
    assert torch.equal(x1, x0 + 4)  # row b continues row b
    for _ in range(6):
        sb("train")
    assert not wraps
    again, _ = sb("train")
    assert wraps == [1] and torch.equal(again, x0)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert torch.equal(sb("val", g1)[0], sb("val", g2)[0])  # val: random but reproducible
    with pytest.raises(ValueError, match="too short"):
        rnn.StatefulBatches(torch.arange(10), block_size=4, batch_size=3)


def test_truncated_bptt_trains_through_the_trainer():
    text = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] * 40)
    m = _char_model("lstm", carry_state=True)
    sb = rnn.StatefulBatches(text[:400], 10, 4, val_data=text[400:], on_wrap=m.reset_state)
    cfg = TrainConfig(max_steps=30, lr=2e-2, progress=False, eval_every=30, eval_batches=2)
    history = Trainer(m, config=cfg, device="cpu", batch_fn=sb).fit()
    assert history.train_loss.iloc[-1] < 0.5 * history.train_loss.iloc[0]
    assert m.carried_state is not None


# -------------------------------------------------------------------- gradient norms by distance


def test_grad_norms_match_a_manual_autograd_loop_with_torch_cells():
    torch.manual_seed(8)
    ours = rnn.RNNCell(3, 5)
    theirs = nn.RNNCell(3, 5)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 9, 3)
    got = rnn.grad_norms_by_distance(ours, 9, 2, inputs=x)
    h, hs = torch.zeros(2, 5), []
    for t in range(9):
        h = theirs(x[:, t], h)
        hs.append(h)
    grads = torch.autograd.grad(hs[-1].sum(), hs)
    want = torch.stack([g.norm() for g in grads]).flip(0)
    assert (got - want).abs().max() <= 1e-6
    assert torch.allclose(rnn.grad_norms_by_distance(theirs, 9, 2, inputs=x), want)


def test_grad_norms_equal_the_jacobian_product_of_an_elman_rnn():
    # ∂L/∂h_t = ∂L/∂h_{t+1} · diag(1 − h_{t+1}²) W_hh, one example, float64
    torch.manual_seed(9)
    cell = rnn.RNNCell(2, 4).double()
    x = torch.randn(1, 6, 2, dtype=torch.float64)
    got = rnn.grad_norms_by_distance(cell, 6, 1, inputs=x)
    with torch.no_grad():
        h, hs = torch.zeros(1, 4, dtype=torch.float64), []
        for t in range(6):
            h = cell(x[:, t], h)
            hs.append(h[0])
        g = torch.ones(4, dtype=torch.float64)  # ∂(Σ h_T)/∂h_T
        want = [g.norm()]
        for t in range(5, 0, -1):
            g = g @ (torch.diag(1 - hs[t] ** 2) @ cell.weight_hh)
            want.append(g.norm())
    torch.testing.assert_close(got, torch.stack(want))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_grad_norms_of_a_stack_and_a_char_rnn_match_manual_loops(kind):
    torch.manual_seed(10)
    m = _char_model(kind)
    cell = (rnn.LSTMCell if kind == "lstm" else rnn.GRUCell)(6, 10)
    cell.load_state_dict(
        {k[:-3]: v for k, v in m.rnn.state_dict().items()}
    )  # weight_ih_l0 → weight_ih
    idx = torch.randint(11, (2, 7))
    y = torch.tensor([3, 4])
    got = rnn.grad_norms_by_distance(m, 7, 2, inputs=idx, targets=y)
    e = m.embedding(idx)
    state, hs = None, []
    for t in range(7):
        state = cell(e[:, t], state)
        hs.append(state[0] if kind == "lstm" else state)
    loss = F.cross_entropy(m.head(hs[-1]), y)
    want = torch.stack([g.norm() for g in torch.autograd.grad(loss, hs)]).flip(0)
    assert (got - want).abs().max() <= 1e-6
    # the sequence module alone: loss Σ h_T
    x = torch.randn(2, 7, 6)
    got = rnn.grad_norms_by_distance(m.rnn, 7, 2, inputs=x)
    state, hs = None, []
    for t in range(7):
        state = cell(x[:, t], state)
        hs.append(state[0] if kind == "lstm" else state)
    want = torch.stack([g.norm() for g in torch.autograd.grad(hs[-1].sum(), hs)]).flip(0)
    assert (got - want).abs().max() <= 1e-6


def test_grad_norms_show_vanishing_for_small_recurrent_weights():
    torch.manual_seed(11)
    cell = rnn.RNNCell(4, 16)
    with torch.no_grad():
        cell.weight_hh.mul_(0.2)
    g = rnn.grad_norms_by_distance(cell, 30, 4)
    assert g.shape == (30,)
    assert g[-1] < 1e-6 * g[0]  # 29 steps back: vanished
    with torch.no_grad():
        with pytest.raises(ValueError, match="seq_len must be a positive int"):
            rnn.grad_norms_by_distance(cell, 0)
        assert rnn.grad_norms_by_distance(cell, 3).shape == (3,)  # works under no_grad too
