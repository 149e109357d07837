"""labkit.generate: the distribution filters checked directly (with hypothesis), and the decoders
on toy models small enough to enumerate."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from labkit.generate import (
    apply_repetition_penalty,
    apply_temperature,
    beam_search,
    generate_text,
    greedy,
    sample,
    sequence_log_prob,
    stream,
    top_k_filter,
    top_p_filter,
)

FEW = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**31 - 1)


class Bigram(nn.Module):
    """A toy language model: the next token's logits depend only on the last token."""

    def __init__(self, table: torch.Tensor, block_size: int = 6) -> None:
        super().__init__()
        self.table = nn.Parameter(table)
        self.block_size = block_size
        self.longest_input = 0

    def forward(self, idx, targets=None):
        self.longest_input = max(self.longest_input, idx.shape[1])
        return self.table[idx], None


def random_bigram(seed: int, V: int = 5, scale: float = 2.0) -> Bigram:
    g = torch.Generator().manual_seed(seed)
    return Bigram(torch.randn(V, V, generator=g) * scale)


def separated_bigram(seed: int, V: int = 6) -> Bigram:
    """Every row a permutation of 0, 1, …, V−1: no two logits closer than 1."""
    g = torch.Generator().manual_seed(seed)
    return Bigram(torch.stack([torch.randperm(V, generator=g).float() for _ in range(V)]))


def cycle(text: str) -> tuple[Bigram, callable]:
    """A model that always continues ``text`` cyclically (token i = character i of text)."""
    V = len(text)
    table = torch.full((V, V), -20.0)
    table[torch.arange(V), (torch.arange(V) + 1) % V] = 20.0
    return Bigram(table, block_size=3), lambda ids: "".join(text[i] for i in ids)


def logits_from(seed: int, V: int, scale: float = 3.0) -> torch.Tensor:
    return torch.randn(V, generator=torch.Generator().manual_seed(seed)) * scale


# -------------------------------------------------------------------- distribution functions


def test_apply_temperature():
    z = torch.tensor([1.0, 3.0, -2.0, 3.0])
    torch.testing.assert_close(apply_temperature(z, 2.0), z / 2)
    torch.testing.assert_close(apply_temperature(z, 1.0), z)
    assert apply_temperature(z, 0).tolist() == [-math.inf, 3.0, -math.inf, 3.0]  # greedy
    with pytest.raises(ValueError, match=r"temperature must be a number >= 0 .* got -0.5"):
        apply_temperature(z, -0.5)


@FEW
@given(seed=seeds, V=st.integers(2, 30), k=st.integers(1, 35), draw_seed=seeds)
def test_top_k_never_samples_outside_the_k_most_likely(seed, V, k, draw_seed):
    z = logits_from(seed, V)
    filtered = top_k_filter(z, k)
    top = set(z.topk(min(k, V)).indices.tolist())
    assert set(torch.isfinite(filtered).nonzero().flatten().tolist()) == top
    draws = torch.multinomial(
        torch.softmax(filtered, -1),
        200,
        replacement=True,
        generator=torch.Generator().manual_seed(draw_seed),
    )
    assert set(draws.tolist()) <= top


@FEW
@given(seed=seeds, V=st.integers(1, 40), p=st.floats(0.01, 1.0), scale=st.floats(0.1, 6.0))
def test_top_p_keeps_the_smallest_set_with_mass_at_least_p(seed, V, p, scale):
    z = logits_from(seed, V, scale)
    probs = torch.softmax(z.double(), -1)
    keep = torch.isfinite(top_p_filter(z, p))
    kept, dropped = probs[keep], probs[~keep]
    assert bool(keep[z.argmax()])  # the top token always stays
    assert kept.sum() >= p - 1e-6  # enough mass ...
    assert kept.sum() - kept.min() < p + 1e-6  # ... and without its least likely token, too little
    if dropped.numel():
        assert kept.min() >= dropped.max()  # the kept tokens are the most likely ones


def test_top_p_examples_and_batches():
    z = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.05, 0.15, 0.3, 0.5]]))
    keep = torch.isfinite(top_p_filter(z, 0.8))
    assert keep.tolist() == [[True, True, False, False], [False, False, True, True]]
    assert torch.isfinite(top_p_filter(z, 0.81)).sum().item() == 6
    assert torch.isfinite(top_p_filter(z, 0.01)).sum().item() == 2
    assert torch.equal(top_p_filter(z, 1.0), z)


def test_repetition_penalty_follows_ctrl():
    z = torch.tensor([[2.0, -1.0, 0.5, 3.0]])
    out = apply_repetition_penalty(z, torch.tensor([[0, 1, 1]]), 2.0)
    assert out.tolist() == [[1.0, -2.0, 0.5, 3.0]]  # positive ÷ 2, negative × 2, once each
    torch.testing.assert_close(
        apply_repetition_penalty(z[0], torch.tensor([3]), 1.5)[3], torch.tensor(2.0)
    )
    assert torch.equal(apply_repetition_penalty(z, torch.tensor([[0]]), 1.0), z)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda z: top_k_filter(z, 0), ValueError, r"top_k must be an int >= 1 .* got 0"),
        (
            lambda z: top_p_filter(z, 0.0),
            ValueError,
            r"top_p must be a number in \(0, 1\] .* got 0.0",
        ),
        (lambda z: top_p_filter(z, 1.5), ValueError, r"top_p must be .* got 1.5"),
        (
            lambda z: apply_repetition_penalty(z, torch.tensor([0]), 0),
            ValueError,
            "repetition_penalty must be a number > 0",
        ),
        (
            lambda z: apply_repetition_penalty(z, torch.tensor([[0]]), 2.0),
            ValueError,
            "previous_ids must have shape",
        ),
        (lambda z: top_k_filter(z.long(), 2), TypeError, "logits must be a floating-point tensor"),
    ],
)
def test_filters_check_their_arguments(call, error, words):
    with pytest.raises(error, match=words):
        call(torch.randn(5))


# ----------------------------------------------------------------------------- decoders


@FEW
@given(
    model_seed=seeds, prompt=st.lists(st.integers(0, 5), min_size=1, max_size=4), draw_seed=seeds
)
def test_tiny_temperature_equals_greedy(model_seed, prompt, draw_seed):
    model = separated_bigram(model_seed)
    idx = torch.tensor([prompt])
    g = torch.Generator().manual_seed(draw_seed)
    expected = greedy(model, idx, 8)
    assert torch.equal(sample(model, idx, 8, temperature=1e-4, generator=g), expected)
    assert torch.equal(sample(model, idx, 8, temperature=0), expected)


def test_greedy_takes_the_argmax_and_crops_the_context():
    model = separated_bigram(0)
    out = greedy(model, torch.tensor([[2, 1]]), 10)
    for t in range(2, 12):
        assert out[0, t] == model.table[out[0, t - 1]].argmax()
    assert model.longest_input == model.block_size


@FEW
@given(model_seed=seeds, first=st.integers(0, 4), steps=st.integers(0, 6))
def test_beam_width_one_equals_greedy(model_seed, first, steps):
    model = random_bigram(model_seed)
    idx = torch.tensor([[first]])
    assert torch.equal(beam_search(model, idx, steps, beam_width=1), greedy(model, idx, steps))


@FEW
@given(model_seed=seeds, first=st.integers(0, 2))
def test_beam_search_finds_the_most_likely_sequence(model_seed, first):
    V, n = 3, 3
    model = random_bigram(model_seed, V=V)
    logp = torch.log_softmax(model.table.detach().double(), -1)

    def score(seq):  # Σ log p(x_t | x_{t−1}), computed here independently of labkit
        return sum(logp[a, b].item() for a, b in itertools.pairwise((first, *seq)))

    best = max(itertools.product(range(V), repeat=n), key=score)
    out = beam_search(model, torch.tensor([[first]]), n, beam_width=V ** (n - 1))
    assert math.isclose(score(tuple(out[0, 1:].tolist())), score(best), abs_tol=1e-6)
    lp = sequence_log_prob(model, out, prompt_len=1)
    assert math.isclose(lp.item(), score(best), abs_tol=1e-4)


def test_beam_search_length_penalty_and_eos():
    # token 0 = eos. From 1: eos is likely (0.6); otherwise 2, from which 2 repeats surely.
    table = torch.log(
        torch.tensor(
            [
                [0.98, 0.01, 0.01],
                [0.6, 0.01, 0.39],
                [1e-4, 1e-4, 1 - 2e-4],
            ]
        )
    )
    model = Bigram(table)
    short = beam_search(model, torch.tensor([[1]]), 5, beam_width=3, eos_id=0, length_penalty=0)
    assert short.tolist() == [[1, 0]]  # log 0.6 beats log 0.39 + … (raw sum)
    long = beam_search(model, torch.tensor([[1]]), 5, beam_width=3, eos_id=0, length_penalty=1)
    assert long.tolist() == [[1, 2, 2, 2, 2, 2]]  # per-token average favours the long one


@FEW
@given(
    model_seed=seeds,
    draw_seed=seeds,
    top_k=st.one_of(st.none(), st.integers(1, 5)),
    top_p=st.one_of(st.none(), st.floats(0.2, 1.0)),
    penalty=st.floats(0.5, 2.0),
)
def test_sampling_is_reproducible_and_streaming_matches(
    model_seed, draw_seed, top_k, top_p, penalty
):
    model = random_bigram(model_seed)
    idx = torch.tensor([[0, 3]])
    kw = dict(temperature=0.9, top_k=top_k, top_p=top_p, repetition_penalty=penalty)
    a = sample(model, idx, 10, generator=torch.Generator().manual_seed(draw_seed), **kw)
    b = sample(model, idx, 10, generator=torch.Generator().manual_seed(draw_seed), **kw)
    assert torch.equal(a, b)
    streamed = list(
        stream(model, idx, 10, generator=torch.Generator().manual_seed(draw_seed), **kw)
    )
    assert streamed == a[0, 2:].tolist()


def test_sample_batches_and_restores_the_model_mode():
    model = random_bigram(1).train()
    out = sample(
        model, torch.zeros(4, 2, dtype=torch.long), 5, generator=torch.Generator().manual_seed(0)
    )
    assert out.shape == (4, 7) and model.training
    steps = stream(model, torch.tensor([1]), 3)
    next(steps)
    assert torch.is_grad_enabled() and model.training  # nothing leaks between tokens


def test_stop_strings_trim_the_continuation():
    model, decode = cycle("abc.de")
    prompt = torch.tensor([[0]])  # "a" → continues "bc.deabc.de…"
    assert decode(greedy(model, prompt, 20)[0, 1:].tolist()).startswith("bc.deab")
    out = greedy(model, prompt, 20, stop=".", decode=decode)
    assert decode(out[0].tolist()) == "abc"
    assert (
        decode(list(stream(model, prompt, 20, temperature=0, stop=["e", "."], decode=decode)))
        == "bc"
    )
    assert generate_text(model, prompt, 20, decode, stop="de", temperature=0) == "bc."
    assert generate_text(model, prompt, 4, decode, temperature=0) == "bc.d"
    # a stop string that never completes holds tokens back only for a while
    held = list(stream(model, prompt, 9, temperature=0, stop="c.x", decode=decode))
    assert held == greedy(model, prompt, 9)[0, 1:].tolist()


@pytest.mark.parametrize(
    "call, error, words",
    [
        (
            lambda m, i: sample(m, i, 3, temperature=-1),
            ValueError,
            "temperature must be a number >= 0",
        ),
        (lambda m, i: sample(m, i, 3, top_k=0), ValueError, "top_k must be an int >= 1"),
        (lambda m, i: sample(m, i, 3, top_p=0), ValueError, r"top_p must be a number in \(0, 1\]"),
        (lambda m, i: sample(m, i, -1), ValueError, "max_new_tokens must be an int >= 0"),
        (
            lambda m, i: sample(m, i, 3, generator=0),
            TypeError,
            "generator must be a torch.Generator",
        ),
        (lambda m, i: sample(m, i.float(), 3), TypeError, "idx must be an integer tensor"),
        (lambda m, i: sample(m, i, 3, stop="x"), TypeError, "stop strings need decode"),
        (lambda m, i: stream(m, i.repeat(2, 1), 3), ValueError, "stream takes one prompt"),
        (
            lambda m, i: beam_search(m, i, 3, beam_width=0),
            ValueError,
            "beam_width must be an int >= 1",
        ),
        (lambda m, i: sample("model", i, 3), TypeError, "model must be a torch.nn.Module"),
    ],
)
def test_decoders_check_their_arguments(call, error, words):
    with pytest.raises(error, match=words):
        call(random_bigram(0), torch.tensor([[1, 2]]))
