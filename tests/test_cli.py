"""The command line: train → pause/interrupt → resume (= an unbroken run) → generate; errors.

Everything runs in-process through ``labkit.cli.main`` on a 20,000-character slice of
``tinyshakespeare`` (from the mirror folder ``../shared/data``, copied into a temporary cache)
with the ``tiny`` preset, so a training run takes a fraction of a second.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from labkit import checkpoint, cli, runs
from labkit.train import Trainer

MIRROR = Path(
    os.environ.get("LABKIT_DATA_MIRROR") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
STEPS = 6


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory):
    """A private data cache fed by the mirror; one torch thread (tiny models, shared CPUs)."""
    if not (MIRROR / "tinyshakespeare.txt").is_file():
        pytest.skip(f"no tinyshakespeare.txt in the mirror folder {MIRROR}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_DATA_DIR", str(tmp_path_factory.mktemp("cache")))
        mp.setenv("LABKIT_DATA_MIRROR", str(MIRROR))
        yield
    torch.set_num_threads(threads)


def train_args(out: Path, *extra: str) -> list[str]:
    """A tiny run: 6 steps of 4 × 32 characters, validation at steps 3 and 6."""
    return [
        "train", "gpt", "--data", "tinyshakespeare", "--max-chars", "20000", "--preset", "tiny",
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
    assert info["settings"]["corpus"] == "tinyshakespeare" and info["settings"]["n_layer"] == 2
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
    assert "interrupted at step 3" in err and "again to continue" in err
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


def test_a_run_that_failed_before_its_first_step_takes_new_settings(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(train_args(out, "--device", "nonsense")) == 2
    assert "device" in capsys.readouterr().err and (out / "run.json").is_file()
    assert cli.main(train_args(out, "--lr", "0.002", "--pause-after", "1")) == 0
    assert json.loads((out / "run.json").read_text())["settings"]["lr"] == 0.002


def test_bad_option_values_are_readable_errors(tmp_path, capsys):
    assert cli.main(train_args(tmp_path / "a", "--n-embd", "30", "--n-head", "4")) == 2
    assert "n_embd" in capsys.readouterr().err
    assert cli.main(train_args(tmp_path / "b", "--data", "nope")) == 2
    assert "known" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse's own check
        cli.main(train_args(tmp_path / "c", "--max-steps", "0"))
    assert exc.value.code == 2


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
        ([], ["train", "generate", "data"]),
        (["train", "gpt"], ["--max-chars", "--pause-after", "continue", "best/"]),
        (["generate"], ["--temperature", "--top-p", "--stop", "likeliest"]),
    ],
)
def test_help_explains_the_commands(command, words, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([*command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert all(w in text for w in words), text


def test_data_list_and_fetch_through_the_mirror(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path / "cache"))
    assert cli.main(["data", "list"]) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "not cached" in listed["tinyshakespeare"] and "shakespeare" in listed
    assert cli.main(["data", "fetch", "tinyshakespeare"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == tmp_path / "cache" / "tinyshakespeare.txt" and path.stat().st_size == 1_115_394
    assert cli.main(["data", "list"]) == 0
    assert " cached" in capsys.readouterr().out.split("tinyshakespeare")[1].splitlines()[0]
    assert cli.main(["data", "fetch", "nope"]) == 2
    assert "known corpora" in capsys.readouterr().err


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
