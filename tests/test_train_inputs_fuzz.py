"""Property tests: bad input to TrainConfig, Trainer and labkit.checkpoint gives a clear
ValueError/TypeError that names the argument (wrong types, NaN, infinities, empty and huge values),
never a traceback from deep inside torch; odd but valid values round-trip."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit import checkpoint
from labkit.nn import MLPConfig, MLPLanguageModel
from labkit.train import TrainConfig, Trainer

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
VOCAB = 11
DATA = torch.arange(200) % VOCAB
BASE = {"max_steps": 4, "batch_size": 2, "block_size": 8, "eval_batches": 1, "progress": False}

nan, inf = math.nan, math.inf
junk = st.one_of(
    st.text(max_size=3), st.lists(st.integers(), max_size=2), st.just(object()), st.just(b"1")
)
huge_int = st.integers(min_value=2**63, max_value=2**80)
bad_number = st.sampled_from([nan, inf, -inf, -1.0, -1e-9, -1e308])

# field -> strategy of values that must be refused
BAD: dict[str, st.SearchStrategy] = {
    **{
        name: st.one_of(
            junk, huge_int, st.integers(max_value=0), st.floats(), st.booleans(), st.none()
        )
        for name in ("max_steps", "batch_size", "block_size", "eval_every", "eval_batches")
    },
    "log_every": st.one_of(junk, huge_int, st.integers(max_value=0), st.floats()),
    "checkpoint_every": st.one_of(junk, huge_int, st.integers(max_value=0), st.floats()),
    "early_stopping_patience": st.one_of(junk, huge_int, st.integers(max_value=0)),
    "seed": st.one_of(junk, huge_int, st.integers(max_value=-1), st.floats(), st.none()),
    "warmup_steps": st.one_of(junk, st.integers(min_value=5), st.integers(max_value=-1)),
    **{
        name: st.one_of(junk, bad_number, st.none(), st.booleans())
        for name in ("lr", "weight_decay", "momentum", "eps")
    },
    "min_lr": st.one_of(junk, bad_number, st.floats(min_value=1.0, max_value=1e300)),
    "decay_fraction": st.one_of(
        junk, st.sampled_from([nan, inf, 0.0, -0.5, 1.5]), st.floats(min_value=1.0001)
    ),
    "grad_clip": st.one_of(junk, st.sampled_from([nan, inf, -inf, 0.0, -1.0])),
    "optimizer": st.one_of(st.sampled_from(["", "adagrad", "adam w", "ADAM "]), st.integers()),
    "schedule": st.one_of(st.sampled_from(["", "linear", "cos"]), st.integers(), st.none()),
    "betas": st.one_of(
        st.just(()),
        st.just((0.9,)),
        st.just((0.9, 0.99, 0.9)),
        st.tuples(st.sampled_from([nan, inf, 1.0, -0.1, 2.0]), st.just(0.9)),
        st.just("ab"),
        st.none(),
    ),
    "out_dir": st.one_of(st.just(""), st.integers(), st.lists(st.text(), max_size=1)),
    "progress": st.one_of(st.integers(), st.text(max_size=2), st.none()),
    "amp": st.one_of(st.integers(), st.text(max_size=2), st.none()),
}


def test_every_field_has_bad_values():
    assert set(BAD) == {f.name for f in dataclasses.fields(TrainConfig)}


@SETTINGS
@given(data=st.data())
def test_train_config_refuses_bad_values_naming_the_field(data):
    name = data.draw(st.sampled_from(sorted(BAD)))
    value = data.draw(BAD[name])
    with pytest.raises((ValueError, TypeError), match=rf"TrainConfig\.{name}\b"):
        TrainConfig(**(BASE | {name: value}))


def _model() -> MLPLanguageModel:
    torch.manual_seed(0)
    return MLPLanguageModel(MLPConfig(vocab_size=VOCAB, context=2, n_embd=4, n_hidden=8))


bad_tokens = st.one_of(
    st.just(torch.tensor([], dtype=torch.long)),
    st.just(torch.full((50,), nan)),
    st.just(torch.ones(5, 10, dtype=torch.long)),
    st.just("hello world, hello"),
    st.just(torch.arange(50) - 1),  # a negative id
    st.integers(min_value=VOCAB, max_value=2**62).map(lambda big: torch.full((50,), big)),
    st.just([[1, 2], [3]]),
    st.just(object()),
)


@SETTINGS
@given(which=st.sampled_from(["train_data", "val_data"]), value=bad_tokens)
def test_trainer_refuses_bad_token_streams_naming_them(which, value):
    args = {"train_data": DATA, "val_data": DATA} | {which: value}
    with pytest.raises((ValueError, TypeError), match=which):
        Trainer(_model(), config=TrainConfig(**BASE), device="cpu", **args)


@SETTINGS
@given(
    arg=st.sampled_from(["model", "config", "device", "batch_fn", "callbacks"]),
    value=st.one_of(st.integers(), st.text(max_size=3), st.just(object()), st.floats()),
)
def test_trainer_refuses_bad_arguments_naming_them(arg, value):
    kwargs = {"model": _model(), "train_data": DATA, "config": TrainConfig(**BASE)}
    kwargs["device"] = "cpu"
    if arg == "device" and isinstance(value, str) and value in ("cpu", "cuda", "mps", ""):
        value = "gpu"
    kwargs[arg] = value
    with pytest.raises((ValueError, TypeError), match=arg):
        Trainer(**kwargs)


@SETTINGS
@given(steps=st.one_of(st.integers(max_value=-1), st.floats(), st.booleans(), st.text(max_size=2)))
def test_fit_refuses_bad_steps(steps):
    t = Trainer(_model(), DATA, config=TrainConfig(**BASE), device="cpu")
    with pytest.raises((ValueError, TypeError), match="steps"):
        t.fit(steps=steps)


# -------------------------------------------------------------------------------- checkpoints


not_a_path = st.one_of(st.integers(), st.none(), st.just(""), st.just(b"dir"), st.floats())


@SETTINGS
@given(path=not_a_path)
def test_checkpoint_functions_refuse_a_bad_path_naming_it(tmp_path, path):
    for call in (
        lambda: checkpoint.save(path, _model()),
        lambda: checkpoint.load(path, device="cpu"),
        lambda: checkpoint.load_weights(path, _model()),
        lambda: checkpoint.load_trainer_state(path),
        lambda: checkpoint.read_config(path),
    ):
        with pytest.raises(TypeError, match="path_dir"):
            call()


@SETTINGS
@given(
    arg=st.sampled_from(["model", "config", "optimizer", "extra"]),
    value=st.one_of(st.integers(), st.text(max_size=3), st.just(object()), st.lists(st.integers())),
)
def test_save_refuses_bad_arguments_naming_them(tmp_path, arg, value):
    kwargs = {"model": _model()} | {arg: value}
    with pytest.raises((ValueError, TypeError), match=arg):
        checkpoint.save(tmp_path / "ck", **kwargs)
    assert not (tmp_path / "ck").exists()


unsavable = st.one_of(st.just(object()), st.just({1, 2}), st.just(range(3)), st.just(print))


@SETTINGS
@given(key=st.text(min_size=1, max_size=5), value=unsavable, nested=st.booleans())
def test_save_refuses_extra_values_a_checkpoint_cannot_hold(tmp_path, key, value, nested):
    extra = {key: {"inner": [1, value]} if nested else value}
    with pytest.raises(TypeError, match=r"extra\["):
        checkpoint.save(tmp_path / "ck", _model(), extra=extra)


@SETTINGS
@given(key=st.one_of(st.integers(), st.sampled_from(["save_id", "optimizer"])))
def test_save_refuses_reserved_or_non_string_extra_keys(tmp_path, key):
    with pytest.raises(ValueError, match="extra keys"):
        checkpoint.save(tmp_path / "ck", _model(), extra={key: 1})


plain = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False),
        st.just(nan),
        st.text(max_size=5),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


def _same(a, b) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b and type(a) is type(b)


@SETTINGS
@given(
    extra=st.dictionaries(
        st.text(min_size=1, max_size=4).filter(lambda k: k not in ("save_id", "optimizer")),
        plain,
        min_size=1,
        max_size=3,
    )
)
def test_plain_extra_values_round_trip_even_nan_empty_and_huge(tmp_path, extra):
    checkpoint.save(tmp_path / "ck", _model(), extra=extra)
    state = checkpoint.load_trainer_state(tmp_path / "ck")
    assert all(_same(v, state[k]) for k, v in extra.items())


@SETTINGS
@given(
    arg=st.sampled_from(["model_cls", "device"]),
    value=st.one_of(st.integers(), st.text(min_size=1, max_size=3), st.just(object())),
)
def test_load_refuses_bad_arguments_naming_them(tmp_path, arg, value):
    if not (tmp_path / "ck").exists():
        checkpoint.save(tmp_path / "ck", _model())
    if arg == "device" and value in ("cpu", "mps", "cuda"):
        value = "gpu"
    with pytest.raises((ValueError, TypeError), match=arg.split("_")[0]):
        checkpoint.load(tmp_path / "ck", **{arg: value})
