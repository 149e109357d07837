"""labkit.nn: cross-entropy from the formula = torch's; the MLP language model's shapes and checks."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.nn import MLPConfig, MLPLanguageModel, cross_entropy, log_softmax


def test_log_softmax_matches_torch_and_survives_huge_logits():
    z = torch.tensor([[1.0, 2.0, 3.0], [1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]])
    got = log_softmax(z)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, F.log_softmax(z, dim=-1))


@pytest.mark.parametrize("shape", [(7,), (4, 5), (2, 3, 11)])
def test_cross_entropy_equals_torch(shape):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(*shape, generator=g) * 5
    vocab = shape[-1]
    targets = torch.randint(0, vocab, shape[:-1], generator=g)
    ours = cross_entropy(logits, targets)
    theirs = F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))
    torch.testing.assert_close(ours, theirs)


def test_cross_entropy_gradients_equal_torch():
    g = torch.Generator().manual_seed(1)
    a = (torch.randn(6, 9, generator=g) * 3).requires_grad_()
    b = a.detach().clone().requires_grad_()
    t = torch.randint(0, 9, (6,), generator=g)
    cross_entropy(a, t).backward()
    F.cross_entropy(b, t).backward()
    torch.testing.assert_close(a.grad, b.grad)


def test_cross_entropy_gradcheck_float64():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(4, 3, 5, generator=g, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 5, (4, 3), generator=g)
    assert torch.autograd.gradcheck(lambda z: cross_entropy(z, targets), (logits,))
    soft = torch.softmax(torch.randn(4, 3, 5, generator=g, dtype=torch.float64), -1)
    assert torch.autograd.gradcheck(lambda z: cross_entropy(z, soft), (logits,))


def test_cross_entropy_soft_targets_and_ignore_index_match_torch():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(5, 4, generator=g)
    p = torch.softmax(torch.randn(5, 4, generator=g), -1)
    torch.testing.assert_close(cross_entropy(logits, p), F.cross_entropy(logits, p))
    t = torch.tensor([0, -100, 3, 2, -100])
    torch.testing.assert_close(cross_entropy(logits, t), F.cross_entropy(logits, t))


def test_uniform_prediction_costs_log_vocab():
    logits = torch.zeros(10, 27)
    targets = torch.arange(10)
    assert cross_entropy(logits, targets).item() == pytest.approx(math.log(27))


@settings(max_examples=25, deadline=None)
@given(
    logits=st.lists(st.floats(-50, 50), min_size=2, max_size=8),
    data=st.data(),
)
def test_cross_entropy_property_matches_torch(logits, data):
    z = torch.tensor([logits], dtype=torch.float64)
    t = torch.tensor([data.draw(st.integers(0, len(logits) - 1))])
    torch.testing.assert_close(cross_entropy(z, t), F.cross_entropy(z, t))


def test_cross_entropy_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="targets .*shape"):
        cross_entropy(torch.zeros(3, 4), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        cross_entropy(torch.zeros(3, 4), torch.tensor([0, 1, 4]))
    with pytest.raises(TypeError, match="logits"):
        cross_entropy(torch.zeros(3, 4, dtype=torch.long), torch.tensor([0, 1, 2]))


def _model(**kw):
    torch.manual_seed(0)
    return MLPLanguageModel(MLPConfig(vocab_size=11, context=3, n_embd=4, n_hidden=16, **kw))


def test_forward_shapes_and_loss_convention():
    m = _model()
    idx = torch.randint(0, 11, (2, 7))
    logits, loss = m(idx)
    assert logits.shape == (2, 7, 11) and loss is None
    logits, loss = m(idx, idx)
    assert loss.shape == () and loss.item() == pytest.approx(
        F.cross_entropy(logits.reshape(-1, 11), idx.reshape(-1)).item()
    )
    # a fresh model predicts near uniformly: the loss starts near log V
    assert abs(loss.item() - math.log(11)) < 0.3


def test_each_position_sees_only_its_last_context_tokens():
    m = _model()
    idx = torch.randint(0, 11, (1, 9))
    base, _ = m(idx)
    changed = idx.clone()
    changed[0, 4] = (changed[0, 4] + 1) % 11
    after, _ = m(changed)
    differs = (after - base).abs().amax(-1)[0] > 0
    # token 4 influences positions 4, 5, 6 (context 3) and nothing else
    assert differs.tolist() == [False] * 4 + [True] * 3 + [False] * 2


def test_windows_are_left_padded():
    m = _model()
    w = m.windows(torch.tensor([[5, 6, 7]]))
    pad = m.pad_index
    assert w.tolist() == [[[pad, pad, 5], [pad, 5, 6], [5, 6, 7]]]


def test_num_params_counts_every_weight():
    m = _model()
    # (V + 1)·n_embd + (context·n_embd)·n_hidden + n_hidden + n_hidden·V + V
    assert m.num_params() == 12 * 4 + 12 * 16 + 16 + 16 * 11 + 11
    assert m.config == MLPConfig(vocab_size=11, context=3, n_embd=4, n_hidden=16)


def test_bad_inputs_raise_clear_errors():
    m = _model()
    with pytest.raises(ValueError, match=r"idx must hold token ids in \[0, 11\)"):
        m(torch.tensor([[0, 11]]))
    with pytest.raises(ValueError, match="idx must have shape"):
        m(torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="idx must be an integer tensor"):
        m(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="targets must have the shape of idx"):
        m(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long))
    for bad in (
        {"vocab_size": 0},
        {"vocab_size": 5, "context": 0},
        {"vocab_size": 5, "dropout": 1.0},
    ):
        with pytest.raises(ValueError, match="MLPConfig"):
            MLPConfig(**bad)
