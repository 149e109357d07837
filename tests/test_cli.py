"""The command line: train → pause/interrupt → resume (= an unbroken run) → generate; errors.

Everything runs in-process through ``labkit.cli.main`` on a 20,000-character slice of the
default corpus ``shakespeare`` (the copy ``make data`` caches, copied into a temporary cache;
fetched first, with labkit's own fetch, when it is missing) with the ``tiny`` preset, so a
training run takes a fraction of a second.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import torch

from labkit import checkpoint, cli, data, runs
from labkit.train import Trainer

STEPS = 6


def default_corpus() -> Path:
    """The default corpus in the real cache (``make data`` puts it there), fetched when missing."""
    try:
        return data.fetch(data.DEFAULT, progress=False)
    except data.DataError as err:
        pytest.fail(f"the default corpus could not be fetched; run `make data` first. {err}")


@pytest.fixture(scope="module", autouse=True)
def _env(corpus_cache):
    """A private data cache holding the default corpus; one torch thread (tiny models, shared
    CPUs); no mirror folder, so nothing depends on one."""
    cache = corpus_cache
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_DATA_DIR", str(cache))
        mp.delenv("LABKIT_DATA_MIRROR", raising=False)
        mp.delenv(cli.DEBUG_ENV, raising=False)
        yield
    torch.set_num_threads(threads)


def train_args(out: Path, *extra: str) -> list[str]:
    """A tiny run: 6 steps of 4 × 32 characters, validation at steps 3 and 6."""
    return [
        "train", "gpt", "--data", "shakespeare", "--max-chars", "20000", "--preset", "tiny",
        "--max-steps", str(STEPS), "--batch-size", "4", "--eval-every", "3", "--eval-batches", "2",
        "--device", "cpu", "--no-progress", "--out", str(out), *extra,
    ]  # fmt: skip


def history(run: Path) -> pd.DataFrame:
    """The saved history without the wall-clock column (the only one allowed to differ)."""
    return pd.read_csv(run / runs.HISTORY_FILE).drop(columns="elapsed")


def weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return checkpoint.load(ckpt, device="cpu").state_dict()


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory) -> Path:
    """A run trained in one go, to compare resumed runs with."""
    out = tmp_path_factory.mktemp("unbroken") / "run"
    assert cli.main(train_args(out)) == 0
    return out


def assert_same_run(a: Path, b: Path) -> None:
    pd.testing.assert_frame_equal(history(a), history(b), check_exact=True)
    assert len(history(a)) == STEPS
    for which in ("best", "last"):
        wa, wb = weights(a / which), weights(b / which)
        assert all(torch.equal(wa[k], wb[k]) for k in wa), which


# ------------------------------------------------------------------------------------- train


def test_train_writes_a_run_folder(unbroken, capsys):
    assert sorted(p.name for p in unbroken.iterdir()) == [
        "best", "history.csv", "last", "run.json", "vocab.json",
    ]  # fmt: skip
    info = json.loads((unbroken / "run.json").read_text())
    assert info["settings"]["corpus"] == "shakespeare" and info["settings"]["n_layer"] == 2
    vocab = runs.load_vocab(unbroken)
    assert (
        info["settings"]["vocab_size"]
        == len(vocab)
        == checkpoint.read_config(unbroken / "best").vocab_size
    )
    assert checkpoint.load_trainer_state(unbroken / "last")["step"] == STEPS
    h = history(unbroken)
    assert h["val_loss"].notna().tolist() == [False, False, True, False, False, True]

    # the same command once more: nothing left to train, says so
    assert cli.main(train_args(unbroken)) == 0
    assert "already trained" in capsys.readouterr().out


def test_pause_and_rerun_continue_to_the_unbroken_result(tmp_path, unbroken, capsys):
    out = tmp_path / "run"
    assert cli.main(train_args(out, "--pause-after", "4")) == 0
    assert "paused at step 4" in capsys.readouterr().out
    assert len(history(out)) == 4
    # the same command again continues from last/ (and says so) ...
    assert cli.main(train_args(out, "--pause-after", "4")) == 0
    printed = capsys.readouterr().out
    assert "resuming" in printed and "from step 4" in printed and "finished at step 6" in printed
    # ... to exactly the run trained in one go: same losses, lr, grad norms, weights
    assert_same_run(out, unbroken)


def test_ctrl_c_whose_save_is_cut_short_names_the_step_last_really_holds(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert cli.main(train_args(out, "--pause-after", "3")) == 0  # last/ holds step 3
    real_step = Trainer._train_step

    def interrupted_at_step_5(self):
        if self.step == 5:
            raise KeyboardInterrupt
        real_step(self)

    def second_ctrl_c_during_save(self, *args, **kwargs):  # last/ keeps step 3
        raise KeyboardInterrupt

    with monkeypatch.context() as mp:
        mp.setattr(Trainer, "_train_step", interrupted_at_step_5)
        mp.setattr(Trainer, "save", second_ctrl_c_during_save)
        assert cli.main(train_args(out, "--checkpoint-every", "100")) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert "interrupted at step 5" in err and "holds step 3" in err
    assert "saved" not in err  # never claims a save that did not happen
    assert checkpoint.load_trainer_state(out / "last")["step"] == 3


def test_left_out_options_are_taken_from_the_run(tmp_path, unbroken):
    out = tmp_path / "run"
    assert cli.main(train_args(out, "--pause-after", "2")) == 0
    assert cli.main(["train", "gpt", "--out", str(out), "--no-progress", "--device", "cpu"]) == 0
    assert_same_run(out, unbroken)


def test_ctrl_c_saves_last_exits_130_and_resumes_exactly(tmp_path, unbroken, monkeypatch, capsys):
    out = tmp_path / "run"
    real_step = Trainer._train_step

    def interrupted_at_step_3(self):  # as if Ctrl-C came while step 4 was computed
        if self.step == 3:
            raise KeyboardInterrupt
        real_step(self)

    with monkeypatch.context() as mp:
        mp.setattr(Trainer, "_train_step", interrupted_at_step_3)
        assert cli.main(train_args(out)) == cli.EXIT_INTERRUPTED == 130
    err = capsys.readouterr().err
    assert "interrupted at step 3" in err and "holds step 3" in err and "again to continue" in err
    assert checkpoint.load_trainer_state(out / "last")["step"] == 3
    assert len(history(out)) == 3

    assert cli.main(train_args(out)) == 0
    assert_same_run(out, unbroken)


def test_other_settings_in_an_existing_run_are_an_error_naming_them(unbroken, capsys):
    before = (unbroken / "run.json").read_text()
    assert cli.main(train_args(unbroken, "--lr", "0.003", "--batch-size", "8")) == 2
    err = capsys.readouterr().err
    assert "--lr: 0.001 in the run folder, 0.003 now" in err
    assert "--batch-size: 4 in the run folder, 8 now" in err
    assert "--max-steps" not in err and "new --out folder" in err
    assert (unbroken / "run.json").read_text() == before


def test_a_folder_that_is_not_a_run_is_left_alone(tmp_path, capsys):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    assert cli.main(train_args(out)) == 2
    assert "not a labkit run folder" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]


def test_a_run_that_failed_before_its_first_step_takes_new_settings(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"

    def fails(self):
        raise ValueError("the first step failed")

    with monkeypatch.context() as mp:
        mp.setattr(Trainer, "_train_step", fails)
        assert cli.main(train_args(out)) == 2
    assert "the first step failed" in capsys.readouterr().err and (out / "run.json").is_file()
    assert cli.main(train_args(out, "--lr", "0.002", "--pause-after", "1")) == 0
    assert json.loads((out / "run.json").read_text())["settings"]["lr"] == 0.002


def test_bad_option_values_are_readable_errors(tmp_path, capsys):
    assert cli.main(train_args(tmp_path / "a", "--n-embd", "30", "--n-head", "4")) == 2
    assert "--n-embd 30" in capsys.readouterr().err
    assert cli.main(train_args(tmp_path / "b", "--data", "nope")) == 2
    assert "known" in capsys.readouterr().err
    assert cli.main(train_args(tmp_path / "c", "--max-steps", "0")) == 2  # the parser's check
    assert one_error_line(capsys).startswith("error: argument --max-steps: must be a whole")
    assert cli.main(train_args(tmp_path / "d", "--block-size", "5000")) == 2
    assert "--block-size 5000" in one_error_line(capsys)
    assert cli.main(train_args(tmp_path / "e", "--n-embd", "1000000")) == 2
    assert "cannot train on cpu" in one_error_line(capsys)
    assert cli.main(train_args(tmp_path / "f", "--warmup-steps", "7")) == 2
    assert "--warmup-steps 7" in one_error_line(capsys)
    assert not any((tmp_path / x).exists() for x in "abcdef")  # refused before writing


# ---------------------------------------------------------------------------------- generate


def generate(run: Path, *extra: str) -> list[str]:
    return ["generate", "--checkpoint", str(run), "--device", "cpu", *extra]


def test_generate_streams_text_reproducibly(unbroken, capsys):
    args = generate(unbroken, "--prompt", "ROMEO:", "--max-new-tokens", "40", "--seed", "1")
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 40 + 1  # + final newline
    assert set(text) <= set(runs.load_vocab(unbroken).chars)
    assert cli.main(args) == 0
    assert capsys.readouterr().out == text  # same seed, same text
    assert cli.main([*args[:-2], "--seed", "1", "--which", "last", "--temperature", "0"]) == 0
    greedy = capsys.readouterr().out
    assert (
        cli.main(
            generate(
                unbroken / "last",
                "--prompt",
                "ROMEO:",
                "--max-new-tokens",
                "40",
                "--temperature",
                "0",
            )
        )
        == 0
    )
    assert capsys.readouterr().out == greedy  # a checkpoint folder works as --checkpoint too


def test_generate_stops_before_the_stop_string(unbroken, capsys):
    assert cli.main(generate(unbroken, "--max-new-tokens", "200", "--seed", "0")) == 0
    full = capsys.readouterr().out[:-1]
    stop = full[5:7]  # two characters the model does write
    assert (
        cli.main(generate(unbroken, "--max-new-tokens", "200", "--seed", "0", "--stop", stop)) == 0
    )
    assert capsys.readouterr().out[:-1] == full[: full.index(stop)]
    # --escapes: "\\n" typed on a command line is a new line
    assert "\n" in full[1:]
    args = generate(
        unbroken, "--max-new-tokens", "200", "--seed", "0", "--escapes", "--stop", "\\n"
    )
    assert cli.main([*args, "--prompt", "\\n"]) == 0
    assert capsys.readouterr().out[:-1] == full[: full.index("\n", 1)]


def test_unknown_prompt_characters_are_listed(unbroken, capsys):
    assert cli.main(generate(unbroken, "--prompt", "Zoë paid 5€ for Zoë")) == 2
    err = capsys.readouterr().err
    assert "'Z' (U+005A)" in err and "'ë' (U+00EB)" in err and "'€' (U+20AC)" in err
    assert err.count("U+00EB") == 1  # each character once
    assert "knows only these" in err


def test_generate_without_a_best_checkpoint_points_to_last(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(train_args(out, "--pause-after", "2")) == 0  # no validation yet
    assert cli.main(generate(out)) == 2
    assert "--which last" in capsys.readouterr().err
    assert cli.main(generate(out, "--which", "last", "--max-new-tokens", "5")) == 0
    assert cli.main(generate(tmp_path)) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_python_dash_m_labkit_reports_errors_with_code_2():
    done = subprocess.run(  # `data` imports no torch, so this costs well under a second
        [sys.executable, "-m", "labkit", "data", "fetch", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.startswith("error: unknown corpus 'nope'")


# -------------------------------------------------------------------------------- help, data


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ([], ["train", "generate", "data", "--debug", cli.DEBUG_ENV]),
        (["train", "gpt"], ["--max-chars", "--pause-after", "continue", "best/", "torchrun"]),
        (["generate"], ["--temperature", "--top-p", "--stop", "likeliest", "--debug"]),
    ],
)
def test_help_explains_the_commands(command, words, capsys):
    assert cli.main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    assert all(w in text for w in words), text


def test_data_list_and_fetch_through_a_mirror_folder(tmp_path, monkeypatch, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copyfile(default_corpus_in_test_cache(), mirror / "shakespeare.txt")
    monkeypatch.setenv("LABKIT_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path / "cache"))
    assert cli.main(["data", "list"]) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "not cached" in listed["shakespeare"] and "tinyshakespeare" in listed
    assert cli.main(["data", "fetch", "shakespeare"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == tmp_path / "cache" / "shakespeare.txt"
    assert path.stat().st_size == data.REGISTRY["shakespeare"].size
    assert cli.main(["data", "list"]) == 0
    assert " cached" in capsys.readouterr().out.split("shakespeare")[1].splitlines()[0]
    assert cli.main(["data", "fetch", "nope"]) == 2
    assert "known corpora" in capsys.readouterr().err


def default_corpus_in_test_cache() -> Path:
    return Path(os.environ["LABKIT_DATA_DIR"]) / "shakespeare.txt"


# ---------------------------------------------------------------------------- labkit.runs API


def test_runs_load_gives_model_and_vocab_for_notebooks(unbroken):
    from labkit.generate import generate_text

    model, vocab = runs.load(unbroken, device="cpu")
    assert not model.training and model.config.vocab_size == len(vocab)
    text = generate_text(model, vocab.encode("ROMEO:", as_tensor=True)[None], 10, vocab.decode)
    assert len(text) == 10
    assert runs.unknown_chars(vocab, "abZZé") == ["Z", "é"]
    with pytest.raises(ValueError, match="which"):
        runs.find_checkpoint(unbroken, "worst")


def test_differences_treat_tuples_as_lists_and_name_missing_keys():
    assert (
        runs.differences({"betas": [0.9, 0.99], "lr": 1e-3}, {"betas": (0.9, 0.99), "lr": 0.001})
        == []
    )
    assert runs.differences({"a": 1}, {"a": 2, "b": 3}) == [("a", 1, 2), ("b", None, 3)]


# ------------------------------------------------------------------ errors: one line, exit 2


def one_error_line(capsys) -> str:
    """stderr of the last command, checked to be exactly one ``error:`` line."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_device_cuda_without_cuda_is_one_line(tmp_path, unbroken, monkeypatch, capsys, device):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cli.main(train_args(tmp_path / "run", "--device", device)) == 2
    assert f"--device {device}: torch sees no CUDA GPU" in one_error_line(capsys)
    assert not (tmp_path / "run").exists()
    assert cli.main(generate(unbroken, "--device", device)) == 2
    assert "--device cpu" in one_error_line(capsys)
    assert cli.main(generate(unbroken, "--device", "meta")) == 2
    assert "is not a device" in one_error_line(capsys)


def refuse_writes_in(monkeypatch, folder: Path, err: int) -> None:
    """Every file or folder created inside ``folder`` fails with ``err`` (as on a read-only or
    full disk; simulated, since root may write anywhere)."""
    import tempfile

    inside = str(folder.resolve())

    def guard(real):
        def call(*args, **kwargs):
            target = kwargs.get("dir") or (args[0] if args else "")
            if str(Path(os.fspath(target)).resolve()).startswith(inside):
                raise OSError(err, os.strerror(err), os.fspath(target))
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(os, "mkdir", guard(os.mkdir))
    monkeypatch.setattr(tempfile, "mkstemp", guard(tempfile.mkstemp))


def test_read_only_out_is_one_line(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    refuse_writes_in(monkeypatch, folder, errno.EACCES)
    try:
        assert cli.main(train_args(folder / "run")) == 2
    finally:
        folder.chmod(0o755)
    line = one_error_line(capsys)
    assert "cannot write" in line and str(folder / "run") in line and "Permission denied" in line


def test_full_disk_during_training_is_one_line_and_keeps_the_last_save(
    tmp_path, monkeypatch, capsys
):
    out = tmp_path / "run"
    assert cli.main(train_args(out, "--pause-after", "3")) == 0
    capsys.readouterr()
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # like a real write: no name

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(os, "fdopen", lambda *a, **k: FullDisk(real_fdopen(*a, **k)))
    assert cli.main(train_args(out)) == 2
    monkeypatch.undo()
    line = one_error_line(capsys)
    assert "no space left" in line and f"--out {out}" in line
    assert checkpoint.load_trainer_state(out / "last")["step"] == 3  # the last save is whole
    assert not [p for p in (out / "last").iterdir() if p.name.startswith(".")]


def test_truncated_checkpoint_given_to_generate_is_one_line(tmp_path, unbroken, capsys):
    run = tmp_path / "run"
    shutil.copytree(unbroken, run)
    for name in ("model.safetensors", "config.json"):
        path = run / "best" / name
        whole = path.read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
        assert cli.main(generate(run)) == 2
        assert str(run / "best") in one_error_line(capsys)
        path.write_bytes(whole)
    state = run / "last" / checkpoint.STATE
    state.write_bytes(state.read_bytes()[:100])
    assert cli.main(train_args(run)) == 2  # resuming from it
    one_error_line(capsys)


def test_a_diverging_run_names_the_step_and_suggests_a_smaller_lr(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(train_args(out, "--lr", "1e6", "--checkpoint-every", "1")) == 2
    line = one_error_line(capsys)
    assert "training diverged at step" in line and "smaller --lr (now 1e+06; try 0.001)" in line
    for which in ("best", "last"):
        if (out / which).is_dir():
            assert all(torch.isfinite(w).all() for w in weights(out / which).values()), which


def test_weights_that_overflow_never_overwrite_the_last_good_checkpoint(
    tmp_path, monkeypatch, capsys
):
    out = tmp_path / "run"
    real_step = Trainer._train_step

    def overflow_at_step_4(self):  # the update of step 4 overflows; its loss was still finite
        real_step(self)
        if self.step == 4:
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("inf"))

    monkeypatch.setattr(Trainer, "_train_step", overflow_at_step_4)
    assert cli.main(train_args(out, "--checkpoint-every", "1")) == 2
    line = one_error_line(capsys)
    assert "training diverged at step 4" in line and "keeps the weights of step 3" in line
    assert checkpoint.load_trainer_state(out / "last")["step"] == 3
    for which in ("best", "last"):
        assert all(torch.isfinite(w).all() for w in weights(out / which).values()), which


def test_ctrl_c_during_start_up_is_one_line_and_130(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "load_text", interrupted)
    assert cli.main(train_args(tmp_path / "run")) == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err.strip() == "interrupted"


def test_ctrl_c_while_torch_imports_is_not_lost(tmp_path):
    # numpy and torch catch exceptions while they import: a Ctrl-C raised inside can be lost,
    # leaving half-imported modules (and a traceback later). This import hook does the same.
    code = textwrap.dedent(
        f"""
        import os, signal, sys

        class SwallowsCtrlC:
            def find_spec(self, name, path=None, target=None):
                if name == "torch":
                    sys.meta_path.remove(self)
                    try:
                        os.kill(os.getpid(), signal.SIGINT)
                        sum(range(1000))  # the signal is handled here, inside the try
                    except KeyboardInterrupt:
                        pass
                return None

        sys.meta_path.insert(0, SwallowsCtrlC())
        from labkit import cli
        sys.exit(cli.main({train_args(tmp_path / "run")!r}))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stderr.strip()) == (cli.EXIT_INTERRUPTED, "interrupted")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "error",
    [
        ValueError("config.json: 'format' must be an int, got str"),
        TypeError("model must be a torch.nn.Module, got str"),
        OSError(errno.EIO, "Input/output error", "weights.bin"),
        FileNotFoundError("no such checkpoint"),
        data.DataError("every source failed"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_library_errors_become_one_line(unbroken, monkeypatch, capsys, error):
    def fails(*args, **kwargs):
        raise error

    monkeypatch.setattr(runs, "load", fails)
    assert cli.main(generate(unbroken)) == 2
    line = one_error_line(capsys)
    assert (getattr(error, "strerror", None) or str(error)) in line
    assert "internal error" not in line


def test_a_bug_is_one_line_unless_debugging(unbroken, monkeypatch, capsys):
    def bug(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'chars'")

    monkeypatch.setattr(runs, "load", bug)
    assert cli.main(generate(unbroken)) == 2
    line = one_error_line(capsys)
    assert "internal error in labkit (AttributeError" in line and "--debug" in line
    with pytest.raises(AttributeError):  # the traceback, for developers
        cli.main(["--debug", *generate(unbroken)])
    with pytest.raises(AttributeError):
        cli.main([*generate(unbroken), "--debug"])
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    with pytest.raises(AttributeError):
        cli.main(generate(unbroken))


def test_a_checkpoint_file_that_cannot_be_decoded_is_named(unbroken, monkeypatch, capsys):
    import pickle

    from safetensors import SafetensorError

    for error in (SafetensorError("invalid header length"), pickle.UnpicklingError("bad")):

        def fails(*args, error=error, **kwargs):
            raise error

        monkeypatch.setattr(runs, "load", fails)
        assert cli.main(generate(unbroken)) == 2
        line = one_error_line(capsys)
        assert f"checkpoint in {unbroken} (--which best) is damaged" in line and str(error) in line
