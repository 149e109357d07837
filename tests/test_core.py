"""labkit's package-level helpers: FAST, seed, __version__."""

import importlib
import random

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import labkit


def test_version_is_semver():
    parts = labkit.__version__.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("YES", True), ("on", True), ("", False), ("0", False), ("off", False)],
)
def test_fast_flag_reads_environment(monkeypatch, raw, expected):
    monkeypatch.setenv("LABKIT_FAST", raw)
    try:
        assert importlib.reload(labkit).FAST is expected
    finally:
        monkeypatch.undo()
        importlib.reload(labkit)


def test_fast_flag_rejects_garbage(monkeypatch):
    monkeypatch.setenv("LABKIT_FAST", "maybe")
    try:
        with pytest.raises(ValueError, match="LABKIT_FAST.*'maybe'"):
            importlib.reload(labkit)
    finally:
        monkeypatch.undo()
        importlib.reload(labkit)


def _draw():
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_seed_makes_python_numpy_and_torch_repeat():
    labkit.seed(123)
    first = _draw()
    labkit.seed(123)
    assert _draw() == first
    labkit.seed(124)
    assert _draw() != first


def test_same_seed_same_training_curve():
    def curve():
        labkit.seed(7)
        model = torch.nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(32, 4), torch.randn(32, 1)
        losses = []
        for _ in range(5):
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    assert curve() == curve()


@given(st.one_of(st.floats(), st.text(), st.none(), st.booleans()))
def test_seed_rejects_non_int(bad):
    with pytest.raises(TypeError, match="seed: n must be an int"):
        labkit.seed(bad)


@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32)))
def test_seed_rejects_out_of_range(bad):
    with pytest.raises(ValueError, match=r"seed: n must be in \[0, 2\*\*32\)"):
        labkit.seed(bad)


def _reload_with_offset(monkeypatch, raw: str):
    monkeypatch.setenv("LABKIT_SEED_OFFSET", raw)
    return importlib.reload(labkit)


def test_seed_offset_shifts_every_seed(monkeypatch):
    try:
        lk = _reload_with_offset(monkeypatch, "5")
        assert lk.SEED_OFFSET == 5
        assert lk.seed(3) == 8 and lk.seed_value(3) == 8
        shifted = _draw()
        labkit.seed(8)  # the same module object, reloaded: offset 5 still applies, so this is seed 13
        assert _draw() != shifted
        assert lk.seed_value(2**32 - 1) == 4  # wraps around, stays a valid seed
        assert torch.equal(torch.rand(4, generator=lk.generator(1)), torch.rand(4, generator=torch.Generator().manual_seed(6)))
    finally:
        monkeypatch.undo()
        importlib.reload(labkit)
    assert labkit.SEED_OFFSET == 0 and labkit.seed(3) == 3  # unset: seeds are exactly as written
    assert torch.equal(
        torch.rand(4, generator=labkit.generator(1)), torch.rand(4, generator=torch.Generator().manual_seed(1))
    )


@pytest.mark.parametrize("raw", ["-1", "two", "1.5"])
def test_seed_offset_rejects_garbage(monkeypatch, raw):
    try:
        with pytest.raises(ValueError, match=f"LABKIT_SEED_OFFSET.*{raw!r}"):
            _reload_with_offset(monkeypatch, raw)
    finally:
        monkeypatch.undo()
        importlib.reload(labkit)


def test_generator_and_seed_value_check_their_seed():
    with pytest.raises(TypeError, match="seed: n must be an int"):
        labkit.generator(1.0)
    with pytest.raises(ValueError, match="seed: n must be in"):
        labkit.seed_value(-1)
