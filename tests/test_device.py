"""labkit.device: choice of device, the MPS sanity check, autocast, the machine report."""

import warnings

import pytest
import torch

from labkit import device


@pytest.fixture(autouse=True)
def _no_override(monkeypatch):
    monkeypatch.delenv("LABKIT_DEVICE", raising=False)


def test_best_on_this_machine_is_a_real_device():
    dev = device.best()
    assert dev.type in {"cpu", "cuda", "mps"}
    torch.ones(2, device=dev)  # usable


def test_cuda_preferred_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.best() == torch.device("cuda")


def test_mps_used_when_it_agrees_with_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "_mps_available", lambda: True)
    assert device.best(check=lambda: True) == torch.device("mps")


def test_mps_that_disagrees_falls_back_to_cpu_with_warning(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "_mps_available", lambda: True)
    with pytest.warns(RuntimeWarning, match="disagreed with the CPU"):
        assert device.best(check=lambda: False) == torch.device("cpu")


def test_sanity_check_agrees_on_cpu_and_detects_a_broken_device(monkeypatch):
    assert device.mps_agrees_with_cpu("cpu")
    real = device._tiny_step

    def wrong_on_meta(dev):
        out = real(torch.device("cpu"))
        return out * 1.01 if dev.type == "meta" else out

    monkeypatch.setattr(device, "_tiny_step", wrong_on_meta)
    assert not device.mps_agrees_with_cpu("meta")


def test_sanity_check_treats_an_unusable_device_as_disagreeing():
    assert not device.mps_agrees_with_cpu("meta")  # meta tensors have no values: .cpu() fails


def test_override_by_environment(monkeypatch):
    monkeypatch.setenv("LABKIT_DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.best() == torch.device("cpu")


def test_override_to_missing_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LABKIT_DEVICE", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="LABKIT_DEVICE='cuda'.*no CUDA device"):
        device.best()


def test_override_with_a_bad_name(monkeypatch):
    monkeypatch.setenv("LABKIT_DEVICE", "gpu please")
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda'.*'gpu please'"):
        device.best()


def test_as_device_rejects_wrong_types():
    with pytest.raises(TypeError, match="device must be a str, torch.device or None; got int"):
        device.as_device(0)


def test_autocast_is_a_no_op_on_cpu():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with device.autocast("cpu"):
            y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_autocast_uses_bf16_on_cuda():
    with device.autocast("cuda"):
        y = torch.ones(2, 2, device="cuda") @ torch.ones(2, 2, device="cuda")
    assert y.dtype == torch.bfloat16


def test_report_describes_machine():
    info = device.report()
    assert info["torch"] == torch.__version__
    assert int(info["CPU cores"]) >= 1
    assert info["device"] in {"cpu", "cuda", "mps"}


@pytest.mark.parametrize(
    ("capability", "kind"), [((7, 5), "fp16"), ((8, 0), "bf16"), ((9, 0), "bf16")]
)
def test_precision_follows_the_gpu_capability(monkeypatch, capability, kind):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert device.precision("cuda") == kind
    assert device.precision("cpu") == "fp32"
    assert device.precision("mps") == "fp32"


@pytest.mark.parametrize(("capability", "enabled"), [((7, 5), True), ((8, 6), False)])
def test_grad_scaler_is_enabled_exactly_for_fp16(monkeypatch, capability, enabled):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.grad_scaler("cuda").is_enabled() is enabled
    assert not device.grad_scaler("cpu").is_enabled()


def test_report_names_the_mixed_precision(monkeypatch):
    monkeypatch.setattr(device, "best", lambda check=None: torch.device("cpu"))
    assert device.report()["mixed precision"] == "none: float32 throughout"
    monkeypatch.setattr(device, "best", lambda check=None: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda dev=None: "Tesla T4")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda dev=None: (7, 5))
    info = device.report()
    assert info["GPU"] == "Tesla T4" and info["compute capability"] == "7.5"
    assert "fp16" in info["mixed precision"] and "gradient scaler" in info["mixed precision"]
