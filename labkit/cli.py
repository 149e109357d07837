"""Command line for work outside notebooks: ``python -m labkit train|generate|data|classroom …``.

    python -m labkit train gpt --out runs/shakespeare            train a GPT on Shakespeare
    python -m labkit train gpt --out runs/shakespeare            ... again: continue where it stopped
    python -m labkit generate --checkpoint runs/shakespeare --prompt "ROMEO:"
    python -m labkit data list                 the registered corpora
    python -m labkit data fetch shakespeare    download/build, verify and cache a corpus
    python -m labkit classroom export DIR      instructor notebooks in nbgrader's source format

    torchrun --nproc_per_node 2 -m labkit train gpt --out runs/shakespeare
                                    the same on 2 processes (data-parallel, torch.distributed)

Every command answers ``--help``. Errors are one readable line on stderr (``error: ...``) and
exit code 2; Ctrl-C exits with code 130 (during training it first saves a checkpoint). Under
torchrun rank 0 prints and writes the run folder; the other ranks stay quiet but for their own
errors.
``--debug`` (or ``LABKIT_DEBUG=1``) shows the full traceback of an error instead, for developers.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
DEBUG_ENV = "LABKIT_DEBUG"


class UsageError(Exception):
    """A command line that argparse refuses (unknown option, a value of the wrong kind, ...)."""


class Diverged(FloatingPointError):
    """Training produced a NaN/inf loss or weights at ``step``."""

    def __init__(self, message: str, step: int) -> None:
        super().__init__(message)
        self.step = step


# ------------------------------------------------------------------------------ Ctrl-C, devices


@contextlib.contextmanager
def _ctrl_c_after_block() -> Iterator[None]:
    """Hold a Ctrl-C that comes inside the block and raise it as ``KeyboardInterrupt`` at its end.

    For imports: numpy and torch catch exceptions while they import, so an interrupt raised in
    the middle can be lost and leave a half-imported module behind (and a traceback later).
    Only the main thread can handle signals; elsewhere the block runs unguarded.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught and previous is not signal.SIG_IGN:
        raise KeyboardInterrupt


def _device(option: str | None) -> Any:
    """The ``torch.device`` that ``--device`` names, checked against this machine (``None``:
    the best one available)."""
    import torch

    from labkit.device import as_device

    if option is None:
        return as_device(None)
    try:
        device = as_device(option.strip())
    except ValueError:
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device {option!r} is not a device; use cpu, cuda, cuda:N or mps")
    hint = "leave --device out to use the best device available, or use --device cpu"
    if device.type == "cuda":
        if not torch.cuda.is_available():
            build = "" if torch.version.cuda else " (this torch was built without CUDA)"
            raise ValueError(f"--device {option}: torch sees no CUDA GPU here{build}; {hint}")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(
                f"--device {option}: this machine has {count} CUDA GPU(s), numbered from 0; {hint}"
            )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {option}: torch sees no Apple MPS device here; {hint}")
    return device


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

    notebooks = args.notebooks if args.notebooks is not None else classroom.course_notebooks()
    written = classroom.export(args.out, notebooks_dir=notebooks, force=args.force)
    for path in written:
        print(path)
    print(f"course folder for nbgrader: {args.out} (run nbgrader there; see the README's teacher guide)")
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
_OPTION_NAMES = {
    "corpus": "--data",
    "world_size": "the number of processes (torchrun --nnodes x --nproc_per_node)",
}
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


class _FiniteWeights:
    """A Trainer callback that stops training as soon as a weight is NaN or infinite.

    The Trainer calls ``on_step`` after each step and before it saves ``last/``, so weights
    broken by a diverging update never overwrite the last good checkpoint. (A NaN loss is
    caught by the Trainer itself; weights can overflow one step before the loss does.)
    """

    def on_step(self, trainer: Any, row: dict[str, float]) -> None:
        import torch

        if int(row["step"]) != trainer.step:  # only the newest of the rows flushed together
            return
        params = [p.detach() for p in trainer.model.parameters()]
        if not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):
            raise Diverged(
                f"the weights became NaN or infinite at step {trainer.step}", trainer.step
            )


def _size_of(key: str, choices: dict[str, Any], preset: dict[str, Any]) -> str:
    """``"--n-embd 30"`` when the user set it, else ``"32 (from --preset tiny)"``."""
    if choices.get(key) is not None:
        return f"{_option(key)} {choices[key]}"
    return f"{preset[key]} (from --preset {choices['preset']})"


def _check_choices(choices: dict[str, Any], n_chars: int) -> None:
    """The checks that involve several options, the preset or the corpus, phrased in the
    command's options (each option alone is checked by the parser)."""
    from labkit.gpt import PRESETS

    preset = PRESETS[choices["preset"]]
    size = {k: choices[k] if choices[k] is not None else preset.get(k) for k in _MODEL_OVERRIDES}
    if size["n_embd"] % size["n_head"]:
        raise ValueError(
            f"the embedding width {_size_of('n_embd', choices, preset)} must be divisible by the "
            f"number of heads {_size_of('n_head', choices, preset)}; change --n-embd or --n-head"
        )
    max_steps, warmup = choices["max_steps"], choices["warmup_steps"]
    if warmup is not None and warmup > max_steps:
        raise ValueError(
            f"--warmup-steps {warmup} is more than the whole run (--max-steps {max_steps})"
        )
    if choices["min_lr"] is not None and choices["min_lr"] > choices["lr"]:
        raise ValueError(
            f"--min-lr {choices['min_lr']:g} is above the peak learning rate --lr {choices['lr']:g}"
        )
    n_val = round(n_chars * choices["val_fraction"])
    n_train = n_chars - n_val
    block = size["block_size"]
    if min(n_train, n_val) <= block:
        raise ValueError(
            f"{n_chars:,} characters with --val-fraction {choices['val_fraction']:g} give "
            f"{n_train:,} for training and {n_val:,} for validation, but each part needs more "
            f"than the context length {_size_of('block_size', choices, preset)}; use more text "
            "(--max-chars), another --val-fraction or a smaller --block-size"
        )


def _memory_bytes(device: Any) -> int | None:
    """The memory of ``device`` in bytes (the machine's RAM for the CPU and MPS), if known."""
    import torch

    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # e.g. Windows
        return None


def _check_fits(model_config: Any, batch_size: int, device: Any) -> None:
    """Refuse a model that cannot train in the memory of ``device`` before allocating it.

    A rough lower bound, in float32: weights, gradients and AdamW's two moments (16 bytes per
    parameter) plus the activations kept for the backward pass, per layer and token about
    ``14·d`` values and ``2·h·T`` attention weights.
    """
    c = model_config
    params = c.param_count()
    activations = (
        batch_size * c.block_size * c.n_layer * (14 * c.n_embd + 2 * c.n_head * c.block_size)
    )
    need = 4 * (4 * params + activations)
    have = _memory_bytes(device)
    if have is not None and need > have:
        raise ValueError(
            f"this model cannot train on {device}: it needs at least {need / 2**30:,.1f} GiB "
            f"({params:,} parameters, batches of {batch_size} x {c.block_size} tokens) and "
            f"{device} has {have / 2**30:,.1f} GiB; choose a smaller --preset, --n-layer, "
            "--n-embd, --block-size or --batch-size"
        )


def _diverged(err: FloatingPointError, trainer: Any, lr: float, out: Path) -> ValueError:
    """The error for a run whose loss or weights became NaN/inf, in the command's terms."""
    step = getattr(err, "step", None)
    if step is None:
        found = re.search(r"step (\d+)", str(err))
        step = int(found.group(1)) if found else trainer.step
    found = re.search(r"loss is (\S+?)[ ;,]", str(err))
    what = f"the loss became {found.group(1)}" if found else str(err)
    smaller = min(lr / 10, TRAIN_DEFAULTS["lr"])
    saved = ""
    with contextlib.suppress(Exception):
        from labkit import checkpoint

        kept = int(checkpoint.load_trainer_state(out / "last")["step"])
        saved = f"; {out / 'last'} keeps the weights of step {kept}"
    return ValueError(
        f"training diverged at step {step}: {what}. The learning rate is too high for this "
        f"model: start again with a smaller --lr (now {lr:g}; try {smaller:g}) in a new --out "
        f"folder{saved}"
    )


def _last_saved(out: Path) -> str:
    """What ``last/`` holds now, read from the checkpoint itself: after a second Ctrl-C or a
    failed save it is an earlier step than the trainer reached."""
    from labkit import checkpoint

    try:
        step = int(checkpoint.load_trainer_state(out / "last")["step"])
    except Exception:  # no whole checkpoint: nothing to resume from
        return "no checkpoint was saved; the same command starts again from the beginning."
    return f"{out / 'last'} holds step {step}. Run the same command again to continue from there."


def _main_process() -> bool:
    """True in a plain run and on rank 0 of a torchrun launch (torchrun sets ``RANK``)."""
    return os.environ.get("RANK", "0").strip() in ("", "0")


def _quiet(*args: Any, **kwargs: Any) -> None:
    """``print`` for the ranks other than 0: they train, rank 0 talks."""


def _launcher(world: Any) -> str:
    """How the command was started, for ``run.json``."""
    if world is None:
        return "python -m labkit"
    per_node = os.environ.get("LOCAL_WORLD_SIZE", str(world.size))
    return f"torchrun --nproc_per_node {per_node} -m labkit"


def _train_gpt(args: argparse.Namespace) -> int:
    with _ctrl_c_after_block():
        from labkit import distributed

    # under torchrun: one process per GPU (cuda:LOCAL_RANK), or gloo on the CPU
    launched = distributed.launched()
    device = _device(args.device) if args.device is not None or not launched else None
    with distributed.session(device) as world:
        return _train_gpt_run(args, device if world is None else world.device, world)


def _train_gpt_run(args: argparse.Namespace, device: Any, world: Any) -> int:
    """``train gpt`` in this process: alone (``world`` is None) or as one rank of a torchrun
    launch, where rank 0 alone prints and writes the run folder while all ranks train."""
    import dataclasses

    with _ctrl_c_after_block():
        import labkit
        from labkit import data, distributed, runs
        from labkit.gpt import GPT
        from labkit.train import Trainer

    main = world is None or world.is_main
    say = print if main else _quiet
    out = Path(args.out)
    # a run that has trained lends its choices to the options left out now (rank 0 looks
    # first: looking may put back a checkpoint that a killed save left aside)
    saved = distributed.on_main(lambda: runs.read_run(out) if runs.has_checkpoint(out) else None)
    choices = _train_choices(args, saved)
    if choices["corpus"] not in data.REGISTRY:
        known = ", ".join(sorted(data.REGISTRY))
        raise ValueError(f"--data {choices['corpus']!r} is not a known corpus; known: {known}")
    if choices["max_chars"] is not None and choices["max_chars"] < 2:
        raise ValueError(f"--max-chars must be at least 2, got {choices['max_chars']}")

    if world is not None:  # rank 0 fetches (or builds) the corpus while the others wait
        distributed.on_main(lambda: data.fetch(choices["corpus"]))
    text = data.load_text(choices["corpus"])
    if choices["max_chars"] is not None:
        text = text[: choices["max_chars"]]
    _check_choices(choices, len(text))
    vocab = data.CharVocab.from_text(text)
    tokens = vocab.encode(text, as_tensor=True)
    train_ids, val_ids = data.split(tokens, choices["val_fraction"])
    model_config, train_config, settings = _train_settings(choices, len(vocab))
    if (world is not None and world.size > 1) or "world_size" in (saved or {}).get("settings", {}):
        settings["world_size"] = 1 if world is None else world.size  # N ranks x b = global batch
    _check_fits(model_config, train_config.batch_size, device)
    train_config = dataclasses.replace(
        train_config,
        out_dir=str(out),
        progress=not args.no_progress,
        checkpoint_every=args.checkpoint_every or train_config.eval_every,
        log_every=1,  # so that _FiniteWeights sees every step before it is saved
    )

    command = {"choices": choices, "command": " ".join([_launcher(world), *args.argv])}
    resume_from = distributed.on_main(  # rank 0 writes the folder; all learn where to resume
        lambda: runs.prepare(out, settings, vocab, describe=_option, extra=command)
    )

    labkit.seed(train_config.seed)  # the initial weights
    model = GPT(model_config)
    trainer = Trainer(
        model,
        train_ids,
        val_ids,
        train_config,
        device=device,
        callbacks=[_FiniteWeights(), _Report()] if main else [_FiniteWeights()],
    )
    if resume_from is not None:
        from labkit import checkpoint

        step = int(checkpoint.load_trainer_state(resume_from)["step"])
        if step >= train_config.max_steps:
            say(
                f"{out} is already trained: it reached --max-steps {train_config.max_steps}. "
                f"Generate from it with\n  python -m labkit generate --checkpoint {out}\n"
                "To train longer, start a new run (a new --out folder) with a larger --max-steps."
            )
            return 0
        say(f"resuming {out} from step {step} (checkpoint {resume_from})")
    else:
        say(f"new run in {out}")
    ranks = "" if world is None else f"{world.size} processes x "
    say(
        f"corpus {choices['corpus']}: {len(text):,} characters, vocabulary {len(vocab)}; "
        f"{len(train_ids):,} train / {len(val_ids):,} validation tokens\n"
        f"model GPT preset {choices['preset']!r}: {model.num_params():,} parameters, "
        f"{model_config.n_layer} layers, {model_config.n_head} heads, "
        f"{model_config.n_embd}-dim embeddings, context {model_config.block_size}; "
        f"device {trainer.device}\n"
        f"training {train_config.max_steps} steps of {ranks}{train_config.batch_size} x "
        f"{train_config.block_size} tokens, AdamW lr {train_config.lr:g} "
        f"({train_config.schedule}, {train_config.warmup_steps} warm-up steps)"
    )
    try:
        history = trainer.fit(steps=args.pause_after, resume_from=resume_from)
    except KeyboardInterrupt:
        if main:
            runs.write_history(out, trainer.history)
            print(f"\ninterrupted at step {trainer.step}; {_last_saved(out)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except FloatingPointError as err:
        raise _diverged(err, trainer, train_config.lr, out) from err
    if main:
        runs.write_history(out, history)
    done = trainer.step >= train_config.max_steps
    best = trainer.best_val_loss
    say(
        f"{'finished' if done else 'paused'} at step {trainer.step}"
        + (
            f"; best validation loss {best:.4f} (checkpoint {out / 'best'})"
            if math.isfinite(best)
            else ""
        )
    )
    if not done:
        say("run the same command again to continue")
    say(f"generate text with:\n  python -m labkit generate --checkpoint {out} --prompt ...")
    return 0


# ----------------------------------------------------------------------------------- generate


def _unescape(text: str, option: str) -> str:
    """Python's backslash escapes (``\\n``, ``\\t``, ``\\u00e9`` …) in ``text`` turned into
    the characters they stand for; other characters are kept as they are."""
    try:
        return text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{option} {text!r} has a broken escape ({err.reason}); with --escapes, write \\\\ "
            "for a backslash"
        ) from None


def _generate(args: argparse.Namespace) -> int:
    with _ctrl_c_after_block():
        import torch

        from labkit import runs
        from labkit.generate import stream

    device = _device(args.device)
    model, vocab = runs.load(args.checkpoint, args.which, device=device)
    prompt, stops = args.prompt, args.stop
    if args.escapes:
        prompt = _unescape(prompt, "--prompt")
        stops = None if stops is None else [_unescape(s, "--stop") for s in stops]
    if not prompt:
        raise ValueError("--prompt must hold at least one character")
    if stops is not None and not all(stops):
        raise ValueError("--stop must hold at least one character")
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


def _whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` (to ``high``)."""

    def parse(text: str) -> int:
        try:
            value: int | None = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            allowed = f">= {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be a whole number {allowed}, got {text!r}")
        return value

    return parse


def _number(
    low: float, high: float = math.inf, *, above: bool = False, below: bool = False
) -> Callable[[str], float]:
    """An argparse type: a finite number >= ``low`` (> with ``above``) and <= ``high`` (<)."""
    if high == math.inf:
        allowed = f"{'>' if above else '>='} {low:g}"
    else:
        allowed = f"in {'(' if above else '['}{low:g}, {high:g}{')' if below else ']'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        ok = (value > low if above else value >= low) and (value < high if below else value <= high)
        if not (ok and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be a number {allowed}, got {text!r}")
        return value

    return parse


def _text(text: str) -> str:
    """An argparse type: a non-empty string (a path or a name)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


_positive_int = _whole(1)


def _add_train_gpt(train_cmds: Any) -> None:
    p = train_cmds.add_parser(
        "gpt",
        help="train a character-level GPT on a corpus",
        description=_wrap(
            "Train a character-level GPT: build the vocabulary from the corpus (every "
            "distinct character is a token), make a GPT of the chosen size, and train it, saving "
            "checkpoints in the --out folder (best/ = lowest validation loss, last/ = latest "
            "step). Run the same command again to continue an interrupted run (Ctrl-C saves one). "
            "Started with `torchrun --nproc_per_node N -m labkit train gpt ...` it trains "
            "data-parallel on N processes (torch.distributed: one GPU each, or the CPU); each "
            "process draws --batch-size windows, so a step sees N x --batch-size."
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
    p.add_argument("--out", required=True, type=_text, help="the run folder, e.g. runs/shakespeare")
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        dest="corpus",
        metavar="CORPUS",
        help=f"which corpus to train on (default {d['corpus']}; see `python -m labkit data list`)",
    )
    g.add_argument(
        "--max-chars",
        type=_whole(2),
        metavar="N",
        help="use only the first N characters of the corpus, for a quick try (default: all)",
    )
    g.add_argument(
        "--val-fraction",
        type=_number(0, 1, above=True, below=True),
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
        type=_number(0, 1, below=True),
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
        help=f"text windows per step and process: under torchrun N processes see N x B "
        f"(default {d['batch_size']})",
    )
    g.add_argument(
        "--lr",
        type=_number(0, above=True),
        help=f"peak learning rate of AdamW (default {d['lr']:g})",
    )
    g.add_argument(
        "--min-lr",
        type=_number(0),
        help="learning rate at the end of the cosine decay (default: --lr / 10)",
    )
    g.add_argument(
        "--warmup-steps",
        type=_whole(0),
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
        type=_number(0),
        metavar="W",
        help=f"AdamW's decoupled weight decay on weight matrices (default {d['weight_decay']})",
    )
    g.add_argument(
        "--grad-clip",
        type=_number(0),
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
        type=_whole(0, 2**32 - 1),
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
    p.add_argument(
        "--checkpoint", required=True, type=_text, help="the run folder given to train as --out"
    )
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
        type=_number(0),
        default=0.8,
        metavar="T",
        help="< 1 more predictable, > 1 more surprising, 0 = always the likeliest (default 0.8)",
    )
    p.add_argument(
        "--top-k", type=_positive_int, metavar="K", help="draw only from the K likeliest characters"
    )
    p.add_argument(
        "--top-p",
        type=_number(0, 1, above=True),
        metavar="P",
        help="draw only from the likeliest characters that together have probability P (e.g. 0.9)",
    )
    p.add_argument(
        "--seed",
        type=_whole(0, 2**63 - 1),
        help="the same seed gives the same text (default: different each time)",
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


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line (``error: ...``) instead of usage + exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


_DEBUG_HELP = (
    "on an error, show the full traceback instead of one line (for developers; "
    f"the environment variable {DEBUG_ENV}=1 does the same)"
)


def _add_debug(parser: argparse.ArgumentParser) -> None:
    """``--debug`` on a command (it may also come before the command: ``labkit --debug ...``)."""
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m labkit`` argument parser with all its commands."""
    parser = _Parser(
        prog="python -m labkit",
        description="LLM Lab command line: train a model, generate text, manage corpora.",
        epilog="`python -m labkit COMMAND --help` explains a command. Errors are one line "
        f"(exit code 2); --debug or {DEBUG_ENV}=1 shows the traceback instead.",
    )
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train_p = commands.add_parser(
        "train", help="train a model (see `train gpt --help`)", description="Train a model."
    )
    train_cmds = train_p.add_subparsers(dest="model", required=True, metavar="MODEL")
    _add_train_gpt(train_cmds)
    _add_generate(commands)

    data_p = commands.add_parser("data", help="corpora: list, fetch")
    data_cmds = data_p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    list_p = data_cmds.add_parser("list", help="list the registered corpora")
    list_p.set_defaults(func=_data_list)
    fetch_p = data_cmds.add_parser("fetch", help="download or build, verify and cache a corpus")
    fetch_p.add_argument("name", help="corpus name (see `data list`)")
    fetch_p.set_defaults(func=_data_fetch)

    class_p = commands.add_parser("classroom", help="teacher tools")
    class_cmds = class_p.add_subparsers(dest="classroom_command", required=True, metavar="ACTION")
    export_p = class_cmds.add_parser(
        "export", help="write an nbgrader course folder: one assignment per notebook"
    )
    export_p.add_argument("out", type=Path, help="the course folder to write")
    export_p.add_argument(
        "--notebooks", type=Path, default=None,
        help="the course notebooks (default: ./notebooks, else the course's own folder)",
    )  # fmt: skip
    export_p.add_argument(
        "--force", action="store_true", help="overwrite exported files that were edited since"
    )
    export_p.set_defaults(func=_classroom_export)
    for leaf in (
        train_cmds.choices["gpt"],
        commands.choices["generate"],
        list_p,
        fetch_p,
        export_p,
    ):
        _add_debug(leaf)
    return parser


# ------------------------------------------------------------------------------------- errors


def _damaged_file(err: BaseException) -> bool:
    """True for the errors that reading a cut-short or damaged checkpoint file raises."""
    safetensors = sys.modules.get("safetensors")
    pickle = sys.modules.get("pickle")
    kinds = (getattr(safetensors, "SafetensorError", ()), getattr(pickle, "UnpicklingError", ()))
    if any(k and isinstance(err, k) for k in kinds) or isinstance(err, EOFError):
        return True
    return type(err) is RuntimeError and "PytorchStreamReader" in str(err)  # torch.load


def _expected(err: BaseException) -> bool:
    """True for errors that come from the input or the machine (bad values, files, devices, a
    damaged checkpoint, no network, a diverging run); False for the others: bugs in labkit."""
    if isinstance(err, NotImplementedError | RecursionError | ZeroDivisionError):
        return False
    usual = UsageError | ValueError | TypeError | OSError | RuntimeError | ArithmeticError
    return isinstance(err, usual) or _damaged_file(err)


def _writes_to(args: argparse.Namespace | None) -> str:
    """What the command writes, for an error that names no file."""
    func = getattr(args, "func", None)
    if func is _train_gpt:
        return f"the run folder --out {args.out}"
    if func is _data_fetch:
        from labkit.data import cache_dir

        return f"the data cache {cache_dir()} (LABKIT_DATA_DIR)"
    if func is _classroom_export:
        return f"the folder {args.out}"
    return "a file"


_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NO_WRITE = {errno.EACCES, errno.EPERM, errno.EROFS}


def _message(err: BaseException, args: argparse.Namespace | None) -> str:
    """The one line that reports ``err`` (without the ``error:`` prefix)."""
    text = str(err) or type(err).__name__
    if not _expected(err):
        return (
            f"internal error in labkit ({type(err).__name__}: {text}); this is a bug: run the "
            f"command again with --debug to see where it happened, and please report it"
        )
    if isinstance(err, OSError) and err.errno in _DISK_FULL:
        where = err.filename or _writes_to(args)
        return (
            f"no space left on the disk while writing {where}: free some space, or write elsewhere"
        )
    if isinstance(err, OSError) and err.errno in _NO_WRITE:
        where = err.filename or _writes_to(args)
        return (
            f"cannot write {where} ({err.strerror}): choose a folder you can write to "
            "(the disk may be read-only, or the folder belong to someone else)"
        )
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.strerror}: {err.filename}"
    if _damaged_file(err):
        if getattr(args, "func", None) is _generate:
            return (
                f"the checkpoint in {args.checkpoint} (--which {args.which}) is damaged or "
                f"incomplete ({text}); train again, or try the other --which"
            )
        if getattr(args, "func", None) is _train_gpt:
            return (
                f"a checkpoint in {args.out} is damaged or incomplete ({text}); continue from "
                "a copy that is whole, or start a new --out folder"
            )
    return text


def _relayed(err: BaseException) -> bool:
    """True for an error of rank 0 that a torchrun rank stops with (rank 0 reports it)."""
    kind = getattr(sys.modules.get("labkit.distributed"), "RelayedError", None)
    return kind is not None and isinstance(err, kind)


def _debugging(args: argparse.Namespace | None) -> bool:
    flag = os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
    return flag or bool(getattr(args, "debug", False))


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 2 error, 130 interrupted).

    Every error ends here as one line on stderr; ``--debug`` (or ``LABKIT_DEBUG=1``) lets it
    propagate with its traceback instead.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args: argparse.Namespace | None = None
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as done:  # --help printed the help
            return done.code if isinstance(done.code, int) else 0
        args.argv = argv
        return args.func(args)
    except KeyboardInterrupt:
        if _main_process():
            print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        if _debugging(args) and not isinstance(err, UsageError):
            raise
        if _main_process():
            print(f"error: {_message(err, args)}", file=sys.stderr)
        elif not _relayed(err):  # rank 0 reports that one itself
            print(f"error (rank {os.environ['RANK']}): {_message(err, args)}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
