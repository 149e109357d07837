"""labkit.claim: a claim about a random outcome, asserted with a margin and logged for seed sweeps."""

import json
import math

import pytest
import torch

import labkit
from labkit.claims import LOG_ENV, claim


def test_claim_returns_its_margin():
    assert claim("x is large", 5.0, above=3.0) == pytest.approx(2.0)
    assert claim("loss is small", torch.tensor(1.25), below=1.5) == pytest.approx(0.25)
    assert labkit.claim is claim  # the package-level name is the same function


@pytest.mark.parametrize(("value", "kw"), [(3.0, {"above": 3.0}), (2.0, {"above": 3.0}), (4.0, {"below": 3.0})])
def test_claim_fails_with_value_bound_and_margin(value, kw):
    with pytest.raises(AssertionError, match=r"claim failed: the claim: .* is not (above|below) 3 \(margin"):
        claim("the claim", value, **kw)


def test_nan_never_satisfies_a_claim():
    with pytest.raises(AssertionError, match="nan"):
        claim("a loss below 2", math.nan, below=2.0)


def test_claim_checks_its_arguments():
    with pytest.raises(ValueError, match="exactly one of above= or below="):
        claim("both", 1.0, above=0.0, below=2.0)
    with pytest.raises(ValueError, match="exactly one of above= or below="):
        claim("neither", 1.0)
    with pytest.raises(TypeError, match="statement must be a non-empty str"):
        claim("", 1.0, above=0.0)
    with pytest.raises(TypeError, match="value must be a number, got str"):
        claim("s", "1.0", above=0.0)
    with pytest.raises(TypeError, match="above must be a number, got bool"):
        claim("s", 1.0, above=True)


def test_claims_are_logged_when_asked(tmp_path, monkeypatch):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv(LOG_ENV, str(log))
    claim("first", 2.0, above=1.0)
    with pytest.raises(AssertionError):
        claim("second", 2.0, below=1.0)  # a failed claim is logged too: the sweep shows its margin
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [x["statement"] for x in lines] == ["first", "second"]
    assert lines[0]["margin"] == pytest.approx(1.0) and lines[1]["margin"] == pytest.approx(-1.0)
    assert lines[0]["relation"] == "above" and lines[1]["relation"] == "below"
    assert lines[0]["seed_offset"] == labkit.SEED_OFFSET and lines[0]["fast"] == labkit.FAST


def test_nothing_is_logged_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv(LOG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    claim("quiet", 2.0, above=1.0)
    assert list(tmp_path.iterdir()) == []
