"""Property test of the command line: junk option values end in exit code 2 with one line.

Random values for one option at a time (zero, negative, huge, NaN/inf, empty, words, unknown
names, missing paths) on otherwise valid ``train gpt``, ``generate`` and ``data`` commands,
run in-process through ``labkit.cli.main``. Every value drawn is invalid for its option, so
nothing trains; the other options keep any slip tiny (2,000 characters, one step).
"""

from __future__ import annotations

import contextlib
import io
import uuid
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit import cli, data

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

junk_words = st.sampled_from(["", " ", "abc", "nan", "NaN", "inf", "-inf", "1e999", "0x10", "--"])
negative = st.integers(max_value=-1).map(str)
huge = st.integers(min_value=10**30, max_value=10**4000).map(str)
not_whole = st.floats().filter(lambda x: not x.is_integer()).map(repr)  # also nan, inf


def whole_below(low: int) -> st.SearchStrategy[str]:
    """Invalid for an option that needs a whole number >= ``low``."""
    return st.one_of(st.integers(max_value=low - 1).map(str), not_whole, junk_words)


def number_outside(low: float, high: float | None = None) -> st.SearchStrategy[str]:
    """Invalid for an option that needs a finite number in [low, high]."""
    below = st.floats(max_value=low, exclude_max=True, allow_nan=False).map(repr)
    parts = [below, junk_words.filter(lambda w: w not in ("0x10",))]
    if high is not None:
        parts.append(st.floats(min_value=high, exclude_min=True).map(repr))
    return st.one_of(*parts)


TRAIN_JUNK = {
    "--max-chars": whole_below(2),
    "--val-fraction": st.one_of(number_outside(0.0, 1.0), st.just("0"), st.just("1")),
    "--preset": st.text(max_size=8).filter(
        lambda t: t not in ("tiny", "small", "shakespeare-char")
    ),
    "--block-size": st.one_of(whole_below(1), st.integers(2_000, 10**40).map(str)),
    "--n-layer": st.one_of(whole_below(1), huge),
    "--n-head": st.one_of(whole_below(1), st.sampled_from(["3", "5", "7", "33"])),
    "--n-embd": st.one_of(whole_below(1), huge),
    "--dropout": st.one_of(number_outside(0.0, 1.0), st.just("1")),
    "--max-steps": whole_below(1),
    "--batch-size": st.one_of(whole_below(1), huge),
    "--lr": st.one_of(number_outside(0.0), st.just("0")),
    "--min-lr": st.one_of(number_outside(0.0), st.just("2")),
    "--warmup-steps": st.one_of(whole_below(0), st.integers(2, 10**30).map(str)),
    "--weight-decay": number_outside(0.0),
    "--grad-clip": number_outside(0.0),
    "--eval-every": whole_below(1),
    "--eval-batches": whole_below(1),
    "--seed": st.one_of(whole_below(0), st.integers(2**32, 10**40).map(str)),
    "--device": st.sampled_from(["", "gpu", "cuda:x", "meta", "tpu", "cpu:0:1", "nonsense"]),
    "--pause-after": whole_below(1),
    "--checkpoint-every": whole_below(1),
    "--data": st.text(max_size=12).filter(lambda t: t not in data.REGISTRY),
    "--out": st.sampled_from(["", "  "]),
}

GENERATE_JUNK = {
    "--checkpoint": st.sampled_from(["", "missing-run", "missing/run/best"]),
    "--which": st.text(max_size=6).filter(lambda t: t not in ("best", "last")),
    "--prompt": st.sampled_from(["", "\u20ac", "Zo\u00eb", "\u0000"]),
    "--max-new-tokens": whole_below(1),
    "--temperature": number_outside(0.0),
    "--top-k": whole_below(1),
    "--top-p": st.one_of(number_outside(0.0, 1.0), st.just("0")),
    "--seed": st.one_of(whole_below(0), st.integers(2**63, 10**40).map(str)),
    "--stop": st.just(""),
    "--device": st.sampled_from(["", "gpu", "meta", "nonsense"]),
}


@pytest.fixture(scope="module")
def env(tmp_path_factory, corpus_cache):
    """A private cache with the default corpus, and a tiny trained run to generate from."""
    cache = corpus_cache
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_DATA_DIR", str(cache))
        mp.delenv("LABKIT_DATA_MIRROR", raising=False)
        mp.delenv(cli.DEBUG_ENV, raising=False)
        mp.setattr(torch.cuda, "is_available", lambda: False)  # the same on every machine
        run = root / "trained"
        assert run_cli(base_train(run, "--max-steps", "1"))[0] == 0
        yield root
    torch.set_num_threads(threads)


def base_train(out: Path, *extra: str) -> list[str]:
    return [
        "train", "gpt", "--data", "shakespeare", "--max-chars", "2000", "--preset", "tiny",
        "--max-steps", "2", "--pause-after", "1", "--batch-size", "2", "--eval-every", "1",
        "--eval-batches", "1", "--device", "cpu", "--no-progress", "--out", str(out), *extra,
    ]  # fmt: skip


def run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(argv)
    return code, err.getvalue()


def assert_one_error_line(code: int, err: str, argv: list[str]) -> None:
    assert code == 2, (argv, code, err)
    assert err.startswith("error: ") and err.count("\n") == 1, (argv, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)


def with_option(argv: list[str], option: str, value: str) -> list[str]:
    """``argv`` with ``option`` set to ``value`` (given as ``--opt=value``, so that a value
    starting with ``-`` stays a value)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == option:
            skip = True
            continue
        out.append(a)
    return [*out, f"{option}={value}"]


@FUZZ
@given(data=st.data(), option=st.sampled_from(sorted(TRAIN_JUNK)))
def test_train_gpt_junk_values(env, data, option):
    value = data.draw(TRAIN_JUNK[option], label=option)
    out = env / f"run-{uuid.uuid4().hex}"
    argv = with_option(base_train(out), option, value)
    code, err = run_cli(argv)
    assert_one_error_line(code, err, argv)
    if option != "--out":
        assert not out.exists(), "refused before writing anything"


@FUZZ
@given(data=st.data(), option=st.sampled_from(sorted(GENERATE_JUNK)))
def test_generate_junk_values(env, data, option):
    value = data.draw(GENERATE_JUNK[option], label=option)
    base = ["generate", "--checkpoint", str(env / "trained"), "--max-new-tokens", "3"]
    base += ["--device", "cpu"]
    if option == "--checkpoint" and value.strip():
        value = str(env / value)
    argv = with_option(base, option, value)
    code, err = run_cli(argv)
    assert_one_error_line(code, err, argv)


@settings(max_examples=30, deadline=None)
@given(
    argv=st.one_of(
        st.tuples(st.just("fetch"), st.text(max_size=12).filter(lambda t: t not in data.REGISTRY)),
        st.tuples(st.sampled_from(["", "get", "remove", "lst"]), st.text(max_size=5)),
        st.tuples(st.just("list"), st.sampled_from(["extra", "--all", "-x"])),
        st.tuples(st.just("fetch")),
    )
)
def test_data_junk_arguments(env, argv):
    full = ["data", *argv]
    if len(argv) == 2 and argv[0] == "fetch":
        full = ["data", "fetch", "--", argv[1]]  # a name starting with '-' stays a name
    code, err = run_cli(full)
    assert_one_error_line(code, err, full)
