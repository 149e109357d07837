"""A training run's folder: what was trained, its vocabulary, its history and its checkpoints.

``python -m labkit train gpt --out runs/NAME`` fills one folder::

    runs/NAME/
        run.json      what was trained: the settings that decide the result (corpus, model
                      config, training settings), so a second command can continue the run,
                      or refuse to when its settings differ
        vocab.json    the vocabulary: the characters in id order (id i is chars[i]), so
                      ``generate`` can turn a prompt into ids and ids back into text
        history.csv   one row per training step: loss, learning rate, validation loss, ...
        best/         the checkpoint with the lowest validation loss   (labkit.checkpoint format)
        last/         the latest step, with optimiser and random-generator state for resuming

``load(folder)`` gives back ``(model, vocab)``, ready for :mod:`labkit.generate`. The model
config lives in each checkpoint's ``config.json`` (see :mod:`labkit.checkpoint`); ``run.json``
and ``vocab.json`` sit beside the checkpoints because they belong to the run, not to one save.
"""

from __future__ import annotations

import json
import math
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import labkit
from labkit.data import CharVocab

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from torch import nn

__all__ = [
    "DeferredInterrupt",
    "HISTORY_FILE",
    "RUN_FILE",
    "VOCAB_FILE",
    "RunMismatchError",
    "differences",
    "find_checkpoint",
    "has_checkpoint",
    "load",
    "load_vocab",
    "prepare",
    "read_run",
    "save_vocab",
    "unknown_chars",
    "write_history",
]

RUN_FILE = "run.json"
VOCAB_FILE = "vocab.json"
HISTORY_FILE = "history.csv"
CHECKPOINTS = ("best", "last")
FORMAT = 1


class RunMismatchError(ValueError):
    """The run folder was started with other settings than the ones asked for now.

    ``differences`` lists ``(setting, value saved in the folder, value asked for now)``.
    """

    def __init__(self, message: str, differences: list[tuple[str, Any, Any]]) -> None:
        super().__init__(message)
        self.differences = differences


# ----------------------------------------------------------------------------------- small files


def _atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never a half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_vocab(folder: str | os.PathLike, vocab: CharVocab) -> Path:
    """Write ``vocab`` to ``folder/vocab.json`` (``{"kind": "char", "chars": [...]}``)."""
    if not isinstance(vocab, CharVocab):
        raise TypeError(f"vocab must be a labkit.data.CharVocab, got {type(vocab).__name__}")
    path = Path(folder) / VOCAB_FILE
    doc = {"kind": "char", "size": len(vocab), "chars": list(vocab.chars)}
    _atomic_write_text(path, json.dumps(doc, indent=1, ensure_ascii=True) + "\n")
    return path


def load_vocab(folder: str | os.PathLike) -> CharVocab:
    """The vocabulary saved by :func:`save_vocab` in ``folder``."""
    path = Path(folder) / VOCAB_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{str(path)!r} does not exist: {str(folder)!r} is not a run folder made by "
            "`python -m labkit train` (it keeps the vocabulary there)"
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{str(path)!r} is not valid JSON ({err})") from None
    if (
        not isinstance(doc, dict)
        or doc.get("kind") != "char"
        or not isinstance(doc.get("chars"), list)
    ):
        raise ValueError(f"{str(path)!r} does not hold a character vocabulary")
    return CharVocab(doc["chars"])


def read_run(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The contents of ``folder/run.json``, or ``None`` when there is none."""
    path = Path(folder) / RUN_FILE
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{str(path)!r} is not valid JSON ({err})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("settings"), dict):
        raise ValueError(f"{str(path)!r} has no 'settings' object; was it written by labkit?")
    if doc.get("format", 1) > FORMAT:
        raise ValueError(
            f"{str(path)!r} has format {doc['format']}, newer than this labkit reads; upgrade labkit"
        )
    return doc


def write_history(folder: str | os.PathLike, history: pd.DataFrame) -> Path:
    """Write the Trainer's history (one row per step) to ``folder/history.csv``."""
    path = Path(folder) / HISTORY_FILE
    _atomic_write_text(path, history.to_csv(index=False))
    return path


# -------------------------------------------------------------------------------- settings check


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isclose(a, b))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _show(value: Any) -> str:
    """A setting's value for a message: floats rounded to 6 significant digits."""
    return f"{value:.6g}" if isinstance(value, float) else repr(value)


def differences(saved: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(key, saved value, new value)`` for every key whose values differ (missing = ``None``).

    Tuples and lists compare alike (JSON has no tuples), so do ``1`` and ``1.0``.
    """
    out = []
    for key in [*saved, *(k for k in new if k not in saved)]:
        a, b = saved.get(key), new.get(key)
        if not _same(a, b):
            out.append((key, a, b))
    return out


def has_checkpoint(folder: str | os.PathLike) -> bool:
    """True when the run folder holds a ``best/`` or ``last/`` checkpoint (it has trained).

    A checkpoint that a killed save left moved aside is put back first.
    """
    return any((Path(folder) / c).is_dir() or _recovered(Path(folder) / c) for c in CHECKPOINTS)


def _recovered(ckpt: Path) -> bool:
    """Put back a checkpoint that a save killed between its two renames left aside (see
    :func:`labkit.checkpoint.recover`); True when ``ckpt`` then holds one."""
    try:
        aside = any(p.name.startswith(f".{ckpt.name}.old-") for p in ckpt.parent.iterdir())
    except OSError:
        return False
    if not aside:
        return False
    from labkit import checkpoint

    return checkpoint.recover(ckpt)


def _sync_history(folder: Path, last: Path) -> None:
    """Rewrite ``history.csv`` from ``last/``, the checkpoint the run continues from, so the two
    agree even when a Ctrl-C came between a save and the history file."""
    import pandas as pd

    from labkit import checkpoint

    history = checkpoint.load_trainer_state(last).get("history")
    if isinstance(history, dict):
        write_history(folder, pd.DataFrame(history))


def prepare(
    folder: str | os.PathLike,
    settings: Mapping[str, Any],
    vocab: CharVocab,
    describe: Callable[[str], str] = str,
    extra: Mapping[str, Any] | None = None,
) -> Path | None:
    """Get ``folder`` ready for a training run with ``settings``; returns the checkpoint to
    resume from (``folder/last``) or ``None`` for a fresh start.

    - no folder, or an empty one: a new run; ``run.json`` and ``vocab.json`` are written.
    - a run folder whose ``run.json`` holds the same settings and whose vocabulary is the same:
      the run continues from ``last/`` (``history.csv`` is rewritten from it). (A run folder without any checkpoint, e.g. after an
      error before the first step, is set up afresh with the new settings.)
    - different settings: :class:`RunMismatchError` naming each setting (``describe(key)`` turns
      a key into what the user typed, e.g. ``"--lr"``) with both values.
    - a non-empty folder that is not a run folder: ``ValueError`` (nothing is overwritten).

    ``extra`` (JSON-able) is stored in ``run.json`` beside the settings, e.g. the command line.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {str(folder)!r} is a file, not a folder")
    saved = read_run(folder) if folder.is_dir() else None
    if saved is None or not has_checkpoint(
        folder
    ):  # new, or set up but never saved a step: start afresh
        if saved is None and folder.is_dir() and any(folder.iterdir()):
            raise ValueError(
                f"{str(folder)!r} is not empty and has no {RUN_FILE}, so it is not a labkit run "
                "folder; choose a new --out folder (nothing was overwritten)"
            )
        folder.mkdir(parents=True, exist_ok=True)
        save_vocab(folder, vocab)
        doc = {
            "format": FORMAT,
            "labkit_version": labkit.__version__,
            "settings": dict(settings),
            **(dict(extra) if extra else {}),
        }
        _atomic_write_text(folder / RUN_FILE, json.dumps(doc, indent=2) + "\n")
        return None

    diff = differences(saved["settings"], settings)
    if diff:
        lines = "\n".join(
            f"  {describe(key)}: {_show(saved_value)} in the run folder, {_show(new_value)} now"
            for key, saved_value, new_value in diff
        )
        raise RunMismatchError(
            f"the run in {str(folder)!r} was started with other settings than this command "
            f"asks for:\n{lines}\nTo continue it, run the command again without these options "
            "(options you leave out are taken from the run) or with the values it was started "
            "with; to train with the new settings, choose a new --out folder.",
            diff,
        )
    saved_vocab = load_vocab(folder)
    if saved_vocab.chars != vocab.chars:
        raise RunMismatchError(
            f"the vocabulary in {str(folder / VOCAB_FILE)!r} ({len(saved_vocab)} characters) is "
            f"not the one of the corpus now ({len(vocab)} characters); the corpus changed, so "
            "the run cannot continue: choose a new --out folder",
            [("vocab", len(saved_vocab), len(vocab))],
        )
    last = folder / "last"
    if not (last / "trainer_state.pt").is_file():
        return None
    _sync_history(folder, last)
    return last


# ------------------------------------------------------------------------------------ loading


def find_checkpoint(path: str | os.PathLike, which: str = "best") -> tuple[Path, Path]:
    """``(checkpoint folder, run folder)`` for a run folder and ``which`` (``"best"`` or
    ``"last"``); ``path`` may also be a checkpoint folder itself (``runs/NAME/last``), whose
    parent is then the run folder."""
    if which not in CHECKPOINTS:
        raise ValueError(f"which must be one of {CHECKPOINTS}, got {which!r}")
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoint folder {str(path)!r} does not exist")
    if (path / "config.json").is_file() and (path.parent / VOCAB_FILE).is_file():
        return path, path.parent  # a checkpoint inside a run folder
    if not (path / VOCAB_FILE).is_file():
        raise FileNotFoundError(
            f"{str(path)!r} is not a run folder made by `python -m labkit train` (no "
            f"{VOCAB_FILE}); pass the folder given to train as --out, e.g. runs/NAME"
        )
    ckpt = path / which
    if not (ckpt / "config.json").is_file() and not _recovered(ckpt):
        others = [c for c in CHECKPOINTS if c != which and (path / c / "config.json").is_file()]
        hint = f"; use --which {others[0]}" if others else ""
        why = "no validation has run yet" if which == "best" else "no step has been saved yet"
        if which == "best" and _validated(path / "last"):
            why = "it is missing although validation has run: deleted, or its save failed"
        raise FileNotFoundError(f"{str(path)!r} has no {which}/ checkpoint ({why}){hint}")
    return ckpt, path


def _validated(last: Path) -> bool:
    """True when the run's ``last/`` checkpoint records a validation loss."""
    if not (last / "trainer_state.pt").is_file():
        return False
    from labkit import checkpoint

    try:
        best = checkpoint.load_trainer_state(last).get("best_val_loss")
    except (OSError, ValueError):
        return False
    return isinstance(best, float) and math.isfinite(best)


def load(
    path: str | os.PathLike, which: str = "best", device: str | torch.device | None = None
) -> tuple[nn.Module, CharVocab]:
    """The model of a run (its ``which`` checkpoint) on ``device``, in eval mode, and its vocabulary.

    ``model, vocab = labkit.runs.load("runs/shakespeare")``, then e.g.
    ``labkit.generate.generate_text(model, vocab.encode("ROMEO:", as_tensor=True)[None], 200,
    vocab.decode)``.
    """
    from labkit import checkpoint

    ckpt, run_dir = find_checkpoint(path, which)
    vocab = load_vocab(run_dir)
    model = checkpoint.load(ckpt, device=device)
    vocab_size = getattr(getattr(model, "config", None), "vocab_size", len(vocab))
    if vocab_size != len(vocab):
        raise ValueError(
            f"{str(ckpt)!r} was trained with {vocab_size} tokens but {str(run_dir / VOCAB_FILE)!r} "
            f"holds {len(vocab)}; the folder mixes two runs"
        )
    return model.eval(), vocab


def unknown_chars(vocab: CharVocab, text: str) -> list[str]:
    """The distinct characters of ``text`` that ``vocab`` does not know, in order of appearance."""
    seen: dict[str, None] = {}
    for c in text:
        if c not in vocab and c not in seen:
            seen[c] = None
    return list(seen)


# ------------------------------------------------------------------------------ interrupt safety


class DeferredInterrupt:
    """Ctrl-C that waits for the end of a critical section instead of landing inside it.

    ``install()`` replaces Python's SIGINT handler (only in the main thread, and only where Ctrl-C
    raises ``KeyboardInterrupt`` today); ``restore()`` puts the old one back. Inside ``with
    guard:`` a first Ctrl-C is only noted, and ``KeyboardInterrupt`` is raised when the section
    ends; a second one inside the section raises at once, a way out of a save that hangs on a
    slow disk. Outside sections Ctrl-C behaves as before.

    Why defer rather than snapshot and restore: an optimiser step changes the weights and the
    optimiser state in place, and undoing a half-applied one would need a copy of both before
    every step (three times the model's size, one copy per step); deferring costs two attribute
    writes per step. Signals are handled between Python bytecodes, so an interrupt that arrives
    while a fused kernel runs is raised right after it returns: inside the section, deferred.
    """

    def __init__(self) -> None:
        self._depth = 0
        self._pending = False
        self._previous: Any = None

    def install(self) -> bool:
        """Take over SIGINT; False (and nothing changed) where that is not possible or needed."""
        if self._previous is not None or threading.current_thread() is not threading.main_thread():
            return False
        current = signal.getsignal(signal.SIGINT)
        if not callable(current):  # SIG_IGN, SIG_DFL or set outside Python: no KeyboardInterrupt
            return False
        self._previous = current
        signal.signal(signal.SIGINT, self._handle)
        return True

    def restore(self) -> None:
        """Give SIGINT back to the handler that ``install`` replaced."""
        if self._previous is not None:
            if signal.getsignal(signal.SIGINT) == self._handle:
                signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        self._pending = False

    def _handle(self, signum: int, frame: Any) -> None:
        if self._depth and not self._pending:
            self._pending = True  # raised when the section ends
            return
        self._pending = False
        self._previous(signum, frame)

    def __enter__(self) -> DeferredInterrupt:
        self._depth += 1
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._depth -= 1
        if self._depth == 0 and self._pending:
            self._pending = False
            if exc_type is None:
                raise KeyboardInterrupt
