"""labkit.adapt: the genre task split by play, label scores and the answer-only loss against direct
token-by-token computations, and the intervals against known cases and a paired bootstrap."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from scipy.stats import binomtest

from labkit import adapt, data
from labkit.adapt import (
    IGNORE,
    chat_tokens,
    genre_task,
    instruction_batch,
    masked_lm_loss,
    paired_difference,
    score_labels,
    wilson_interval,
)
from labkit.pretrained.gguf_reader import read_gguf
from labkit.pretrained.llama import Llama, LlamaConfig, Tokenizer, rope_angles

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def gguf_path():
    from labkit.pretrained import registry

    return registry.fetch("smollm2-135m-instruct", progress=False)


@pytest.fixture(scope="module")
def tok(gguf_path) -> Tokenizer:
    """SmolLM2's own tokenizer and chat template."""
    return Tokenizer.from_gguf_metadata(read_gguf(gguf_path).metadata)


@pytest.fixture(scope="module")
def tiny(tok) -> Llama:
    """A small random Llama over SmolLM2's vocabulary."""
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=tok.vocab_size, block_size=256, n_layer=2, n_head=4, n_kv_head=2, n_embd=32,
        ffn_hidden=64,
    )
    model = Llama(cfg).eval()
    with torch.no_grad():
        model.embed_tokens.weight.normal_(std=1.0)  # spread the log-probabilities out
    return model


SPEECH = "O, what a rogue and peasant slave am I!"


def chats(task: adapt.Task) -> list:
    shots = task.train[:2]
    return [task.messages(SPEECH), task.messages("Good morrow, cousin.", shots), "What is 2+2?"]


# ----------------------------------------------------------------------------- the task


@pytest.fixture(scope="module")
def task() -> adapt.Task:
    return genre_task(seed=0, n_train=40, n_val=10, n_test=30, max_words=25)


def test_genre_task_is_split_by_play_balanced_and_labelled_by_the_folio(task):
    plays = task.plays
    assert not set(plays["train"]) & set(plays["test"])
    assert not set(plays["train"]) & set(plays["val"]) and not set(plays["val"]) & set(plays["test"])
    assert sorted(plays["train"] + plays["val"] + plays["test"]) == sorted(data.PLAY_GENRES)
    for split, n in [("train", 40), ("val", 10), ("test", 30)]:
        examples = getattr(task, split)
        assert [sum(e.label == k for e in examples) for k in range(3)] == [n, n, n]
        assert {e.play for e in examples} <= set(plays[split])
        assert all(task.labels[e.label] == data.PLAY_GENRES[e.play] for e in examples)
        assert all(8 <= len(e.text.split()) <= 25 for e in examples)
        assert [e.label for e in examples[:12]] != sorted(e.label for e in examples[:12])  # shuffled
    for split, k in [("test", 3), ("val", 2)]:
        genres = [data.PLAY_GENRES[p] for p in plays[split]]
        assert sorted(genres) == sorted(list(adapt.GENRES) * k)
    texts = [e.text for e in task.train + task.val + task.test]
    assert len(set(texts)) == len(texts)


def test_genre_task_is_deterministic_from_its_seed(task):
    again = genre_task(seed=0, n_train=40, n_val=10, n_test=30, max_words=25)
    assert again == task
    other = genre_task(seed=1, n_train=40, n_val=10, n_test=30, max_words=25)
    assert other.plays["test"] != task.plays["test"]


def test_genre_task_errors():
    with pytest.raises(ValueError, match=r"n_test must be at most \d+ \(the comedy speeches"):
        genre_task(n_test=100_000)
    with pytest.raises(ValueError, match="test_plays \\+ val_plays must leave training plays"):
        genre_task(test_plays=5, val_plays=5)
    with pytest.raises(ValueError, match="n_train must be a positive int"):
        genre_task(n_train=0)
    with pytest.raises(TypeError, match="seed must be an int"):
        genre_task(seed="0")


def test_task_messages_put_shots_before_the_question(task, tok):
    shots = task.train[:2]
    chat = task.messages(SPEECH, shots)
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert chat[2]["content"] == task.labels[shots[0].label]
    assert chat[-1]["content"].endswith(SPEECH) and chat[-1]["content"].startswith(task.question)
    text = tok.chat_prompt(chat)
    assert text.count("<|im_start|>system") == 1 and text.endswith("<|im_start|>assistant\n")


# ------------------------------------------------------------------------- label scores


def direct_scores(model: Llama, tok: Tokenizer, prompt, labels: list[str]) -> torch.Tensor:
    """log p(label | prompt) one label at a time, from the full sequence, no cache."""
    chat = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    p = tok.encode(tok.chat_prompt(chat))
    out = []
    for label in labels:
        ids = p + tok.encode(label)
        logp = F.log_softmax(model(torch.tensor([ids]))[0][0], -1)
        out.append(sum(logp[t - 1, ids[t]] for t in range(len(p), len(ids))))
    return torch.stack(out)


LABELS = ["comedy", "history", "tragedy<|im_end|>"]


def test_score_labels_equals_a_token_by_token_computation(tiny, tok, task):
    prompts = chats(task)
    scores = score_labels(tiny, tok, prompts, LABELS)
    n_tokens = [len(tok.encode(s)) for s in LABELS]
    assert scores.n_tokens == tuple(n_tokens) and len(set(n_tokens)) > 1
    expected = torch.stack([direct_scores(tiny, tok, p, LABELS) for p in prompts])
    torch.testing.assert_close(scores.total, expected, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(scores.mean, expected / torch.tensor(n_tokens), atol=1e-4, rtol=1e-5)
    assert torch.equal(scores.predict(), expected.argmax(1))
    assert (scores.total < 0).all() and scores.total.std() > 0.5  # the comparison compares something
    one = score_labels(tiny, tok, prompts[1:2], ["history"])  # one prompt, one single-token label
    torch.testing.assert_close(one.total[0, 0], expected[1, 1], atol=1e-4, rtol=1e-5)


def test_score_labels_features_are_the_residual_stream_at_the_last_prompt_token(tiny, tok, task):
    prompts = chats(task)
    scores = score_labels(tiny, tok, prompts, LABELS, layers=[0, 1])
    assert scores.features.shape == (3, 2, 32)
    for n, prompt in enumerate(prompts):
        chat = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        idx = torch.tensor([tok.encode(tok.chat_prompt(chat))])
        cos, sin = rope_angles(8, torch.arange(idx.shape[1]), tiny.config.rope_base)
        with torch.no_grad():
            x = tiny.layers[0](tiny.embed_tokens(idx), cos, sin, None, 0)  # block 0 by hand
            torch.testing.assert_close(scores.features[n, 0], x[0, -1], atol=1e-5, rtol=1e-5)
            final = tiny.norm(scores.features[n, 1])  # after the last block: the final norm
            torch.testing.assert_close(final, tiny.hidden_states(idx)[0, -1], atol=1e-5, rtol=1e-5)


def test_score_labels_leaves_the_model_as_it_was_and_checks_input(tiny, tok):
    tiny.train()
    score_labels(tiny, tok, ["Hello"], ["yes", "no"], layers=[1])
    assert tiny.training and not any(m._forward_hooks for m in tiny.layers)
    tiny.eval()
    with pytest.raises(TypeError, match="prompts must be a non-empty list"):
        score_labels(tiny, tok, "Hello", ["yes"])
    with pytest.raises(ValueError, match="labels must be non-empty strings"):
        score_labels(tiny, tok, ["Hello"], ["yes", ""])
    with pytest.raises(ValueError, match=r"layers must be block indices in \[0, 2\)"):
        score_labels(tiny, tok, ["Hello"], ["yes"], layers=[2])
    with pytest.raises(TypeError, match="each prompt must be a str or a list of chat messages"):
        score_labels(tiny, tok, [3], ["yes"])
    with pytest.raises(TypeError, match="model must be a labkit Llama"):
        score_labels(torch.nn.Linear(2, 2), tok, ["Hello"], ["yes"])


def test_real_model_prefers_the_right_answer(gguf_path, tok):
    from labkit.pretrained.llama import from_gguf

    model, _ = from_gguf(gguf_path)
    prompts = [
        "What is the capital of France? Answer with one word.",
        "What colour is the sky on a clear day? Answer with one word.",
    ]
    scores = score_labels(model, tok, prompts, ["Paris", "Blue", "Berlin"])
    assert scores.predict().tolist() == [0, 1]
    margin = scores.total.sort(dim=1, descending=True).values
    assert (margin[:, 0] - margin[:, 1] > 2.0).all()  # e² ≈ 7× likelier than the runner-up


# --------------------------------------------------------------------- instruction tuning


PAIRS = [
    ("Is this speech from a comedy, a history or a tragedy?\n\nTo be, or not to be.", "tragedy"),
    ("Say hello.", "Hello! How can I help you today?"),
    ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}], "4"),
]


def test_chat_tokens_follow_the_template_and_mask_the_answer_only(tok):
    for prompt, answer in PAIRS:
        ids, mask = chat_tokens(tok, prompt, answer)
        chat = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        whole = tok.chat_prompt([*chat, {"role": "assistant", "content": answer}], False)
        assert tok.encode(whole) == ids + tok.encode("\n")  # the template's own tokens
        masked = [t for t, m in zip(ids, mask, strict=True) if m]
        assert tok.decode(masked) == answer + "<|im_end|>"
        n = len(masked)
        assert mask == [False] * (len(ids) - n) + [True] * n
    with pytest.raises(TypeError, match="answer must be a str"):
        chat_tokens(tok, "Hi", None)


def test_masked_lm_loss_is_cross_entropy_over_exactly_the_answer_positions(tiny, tok):
    idx, targets = instruction_batch(tok, PAIRS, pad_id=tok.eos_id)
    rows = [chat_tokens(tok, p, a) for p, a in PAIRS]
    assert idx.shape == (3, max(len(ids) for ids, _ in rows) - 1)
    assert int((targets != IGNORE).sum()) == sum(sum(mask) for _, mask in rows)
    terms = []
    for ids, mask in rows:  # each row alone, unpadded
        logp = F.log_softmax(tiny(torch.tensor([ids]))[0][0], -1)
        terms += [-logp[t - 1, ids[t]] for t in range(1, len(ids)) if mask[t]]
    by_hand = torch.stack(terms).mean()
    logits, loss = tiny(idx, targets)
    torch.testing.assert_close(masked_lm_loss(logits, targets), by_hand, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loss, by_hand, atol=1e-5, rtol=1e-5)  # the model's own loss agrees
    with pytest.raises(ValueError, match="at least one answer token"):
        masked_lm_loss(logits, torch.full_like(targets, IGNORE))
    with pytest.raises(ValueError, match=r"targets must have shape \(3, \d+\)"):
        masked_lm_loss(logits, targets[:, 1:])


# ------------------------------------------------------------- streams below the top blocks


@pytest.mark.parametrize("start", [0, 1])
def test_scores_and_loss_from_kept_streams_equal_the_whole_model(tiny, tok, task, start):
    prompts = chats(task)
    streams = adapt.lower_streams(tiny, tok, prompts, LABELS, start)
    assert len(streams) == 3 and streams.features.shape == (3, start, 32)
    assert streams.prefix.shape[0] > 0  # the system message's tokens are shared and kept once
    scores = adapt.score_streams(tiny, streams, layers=[1])
    whole = score_labels(tiny, tok, prompts, LABELS, layers=[0, 1])
    torch.testing.assert_close(scores.total, whole.total, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(scores.mean, whole.mean, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(scores.features[:, 0], whole.features[:, 1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(streams.features, whole.features[:, :start], atol=1e-5, rtol=1e-5)
    rows, answers = [2, 0, 1], [0, 2, 1]  # labels of 1, 3 and 2 tokens (+ <|im_end|>)
    pairs = [(prompts[r], LABELS[a]) for r, a in zip(rows, answers, strict=True)]
    idx, targets = instruction_batch(tok, pairs)
    with torch.no_grad():
        expected = masked_lm_loss(tiny(idx)[0], targets)
        torch.testing.assert_close(adapt.stream_loss(tiny, streams, rows, answers), expected)


def test_stream_loss_trains_the_top_blocks_only(tiny, tok, task):
    streams = adapt.lower_streams(tiny, tok, chats(task)[:2], ["yes", "no"], 1)
    loss = adapt.stream_loss(tiny, streams, [0, 1], [1, 0])
    loss.backward()
    assert tiny.layers[1].mlp.up_proj.weight.grad.abs().sum() > 0
    assert tiny.layers[0].mlp.up_proj.weight.grad is None  # the kept stream holds no graph
    tiny.zero_grad(set_to_none=True)


def test_streams_check_their_input(tiny, tok, task):
    with pytest.raises(ValueError, match=r"start must be a block index in \[0, 2\)"):
        adapt.lower_streams(tiny, tok, ["Hi"], ["yes"], 2)
    with pytest.raises(ValueError, match="labels must be non-empty strings"):
        adapt.lower_streams(tiny, tok, ["Hi"], [""], 1)
    streams = adapt.lower_streams(tiny, tok, ["Hi", "Hello"], ["yes", "no"], 1)
    with pytest.raises(ValueError, match=r"layers must be block indices in \[1, 2\)"):
        adapt.score_streams(tiny, streams, layers=[0])
    with pytest.raises(TypeError, match="streams must be the Streams of lower_streams"):
        adapt.score_streams(tiny, "streams")
    with pytest.raises(ValueError, match=r"rows must be 1 indices in \[0, 2\)"):
        adapt.stream_loss(tiny, streams, [2], [0])
    with pytest.raises(ValueError, match=r"answers must be label indices in \[0, 2\)"):
        adapt.stream_loss(tiny, streams, [0], [2])


# ----------------------------------------------------------------------------- intervals


@pytest.mark.parametrize(
    "correct, n, low, high",  # Newcombe (1998), Statistics in Medicine 17, Table I, method 3
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_interval_known_cases(correct, n, low, high):
    lo, hi = wilson_interval(correct, n)
    assert abs(lo - low) < 5e-5 and abs(hi - high) < 5e-5
    ref = binomtest(correct, n).proportion_ci(0.95, method="wilson")
    assert abs(lo - ref.low) < 1e-9 and abs(hi - ref.high) < 1e-9


def test_wilson_interval_other_confidence_and_errors():
    ref = binomtest(40, 90).proportion_ci(0.9, method="wilson")
    assert wilson_interval(40, 90, 0.9) == pytest.approx((ref.low, ref.high), abs=1e-9)
    with pytest.raises(ValueError, match=r"correct must be an int in \[0, n=5\], got 6"):
        wilson_interval(6, 5)
    with pytest.raises(ValueError, match="n must be a positive int"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match=r"confidence must be a number in \(0, 1\)"):
        wilson_interval(1, 5, 95)


def paired_sample(agree_right: int, a_only: int, b_only: int, agree_wrong: int):
    a = [True] * agree_right + [True] * a_only + [False] * b_only + [False] * agree_wrong
    b = [True] * agree_right + [False] * a_only + [True] * b_only + [False] * agree_wrong
    return a, b


def test_paired_difference_known_case():
    # Agresti (2013), Categorical Data Analysis, §11.1.1: approval of the Prime Minister in two
    # surveys of the same 1600 people: 794 yes-yes, 150 yes-no, 86 no-yes, 570 no-no.
    # Difference 0.59 - 0.55 = 0.04, standard error 0.0095, 95 % interval (0.021, 0.059).
    d, lo, hi = paired_difference(*paired_sample(794, 150, 86, 570))
    assert d == pytest.approx(0.04, abs=1e-12)
    assert (hi - lo) / 2 / 1.959964 == pytest.approx(0.00955, abs=5e-5)
    assert (round(lo, 3), round(hi, 3)) == (0.021, 0.059)
    d, lo, hi = paired_difference(*paired_sample(794, 86, 150, 570))  # B minus A: mirrored
    assert (round(d, 3), round(lo, 3), round(hi, 3)) == (-0.04, -0.059, -0.021)
    assert paired_difference(*paired_sample(30, 0, 0, 10)) == (0.0, 0.0, 0.0)  # never disagree


def test_paired_difference_matches_a_paired_bootstrap():
    g = torch.Generator().manual_seed(0)
    n = 2000
    a = torch.rand(n, generator=g) < 0.6
    b = a ^ (torch.rand(n, generator=g) < 0.12)  # B disagrees with A on ~12 % of the examples
    d, lo, hi = paired_difference(a, b)
    assert d == (int(a.sum()) - int(b.sum())) / n
    resample = torch.randint(0, n, (4000, n), generator=g)  # the same examples for both
    diffs = (a[resample].float().mean(1) - b[resample].float().mean(1)).sort().values
    boot_lo, boot_hi = diffs[100].item(), diffs[3899].item()  # 2.5 % and 97.5 % quantiles
    assert abs(lo - boot_lo) < 0.004 and abs(hi - boot_hi) < 0.004
    unpaired = 1.96 * (2 * 0.6 * 0.4 / n) ** 0.5  # two independent accuracies would be this wide
    assert (hi - lo) / 2 < 0.75 * unpaired


def test_paired_difference_errors():
    with pytest.raises(ValueError, match="correct_a and correct_b must have the same length"):
        paired_difference([True, False], [True])
    with pytest.raises(ValueError, match="correct_b must be a non-empty 1-D list or tensor of bools"):
        paired_difference([True], [1])
    with pytest.raises(ValueError, match="correct_a must be a non-empty 1-D"):
        paired_difference([], [])
