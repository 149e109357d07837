"""Adapting a pretrained LLM to a task of your own (notebook 13): the task, the scores, the losses
and the error bars. LoRA itself is :mod:`labkit.lora`.

**The task** (:func:`genre_task`): *is this speech from a comedy, a history or a tragedy?* Notebook
11's task, made larger and split three ways **by play**: the test plays and the validation plays are
never seen in training, so a model cannot pass by memorising names, and picking a model or a step
on the validation plays says how it does on plays it has not seen. Why this task: its labels come
free and exact from the First Folio (``labkit.data.PLAY_GENRES``), so nothing is hand-labelled; its
three labels are plain English words, so an instruction-tuned model can be *asked* for them
zero-shot; it is hard (notebook 11's best BERT scored 46 %, guessing 33 %), so the five ways of
adapting have room to differ; and notebook 11 already solved it with BERT, so the two notebooks can
be compared. ("Which of N characters speaks this line?" was the other candidate, but a split by
play leaves no character in two splits.)

**Scoring labels by likelihood** (:func:`score_labels`): a prompt, formatted with the model's chat
template, is followed by each candidate label as the assistant's reply; the label's score is

    log p(label | prompt) = Σ_j log p(ℓ_j | prompt, ℓ_1 … ℓ_{j−1})

summed over its tokens (or divided by their number: labels of more tokens are not penalised). The
prediction is the best-scoring label. The prompt runs once; each label continues from its KV cache.

**Training only the top blocks** (:func:`lower_streams`, :func:`score_streams`,
:func:`stream_loss`): when the lower ``start`` blocks stay frozen, their output for a fixed prompt
never changes. So it is computed once, in one pass that also gives the zero-shot scores' inputs and
a probe's features, and every training step and evaluation runs blocks ``start … L−1`` only:

    x_start = Block_{start−1}( … Block_0(E[idx]))      once;    logits = head(Block_{L−1}( … x_start))

**Instruction tuning** (:func:`chat_tokens`, :func:`instruction_batch`, :func:`masked_lm_loss`):
the loss of a (prompt, answer) pair counts the answer's tokens only,

    L = −(1/|A|) Σ_{t ∈ A} log p(x_t | x_<t),      A = the answer's positions (and its end token),

so the model learns to answer, not to write prompts. Targets outside ``A`` are ``-100``, the value
``F.cross_entropy`` (and so ``model(idx, targets)``) leaves out.

**Error bars**: :func:`wilson_interval` for one accuracy, :func:`paired_difference` for the
difference of two classifiers scored on the same test examples.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import torch
import torch.nn.functional as F

from labkit._checks import describe, positive_int
from labkit.pretrained.llama import KVCache, Llama, Tokenizer

__all__ = [
    "GENRES",
    "IGNORE",
    "Example",
    "LabelScores",
    "Streams",
    "Task",
    "chat_tokens",
    "genre_task",
    "instruction_batch",
    "lower_streams",
    "masked_lm_loss",
    "paired_difference",
    "score_labels",
    "score_streams",
    "stream_loss",
    "wilson_interval",
]

IGNORE = -100  # a target left out of the loss (F.cross_entropy's ignore_index)
GENRES = ("comedy", "history", "tragedy")

Prompt = str | Sequence[Mapping[str, str]]  # one user message, or a whole chat


# ------------------------------------------------------------------------------------ the task


@dataclass(frozen=True)
class Example:
    """One labelled speech: its ``text``, the index of its ``label`` and the ``play`` it is from."""

    text: str
    label: int
    play: str


@dataclass(frozen=True)
class Task:
    """A classification task split by play: ``labels`` (their names), ``train``/``val``/``test``
    examples, the ``plays`` of each split, and how to ask an LLM (:meth:`messages`)."""

    labels: tuple[str, ...]
    train: list[Example]
    val: list[Example]
    test: list[Example]
    plays: dict[str, tuple[str, ...]]
    system: str = "You sort speeches from Shakespeare's plays by the kind of play they come from."
    question: str = "Is this speech from a comedy, a history or a tragedy? Answer with one word."

    def messages(self, text: str, shots: Sequence[Example] = ()) -> list[dict[str, str]]:
        """The chat that asks for the label of ``text``: the system message, then each of the
        ``shots`` as a user turn answered by its label (few-shot), then the question."""
        chat = [{"role": "system", "content": self.system}]
        for shot in shots:
            chat += [
                {"role": "user", "content": f"{self.question}\n\n{shot.text}"},
                {"role": "assistant", "content": self.labels[shot.label]},
            ]
        return [*chat, {"role": "user", "content": f"{self.question}\n\n{text}"}]


def genre_task(
    seed: int = 0,
    n_train: int = 300,
    n_val: int = 50,
    n_test: int = 300,
    min_words: int = 8,
    max_words: int = 40,
    test_plays: int = 3,
    val_plays: int = 2,
) -> Task:
    """Comedy, history or tragedy? ``n_*`` speeches **per genre** in each split (balanced, so
    guessing scores 1/3), with ``test_plays`` and ``val_plays`` plays per genre held out for the
    test and validation splits and the rest for training; deterministic from ``seed``.

    Speeches have at least ``min_words`` words and are cut after ``max_words`` (a bound on the
    tokens each costs); a text that occurs twice in the corpus is kept once.
    """
    from labkit import data

    for name, value in [("n_train", n_train), ("n_val", n_val), ("n_test", n_test)]:
        positive_int(name, value)
    for name, value in [("min_words", min_words), ("max_words", max_words)]:
        positive_int(name, value)
    positive_int("test_plays", test_plays), positive_int("val_plays", val_plays)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    texts = data.load_plays(progress=False)
    rng = random.Random(seed)
    plays: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for genre in GENRES:
        names = sorted(p for p, g in data.PLAY_GENRES.items() if g == genre)
        if len(names) <= test_plays + val_plays:
            raise ValueError(
                f"test_plays + val_plays must leave training plays: {genre} has {len(names)} plays, "
                f"got test_plays={test_plays}, val_plays={val_plays}"
            )
        rng.shuffle(names)
        plays["test"] += names[:test_plays]
        plays["val"] += names[test_plays : test_plays + val_plays]
        plays["train"] += names[test_plays + val_plays :]
    seen: set[str] = set()
    splits = {}
    for split, n in [("train", n_train), ("val", n_val), ("test", n_test)]:
        examples = []
        for label, genre in enumerate(GENRES):
            pool = []
            for play in sorted(p for p in plays[split] if data.PLAY_GENRES[p] == genre):
                for speech in data.speeches(texts[play], min_words=min_words):
                    text = " ".join(speech.split()[:max_words])
                    if text not in seen:
                        seen.add(text)
                        pool.append(Example(text, label, play))
            if len(pool) < n:
                raise ValueError(
                    f"n_{split} must be at most {len(pool)} (the {genre} speeches of the {split} "
                    f"plays), got n_{split}={n}"
                )
            examples += rng.sample(pool, n)
        rng.shuffle(examples)
        splits[split] = examples
    return Task(GENRES, **splits, plays={k: tuple(sorted(v)) for k, v in plays.items()})


# ------------------------------------------------------------------------- scoring by likelihood


@dataclass
class LabelScores:
    """What :func:`score_labels` measures for N prompts and K labels.

    ``total`` ``(N, K)``: ``Σ_j log p(ℓ_j | prompt, ℓ_<j)``; ``mean`` ``(N, K)``: the same divided by
    the label's number of tokens (``n_tokens``); ``features`` ``(N, len(layers), d)``: the residual
    stream after each requested layer at the prompt's last token (for a linear probe).
    """

    total: torch.Tensor
    mean: torch.Tensor
    n_tokens: tuple[int, ...]
    features: torch.Tensor | None = None

    def predict(self, per_token: bool = False) -> torch.Tensor:
        """The index of the best label for each prompt, ``(N,)``."""
        return (self.mean if per_token else self.total).argmax(dim=1)


def _chat(prompt: object) -> list[dict[str, str]]:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, Sequence) and all(isinstance(m, Mapping) for m in prompt):
        return list(prompt)  # the tokenizer checks the roles and contents
    raise TypeError(f"each prompt must be a str or a list of chat messages, got {type(prompt).__name__}")


def _nonempty_list(name: str, values: object) -> list:
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise TypeError(f"{name} must be a non-empty list, got {type(values).__name__}")
    return list(values)


def _repeat(cache: KVCache, n: int, n_layer: int) -> KVCache:
    """A new cache holding ``n`` copies of the (batch-1) sequence in ``cache``."""
    out = KVCache(n_layer)
    for layer in range(n_layer):
        k, v = cache.keys[layer], cache.values[layer]
        if k is not None and v is not None:
            length = cache.length
            out.append(layer, k[:, :, :length].repeat(n, 1, 1, 1), v[:, :, :length].repeat(n, 1, 1, 1))
    out.length = cache.length
    return out


def _label_ids(tokenizer: Tokenizer, labels: list, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The labels' token ids right-padded with 0, ``(K, W)``, and their lengths ``(K,)``."""
    if not all(isinstance(s, str) and s for s in labels):
        raise ValueError(f"labels must be non-empty strings, got {labels!r}")
    ids = [tokenizer.encode(s) for s in labels]
    width = max(map(len, ids))
    padded = torch.tensor([t + [0] * (width - len(t)) for t in ids], device=device)
    return padded, torch.tensor([len(t) for t in ids], device=device)


def _label_total(logp: list[torch.Tensor], padded: torch.Tensor, n_tok: torch.Tensor) -> torch.Tensor:
    """``Σ_j log p(ℓ_j | …)`` per label, ``(K,)``, from ``logp``: the first label token's
    log-probabilities ``(K, V)`` then those after each later label position (``(K, V)`` each)."""
    width = padded.shape[1]
    token_logp = torch.stack(logp, 1).gather(-1, padded[..., None])[..., 0]  # (K, W): position j → token j
    return (token_logp * (torch.arange(width, device=padded.device) < n_tok[:, None])).sum(1)


@torch.no_grad()
def score_labels(
    model: Llama,
    tokenizer: Tokenizer,
    prompts: Sequence[Prompt],
    labels: Sequence[str],
    layers: Sequence[int] = (),
) -> LabelScores:
    """``log p(label | prompt)`` of every label after every prompt (notebook 13, §2).

    Each prompt (a user message, or a list of chat messages) goes through the chat template with
    the assistant's turn opened; each label is the start of the assistant's reply (write
    ``"comedy<|im_end|>"`` to score "comedy and nothing more"). The tokens all prompts share (the
    system message, few-shot examples) run once; then each prompt's own tokens; then the K labels
    continue from copies of that KV cache as one batch. ``layers``: also return the residual stream
    after these blocks at each prompt's last token (``LabelScores.features``).
    """
    if not isinstance(model, Llama):
        raise TypeError(f"model must be a labkit Llama, got {type(model).__name__}")
    prompts, labels = _nonempty_list("prompts", prompts), _nonempty_list("labels", labels)
    n_layer = model.config.n_layer
    layers = list(layers)
    if not all(isinstance(i, int) and -n_layer <= i < n_layer for i in layers):
        raise ValueError(f"layers must be block indices in [0, {n_layer}), got {layers!r}")
    device = model.embed_tokens.weight.device
    padded, n_tok = _label_ids(tokenizer, labels, device)  # (K, W), (K,)
    width = padded.shape[1]
    ids = [tokenizer.encode(tokenizer.chat_prompt(_chat(p))) for p in prompts]
    shared = 0  # the common prefix, keeping at least one token of each prompt its own
    while shared < min(map(len, ids)) - 1 and len({p[shared] for p in ids}) == 1:
        shared += 1
    captured: dict[int, torch.Tensor] = {}  # the residual stream after block i, last token

    def keep(i: int):  # a forward hook that returns None leaves the block's output as it is
        def hook(_module: object, _inputs: object, out: torch.Tensor) -> None:
            captured.setdefault(i, out[0, -1].float())

        return hook

    hooks = [model.layers[i].register_forward_hook(keep(i)) for i in layers]
    was_training = model.training
    model.eval()  # no LoRA dropout while scoring
    total, features = [], []
    try:
        prefix = KVCache(n_layer)
        if shared:
            model.hidden_states(torch.tensor([ids[0][:shared]], device=device), prefix)
        captured.clear()
        for p in ids:
            cache = _repeat(prefix, 1, n_layer)
            h = model.hidden_states(torch.tensor([p[shared:]], device=device), cache)  # (1, T, d)
            features.append([captured.pop(i) for i in layers])
            logp = [F.log_softmax(model.lm_head(h[:, -1]).float(), -1).expand(len(labels), -1)]
            if width > 1:  # the labels' later tokens, all labels in one batch
                h = model.hidden_states(padded[:, :-1], _repeat(cache, len(labels), n_layer))
                captured.clear()
                logp += F.log_softmax(model.lm_head(h).float(), -1).unbind(1)
            total.append(_label_total(logp, padded, n_tok))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    total_t = torch.stack(total).cpu()
    feats = torch.stack([torch.stack(f) for f in features]).cpu() if layers else None
    return LabelScores(total_t, total_t / n_tok.cpu(), tuple(n_tok.tolist()), feats)


# ------------------------------------------------------------- the stream below the top blocks


@dataclass
class Streams:
    """The residual stream after blocks ``0 … start − 1`` (what :func:`lower_streams` computes once).

    For N prompts and K labels: ``prefix`` ``(P, d)``, the stream at the tokens every prompt shares
    (the system message, the question's first tokens); ``prompts``: N tensors ``(T_i, d)``, each
    prompt's own tokens; ``continuations``: N tensors ``(K, W, d)``, the stream at each label's
    tokens written after that prompt (right-padded to the longest label, ``W`` tokens);
    ``label_ids`` ``(K, W)`` and ``n_tokens`` (K,) the labels' tokens; ``eos_id`` ends an answer;
    ``features`` ``(N, start, d)``: the stream after each lower block at the prompt's last token.
    """

    start: int
    prefix: torch.Tensor
    prompts: list[torch.Tensor]
    continuations: list[torch.Tensor]
    label_ids: torch.Tensor
    n_tokens: torch.Tensor
    eos_id: int
    features: torch.Tensor

    def __len__(self) -> int:
        return len(self.prompts)

    def prompt(self, i: int) -> torch.Tensor:
        """The whole prompt's stream ``(P + T_i, d)``."""
        return torch.cat([self.prefix, self.prompts[i]])


def _start(model: Llama, start: object) -> int:
    n = model.config.n_layer
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < n:
        raise ValueError(f"start must be a block index in [0, {n}), got {start!r}")
    return start


@torch.no_grad()
def lower_streams(
    model: Llama, tokenizer: Tokenizer, prompts: Sequence[Prompt], labels: Sequence[str], start: int
) -> Streams:
    """Run the lower blocks ``0 … start − 1`` once over every prompt (chat template applied, the
    assistant's turn opened) and each label after it; keep the stream (notebook 13, §5).

    The tokens all prompts share run once; the K labels continue from copies of the prompt's KV
    cache, as in :func:`score_labels`. With these, :func:`score_streams` equals
    :func:`score_labels` and :func:`stream_loss` equals :func:`masked_lm_loss` of the whole model,
    for the cost of blocks ``start … L − 1`` only.
    """
    if not isinstance(model, Llama):
        raise TypeError(f"model must be a labkit Llama, got {type(model).__name__}")
    prompts, labels = _nonempty_list("prompts", prompts), _nonempty_list("labels", labels)
    start, n_layer = _start(model, start), model.config.n_layer
    if tokenizer.eos_id is None:
        raise ValueError("tokenizer.eos_id must be set: an answer ends with the end-of-turn token")
    device = model.embed_tokens.weight.device
    padded, n_tok = _label_ids(tokenizer, labels, device)
    ids = [tokenizer.encode(tokenizer.chat_prompt(_chat(p))) for p in prompts]
    shared = 0
    while shared < min(map(len, ids)) - 1 and len({p[shared] for p in ids}) == 1:
        shared += 1
    was_training = model.training
    model.eval()
    try:
        prefix_cache, w = KVCache(n_layer), model.embed_tokens.weight
        prefix = w.new_zeros(1, 0, w.shape[1])
        if shared:
            prefix = model.run_blocks(model.embed_tokens(torch.tensor([ids[0][:shared]], device=device)),
                                      0, start, prefix_cache)
        prefix_cache.length = shared
        own, continuations, features = [], [], []
        for p in ids:
            cache = _repeat(prefix_cache, 1, n_layer)
            x, feats = model.embed_tokens(torch.tensor([p[shared:]], device=device)), []
            for i in range(start):  # block by block, to keep each block's output at the last token
                x = model.run_blocks(x, i, i + 1, cache, shared)
                feats.append(x[0, -1].float())
            cache.length = len(p)
            copies = _repeat(cache, len(labels), n_layer)  # the K labels after this prompt
            continuations.append(model.run_blocks(model.embed_tokens(padded), 0, start, copies, len(p)))
            own.append(x[0])
            features.append(torch.stack(feats) if feats else x.new_zeros(0, x.shape[-1]))
    finally:
        model.train(was_training)
    eos = tokenizer.eos_id
    return Streams(start, prefix[0], own, continuations, padded, n_tok, eos, torch.stack(features))


def _upper_logp(model: Llama, h: torch.Tensor) -> torch.Tensor:
    return F.log_softmax(model.lm_head(model.norm(h)).float(), -1)


@torch.no_grad()
def score_streams(model: Llama, streams: Streams, layers: Sequence[int] = ()) -> LabelScores:
    """:func:`score_labels` from kept streams: blocks ``streams.start … L − 1`` only.

    ``layers`` (blocks ≥ ``start``): also return the stream after them at each prompt's last token.
    """
    if not isinstance(streams, Streams):
        raise TypeError(f"streams must be the Streams of lower_streams, got {type(streams).__name__}")
    n_layer, start = model.config.n_layer, _start(model, streams.start)
    layers = list(layers)
    if not all(isinstance(i, int) and start <= i < n_layer for i in layers):
        raise ValueError(f"layers must be block indices in [{start}, {n_layer}), got {layers!r}")
    padded, n_tok, width = streams.label_ids, streams.n_tokens, streams.label_ids.shape[1]
    was_training = model.training
    model.eval()
    total, features = [], []
    try:
        for n in range(len(streams)):
            x, cache, feats = streams.prompt(n)[None], KVCache(n_layer), []
            for i in range(start, n_layer):
                x = model.run_blocks(x, i, i + 1, cache)
                if i in layers:
                    feats.append(x[0, -1].float())
            cache.length = x.shape[1]
            features.append(feats)
            logp = [_upper_logp(model, x[:, -1]).expand(len(padded), -1)]
            if width > 1:
                rest = streams.continuations[n][:, :-1]
                h = model.run_blocks(rest, start, None, _repeat(cache, len(padded), n_layer), cache.length)
                logp += _upper_logp(model, h).unbind(1)
            total.append(_label_total(logp, padded, n_tok))
    finally:
        model.train(was_training)
    total_t = torch.stack(total).cpu()
    feats_t = torch.stack([torch.stack(f) for f in features]).cpu() if layers else None
    return LabelScores(total_t, total_t / n_tok.cpu(), tuple(n_tok.tolist()), feats_t)


def stream_loss(model: Llama, streams: Streams, rows: Sequence[int], answers: Sequence[int]) -> torch.Tensor:
    """The answer-only loss of :func:`masked_lm_loss` for prompt ``rows[b]`` answered by label
    ``answers[b]`` (and ``<|im_end|>``), running blocks ``streams.start … L − 1`` only.

    The batch is right-padded (a causal model's real positions never see the padding) and the LM
    head runs at the answer's positions alone: it is the costliest layer of a small model.
    """
    if not isinstance(streams, Streams):
        raise TypeError(f"streams must be the Streams of lower_streams, got {type(streams).__name__}")
    rows, answers = _nonempty_list("rows", rows), _nonempty_list("answers", answers)
    k = len(streams.label_ids)
    if len(rows) != len(answers) or not all(0 <= r < len(streams) for r in rows):
        raise ValueError(f"rows must be {len(answers)} indices in [0, {len(streams)}), got {rows!r}")
    if not all(isinstance(a, int) and 0 <= a < k for a in answers):
        raise ValueError(f"answers must be label indices in [0, {k}), got {answers!r}")
    seqs, targets = [], []
    for r, a in zip(rows, answers, strict=True):
        n, prompt = int(streams.n_tokens[a]), streams.prompt(r)
        seqs.append(torch.cat([prompt, streams.continuations[r][a, :n]]))
        y = torch.full((len(seqs[-1]),), IGNORE, dtype=torch.long, device=prompt.device)
        y[len(prompt) - 1 :] = torch.cat([streams.label_ids[a, :n], y.new_tensor([streams.eos_id])])
        targets.append(y)
    x = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True)
    y = torch.nn.utils.rnn.pad_sequence(targets, batch_first=True, padding_value=IGNORE)
    h = model.run_blocks(x, _start(model, streams.start))
    answer = y != IGNORE
    return F.cross_entropy(model.lm_head(model.norm(h[answer])).float(), y[answer])


# --------------------------------------------------------------------------- instruction tuning


def chat_tokens(tokenizer: Tokenizer, prompt: Prompt, answer: str) -> tuple[list[int], list[bool]]:
    """The token ids of ``prompt`` answered by ``answer`` in the chat template, and the answer mask:
    True at the answer's tokens and at the ``<|im_end|>`` that closes them (notebook 13, §5)."""
    if not isinstance(answer, str):
        raise TypeError(f"answer must be a str, got {type(answer).__name__}")
    if tokenizer.eos_id is None:
        raise ValueError("tokenizer.eos_id must be set: the answer ends with the end-of-turn token")
    head = tokenizer.encode(tokenizer.chat_prompt(_chat(prompt)))
    tail = tokenizer.encode(answer) + [tokenizer.eos_id]
    return head + tail, [False] * len(head) + [True] * len(tail)


def instruction_batch(
    tokenizer: Tokenizer, pairs: Sequence[tuple[Prompt, str]], pad_id: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(idx, targets)``, both ``(B, T)``, for a batch of (prompt, answer) pairs: ``targets[b, t]``
    is the token after ``idx[b, t]`` where that token is part of the answer, else ``IGNORE``.

    Rows are padded on the right with ``pad_id``: a causal model's earlier positions never see the
    padding, and its targets are ``IGNORE``.
    """
    rows = [chat_tokens(tokenizer, p, a) for p, a in _nonempty_list("pairs", pairs)]
    width = max(len(ids) for ids, _ in rows) - 1
    idx = torch.full((len(rows), width), pad_id, dtype=torch.long)
    targets = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for b, (ids, mask) in enumerate(rows):
        x, y = torch.tensor(ids), torch.tensor(mask)
        idx[b, : len(ids) - 1] = x[:-1]
        targets[b, : len(ids) - 1] = torch.where(y[1:], x[1:], IGNORE)
    return idx, targets


def masked_lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``−(1/|A|) Σ_{(b,t) ∈ A} log softmax(logits[b, t])[targets[b, t]]`` over the positions ``A``
    whose target is not ``IGNORE``: the mean cross-entropy of the answer tokens."""
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3:
        raise ValueError(f"logits must be a (batch, time, vocab) tensor, got {_shape(logits)}")
    if not isinstance(targets, torch.Tensor) or tuple(targets.shape) != tuple(logits.shape[:2]):
        raise ValueError(f"targets must have shape {tuple(logits.shape[:2])}, got {_shape(targets)}")
    if not bool((targets != IGNORE).any()):
        raise ValueError("targets must hold at least one answer token (all are IGNORE)")
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE)


def _shape(x: object) -> str:
    return f"shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__


# ----------------------------------------------------------------------------------- error bars


def _z(confidence: object) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, float | int) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for an accuracy ``p̂ = correct / n`` (Wilson 1927):

        (p̂ + z²/2n ± z·√(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n)

    It stays inside [0, 1] and, unlike ``p̂ ± z·√(p̂(1 − p̂)/n)``, does not shrink to a point when
    every answer is right (or wrong).
    """
    n = positive_int("n", n)
    if isinstance(correct, bool) or not isinstance(correct, int) or not 0 <= correct <= n:
        raise ValueError(f"correct must be an int in [0, n={n}], got {correct!r}")
    z, p = _z(confidence), correct / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def paired_difference(
    correct_a: Sequence[bool] | torch.Tensor,
    correct_b: Sequence[bool] | torch.Tensor,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """``(d, low, high)``: the accuracy of A minus that of B on the same n examples, and its interval.

    Only the examples where the two disagree count: ``b`` = A right and B wrong, ``c`` = A wrong and
    B right. Then ``d = (b − c)/n`` with standard error ``√(b + c − (b − c)²/n) / n`` (the paired
    Wald interval; its test of ``d = 0`` is McNemar's, Agresti 2013 §11.1). Pairing matters: two
    classifiers that get the same examples right differ far less than two independent accuracies.
    """
    a, b_ = (_correct(name, x) for name, x in [("correct_a", correct_a), ("correct_b", correct_b)])
    if a.shape != b_.shape:
        raise ValueError(f"correct_a and correct_b must have the same length, got {len(a)} and {len(b_)}")
    z, n = _z(confidence), len(a)
    b, c = int((a & ~b_).sum()), int((~a & b_).sum())
    d = (b - c) / n
    se = math.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n
    return d, d - z * se, d + z * se


def _correct(name: str, x: object) -> torch.Tensor:
    t = torch.as_tensor(x) if isinstance(x, torch.Tensor | Sequence) else None
    if t is None or t.dim() != 1 or len(t) == 0 or t.dtype != torch.bool:
        raise ValueError(
            f"{name} must be a non-empty 1-D list or tensor of bools (right/wrong), got {describe(x)}"
        )
    return t
