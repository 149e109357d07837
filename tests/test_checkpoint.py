"""labkit.checkpoint: round trips, shared weights, atomic files, and clear errors."""

import errno
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


# ------------------------------------------------------------------- failed saves, damaged files


def _trained(seed_shift: float = 0.0):
    m = _model()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(seed_shift)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    m(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long))[1].backward()
    opt.step()
    return m, opt


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    "error", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()]
)
def test_a_save_that_fails_after_the_weights_keeps_the_old_checkpoint(tmp_path, monkeypatch, error):
    old, old_opt = _trained()
    checkpoint.save(tmp_path / "ck", old, optimizer=old_opt, extra={"step": 1})
    before = {p.name: p.read_bytes() for p in (tmp_path / "ck").iterdir()}
    new, new_opt = _trained(seed_shift=1.0)

    def fails(*args, **kwargs):  # torch.save writes trainer_state.pt, after model.safetensors
        raise error

    monkeypatch.setattr(torch, "save", fails)
    with pytest.raises(type(error)):
        checkpoint.save(tmp_path / "ck", new, optimizer=new_opt, extra={"step": 2})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # nothing half-written left
    assert {p.name: p.read_bytes() for p in (tmp_path / "ck").iterdir()} == before
    assert _same_weights(checkpoint.load(tmp_path / "ck", device="cpu"), old)
    assert checkpoint.load_trainer_state(tmp_path / "ck")["step"] == 1


def test_a_save_replaces_the_whole_folder_and_removes_leftovers(tmp_path):
    m, opt = _trained()
    checkpoint.save(tmp_path / "ck", m, optimizer=opt, extra={"step": 1})
    # what a killed process leaves behind: a half-written new folder beside the checkpoint
    leftover = tmp_path / ".ck.new-0123"
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"half")
    checkpoint.save(tmp_path / "ck", m)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]


def test_a_crash_between_the_two_renames_is_recovered_on_the_next_load(tmp_path):
    m = _model()
    checkpoint.save(tmp_path / "ck", m)
    (tmp_path / "ck").rename(tmp_path / ".ck.old-0123")  # the old one moved aside, no new one yet
    assert _same_weights(checkpoint.load(tmp_path / "ck", device="cpu"), m)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_a_folder_holding_other_files_is_not_replaced(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="notes.txt"):
        checkpoint.save(tmp_path, _model())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_mixed_files_are_refused_by_every_loader(tmp_path):
    a, opt_a = _trained()
    b, opt_b = _trained(seed_shift=1.0)
    checkpoint.save(tmp_path / "a", a, optimizer=opt_a, extra={"step": 1})
    checkpoint.save(tmp_path / "b", b, optimizer=opt_b, extra={"step": 2})
    (tmp_path / "b" / "model.safetensors").replace(tmp_path / "a" / "model.safetensors")
    for loader in (
        lambda: checkpoint.load(tmp_path / "a", device="cpu"),
        lambda: checkpoint.load_weights(tmp_path / "a", _model()),
    ):
        with pytest.raises(ValueError, match="model.safetensors.*different saves"):
            loader()
    (tmp_path / "b" / "trainer_state.pt").replace(tmp_path / "a" / "trainer_state.pt")
    with pytest.raises(ValueError, match="trainer_state.pt.*different saves"):
        checkpoint.load_trainer_state(tmp_path / "a")


def _flip_bit_in_tensor_data(path, offset_in_data: int = 3, bit: int = 6) -> None:
    data = bytearray(path.read_bytes())
    header_len = int.from_bytes(data[:8], "little")  # safetensors: u64 header size, JSON, data
    data[8 + header_len + offset_in_data] ^= 1 << bit
    path.write_bytes(bytes(data))


def test_a_flipped_bit_in_the_weights_is_refused_naming_the_file(tmp_path):
    m, opt = _trained()
    checkpoint.save(tmp_path, m, optimizer=opt, extra={"step": 1})
    _flip_bit_in_tensor_data(tmp_path / "model.safetensors")
    for loader in (
        lambda: checkpoint.load(tmp_path, device="cpu"),
        lambda: checkpoint.load_weights(tmp_path, _model()),
    ):
        with pytest.raises(ValueError, match=r"model\.safetensors.*(sha256|damaged)"):
            loader()


def test_a_flipped_bit_in_the_trainer_state_is_refused_naming_the_file(tmp_path):
    m, opt = _trained()
    checkpoint.save(tmp_path, m, optimizer=opt, extra={"step": 1, "rng": torch.get_rng_state()})
    path = tmp_path / "trainer_state.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1 << 3
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"trainer_state\.pt.*(sha256|damaged)"):
        checkpoint.load_trainer_state(tmp_path)


@pytest.mark.parametrize(
    ("key", "value"),
    [("format", "1"), ("format", 1.5), ("format", True), ("save_id", 7), ("model_class", 3)],
)
def test_config_json_with_wrong_types_is_a_clear_error(tmp_path, key, value):
    checkpoint.save(tmp_path, _model())
    info = json.loads((tmp_path / "config.json").read_text())
    info[key] = value
    (tmp_path / "config.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=rf"config\.json.*'{key}' must be .*got {value!r}"):
        checkpoint.load(tmp_path, device="cpu")
