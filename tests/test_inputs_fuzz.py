"""Bad input at every public entry point: wrong types, NaN/inf, empty and out-of-range values.

Each one must raise a ``ValueError``/``TypeError`` whose message names the argument — never a
bare error from deep inside torch, never a silent wrong result."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from labkit import generate
from labkit.attention import IMPLS, MultiHeadAttention, causal_mask
from labkit.gpt import GPT, GPTConfig
from labkit.nn import MLPConfig, MLPLanguageModel
from labkit.rnn import GRU, LSTM, RNN, CharRNN, CharRNNConfig, GRUCell, LSTMCell, RNNCell
from labkit.seq2seq import Seq2Seq, Seq2SeqConfig, token_accuracy
from labkit.tokenize import BPETokenizer, CharTokenizer, WordTokenizer

FEW = settings(max_examples=20, deadline=None)
V, BLOCK = 7, 8

# things that are not what any argument here wants
junk = st.sampled_from([None, "abc", b"xy", math.nan, True, [0.5, 2.5], {"a": 1}, object()])
not_text = st.sampled_from([None, b"xy", 3, 3.5, True, ["a"], {"a": 1}, object()])
nonfinite = st.sampled_from([math.nan, math.inf, -math.inf])


def raises_naming(name: str, call, *args, **kwargs) -> None:
    """``call(*args, **kwargs)`` raises a ValueError/TypeError whose message names ``name``."""
    with pytest.raises((ValueError, TypeError), match=name):
        call(*args, **kwargs)


# ------------------------------------------------------------------------- bad token ids

bad_ids = st.one_of(
    junk,
    st.just(3.5),
    st.builds(lambda b, t: torch.rand(b, t), st.integers(1, 3), st.integers(1, 4)),  # floats
    st.builds(lambda t: torch.ones(1, t, dtype=torch.bool), st.integers(1, 4)),
    st.builds(lambda t: torch.zeros(t, dtype=torch.long), st.integers(1, 4)),  # 1-D
    st.builds(lambda b: torch.zeros(b, 2, 2, dtype=torch.long), st.integers(1, 3)),  # 3-D
    st.builds(lambda b: torch.zeros(b, 0, dtype=torch.long), st.integers(1, 3)),  # empty
    st.builds(  # an id at or beyond the vocabulary, possibly huge
        lambda v, at: torch.zeros(2, 4, dtype=torch.long).index_fill_(1, torch.tensor([at]), v),
        st.integers(V, 2**62),
        st.integers(0, 3),
    ),
    st.builds(  # a negative id
        lambda v, at: torch.zeros(2, 4, dtype=torch.long).index_fill_(1, torch.tensor([at]), v),
        st.integers(-(2**62), -1).filter(lambda v: v != -100),  # -100: an ignored target
        st.integers(0, 3),
    ),
)


def _lms() -> list[nn.Module]:
    torch.manual_seed(0)
    return [
        GPT(GPTConfig(vocab_size=V, block_size=BLOCK, n_layer=1, n_head=2, n_embd=8)),
        GPT(GPTConfig(V, BLOCK, 1, 2, 8, attn_impl="reference", pos_embedding="sinusoidal")),
        MLPLanguageModel(MLPConfig(vocab_size=V, context=3, n_embd=4, n_hidden=8)),
        *(
            CharRNN(CharRNNConfig(V, cell=c, n_embd=4, hidden_size=8, impl=i))
            for c in ("rnn", "lstm", "gru")
            for i in ("reference", "fast")
        ),
    ]


LMS = _lms()


@pytest.mark.parametrize("model", LMS, ids=lambda m: type(m).__name__)
@FEW
@given(idx=bad_ids)
def test_language_models_reject_bad_idx(model, idx):
    raises_naming("idx", model, idx)


@pytest.mark.parametrize("model", LMS, ids=lambda m: type(m).__name__)
@FEW
@given(targets=bad_ids.filter(lambda t: t is not None))  # None: no loss
def test_language_models_reject_bad_targets(model, targets):
    idx = torch.zeros(2, 4, dtype=torch.long)
    raises_naming("targets", model, idx, targets)


@FEW
@given(extra=st.integers(1, 10_000))
def test_gpt_rejects_a_context_longer_than_block_size(extra):
    raises_naming("block_size", LMS[0], torch.zeros(1, BLOCK + extra, dtype=torch.long))


@pytest.mark.parametrize("model", LMS, ids=lambda m: type(m).__name__)
def test_language_models_take_good_ids(model):
    # the happy path the checks must leave alone: every id in range, int32 or int64
    idx = torch.arange(V).repeat(2, 1)[:, :BLOCK]
    logits, loss = model(idx.int(), idx)
    assert logits.shape == (2, idx.shape[1], V) and torch.isfinite(loss)


# -------------------------------------------------------------------- recurrent modules

bad_float_input = st.one_of(
    junk,
    st.just(torch.zeros(2, 3, 4, dtype=torch.long)),
    st.builds(lambda d: torch.zeros(2, 3, d), st.integers(1, 9).filter(lambda d: d != 4)),
    st.just(torch.zeros(2, 0, 4)),  # no time steps
    st.just(torch.zeros(3, 4)),  # 2-D
    st.just(torch.zeros(1, 2, 3, 4)),  # 4-D
)


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
@pytest.mark.parametrize("impl", ["reference", "fast"])
@FEW
@given(x=bad_float_input)
def test_recurrent_modules_reject_bad_x(cls, impl, x):
    raises_naming("x", cls(4, 5, impl=impl), x)


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
@FEW
@given(
    lengths=st.one_of(
        junk.filter(lambda v: v is not None),
        st.lists(st.integers(-5, 10), min_size=0, max_size=4).filter(
            lambda v: len(v) != 2 or min(v) < 1 or max(v) > 3
        ),
        st.just(torch.tensor([1.5, 2.0])),
        st.just(torch.tensor([math.nan, 2.0])),
    )
)
def test_recurrent_modules_reject_bad_lengths(cls, lengths):
    raises_naming("lengths", cls(4, 5), torch.zeros(2, 3, 4), lengths=lengths)


@pytest.mark.parametrize("cls", [RNN, GRU])
@FEW
@given(state=st.one_of(junk, st.just(torch.zeros(2, 2, 5)), st.just(torch.zeros(1, 2, 5).int())))
def test_recurrent_modules_reject_bad_state(cls, state):
    if state is None:
        return  # None means zeros
    raises_naming("state", cls(4, 5), torch.zeros(2, 3, 4), state)


@FEW
@given(part=st.sampled_from([0, 1]), bad=junk.filter(lambda v: v is not None))
def test_lstm_rejects_a_bad_state_half(part, bad):
    good = torch.zeros(1, 2, 5)
    state = (bad, good) if part == 0 else (good, bad)
    raises_naming(("h_0", "c_0")[part], LSTM(4, 5), torch.zeros(2, 3, 4), state)


@pytest.mark.parametrize("cls", [RNNCell, LSTMCell, GRUCell])
@FEW
@given(
    x=st.one_of(
        junk,
        st.just(torch.zeros(2, 3)),
        st.just(torch.zeros(2, 1, 4)),
        st.just(torch.zeros(2, 4).long()),
    )
)
def test_cells_reject_bad_x(cls, x):
    raises_naming("x", cls(4, 5), x)


@pytest.mark.parametrize("cls", [RNNCell, GRUCell])
@FEW
@given(
    h=st.one_of(
        junk.filter(lambda v: v is not None),
        st.just(torch.zeros(3, 5)),
        st.just(torch.zeros(2, 5).long()),
    )
)
def test_cells_reject_bad_h(cls, h):
    raises_naming("h", cls(4, 5), torch.zeros(2, 4), h)


@pytest.mark.parametrize("impl", ["reference", "fast"])
@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_recurrent_nan_input_comes_out_as_nan_not_as_a_number(cls, impl):
    # NaN in a real time step propagates (never a finite-looking output); NaN in padding is
    # never read
    x = torch.randn(2, 3, 4)
    x[0, 1, 0] = math.nan
    x[1, 2, 0] = math.nan
    out, _ = cls(4, 5, impl=impl)(x, lengths=torch.tensor([3, 2]))
    assert torch.isnan(out[0, 1:]).all() and torch.isfinite(out[1]).all()


# ------------------------------------------------------------------------- attention


@pytest.mark.parametrize("impl", IMPLS)
@FEW
@given(
    arg=st.sampled_from(["query", "key", "value"]),
    bad=st.one_of(
        junk.filter(lambda v: v is not None),
        st.just(torch.zeros(2, 3, 8).long()),
        st.just(torch.zeros(2, 3, 7)),
        st.just(torch.zeros(3, 8)),
        st.just(torch.zeros(2, 0, 8)),
    ),
)
def test_attention_rejects_bad_tensors(impl, arg, bad):
    mha = MultiHeadAttention(8, 2, impl=impl)
    x = torch.randn(2, 3, 8)
    raises_naming(arg, mha, **{"query": x, "key": x, "value": x, arg: bad})


@pytest.mark.parametrize("impl", IMPLS)
@FEW
@given(
    mask=st.one_of(
        junk.filter(lambda v: v is not None),
        st.just(torch.ones(3, 3)),  # float, not bool
        st.just(torch.ones(3, 3, dtype=torch.long)),
        st.builds(
            lambda a, b: torch.ones(a, b, dtype=torch.bool),
            st.integers(1, 6),
            st.integers(1, 6),
        ).filter(lambda m: m.shape[0] not in (1, 3) or m.shape[1] not in (1, 3)),
        st.just(torch.ones(5, 1, 3, dtype=torch.bool)),
        st.just(torch.ones(2, 2, 2, 2, 2, dtype=torch.bool)),
    )
)
def test_attention_rejects_bad_masks(impl, mask):
    raises_naming("mask", MultiHeadAttention(8, 2, impl=impl), torch.randn(2, 3, 8), mask=mask)


@FEW
@given(flag=st.sampled_from(["causal", "return_weights"]), bad=junk.filter(lambda v: v is not True))
def test_attention_switches_must_be_bools(flag, bad):
    raises_naming(flag, MultiHeadAttention(8, 2), torch.randn(2, 3, 8), **{flag: bad})


@pytest.mark.parametrize("impl", IMPLS)
def test_attention_nan_input_comes_out_as_nan(impl):
    x = torch.randn(2, 3, 8)
    x[0, 1, 2] = math.nan
    out = MultiHeadAttention(8, 2, impl=impl).eval()(x, causal=True)
    # every query that reads the NaN position gets NaN; the other sequence is untouched
    assert torch.isnan(out[0, 1:]).all() and torch.isfinite(out[1]).all()


@FEW
@given(
    lengths=st.lists(st.integers(0, 6), min_size=1, max_size=6),
    causal=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_attention_impls_agree_on_any_padding(lengths, causal, seed):
    # including the batches whose key-padding mask happens to look like a causal mask
    from labkit.attention import padding_mask

    torch.manual_seed(seed)
    B, T = len(lengths), 6
    mha = MultiHeadAttention(8, 2, bias=False).eval()
    x = torch.randn(B, T, 8)
    mask = padding_mask(lengths, T)
    ref = mha(x, mask=mask, causal=causal)
    mha.impl = "fast"
    torch.testing.assert_close(mha(x, mask=mask, causal=causal), ref, atol=1e-5, rtol=0)
    full = mask & causal_mask(T) if causal else mask.expand(B, T, T)  # (B, T_q, T_k)
    for b, n in enumerate(lengths):  # the padding positions change no real token's output
        y = x.clone()
        y[b, n:] = torch.randn(T - n, 8)
        out = mha(y, mask=mask, causal=causal)[b, :n]
        torch.testing.assert_close(out, ref[b, :n], atol=1e-5, rtol=0)
        assert bool((ref[b, ~full[b].any(dim=-1)] == 0).all())  # nothing to read: zeros


# --------------------------------------------------------------------------- seq2seq


def _seq2seq() -> Seq2Seq:
    torch.manual_seed(0)
    return Seq2Seq(Seq2SeqConfig(src_vocab_size=V, tgt_vocab_size=V, n_embd=4, hidden_size=8))


S2S = _seq2seq()


@FEW
@given(arg=st.sampled_from(["src", "tgt_in", "tgt_out"]), bad=bad_ids)
def test_seq2seq_rejects_bad_ids(arg, bad):
    if arg == "tgt_out" and bad is None:
        return  # no targets: no loss
    good = torch.ones(2, 4, dtype=torch.long)
    kwargs = {"src": good, "src_lengths": None, "tgt_in": good, "tgt_out": good, arg: bad}
    raises_naming(arg, S2S, **kwargs)


@FEW
@given(
    lengths=st.one_of(
        junk.filter(lambda v: v is not None),
        st.lists(st.integers(-3, 9), max_size=4).filter(
            lambda v: len(v) != 2 or min(v) < 1 or max(v) > 4
        ),
    )
)
def test_seq2seq_rejects_bad_src_lengths(lengths):
    good = torch.ones(2, 4, dtype=torch.long)
    raises_naming("src_lengths", S2S, good, lengths, good)


@FEW
@given(
    arg=st.sampled_from(["max_len", "beam_width", "length_penalty", "src_length"]),
    bad=st.one_of(junk.filter(lambda v: v is not None), nonfinite, st.integers(-5, 0)),
)
def test_seq2seq_beam_decode_rejects_bad_settings(arg, bad):
    if arg == "length_penalty" and isinstance(bad, int) and not isinstance(bad, bool):
        return  # any finite penalty is fine
    raises_naming(arg, S2S.beam_decode, torch.ones(4, dtype=torch.long), **{arg: bad})


@FEW
@given(bad=st.one_of(junk, nonfinite, st.integers(-5, 0)))
def test_seq2seq_greedy_decode_rejects_bad_max_len(bad):
    raises_naming("max_len", S2S.greedy_decode, torch.ones(2, 4, dtype=torch.long), max_len=bad)


@FEW
@given(bad=nonfinite)
def test_token_accuracy_rejects_nan_logits(bad):
    logits = torch.randn(2, 3, V)
    logits[1, 2, 0] = bad
    if bad == -math.inf:
        logits[1, 2, :] = bad
    raises_naming("logits", token_accuracy, logits, torch.ones(2, 3, dtype=torch.long))


# ------------------------------------------------------------------------- tokenizers

TEXT = "to be, or not to be: that is the question"


def _tokenizers():
    return [
        CharTokenizer().fit(TEXT),
        WordTokenizer().fit(TEXT),
        BPETokenizer().train(TEXT, 256 + 10),
    ]


TOKENIZERS = _tokenizers()


@pytest.mark.parametrize("tok", TOKENIZERS, ids=lambda t: type(t).__name__)
@FEW
@given(text=st.one_of(not_text, st.integers(), st.lists(st.text(max_size=3), max_size=3)))
def test_tokenizers_reject_non_text(tok, text):
    raises_naming("text", tok.encode, text)


@pytest.mark.parametrize("tok", TOKENIZERS, ids=lambda t: type(t).__name__)
@FEW
@given(
    ids=st.one_of(
        st.sampled_from([None, 3, 2.0, "abc", b"ab", [1.0], [True], [None], [[1]], {"a": 1}]),
        st.lists(st.integers(-(2**70), -1), min_size=1, max_size=3),
        st.lists(st.integers(300, 2**70), min_size=1, max_size=3),
        st.builds(lambda n: torch.full((2,), n), st.integers(300, 2**40)),
        st.just(torch.tensor([0.5])),
    )
)
def test_tokenizers_reject_bad_ids(tok, ids):
    raises_naming("ids", tok.decode, ids)


@pytest.mark.parametrize("tok", TOKENIZERS, ids=lambda t: type(t).__name__)
@FEW
@given(text=st.text(alphabet=sorted(set(TEXT)), max_size=40))
def test_tokenizers_round_trip_their_own_alphabet(tok, text):
    ids = tok.encode(text)
    assert all(0 <= i < tok.vocab_size for i in ids)
    if not isinstance(tok, WordTokenizer):  # words lose their spacing by design
        assert tok.decode(ids) == text


def test_unfitted_tokenizers_say_so():
    for tok in (CharTokenizer(), WordTokenizer()):
        raises_naming("fit", tok.encode, "abc")
        raises_naming("fit", tok.decode, [0])


# ------------------------------------------------------------------------- generation


class Fixed(nn.Module):
    """A model that gives the same scores ``logits`` after every prompt."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits, self.block_size = torch.tensor(logits), BLOCK

    def forward(self, idx, targets=None):
        return self.logits.expand(*idx.shape, -1), None


class NaNModel(nn.Module):
    """A model whose scores turn to NaN (or +inf) after ``after`` steps."""

    def __init__(self, value: float, after: int = 0) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(V))
        self.value, self.after, self.block_size = value, after, BLOCK

    def forward(self, idx, targets=None):
        logits = self.w.expand(*idx.shape, V).clone()
        if idx.shape[1] > self.after:
            logits[..., 2] = self.value
        return logits, None


DECODERS = {
    "sample": lambda m, i, **k: generate.sample(m, i, 3, **k),
    "greedy": lambda m, i, **k: generate.greedy(m, i, 3),
    "stream": lambda m, i, **k: list(generate.stream(m, i, 3, **k)),
    "beam_search": lambda m, i, **k: generate.beam_search(m, i, 3, beam_width=2),
    "generate_text": lambda m, i, **k: generate.generate_text(m, i, 3, decode=str, **k),
}


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("value", [math.nan, math.inf])
@FEW
@given(after=st.integers(0, 2), temperature=st.sampled_from([0, 0.5, 1.0]))
def test_decoders_reject_nan_scores_from_the_model(decoder, value, after, temperature):
    idx = torch.tensor([[1]])
    raises_naming("logits", DECODERS[decoder], NaNModel(value, after), idx, temperature=temperature)


@pytest.mark.parametrize("decoder", DECODERS)
@FEW
@given(idx=bad_ids.filter(lambda t: not (isinstance(t, torch.Tensor) and t.dim() != 2)))
def test_decoders_reject_bad_prompts(decoder, idx):
    if isinstance(idx, torch.Tensor) and idx.dim() == 2 and idx.shape[0] > 1:
        idx = idx[:1]  # one prompt, so only the ids are wrong
    raises_naming("idx", DECODERS[decoder], LMS[0], idx)


def test_decoders_crop_a_prompt_longer_than_block_size():
    # not an error: the decoders keep the last block_size tokens
    idx = torch.zeros(1, 10 * BLOCK, dtype=torch.long)
    assert generate.greedy(LMS[0], idx, 2).shape == (1, 10 * BLOCK + 2)


SETTINGS = {
    "temperature": st.one_of(junk, nonfinite, st.floats(-1e9, -1e-9), st.just(1e-300)),
    "top_k": st.one_of(junk.filter(lambda v: v is not None), nonfinite, st.integers(-5, 0)),
    "top_p": st.one_of(
        junk.filter(lambda v: v is not None),
        nonfinite,
        st.floats(-10, 0),
        st.floats(1, 10, exclude_min=True),
    ),
    "repetition_penalty": st.one_of(junk, nonfinite, st.floats(-10, 0)),
    "max_new_tokens": st.one_of(junk, nonfinite, st.integers(-10, -1)),
    "generator": junk.filter(lambda v: v is not None),
}


@pytest.mark.parametrize("arg", SETTINGS)
@FEW
@given(data=st.data())
def test_sample_rejects_bad_settings(arg, data):
    bad = data.draw(SETTINGS[arg])
    kwargs = {"max_new_tokens": 2, arg: bad}
    model = Fixed([1e30, 0.0, -1e30] + [0.0] * (V - 3))
    raises_naming(arg, generate.sample, model, torch.tensor([[1]]), **kwargs)


@FEW
@given(
    bad=st.one_of(junk, nonfinite, st.integers(-5, 0)),
    arg=st.sampled_from(["beam_width", "max_new_tokens", "length_penalty", "eos_id"]),
)
def test_beam_search_rejects_bad_settings(bad, arg):
    if arg in ("length_penalty",) and isinstance(bad, int) and not isinstance(bad, bool):
        return  # any finite penalty is fine
    if arg == "max_new_tokens" and bad == 0:
        return  # zero new tokens is allowed
    if arg == "eos_id" and (bad is None or bad == 0):
        return  # no eos, or token 0
    kwargs = {"max_new_tokens": 2, "beam_width": 2, arg: bad}
    raises_naming(arg, generate.beam_search, LMS[0], torch.tensor([[1]]), **kwargs)


def test_beam_search_rejects_an_eos_beyond_the_vocabulary():
    raises_naming("eos_id", generate.beam_search, LMS[0], torch.tensor([[1]]), 2, 2, eos_id=V)


FILTERS = {
    "apply_temperature": lambda z: generate.apply_temperature(z, 1.0),
    "top_k_filter": lambda z: generate.top_k_filter(z, 2),
    "top_p_filter": lambda z: generate.top_p_filter(z, 0.9),
    "apply_repetition_penalty": lambda z: generate.apply_repetition_penalty(
        z, torch.zeros(*getattr(z, "shape", (1,))[:-1], 1, dtype=torch.long), 1.5
    ),
}


@pytest.mark.parametrize("name", FILTERS)
@FEW
@given(
    bad=st.one_of(
        junk,
        st.just(torch.zeros(3, dtype=torch.long)),
        st.just(torch.zeros(2, 0)),
        st.just(torch.tensor(1.0)),
        st.builds(
            lambda v, at: torch.zeros(2, V).index_fill_(1, torch.tensor([at]), v),
            st.sampled_from([math.nan, math.inf]),
            st.integers(0, V - 1),
        ),
        st.just(torch.full((2, V), -math.inf)),  # nothing left to choose
    )
)
def test_filters_reject_bad_logits(name, bad):
    raises_naming("logits", FILTERS[name], bad)


@FEW
@given(
    ids=st.one_of(
        st.just(torch.tensor([[0.5]])),
        st.just(torch.tensor([[True]])),
        st.builds(lambda v: torch.tensor([[v]]), st.integers(V, 2**40)),
        st.builds(lambda v: torch.tensor([[v]]), st.integers(-(2**40), -1)),
    )
)
def test_repetition_penalty_rejects_bad_previous_ids(ids):
    raises_naming("previous_ids", generate.apply_repetition_penalty, torch.zeros(1, V), ids, 1.5)


@FEW
@given(
    logits=st.lists(
        st.one_of(st.floats(-50, 50), st.just(-math.inf)), min_size=V, max_size=V
    ).filter(lambda z: any(math.isfinite(v) for v in z)),
    seed=st.integers(0, 2**16),
)
def test_sampling_never_picks_a_ruled_out_token(logits, seed):
    # −inf is a legitimate score (a token ruled out); it must never be drawn
    g = torch.Generator().manual_seed(seed)
    out = generate.sample(Fixed(logits), torch.tensor([[0]]), 5, generator=g, top_p=0.9, top_k=3)
    assert all(math.isfinite(logits[t]) for t in out[0, 1:].tolist())


@pytest.mark.parametrize("decoder", DECODERS)
@FEW
@given(bad=st.integers(-(2**40), -1))
def test_decoders_reject_negative_ids_even_if_the_model_would_not(decoder, bad):
    # a model that never looks its ids up would happily continue a prompt of nonsense ids
    raises_naming("idx", DECODERS[decoder], Fixed([0.0] * V), torch.tensor([[0, bad]]))


@pytest.mark.parametrize("decoder", DECODERS)
def test_decoders_check_ids_against_the_models_vocab_size(decoder):
    model = Fixed([0.0] * V)
    model.vocab_size = V
    raises_naming("idx", DECODERS[decoder], model, torch.tensor([[0, V]]))


@pytest.mark.parametrize("decoder", DECODERS)
def test_decoders_reject_a_model_without_per_position_logits(decoder):
    class Flat(nn.Module):
        def forward(self, idx, targets=None):
            return torch.zeros(idx.shape[0], V), None

    raises_naming("model", DECODERS[decoder], Flat(), torch.tensor([[0]]))


@pytest.mark.parametrize("impl", IMPLS)
def test_bert_gives_a_sentence_the_same_vectors_whatever_its_padding(impl):
    # batch size = length and lengths 1, 2, 3: the padding mask looks causal when reshaped,
    # and must still only hide the padding
    from labkit.pretrained.bert import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=20,
        hidden_size=8,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=8,
        attn_impl=impl,
    )
    bert = BertModel(cfg).eval()
    ids = torch.randint(1, 20, (3, 3))
    mask = (torch.arange(3)[None, :] < torch.tensor([[1], [2], [3]])).long()
    batch = bert(ids, mask).last_hidden_state
    for b in range(3):
        n = b + 1
        alone = bert(ids[b : b + 1, :n]).last_hidden_state[0]
        torch.testing.assert_close(batch[b, :n], alone, atol=1e-5, rtol=0)
