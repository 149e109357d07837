"""labkit.checkpoint: round trips, shared weights, atomic files, and clear errors."""

import json
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from labkit import checkpoint
from labkit.nn import MLPConfig, MLPLanguageModel


def _model(**kw):
    torch.manual_seed(0)
    cfg = {"vocab_size": 13, "context": 3, "n_embd": 4, "n_hidden": 8} | kw
    return MLPLanguageModel(MLPConfig(**cfg))


def test_round_trip_restores_identical_logits(tmp_path):
    m = _model()
    idx = torch.randint(0, 13, (2, 6))
    checkpoint.save(tmp_path / "ck", m)
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    info = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert info["model_class"] == "labkit.nn.MLPLanguageModel"
    assert info["config"]["vocab_size"] == 13 and "labkit_version" in info
    loaded = checkpoint.load(tmp_path / "ck", device="cpu")
    assert isinstance(loaded, MLPLanguageModel) and loaded.config == m.config
    assert torch.equal(loaded(idx)[0], m(idx)[0])
    assert checkpoint.read_config(tmp_path / "ck") == m.config


def test_optimizer_and_extra_state_round_trip_with_weights_only(tmp_path):
    m = _model()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    m(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long))[1].backward()
    opt.step()
    extra = {"step": 7, "rng": torch.get_rng_state(), "history": {"loss": [1.0, float("nan")]}}
    checkpoint.save(tmp_path, m, optimizer=opt, extra=extra)
    state = checkpoint.load_trainer_state(tmp_path)  # torch.load(weights_only=True) inside
    assert state["step"] == 7 and torch.equal(state["rng"], extra["rng"])
    fresh = torch.optim.AdamW(_model().parameters(), lr=1e-3)
    fresh.load_state_dict(state["optimizer"])
    exp_avg = opt.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(fresh.state_dict()["state"][0]["exp_avg"], exp_avg)
    # a later save without training state removes the stale file
    checkpoint.save(tmp_path, m)
    assert not (tmp_path / "trainer_state.pt").exists()


@dataclass
class TiedConfig:
    vocab: int = 7
    dim: int = 5


class Tied(nn.Module):
    """Input embedding and output layer share one matrix (as in GPT-2)."""

    config_class = TiedConfig

    def __init__(self, config: TiedConfig):
        super().__init__()
        self.config = config
        self.emb = nn.Embedding(config.vocab, config.dim)
        self.out = nn.Linear(config.dim, config.vocab, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, idx):
        return self.out(self.emb(idx))


def test_tied_weights_save_and_stay_tied(tmp_path):
    torch.manual_seed(0)
    m = Tied(TiedConfig())
    checkpoint.save(tmp_path, m)
    loaded = checkpoint.load(tmp_path, model_cls=Tied, device="cpu")
    assert loaded.out.weight is loaded.emb.weight
    idx = torch.tensor([[1, 2, 3]])
    assert torch.equal(loaded(idx), m(idx))


def test_wrong_config_gives_a_clear_error(tmp_path):
    checkpoint.save(tmp_path, _model())
    info = json.loads((tmp_path / "config.json").read_text())
    info["config"]["n_hidden"] = 9
    (tmp_path / "config.json").write_text(json.dumps(info))
    with pytest.raises(ValueError) as err:
        checkpoint.load(tmp_path, device="cpu")
    msg = str(err.value)
    assert str(tmp_path) in msg and "hidden.weight" in msg
    assert "(8, 12)" in msg and "(9, 12)" in msg  # found in the file, expected by the config


def test_load_weights_into_a_different_model_names_the_missing_key(tmp_path):
    checkpoint.save(tmp_path, _model())
    with pytest.raises(ValueError, match="key 'emb.weight' is missing"):
        checkpoint.load_weights(tmp_path, Tied(TiedConfig()))


def test_unknown_config_field_is_named(tmp_path):
    checkpoint.save(tmp_path, _model())
    info = json.loads((tmp_path / "config.json").read_text())
    info["config"]["n_layers"] = 2
    (tmp_path / "config.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="n_layers"):
        checkpoint.load(tmp_path, device="cpu")


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checkpoint.load(tmp_path / "nowhere")
    checkpoint.save(tmp_path, _model())
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        checkpoint.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="trainer_state.pt"):
        checkpoint.load_trainer_state(tmp_path)


def test_files_from_different_saves_are_refused(tmp_path):
    checkpoint.save(tmp_path / "a", _model())
    checkpoint.save(tmp_path / "b", _model())
    (tmp_path / "b" / "model.safetensors").replace(tmp_path / "a" / "model.safetensors")
    with pytest.raises(ValueError, match="different saves"):
        checkpoint.load(tmp_path / "a", device="cpu")


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    m = _model()
    checkpoint.save(tmp_path, m)
    before = (tmp_path / "model.safetensors").read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(tmp_path, _model(n_hidden=9))
    assert (tmp_path / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]


def test_save_checks_its_arguments(tmp_path):
    with pytest.raises(TypeError, match="model must be"):
        checkpoint.save(tmp_path, "not a model")
    with pytest.raises(TypeError, match="config must be a dataclass"):
        checkpoint.save(tmp_path, nn.Linear(2, 2))
