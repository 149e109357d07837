"""Text generation: turning a language model's next-token scores into text, one token at a time.

A language model gives logits ``z`` (one score per vocabulary entry) for the next token. Decoding
repeats: score → choose a token → append it → score again. The choices:

- **greedy**: always the most likely token, ``argmax_v z_v``. Deterministic; tends to repeat.
- **sampling** from ``softmax(z / τ)``, reshaped first by
  - temperature ``τ`` (:func:`apply_temperature`): ``τ < 1`` sharpens, ``τ > 1`` flattens;
    ``τ → 0`` approaches greedy, and ``τ = 0`` *is* greedy here;
  - top-k (:func:`top_k_filter`): only the ``k`` most likely tokens stay;
  - top-p / nucleus (:func:`top_p_filter`, Holtzman et al. 2020): only the smallest set of
    most likely tokens whose probabilities add up to at least ``p`` stays;
  - a repetition penalty (:func:`apply_repetition_penalty`: Hugging Face's sign-aware form of
    the penalty of CTRL, Keskar et al. 2019).
- **beam search** (:func:`beam_search`): keep the ``beam_width`` most likely partial sequences,
  scored by their total log-probability ``Σ_t log p(x_t | x_<t)``.

Every function works with any labkit language model — ``model(idx) -> (logits, loss)`` — and
crops the context to the model's last ``block_size`` tokens (``model.block_size`` or
``model.config.block_size``; models without one see the whole sequence). A model with a KV cache
(a ``next_token_logits(idx, cache)`` method) is stepped through it instead, one new token per
step. Generation runs without gradients and in eval mode (no dropout); the model's mode is
restored afterwards.

Stop strings: with ``stop=["\\n\\n"]`` and a ``decode`` function (token ids → text), generation
stops as soon as the decoded continuation contains a stop string, and the result is trimmed so
that it ends just before it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from labkit._checks import describe as _describe
from labkit._checks import finite_logits

__all__ = [
    "apply_repetition_penalty",
    "apply_temperature",
    "beam_search",
    "generate_text",
    "greedy",
    "sample",
    "sequence_log_prob",
    "stream",
    "top_k_filter",
    "top_p_filter",
]

Decode = Callable[[list[int]], str]


# ------------------------------------------------------------------ checks shared by everything


def _check_logits(logits: object) -> torch.Tensor:
    return finite_logits("logits", logits)


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _check_temperature(t: object) -> float:
    if not _is_number(t) or t < 0:
        raise ValueError(f"temperature must be a number >= 0 (0 = greedy), got {t!r}")
    return float(t)


def _check_top_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"top_k must be an int >= 1 (or None for no top-k), got {k!r}")
    return k


def _check_top_p(p: object) -> float:
    if not _is_number(p) or not 0 < p <= 1:
        raise ValueError(f"top_p must be a number in (0, 1] (or None for no top-p), got {p!r}")
    return float(p)


def _check_penalty(penalty: object) -> float:
    if not _is_number(penalty) or penalty <= 0:
        raise ValueError(
            f"repetition_penalty must be a number > 0 (1 = none, > 1 discourages repeats), "
            f"got {penalty!r}"
        )
    return float(penalty)


def _check_idx(idx: object, model: nn.Module | None = None) -> torch.Tensor:
    """Token ids as a ``(B, T)`` long tensor (a 1-D ``(T,)`` prompt becomes ``(1, T)``), each in
    ``[0, V)`` for a model that declares its vocabulary size ``V``."""
    if not isinstance(idx, torch.Tensor) or idx.is_floating_point() or idx.dtype == torch.bool:
        raise TypeError(f"idx must be an integer tensor of token ids, got {_describe(idx)}")
    if idx.dim() == 1:
        idx = idx[None]
    if idx.dim() != 2 or idx.shape[0] == 0 or idx.shape[1] == 0:
        raise ValueError(
            f"idx must have shape (batch, time) or (time,) with at least one prompt and one "
            f"token, got shape {tuple(idx.shape)}"
        )
    V = _vocab_size(model)
    low, high = int(idx.min()), int(idx.max())
    if low < 0 or (V is not None and high >= V):
        wanted = f"[0, {V}) (the model's vocab_size)" if V is not None else ">= 0"
        raise ValueError(f"idx must hold token ids {wanted}, got values from {low} to {high}")
    return idx.long()


def _check_steps(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {n!r}")
    return n


def _check_generator(generator: object) -> torch.Generator | None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {_describe(generator)}")
    return generator


def _check_stop(stop: object, decode: object) -> tuple[str, ...]:
    if stop is None:
        return ()
    stops = (stop,) if isinstance(stop, str) else stop
    if not isinstance(stops, Sequence) or not all(isinstance(s, str) and s for s in stops):
        raise TypeError(f"stop must be a non-empty string or a list of them, got {stop!r}")
    if not callable(decode):
        raise TypeError(
            f"stop strings need decode=... (a function from token ids to text), got {decode!r}"
        )
    return tuple(stops)


def _model_size(model: nn.Module | None, field: str) -> int | None:
    """``model.<field>`` or ``model.config.<field>`` when the model declares it, else ``None``."""
    size = getattr(model, field, None)
    if size is None:
        size = getattr(getattr(model, "config", None), field, None)
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def _block_size(model: nn.Module) -> int | None:
    return _model_size(model, "block_size")


def _vocab_size(model: nn.Module | None) -> int | None:
    return _model_size(model, "vocab_size")


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module (model(idx) -> (logits, loss)), got {_describe(model)}"
        )
    return model


@contextlib.contextmanager
def _inference(model: nn.Module) -> Iterator[None]:
    """No gradients, eval mode (no dropout); the model's mode comes back afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _next_logits(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
    """The model's float32 logits ``(B, V)`` for the token after ``idx``, context cropped."""
    size = _block_size(model)
    context = idx if size is None else idx[:, -size:]
    out = model(context)
    logits = out[0] if isinstance(out, tuple | list) else out
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3:
        raise TypeError(
            f"model must return logits of shape (batch, time, vocab_size) (or a tuple "
            f"(logits, loss)), got {_describe(logits)}"
        )
    return finite_logits("the model's logits", logits[:, -1, :].float())


# ------------------------------------------------------------- pure distribution functions


def apply_temperature(logits: torch.Tensor, t: float) -> torch.Tensor:
    """``z / τ``: sampling from ``softmax(z / τ)`` sharpens (τ < 1) or flattens (τ > 1) the
    distribution; τ = 1 leaves it alone.

    ``τ = 0`` is the limit τ → 0, i.e. greedy: the most likely token(s) keep their logit and
    every other token gets ``−∞`` (probability 0). ``τ < 0`` is an error.
    """
    logits = _check_logits(logits)
    t = _check_temperature(t)
    if t == 0:
        top = logits.amax(dim=-1, keepdim=True)
        return logits.masked_fill(logits < top, float("-inf"))
    scaled = logits / t
    if bool((scaled == math.inf).any()):
        raise ValueError(
            f"temperature={t!r} is so small that logits / temperature overflows to inf; "
            f"use temperature=0 for greedy decoding"
        )
    return scaled


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row, set the rest to ``−∞`` (probability 0).

    Exactly ``k`` tokens stay (of tied logits at the border, torch.topk's choice); ``k`` at least
    the vocabulary size keeps everything.
    """
    logits = _check_logits(logits)
    k = _check_top_k(k)
    if k >= logits.shape[-1]:
        return logits
    keep = torch.zeros_like(logits, dtype=torch.bool)
    keep.scatter_(-1, logits.topk(k, dim=-1).indices, True)
    return logits.masked_fill(~keep, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose probability mass is
    at least ``p``; set the rest to ``−∞``.

    Sort the probabilities ``π₁ ≥ π₂ ≥ …``; token ``i`` (in that order) stays when the mass
    *before* it, ``π₁ + … + π_{i−1}``, is still below ``p``. So the most likely token always
    stays, and ``p = 1`` keeps every token.
    """
    logits = _check_logits(logits)
    p = _check_top_p(p)
    if p == 1:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = torch.softmax(sorted_logits.float(), dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs
    keep_sorted = mass_before < p
    keep_sorted[..., 0] = True  # the top token, even if rounding says otherwise
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    return logits.masked_fill(~keep, float("-inf"))


def apply_repetition_penalty(
    logits: torch.Tensor, previous_ids: torch.Tensor, penalty: float
) -> torch.Tensor:
    """Make tokens that already occurred less likely (after CTRL, Keskar et al. 2019).

    For every token ``v`` in ``previous_ids`` (each counted once, however often it occurred):
    ``z_v ← z_v / penalty`` if ``z_v > 0`` else ``z_v · penalty``. With ``penalty > 1`` both move
    ``z_v`` down; ``penalty = 1`` changes nothing; ``penalty < 1`` favours repeats.

    This sign-aware two-case rule is Hugging Face's ``RepetitionPenaltyLogitsProcessor``. CTRL's
    paper divides every penalised logit by θ (its ``I(c)``), which *raises* a negative logit, so a
    repeated token the model already disliked became more likely; the two agree for ``z_v > 0``.

    ``logits``: ``(V,)`` or ``(B, V)``; ``previous_ids``: ``(L,)`` or ``(B, L)`` token ids.
    """
    logits = _check_logits(logits)
    penalty = _check_penalty(penalty)
    if (
        not isinstance(previous_ids, torch.Tensor)
        or previous_ids.is_floating_point()
        or previous_ids.dtype == torch.bool
    ):
        raise TypeError(
            f"previous_ids must be an integer tensor of token ids, got {_describe(previous_ids)}"
        )
    if previous_ids.dim() != logits.dim() or previous_ids.shape[:-1] != logits.shape[:-1]:
        raise ValueError(
            f"previous_ids must have shape {tuple(logits.shape[:-1]) + ('L',)} to match logits "
            f"{tuple(logits.shape)}; got {tuple(previous_ids.shape)}"
        )
    if penalty == 1 or previous_ids.numel() == 0:
        return logits
    ids = previous_ids.long()
    if int(ids.min()) < 0 or int(ids.max()) >= logits.shape[-1]:
        raise ValueError(f"previous_ids must lie in [0, vocab_size={logits.shape[-1]})")
    seen = logits.gather(-1, ids)
    penalised = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(-1, ids, penalised)


# ---------------------------------------------------------------------------- one token


def _choose(
    logits: torch.Tensor,
    idx: torch.Tensor,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    repetition_penalty: float,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """The next token ``(B, 1)`` from the logits ``(B, V)``: penalty → τ → top-k → top-p → draw."""
    if repetition_penalty != 1:
        logits = apply_repetition_penalty(logits, idx, repetition_penalty)
    if temperature == 0:  # greedy
        return logits.argmax(dim=-1, keepdim=True)
    logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = torch.softmax(logits, dim=-1)
    device = generator.device if generator is not None else probs.device
    choice = torch.multinomial(probs.to(device), 1, generator=generator)
    return choice.to(idx.device)


def _settings(
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple:
    """Check the sampling settings; returns them in :func:`_choose`'s order."""
    return (
        _check_temperature(temperature),
        None if top_k is None else _check_top_k(top_k),
        None if top_p is None else _check_top_p(top_p),
        _check_penalty(repetition_penalty),
        _check_generator(generator),
    )


def _tokens(
    model: nn.Module, idx: torch.Tensor, max_new_tokens: int, settings: tuple
) -> Iterator[torch.Tensor]:
    """Yield each next token ``(B, 1)``. Gradients and dropout are off while the model runs,
    and back on (as they were) while the caller holds a token.

    A model with a KV cache offers ``model.next_token_logits(idx, cache) -> (logits (B, V), cache)``
    (see :class:`labkit.pretrained.llama.Llama`): it gets the whole sequence and the cache it
    returned last (``None`` at first) and runs only the tokens the cache has not seen."""
    cached = getattr(model, "next_token_logits", None)
    cache = None
    for _ in range(max_new_tokens):
        with _inference(model):
            if callable(cached):
                logits, cache = cached(idx, cache)
                logits = finite_logits("the model's logits", logits.float())
            else:
                logits = _next_logits(model, idx)
            nxt = _choose(logits, idx, *settings)
        idx = torch.cat([idx, nxt], dim=1)
        yield nxt


def _find_stop(text: str, stops: tuple[str, ...]) -> int:
    """Where the earliest stop string starts in ``text``, or −1."""
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else -1


def _held_back(text: str, stops: tuple[str, ...]) -> int:
    """How many characters at the end of ``text`` might be the start of a stop string."""
    longest = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), longest, -1):
            if text.endswith(s[:n]):
                longest = n
                break
    return longest


# ------------------------------------------------------------------------------ decoders


def stream(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    generator: torch.Generator | None = None,
    stop: str | Sequence[str] | None = None,
    decode: Decode | None = None,
) -> Iterator[int]:
    """Yield the new token ids (ints) one at a time, as they are chosen; one prompt only.

    Same settings, same generator → the same tokens as :func:`sample`. With ``stop`` strings
    (and ``decode``), a token that might begin a stop string is held back until the text shows
    it does not; when a stop string appears, generation ends and the tokens from the one where
    the stop string starts are never yielded. (This assumes ``decode`` of a prefix of the ids is
    a prefix of the text, as for character and BPE vocabularies.)
    """
    idx = _check_idx(idx, _check_model(model))
    if idx.shape[0] != 1:
        raise ValueError(
            f"stream takes one prompt: idx of shape (1, T) or (T,); got {tuple(idx.shape)}"
        )
    steps = _tokens(
        model,
        idx,
        _check_steps(max_new_tokens),
        _settings(temperature, top_k, top_p, repetition_penalty, generator),
    )
    stops = _check_stop(stop, decode)
    if not stops:
        return (int(tok) for tok in steps)
    return _until_stop(steps, stops, decode)  # type: ignore[arg-type]


def _until_stop(
    steps: Iterator[torch.Tensor], stops: tuple[str, ...], decode: Decode
) -> Iterator[int]:
    new: list[int] = []  # every token generated so far
    sent = 0  # how many of them were yielded
    for tok in steps:
        new.append(int(tok))
        text = decode(new)
        cut = _find_stop(text, stops)
        safe = cut if cut >= 0 else len(text) - _held_back(text, stops)
        # yield the tokens whose text ends before the stop string (or its possible start)
        while sent < len(new) and len(decode(new[: sent + 1])) <= safe:
            yield new[sent]
            sent += 1
        if cut >= 0:
            return
    yield from new[sent:]


def sample(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    repetition_penalty: float = 1.0,
    generator: torch.Generator | None = None,
    stop: str | Sequence[str] | None = None,
    decode: Decode | None = None,
) -> torch.Tensor:
    """Continue each prompt in ``idx`` ``(B, T)`` by sampling; returns ``(B, T + new)`` token ids.

    Each step: logits of the last position → repetition penalty → temperature → top-k → top-p →
    draw from the softmax (with ``generator``, if given, for reproducible draws).
    ``temperature=0`` means greedy. ``stop`` strings (need ``decode`` and one prompt) end the
    continuation early, trimmed before the stop string (see :func:`stream`).
    """
    idx = _check_idx(idx, _check_model(model))
    settings = (temperature, top_k, top_p, repetition_penalty, generator)
    if stop is not None:
        new = list(stream(model, idx, max_new_tokens, *settings, stop=stop, decode=decode))
        return torch.cat([idx, idx.new_tensor([new]).reshape(1, -1)], dim=1)
    steps = _tokens(model, idx, _check_steps(max_new_tokens), _settings(*settings))
    return torch.cat([idx, *steps], dim=1)


def greedy(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    stop: str | Sequence[str] | None = None,
    decode: Decode | None = None,
) -> torch.Tensor:
    """Continue each prompt with the most likely token at every step: ``x_t = argmax p(x | x_<t)``."""
    return sample(model, idx, max_new_tokens, temperature=0, stop=stop, decode=decode)


def generate_text(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    decode: Decode,
    stop: str | Sequence[str] | None = None,
    **sampling: object,
) -> str:
    """The decoded continuation of one prompt (sampling settings as in :func:`sample`), cut
    exactly before the first stop string if one appears."""
    if not callable(decode):
        raise TypeError(f"decode must be a function from token ids to text, got {decode!r}")
    stops = _check_stop(stop, decode)
    idx = _check_idx(idx, _check_model(model))
    if idx.shape[0] != 1:
        raise ValueError(f"generate_text takes one prompt, got idx of shape {tuple(idx.shape)}")
    steps = _tokens(model, idx, _check_steps(max_new_tokens), _settings(**sampling))  # type: ignore[arg-type]
    new: list[int] = []
    text = ""
    for tok in steps:
        new.append(int(tok))
        text = decode(new)
        cut = _find_stop(text, stops) if stops else -1
        if cut >= 0:
            return text[:cut]
    return text


def sequence_log_prob(model: nn.Module, idx: torch.Tensor, prompt_len: int) -> torch.Tensor:
    """``Σ_{t ≥ prompt_len} log p(x_t | x_<t)`` for each row of ``idx``: the log-probability the
    model gives the continuation after the first ``prompt_len`` tokens (shape ``(B,)``).

    Computed token by token with the same context cropping as the decoders."""
    idx = _check_idx(idx, _check_model(model))
    if (
        isinstance(prompt_len, bool)
        or not isinstance(prompt_len, int)
        or not 1 <= prompt_len <= idx.shape[1]
    ):
        raise ValueError(f"prompt_len must be an int in [1, {idx.shape[1]}], got {prompt_len!r}")
    total = torch.zeros(idx.shape[0], device=idx.device)
    with _inference(model):
        for t in range(prompt_len, idx.shape[1]):
            logp = F.log_softmax(_next_logits(model, idx[:, :t]), dim=-1)
            total += logp.gather(-1, idx[:, t : t + 1]).squeeze(-1)
    return total


def beam_search(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    beam_width: int,
    length_penalty: float = 1.0,
    eos_id: int | None = None,
) -> torch.Tensor:
    """The most likely continuation found by keeping ``beam_width`` partial sequences.

    Every step extends each kept sequence by every token and keeps the ``beam_width`` best of
    them by total log-probability ``S = Σ_t log p(x_t | x_<t)``. A sequence that emits ``eos_id``
    is finished; finished sequences (and those still open at ``max_new_tokens``) are ranked by
    ``S / n^length_penalty`` for ``n`` new tokens (``length_penalty=0``: by ``S`` itself; larger
    values favour longer sequences, since ``S`` only falls as tokens are added).

    ``beam_width=1`` is greedy decoding; a beam at least ``V^(max_new_tokens−1)`` wide is exact
    search. One prompt: ``idx`` ``(1, T)`` or ``(T,)``; returns ``(1, T + n)``.
    """
    idx = _check_idx(idx, _check_model(model))
    if idx.shape[0] != 1:
        raise ValueError(f"beam_search takes one prompt, got idx of shape {tuple(idx.shape)}")
    max_new_tokens = _check_steps(max_new_tokens)
    if isinstance(beam_width, bool) or not isinstance(beam_width, int) or beam_width < 1:
        raise ValueError(f"beam_width must be an int >= 1, got {beam_width!r}")
    if not _is_number(length_penalty):
        raise ValueError(f"length_penalty must be a finite number, got {length_penalty!r}")
    if eos_id is not None and (isinstance(eos_id, bool) or not isinstance(eos_id, int)):
        raise TypeError(f"eos_id must be an int token id or None, got {eos_id!r}")
    V = _vocab_size(model)
    if eos_id is not None and (eos_id < 0 or (V is not None and eos_id >= V)):
        raise ValueError(f"eos_id must be a token id in [0, vocab_size={V}), got {eos_id!r}")

    def normalised(score: float, n: int) -> float:
        return score / max(n, 1) ** length_penalty

    beams = idx  # (n_beams, T + step): the open sequences
    scores = torch.zeros(1, device=idx.device)  # their total log-probabilities
    finished: list[tuple[float, torch.Tensor]] = []
    with _inference(model):
        for step in range(1, max_new_tokens + 1):
            logp = F.log_softmax(_next_logits(model, beams), dim=-1)  # (n_beams, V)
            V = logp.shape[-1]
            candidates = (scores[:, None] + logp).flatten()  # every beam × every next token
            best = candidates.topk(min(2 * beam_width, candidates.numel()))
            keep_beam, keep_tok, keep_score = [], [], []
            for rank, (score, flat) in enumerate(
                zip(best.values.tolist(), best.indices.tolist(), strict=True)
            ):
                b, tok = divmod(flat, V)
                if eos_id is not None and tok == eos_id:
                    if rank < beam_width:  # a finished sequence among the best
                        seq = torch.cat([beams[b], beams.new_tensor([tok])])
                        finished.append((normalised(score, step), seq))
                    continue
                keep_beam.append(b)
                keep_tok.append(tok)
                keep_score.append(score)
                if len(keep_beam) == beam_width:
                    break
            if not keep_beam:  # every good candidate ended with eos
                beams, scores = beams[:0], scores[:0]
                break
            rows = torch.tensor(keep_beam, device=idx.device)
            toks = torch.tensor(keep_tok, device=idx.device)[:, None]
            beams = torch.cat([beams[rows], toks], dim=1)
            scores = torch.tensor(keep_score, device=idx.device)
    n_new = beams.shape[1] - idx.shape[1]
    finished += [(normalised(s, n_new), seq) for s, seq in zip(scores.tolist(), beams, strict=True)]
    if not finished:
        return idx
    return max(finished, key=lambda pair: pair[0])[1][None]
