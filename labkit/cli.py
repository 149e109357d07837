"""Command line for work outside notebooks: ``python -m labkit train|generate|data|classroom …``.

    python -m labkit train gpt --out runs/shakespeare            train a GPT on Shakespeare
    python -m labkit train gpt --out runs/shakespeare            ... again: continue where it stopped
    python -m labkit generate --checkpoint runs/shakespeare --prompt "ROMEO:"
    python -m labkit data list                 the registered corpora
    python -m labkit data fetch shakespeare    download/build, verify and cache a corpus
    python -m labkit classroom export DIR      instructor notebooks in nbgrader's source format

Every command answers ``--help``. Errors are one readable line on stderr and exit code 2;
Ctrl-C during training saves a checkpoint and exits with code 130.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C

# --------------------------------------------------------------------------------------- data


def _data_list(args: argparse.Namespace) -> int:
    from labkit import data

    for corpus in data.REGISTRY.values():
        cached = "cached" if data.is_cached(corpus.name) else "not cached"
        print(f"{corpus.name:16s} {cached:11s} {corpus.description}")
    return 0


def _data_fetch(args: argparse.Namespace) -> int:
    from labkit import data

    path = data.fetch(args.name)
    print(path)
    return 0


def _classroom_export(args: argparse.Namespace) -> int:
    from labkit import classroom

    written = classroom.export(args.out, notebooks_dir=args.notebooks)
    for path in written:
        print(path)
    return 0


# -------------------------------------------------------------------------------------- train

#: What ``train gpt`` uses for an option the user leaves out on a *new* run. (On a run that
#: already exists, a left-out option takes the value the run was started with.)
TRAIN_DEFAULTS: dict[str, Any] = {
    "corpus": "shakespeare",
    "max_chars": None,  # the whole corpus
    "val_fraction": 0.1,
    "preset": "small",
    "block_size": None,  # None: the preset's value
    "n_layer": None,
    "n_head": None,
    "n_embd": None,
    "dropout": None,
    "max_steps": 2000,
    "batch_size": 32,
    "lr": 1e-3,
    "min_lr": None,  # None: lr / 10
    "warmup_steps": None,  # None: 10 % of max_steps, at most 100
    "schedule": "cosine",
    "weight_decay": 0.1,
    "grad_clip": 1.0,
    "eval_every": 200,
    "eval_batches": 20,
    "seed": 0,
}

#: Settings whose option is not simply ``--`` + the name with dashes.
_OPTION_NAMES = {"corpus": "--data"}
_MODEL_OVERRIDES = ("block_size", "n_layer", "n_head", "n_embd", "dropout")


def _option(key: str) -> str:
    """The command-line option that sets ``key`` (for error messages)."""
    return _OPTION_NAMES.get(key, "--" + key.replace("_", "-"))


def _train_choices(args: argparse.Namespace, saved: dict[str, Any] | None) -> dict[str, Any]:
    """The user's choices: the options given now, the rest from the saved run or the defaults."""
    base = dict(TRAIN_DEFAULTS)
    if saved is not None:
        base.update({k: v for k, v in saved.get("choices", {}).items() if k in base})
    given = {k: getattr(args, k) for k in TRAIN_DEFAULTS if getattr(args, k, None) is not None}
    return {**base, **given}


def _train_settings(choices: dict[str, Any], vocab_size: int) -> tuple[Any, Any, dict[str, Any]]:
    """``(GPTConfig, TrainConfig without out_dir, flat settings dict)`` from the choices."""
    import dataclasses

    from labkit.gpt import GPTConfig
    from labkit.train import TrainConfig

    overrides = {k: choices[k] for k in _MODEL_OVERRIDES if choices[k] is not None}
    model_config = GPTConfig.preset(choices["preset"], vocab_size=vocab_size, **overrides)
    max_steps = choices["max_steps"]
    warmup = choices["warmup_steps"]
    warmup = min(100, max_steps // 10) if warmup is None else warmup
    lr = choices["lr"]
    min_lr = lr / 10 if choices["min_lr"] is None else choices["min_lr"]
    train_config = TrainConfig(
        max_steps=max_steps,
        batch_size=choices["batch_size"],
        block_size=model_config.block_size,
        optimizer="adamw",
        lr=lr,
        weight_decay=choices["weight_decay"],
        schedule=choices["schedule"],
        warmup_steps=warmup,
        min_lr=min_lr,
        grad_clip=choices["grad_clip"] or None,
        eval_every=choices["eval_every"],
        eval_batches=choices["eval_batches"],
        seed=choices["seed"],
    )
    # what decides the result (not where it is saved, nor how it is shown)
    skip = {"out_dir", "progress", "checkpoint_every", "log_every"}
    settings = {
        "model": "gpt",
        "corpus": choices["corpus"],
        "max_chars": choices["max_chars"],
        "val_fraction": choices["val_fraction"],
        "preset": choices["preset"],
        **dataclasses.asdict(model_config),
        **{k: v for k, v in dataclasses.asdict(train_config).items() if k not in skip},
    }
    settings["betas"] = list(settings["betas"])
    return model_config, train_config, settings


class _Report:
    """A Trainer callback that prints one line per validation above the progress bar."""

    def on_eval(self, trainer: Any, row: dict[str, float]) -> None:
        from tqdm.auto import tqdm

        best = "  (new best: saved to best/)" if row["val_loss"] <= trainer.best_val_loss else ""
        tqdm.write(
            f"step {int(row['step']):>6d}  train loss {row['train_loss']:.4f}  "
            f"val loss {row['val_loss']:.4f}{best}"
        )


def _train_gpt(args: argparse.Namespace) -> int:
    import dataclasses
    import math

    import labkit
    from labkit import checkpoint, data, runs
    from labkit.gpt import GPT
    from labkit.train import Trainer

    out = Path(args.out)
    # a run that has trained lends its choices to the options left out now
    saved = runs.read_run(out) if runs.has_checkpoint(out) else None
    choices = _train_choices(args, saved)
    if choices["corpus"] not in data.REGISTRY:
        known = ", ".join(sorted(data.REGISTRY))
        raise ValueError(f"--data {choices['corpus']!r} is not a known corpus; known: {known}")
    if choices["max_chars"] is not None and choices["max_chars"] < 2:
        raise ValueError(f"--max-chars must be at least 2, got {choices['max_chars']}")

    text = data.load_text(choices["corpus"])
    if choices["max_chars"] is not None:
        text = text[: choices["max_chars"]]
    vocab = data.CharVocab.from_text(text)
    tokens = vocab.encode(text, as_tensor=True)
    train_ids, val_ids = data.split(tokens, choices["val_fraction"])
    model_config, train_config, settings = _train_settings(choices, len(vocab))
    train_config = dataclasses.replace(
        train_config,
        out_dir=str(out),
        progress=not args.no_progress,
        checkpoint_every=args.checkpoint_every or train_config.eval_every,
    )

    command = {"choices": choices, "command": " ".join(["python -m labkit", *args.argv])}
    resume_from = runs.prepare(out, settings, vocab, describe=_option, extra=command)

    labkit.seed(train_config.seed)  # the initial weights
    model = GPT(model_config)
    trainer = Trainer(
        model, train_ids, val_ids, train_config, device=args.device, callbacks=[_Report()]
    )
    if resume_from is not None:
        step = int(checkpoint.load_trainer_state(resume_from)["step"])
        if step >= train_config.max_steps:
            print(
                f"{out} is already trained: it reached --max-steps {train_config.max_steps}. "
                f"Generate from it with\n  python -m labkit generate --checkpoint {out}\n"
                "To train longer, start a new run (a new --out folder) with a larger --max-steps."
            )
            return 0
        print(f"resuming {out} from step {step} (checkpoint {resume_from})")
    else:
        print(f"new run in {out}")
    print(
        f"corpus {choices['corpus']}: {len(text):,} characters, vocabulary {len(vocab)}; "
        f"{len(train_ids):,} train / {len(val_ids):,} validation tokens\n"
        f"model GPT preset {choices['preset']!r}: {model.num_params():,} parameters, "
        f"{model_config.n_layer} layers, {model_config.n_head} heads, "
        f"{model_config.n_embd}-dim embeddings, context {model_config.block_size}; "
        f"device {trainer.device}\n"
        f"training {train_config.max_steps} steps of {train_config.batch_size} x "
        f"{train_config.block_size} tokens, AdamW lr {train_config.lr:g} "
        f"({train_config.schedule}, {train_config.warmup_steps} warm-up steps)"
    )
    try:
        history = trainer.fit(steps=args.pause_after, resume_from=resume_from)
    except KeyboardInterrupt:
        runs.write_history(out, trainer.history)
        print(
            f"\ninterrupted at step {trainer.step}; saved {out / 'last'}. Run the same command "
            "again to continue from there.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    runs.write_history(out, history)
    done = trainer.step >= train_config.max_steps
    best = trainer.best_val_loss
    print(
        f"{'finished' if done else 'paused'} at step {trainer.step}"
        + (
            f"; best validation loss {best:.4f} (checkpoint {out / 'best'})"
            if math.isfinite(best)
            else ""
        )
    )
    if not done:
        print("run the same command again to continue")
    print(f"generate text with:\n  python -m labkit generate --checkpoint {out} --prompt ...")
    return 0


# ----------------------------------------------------------------------------------- generate


def _unescape(text: str) -> str:
    """Python's backslash escapes (``\\n``, ``\\t``, ``\\u00e9`` …) in ``text`` turned into
    the characters they stand for; other characters are kept as they are."""
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")


def _generate(args: argparse.Namespace) -> int:
    import torch

    from labkit import runs
    from labkit.device import as_device
    from labkit.generate import stream

    model, vocab = runs.load(args.checkpoint, args.which, device=as_device(args.device))
    prompt, stops = args.prompt, args.stop
    if args.escapes:
        prompt = _unescape(prompt)
        stops = None if stops is None else [_unescape(s) for s in stops]
    if not prompt:
        raise ValueError("--prompt must hold at least one character")
    unknown = runs.unknown_chars(vocab, prompt)
    if unknown:
        listed = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in unknown)
        known = "".join(vocab.chars)
        raise ValueError(
            f"the prompt has {len(unknown)} character(s) that the model's vocabulary does not "
            f"know: {listed}. The model knows only these {len(vocab)} characters: {known!r}"
        )
    device = next(model.parameters()).device
    idx = vocab.encode(prompt, as_tensor=True)[None].to(device)
    generator = torch.Generator().manual_seed(args.seed) if args.seed is not None else None
    out = sys.stdout
    out.write(prompt)
    out.flush()
    for token in stream(
        model,
        idx,
        args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        generator=generator,
        stop=stops,
        decode=vocab.decode,
    ):
        out.write(vocab.decode([token]))
        out.flush()
    out.write("\n")
    return 0


# ------------------------------------------------------------------------------------- parser


def _wrap(text: str) -> str:
    """A help paragraph wrapped to the terminal's width (at most 100 columns)."""
    import shutil
    import textwrap

    return textwrap.fill(text, width=min(100, shutil.get_terminal_size().columns - 2))


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def _add_train_gpt(train_cmds: Any) -> None:
    p = train_cmds.add_parser(
        "gpt",
        help="train a character-level GPT on a corpus",
        description=_wrap(
            "Train a character-level GPT: build the vocabulary from the corpus (every "
            "distinct character is a token), make a GPT of the chosen size, and train it, saving "
            "checkpoints in the --out folder (best/ = lowest validation loss, last/ = latest "
            "step). Run the same command again to continue an interrupted run (Ctrl-C saves one)."
        ),
        epilog=_wrap(
            "Options you leave out take their default on a new run, and the value the run was "
            "started with when --out already holds a run."
        )
        + "\n\nExample:\n"
        "  python -m labkit train gpt --data shakespeare --preset small --out runs/shakespeare\n"
        "  python -m labkit generate --checkpoint runs/shakespeare --prompt 'ROMEO:'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = TRAIN_DEFAULTS
    p.add_argument("--out", required=True, help="the run folder, e.g. runs/shakespeare")
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        dest="corpus",
        metavar="CORPUS",
        help=f"which corpus to train on (default {d['corpus']}; see `python -m labkit data list`)",
    )
    g.add_argument(
        "--max-chars",
        type=_positive_int,
        metavar="N",
        help="use only the first N characters of the corpus, for a quick try (default: all)",
    )
    g.add_argument(
        "--val-fraction",
        type=float,
        metavar="F",
        help=f"the share of the text (its end) kept aside for validation (default {d['val_fraction']})",
    )
    g = p.add_argument_group("model")
    g.add_argument(
        "--preset",
        choices=("tiny", "small", "shakespeare-char"),
        help=f"the model size (default {d['preset']}: 4 layers, 4 heads, 128-dim, context 128)",
    )
    g.add_argument(
        "--block-size",
        type=_positive_int,
        metavar="T",
        help="context length in characters (default: the preset's)",
    )
    g.add_argument(
        "--n-layer",
        type=_positive_int,
        metavar="L",
        help="Transformer blocks (default: the preset's)",
    )
    g.add_argument(
        "--n-head",
        type=_positive_int,
        metavar="H",
        help="attention heads per block (default: the preset's)",
    )
    g.add_argument(
        "--n-embd",
        type=_positive_int,
        metavar="D",
        help="embedding width, divisible by --n-head (default: the preset's)",
    )
    g.add_argument(
        "--dropout",
        type=float,
        metavar="P",
        help="dropout probability while training (default: the preset's)",
    )
    g = p.add_argument_group("training")
    g.add_argument(
        "--max-steps",
        type=_positive_int,
        metavar="N",
        help=f"optimiser steps in the whole run (default {d['max_steps']})",
    )
    g.add_argument(
        "--batch-size",
        type=_positive_int,
        metavar="B",
        help=f"text windows per step (default {d['batch_size']})",
    )
    g.add_argument("--lr", type=float, help=f"peak learning rate of AdamW (default {d['lr']:g})")
    g.add_argument(
        "--min-lr",
        type=float,
        help="learning rate at the end of the cosine decay (default: --lr / 10)",
    )
    g.add_argument(
        "--warmup-steps",
        type=int,
        metavar="N",
        help="steps of linear warm-up from 0 (default: 10%% of --max-steps, at most 100)",
    )
    g.add_argument(
        "--schedule",
        choices=("cosine", "constant"),
        help=f"learning rate after warm-up (default {d['schedule']})",
    )
    g.add_argument(
        "--weight-decay",
        type=float,
        metavar="W",
        help=f"AdamW's decoupled weight decay on weight matrices (default {d['weight_decay']})",
    )
    g.add_argument(
        "--grad-clip",
        type=float,
        metavar="C",
        help=f"clip the gradient norm to C, 0 = no clipping (default {d['grad_clip']})",
    )
    g.add_argument(
        "--eval-every",
        type=_positive_int,
        metavar="N",
        help=f"measure the validation loss every N steps (default {d['eval_every']})",
    )
    g.add_argument(
        "--eval-batches",
        type=_positive_int,
        metavar="N",
        help=f"batches per validation (default {d['eval_batches']})",
    )
    g.add_argument(
        "--seed",
        type=int,
        help=f"seeds the initial weights and the batch order (default {d['seed']})",
    )
    g = p.add_argument_group("this session only (not part of the run's settings)")
    g.add_argument("--device", help="cpu, cuda, cuda:1 or mps (default: the best available)")
    g.add_argument(
        "--pause-after",
        type=_positive_int,
        metavar="N",
        help="train at most N steps now, save last/ and stop; run the command again to continue",
    )
    g.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        metavar="N",
        help="save last/ every N steps, so a crash loses little (default: --eval-every)",
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_train_gpt)


def _add_generate(commands: Any) -> None:
    p = commands.add_parser(
        "generate",
        help="write text with a trained model",
        description=_wrap(
            "Continue a prompt with a model trained by `python -m labkit train`, "
            "printing each character as soon as it is chosen. Every step the model gives a "
            "probability to each possible next character; --temperature, --top-k and --top-p "
            "reshape that distribution before one character is drawn from it."
        ),
        epilog="Example:\n  python -m labkit generate --checkpoint runs/shakespeare "
        "--prompt 'ROMEO:' --max-new-tokens 300 --temperature 0.8 --top-p 0.9 --stop '\\n\\n'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoint", required=True, help="the run folder given to train as --out")
    p.add_argument(
        "--which",
        choices=("best", "last"),
        default="best",
        help="best = lowest validation loss (default), last = the latest step",
    )
    p.add_argument("--prompt", default="\n", help="the text to continue (default: a new line)")
    p.add_argument(
        "--max-new-tokens",
        type=_positive_int,
        default=500,
        metavar="N",
        help="how many characters to add at most (default 500)",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=0.8,
        metavar="T",
        help="< 1 more predictable, > 1 more surprising, 0 = always the likeliest (default 0.8)",
    )
    p.add_argument(
        "--top-k", type=_positive_int, metavar="K", help="draw only from the K likeliest characters"
    )
    p.add_argument(
        "--top-p",
        type=float,
        metavar="P",
        help="draw only from the likeliest characters that together have probability P (e.g. 0.9)",
    )
    p.add_argument(
        "--seed", type=int, help="the same seed gives the same text (default: different each time)"
    )
    p.add_argument(
        "--stop",
        action="append",
        metavar="STR",
        help="stop before this text appears (repeatable); with --escapes, '\\n' is a new line",
    )
    p.add_argument(
        "--escapes",
        action="store_true",
        help="read \\n, \\t ... in --prompt and --stop as new line, tab ...",
    )
    p.add_argument("--device", help="cpu, cuda, cuda:1 or mps (default: the best available)")
    p.set_defaults(func=_generate)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m labkit`` argument parser with all its commands."""
    parser = argparse.ArgumentParser(
        prog="python -m labkit",
        description="LLM Lab command line: train a model, generate text, manage corpora.",
        epilog="`python -m labkit COMMAND --help` explains a command.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train_p = commands.add_parser(
        "train", help="train a model (see `train gpt --help`)", description="Train a model."
    )
    train_cmds = train_p.add_subparsers(dest="model", required=True, metavar="MODEL")
    _add_train_gpt(train_cmds)
    _add_generate(commands)

    data_p = commands.add_parser("data", help="corpora: list, fetch")
    data_cmds = data_p.add_subparsers(dest="data_command", required=True)
    data_cmds.add_parser("list", help="list the registered corpora").set_defaults(func=_data_list)
    fetch_p = data_cmds.add_parser("fetch", help="download or build, verify and cache a corpus")
    fetch_p.add_argument("name", help="corpus name (see `data list`)")
    fetch_p.set_defaults(func=_data_fetch)

    class_p = commands.add_parser("classroom", help="teacher tools")
    class_cmds = class_p.add_subparsers(dest="classroom_command", required=True)
    export_p = class_cmds.add_parser(
        "export", help="write instructor notebooks (nbgrader source format)"
    )
    export_p.add_argument("out", type=Path, help="output folder")
    export_p.add_argument(
        "--notebooks", type=Path, default=Path("notebooks"), help="the course notebooks"
    )
    export_p.set_defaults(func=_classroom_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 2 error, 130 interrupted)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
