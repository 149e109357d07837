"""The training loop every notebook uses: batches → loss → gradients → optimiser step, with the
learning-rate schedule, gradient clipping, validation, early stopping and checkpoints around it.

One step, for a batch ``(x, y)`` and parameters ``θ``:

    loss = model(x, y)[1]                       (mean cross-entropy, see ``labkit.nn``)
    g = ∇_θ loss                                (backpropagation)
    g ← g · min(1, c / ‖g‖)                     (clipping, if ``grad_clip = c``; ‖g‖ over all θ)
    θ ← optimiser(θ, g, lr_t)                   (lr_t from the schedule)

The optimisers (``lr`` = η, ``betas`` = (β₁, β₂), ``weight_decay`` = λ):

- SGD with momentum μ:  v ← μ·v + g + λθ;  θ ← θ − η·v
- Adam:   m ← β₁m + (1−β₁)g;  s ← β₂s + (1−β₂)g²;  m̂ = m/(1−β₁ᵗ);  ŝ = s/(1−β₂ᵗ);
          θ ← θ − η·m̂/(√ŝ + ε)              (Adam's λ adds λθ to g: an L2 penalty)
- AdamW:  the same, but weight decay is *decoupled*: θ ← θ − η·(m̂/(√ŝ + ε) + λθ)
          (Loshchilov & Hutter 2019). Decay applies to weight matrices and embeddings (tensors
          with ≥ 2 dimensions), not to biases or normalisation gains.

torch's fused kernels (``fused=True``) run Adam/AdamW on CPU and CUDA and SGD on CUDA; elsewhere
the ``foreach`` versions. All compute the formulas above.

Mixed precision (``config.amp``) follows :func:`labkit.device.precision`: bf16 autocast on GPUs
that have it, fp16 autocast with a gradient scaler on older ones (the loss is multiplied by a
scale ``s`` before ``backward`` and the gradients divided by ``s`` before clipping; steps whose
gradients overflow are skipped), float32 on CPU and MPS.

Reproducible: the batches come from a ``torch.Generator`` seeded with ``config.seed``, the global
torch RNG (dropout) is seeded with it at step 0, and both generators' states (and the gradient
scaler's) are saved in every checkpoint, so a resumed run continues with exactly the loss curve
of an unbroken one (on CPU). Ctrl-C never lands between an update and its bookkeeping, nor
inside a save (see :class:`labkit.runs.DeferredInterrupt`).

On several processes (``torchrun``, see :mod:`labkit.distributed`) the same loop runs on every
rank with the model in DistributedDataParallel, which averages the gradients during ``backward``
(so clipping and the logged gradient norm see the average, the same on every rank). Each rank
draws its own shard of one global batch: all ranks draw the same ``N · batch_size`` windows from
the shared batch generator and rank ``r`` keeps windows ``[r·b, (r+1)·b)``, so ``batch_size`` is
*per rank* and N ranks × b train like one process × N·b. The logged training and validation
losses are means over the ranks; rank 0 alone writes checkpoints while the others wait; a
Ctrl-C stops every rank after the same step (:class:`labkit.distributed.AgreedInterrupt`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from labkit import checkpoint, distributed
from labkit.device import as_device, autocast, grad_scaler
from labkit.runs import DeferredInterrupt

__all__ = [
    "Callback",
    "HISTORY_COLUMNS",
    "TrainConfig",
    "Trainer",
    "learning_rate",
    "make_optimizer",
]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "wsd")
HISTORY_COLUMNS = ["step", "lr", "train_loss", "val_loss", "grad_norm", "tokens_seen", "elapsed"]
_EVAL_SEED_OFFSET = 1_000_003  # validation batches use their own, fixed generator

Batch = tuple[Any, torch.Tensor]
BatchFn = Callable[[str, torch.Generator], Batch]


# ---------------------------------------------------------------------------------------- config


def _bad(field: str, expected: str, value: Any) -> ValueError:
    return ValueError(f"TrainConfig.{field} must be {expected}; got {value!r}")


def _is_int(v: Any) -> bool:
    """An int (not a bool) that fits torch's int64."""
    return isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


@dataclass
class TrainConfig:
    """How to train. Every field is checked when the config is made.

    - ``max_steps``: optimiser updates in the whole run (the schedule ends here).
    - ``batch_size``, ``block_size``: sequences per batch, tokens per sequence. On several
      processes (torchrun) ``batch_size`` is per process: a step sees ``N · batch_size``.
    - ``optimizer``: ``"sgd"``, ``"adam"`` or ``"adamw"``; ``lr``, ``weight_decay``, ``betas``,
      ``eps`` (Adam/AdamW), ``momentum`` (SGD).
    - ``schedule``: ``"constant"``, ``"cosine"`` or ``"wsd"``, after ``warmup_steps`` of linear
      warm-up; cosine decays to ``min_lr`` at ``max_steps``; wsd (warm-up, stable, decay) holds
      ``lr`` and decays linearly to ``min_lr`` over the last ``decay_fraction`` of the run (see
      :func:`learning_rate`).
    - ``grad_clip``: ``None`` or the largest allowed total gradient norm.
    - ``eval_every``: validate every this many steps (and at ``max_steps``) on ``eval_batches``
      fixed batches; ``early_stopping_patience``: stop after this many validations without a new
      best (``None``: never stop early).
    - ``seed``: seeds the batch order and dropout.
    - ``out_dir``: where ``best/`` (lowest validation loss) and ``last/`` checkpoints go
      (``None``: nowhere); ``checkpoint_every``: also save ``last/`` every this many steps.
    - ``log_every``: copy the loss to the host every this many steps (the history still has
      every step; on a GPU a value like 10 lets the CPU queue work ahead).
    - ``progress``: show a tqdm progress bar; ``amp``: the mixed precision that fits the GPU
      (:func:`labkit.device.precision`: bf16, or fp16 with a gradient scaler; none on CPU/MPS).
    """

    max_steps: int = 1000
    batch_size: int = 32
    block_size: int = 64
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    momentum: float = 0.0
    schedule: str = "constant"
    warmup_steps: int = 0
    min_lr: float = 0.0
    decay_fraction: float = 0.2
    grad_clip: float | None = None
    eval_every: int = 100
    eval_batches: int = 20
    early_stopping_patience: int | None = None
    seed: int = 0
    out_dir: str | None = None
    checkpoint_every: int | None = None
    log_every: int = 1
    progress: bool = True
    amp: bool = True

    def __post_init__(self) -> None:
        for name in (
            "max_steps",
            "batch_size",
            "block_size",
            "eval_every",
            "eval_batches",
            "log_every",
        ):
            v = getattr(self, name)
            if not _is_int(v) or v < 1:
                raise _bad(name, "an int in [1, 2**63)", v)
        for name in ("early_stopping_patience", "checkpoint_every"):
            v = getattr(self, name)
            if v is not None and (not _is_int(v) or v < 1):
                raise _bad(name, "None or an int in [1, 2**63)", v)
        if not _is_int(self.warmup_steps) or not 0 <= self.warmup_steps <= self.max_steps:
            raise _bad(
                "warmup_steps", f"an int in [0, max_steps={self.max_steps}]", self.warmup_steps
            )
        if not _is_int(self.seed) or not 0 <= self.seed < 2**63:
            raise _bad("seed", "an int in [0, 2**63)", self.seed)
        if not isinstance(self.optimizer, str) or self.optimizer.lower() not in OPTIMIZERS:
            raise _bad("optimizer", f"one of {OPTIMIZERS}", self.optimizer)
        self.optimizer = self.optimizer.lower()
        if not isinstance(self.schedule, str) or self.schedule.lower() not in SCHEDULES:
            raise _bad("schedule", f"one of {SCHEDULES}", self.schedule)
        self.schedule = self.schedule.lower()
        for name in ("lr", "weight_decay", "momentum", "min_lr"):
            v = getattr(self, name)
            if not _is_num(v) or v < 0:
                raise _bad(name, "a finite number >= 0", v)
        if self.min_lr > self.lr:
            raise _bad("min_lr", f"<= lr ({self.lr})", self.min_lr)
        if not _is_num(self.decay_fraction) or not 0 < self.decay_fraction <= 1:
            raise _bad("decay_fraction", "a number in (0, 1]", self.decay_fraction)
        if not _is_num(self.eps) or self.eps <= 0:
            raise _bad("eps", "a finite number > 0", self.eps)
        if self.grad_clip is not None and (not _is_num(self.grad_clip) or self.grad_clip <= 0):
            raise _bad("grad_clip", "None or a number > 0", self.grad_clip)
        betas = self.betas
        if (
            not isinstance(betas, Sequence)
            or len(betas) != 2
            or not all(_is_num(b) and 0 <= b < 1 for b in betas)
        ):
            raise _bad("betas", "two numbers in [0, 1), e.g. (0.9, 0.999)", betas)
        self.betas = (float(betas[0]), float(betas[1]))
        if self.out_dir is not None:
            if not isinstance(self.out_dir, str | os.PathLike) or not os.fspath(self.out_dir):
                raise _bad("out_dir", "None or a folder path", self.out_dir)
            self.out_dir = os.fspath(self.out_dir)
        for name in ("progress", "amp"):
            if not isinstance(getattr(self, name), bool):
                raise _bad(name, "True or False", getattr(self, name))


def learning_rate(step: int, config: TrainConfig) -> float:
    """The learning rate of update number ``step`` (1, 2, …, ``max_steps``).

    With ``W = warmup_steps``, ``T = max_steps``, ``η = lr``:

    - warm-up, ``step < W``:     ``η · step / W``   (linear from 0; update ``W`` uses η)
    - ``"constant"`` afterwards: ``η``
    - ``"cosine"`` afterwards:   ``min_lr + ½ (η − min_lr) (1 + cos(π · (step − W) / (T − W)))``,
      from η at ``step = W`` down to ``min_lr`` at ``step = T``.
    - ``"wsd"`` afterwards: ``η`` until ``S = max(W, T − D)`` with ``D = round(decay_fraction · T)``,
      then ``min_lr + (η − min_lr) (T − step) / (T − S)``, a straight line down to ``min_lr`` at
      ``step = T``. Holding the peak longer than cosine does helps a short run that is still far
      from converged; the final decay gives the drop in loss that annealing brings (Hu et al.
      2024, MiniCPM; Hägele et al. 2024).
    """
    c = config
    if step < c.warmup_steps:
        return c.lr * step / c.warmup_steps
    if c.schedule == "constant" or c.max_steps == c.warmup_steps:
        return c.lr
    if c.schedule == "wsd":
        start = max(c.warmup_steps, c.max_steps - round(c.decay_fraction * c.max_steps))
        if step <= start:
            return c.lr
        return c.min_lr + (c.lr - c.min_lr) * max(0, c.max_steps - step) / (c.max_steps - start)
    progress = min(1.0, (step - c.warmup_steps) / (c.max_steps - c.warmup_steps))
    return c.min_lr + 0.5 * (c.lr - c.min_lr) * (1.0 + math.cos(math.pi * progress))


def make_optimizer(
    model: nn.Module, config: TrainConfig, device: str | torch.device | None = None
) -> torch.optim.Optimizer:
    """The optimiser ``config.optimizer`` names, for ``model``'s trainable parameters.

    Weight decay goes to tensors with ≥ 2 dimensions (matrices, embeddings) only. Fused kernels
    where torch has them (see :func:`_kernel_flags`), ``foreach`` kernels elsewhere.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {"params": ps, "weight_decay": wd}
        for ps, wd in ((decay, config.weight_decay), (no_decay, 0.0))
        if ps
    ]
    dev = as_device(device) if device is not None else params[0].device
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            groups, lr=config.lr, momentum=config.momentum, **_kernel_flags(dev, "sgd")
        )
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(
        groups, lr=config.lr, betas=config.betas, eps=config.eps, **_kernel_flags(dev, "adam")
    )


def _total_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """‖g‖ = √(Σ over all tensors of Σ g²): the norm that clipping compares with ``grad_clip``."""
    if not grads:
        return torch.zeros(())
    norms = (
        torch._foreach_norm(grads) if hasattr(torch, "_foreach_norm") else [g.norm() for g in grads]
    )
    return torch.linalg.vector_norm(torch.stack([n.float() for n in norms]))


def _scaler(device: torch.device, amp: bool) -> torch.amp.GradScaler:
    """The gradient scaler: :func:`labkit.device.grad_scaler` (on exactly for fp16 autocast) with
    ``amp``, else a disabled one, whose calls pass straight through."""
    if amp:
        return grad_scaler(device)
    return torch.amp.GradScaler("cuda" if device.type == "cuda" else "cpu", enabled=False)


def _kernel_flags(device: torch.device, family: str) -> dict[str, bool]:
    """Fused kernels where torch has them: Adam/AdamW on CPU and CUDA (about 3x faster optimiser
    steps than foreach on a 2-core CPU), SGD on CUDA; the multi-tensor foreach path otherwise."""
    if device.type == "cuda" or (device.type == "cpu" and family == "adam"):
        return {"fused": True}
    return {"foreach": True}


# ------------------------------------------------------------------------------------- callbacks


class Callback:
    """Hooks into :meth:`Trainer.fit`; override any of them (or pass any object that has some).

    - ``on_step(trainer, row)``: after each step, with that step's history row (a dict).
    - ``on_eval(trainer, row)``: after each validation; ``row["val_loss"]`` is filled in.
    - ``on_fit_end(trainer)``: when ``fit`` returns (not when it raises).

    Set ``trainer.should_stop = True`` in a hook to end ``fit`` after the current step. A live
    plot in a notebook, for instance, appends ``row`` to a plotly ``FigureWidget`` in ``on_eval``.
    """

    def on_step(self, trainer: Trainer, row: dict[str, float]) -> None:  # noqa: B027
        pass

    def on_eval(self, trainer: Trainer, row: dict[str, float]) -> None:  # noqa: B027
        pass

    def on_fit_end(self, trainer: Trainer) -> None:  # noqa: B027
        pass


_HOOKS = ("on_step", "on_eval", "on_fit_end")


# --------------------------------------------------------------------------------------- trainer


def _token_stream(name: str, data: Any, vocab_size: Any = None) -> torch.Tensor | None:
    if data is None:
        return None
    if not isinstance(data, torch.Tensor):
        try:
            data = torch.as_tensor(data)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(
                f"{name} must be a 1-D tensor of token ids, got {type(data).__name__}"
            ) from None
    if data.is_floating_point() or data.is_complex() or data.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer token ids, got dtype {data.dtype}")
    if data.dim() != 1:
        raise ValueError(f"{name} must be 1-D (one token stream), got shape {tuple(data.shape)}")
    data = data.long()
    if data.numel():
        lo, hi = (int(v) for v in data.aminmax())
        known = _is_int(vocab_size)
        if lo < 0 or (known and hi >= vocab_size):
            allowed = f"in [0, {vocab_size}) (the model's vocab_size)" if known else ">= 0"
            raise ValueError(f"{name} must hold token ids {allowed}; got id {lo if lo < 0 else hi}")
    return data


def _to(batch_part: Any, device: torch.device) -> Any:
    if isinstance(batch_part, torch.Tensor):
        return batch_part.to(device, non_blocking=True)
    if isinstance(batch_part, tuple | list):
        return type(batch_part)(_to(b, device) for b in batch_part)
    return batch_part


class Trainer:
    """Trains ``model`` (``model(x, y) -> (logits, loss)``) on token streams or custom batches.

    - ``train_data``, ``val_data``: 1-D LongTensors of token ids; batches are random windows of
      ``block_size`` tokens (``y`` = ``x`` shifted by one). ``val_data`` may be ``None``
      (no validation, no best checkpoint, no early stopping).
    - ``batch_fn(split, generator) -> (x, y)`` replaces the windows for other tasks (``split`` is
      ``"train"`` or ``"val"``); draw all randomness from ``generator`` so runs and resumes
      repeat exactly. ``x`` may be a tuple: the model is then called as ``model(*x, y)``.
    - ``device``: where to train (default: ``labkit.device.best()``); model and data move there.
    - ``callbacks``: :class:`Callback` objects (live plots, custom stopping).

    Inside a ``torch.distributed`` process group (e.g. under ``torchrun``, with
    :func:`labkit.distributed.session`) the trainer trains data-parallel: ``device`` defaults to
    the rank's own (``cuda:LOCAL_RANK`` or the CPU), every rank must make the same calls
    (``fit``, ``evaluate``, ``save``), and callbacks run on every rank (one that stops training
    must decide alike on all of them, e.g. from the logged losses, which are means over ranks).

    ``fit()`` returns the history (a DataFrame, one row per step); ``evaluate()`` the mean loss
    on fixed validation batches; ``save(path)`` / ``Trainer.resume(path, ...)`` checkpoint and
    continue.
    """

    def __init__(
        self,
        model: nn.Module,
        train_data: torch.Tensor | None = None,
        val_data: torch.Tensor | None = None,
        config: TrainConfig | None = None,
        device: str | torch.device | None = None,
        batch_fn: BatchFn | None = None,
        callbacks: Iterable[Any] = (),
    ) -> None:
        config = TrainConfig() if config is None else config
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if batch_fn is not None and not callable(batch_fn):
            raise TypeError(
                f"batch_fn must be callable (split, generator) -> (x, y), got {batch_fn!r}"
            )
        if isinstance(callbacks, str | bytes) or not isinstance(callbacks, Iterable):
            raise TypeError(
                f"callbacks must be a list of Callback objects, got {type(callbacks).__name__}"
            )
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not any(callable(getattr(cb, h, None)) for h in _HOOKS):
                raise TypeError(f"callbacks: callback {cb!r} has none of the methods {_HOOKS}")
        self.config = config
        self.world = distributed.world()  # None: this process trains alone
        if self.world is not None and device is None:
            device = self.world.device
        self.device = as_device(device)
        if self.world is not None and self.device.type not in ("cpu", "cuda"):
            raise ValueError(
                f"device {self.device} cannot train data-parallel: torch.distributed serves "
                "'cpu' and 'cuda'"
            )
        self._rank, self._ranks = (0, 1) if self.world is None else (self.world.rank, self.world.size)
        self.batch_fn = batch_fn
        vocab_size = getattr(getattr(model, "config", None), "vocab_size", None)
        self.train_data = _token_stream("train_data", train_data, vocab_size)
        self.val_data = _token_stream("val_data", val_data, vocab_size)
        if batch_fn is None:
            if self.train_data is None:
                raise ValueError(
                    "train_data is required (a 1-D tensor of token ids) unless batch_fn is given"
                )
            for name, data in (("train_data", self.train_data), ("val_data", self.val_data)):
                if data is not None and config.block_size >= len(data):
                    raise ValueError(
                        f"TrainConfig.block_size must be < len({name}) = {len(data)} (a window "
                        f"plus its next token must fit); got {config.block_size}"
                    )
            self.train_data = self.train_data.to(self.device)
            if self.val_data is not None:
                self.val_data = self.val_data.to(self.device)
        if config.out_dir is not None and not dataclasses.is_dataclass(
            getattr(model, "config", None)
        ):
            raise ValueError(
                "TrainConfig.out_dir needs a model with a dataclass .config (to save checkpoints); "
                f"{type(model).__name__} has none"
            )
        self.model = model.to(self.device)
        # what a step calls: the model itself, or DDP around it (averages gradients over ranks)
        self._net = self.model if self.world is None else distributed.wrap(self.model, self.device)
        self.optimizer = make_optimizer(self.model, config, self.device)
        self.scaler = _scaler(self.device, config.amp)
        self.batch_generator = torch.Generator().manual_seed(config.seed)
        self.step = 0
        self.tokens_seen = 0
        self.elapsed = 0.0
        self.best_val_loss = math.inf
        self.evals_since_best = 0
        self.stopped_early = False
        self.should_stop = False
        self._rows: list[dict[str, float]] = []
        self._pending: list[tuple[int, float, torch.Tensor, torch.Tensor, int, float]] = []
        self._resumed = False
        self._in_update = False
        self._snapshot: tuple[int, torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None
        self._clock: float | None = None
        self._sigint = DeferredInterrupt() if self.world is None else distributed.AgreedInterrupt()
        self._best_pending = False  # a new best whose save to best/ has not finished
        self._last_saved = -1  # the step last/ holds, as far as this trainer wrote it

    # ----------------------------------------------------------------------------- batches, loss

    @property
    def has_val(self) -> bool:
        return self.val_data is not None or self.batch_fn is not None

    def get_batch(self, split: str, generator: torch.Generator) -> Batch:
        """One ``(x, y)`` batch of ``split`` ("train" or "val") on the trainer's device.

        On N ranks: this rank's shard of one global batch. Every rank draws the same N·b
        windows from ``generator`` and keeps its own b (with ``batch_fn``: every rank draws N
        batches and keeps the r-th), so the generators stay alike on all ranks.
        """
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if self.batch_fn is not None:
            for r in range(self._ranks):  # one draw per rank; this rank keeps its own
                drawn = self.batch_fn(split, generator)
                if r == self._rank:
                    batch = drawn
            if not isinstance(batch, tuple | list) or len(batch) != 2:
                raise TypeError(f"batch_fn must return a pair (x, y), got {type(batch).__name__}")
            return _to(batch[0], self.device), _to(batch[1], self.device)
        from labkit.data import get_batch

        data = self.train_data if split == "train" else self.val_data
        if data is None:
            raise ValueError(f"no {split} data: pass {split}_data to the Trainer")
        c = self.config
        if self.world is None:
            return get_batch(data, c.block_size, c.batch_size, generator=generator)
        x, y = get_batch(data, c.block_size, c.batch_size * self._ranks, generator=generator)
        mine = slice(self._rank * c.batch_size, (self._rank + 1) * c.batch_size)
        return x[mine], y[mine]

    def _loss(self, x: Any, y: torch.Tensor) -> torch.Tensor:
        ctx = autocast(self.device) if self.config.amp else contextlib.nullcontext()
        with ctx:
            out = self._net(*x, y) if isinstance(x, tuple | list) else self._net(x, y)
        loss = out[1] if isinstance(out, tuple | list) else None
        if not isinstance(loss, torch.Tensor):
            raise TypeError(
                "model(x, targets) must return (logits, loss) with loss a tensor; got "
                f"{type(out).__name__}{'' if loss is None else ' with loss ' + type(loss).__name__}"
            )
        return loss

    @torch.no_grad()
    def evaluate(self, splits: Sequence[str] = ("val",)) -> dict[str, float]:
        """Mean loss on ``eval_batches`` fixed batches of each split (the same batches every call).

        On N ranks each rank scores its shard of every batch and the result is the mean over
        ranks (call it on every rank)."""
        if isinstance(splits, str):
            splits = (splits,)
        was_training = self.model.training
        self.model.eval()
        out = {}
        try:
            for split in splits:
                g = torch.Generator().manual_seed(self.config.seed + _EVAL_SEED_OFFSET)
                total = torch.zeros((), device=self.device)
                for _ in range(self.config.eval_batches):
                    x, y = self.get_batch(split, g)
                    total += self._loss(x, y).float()
                if self.world is not None:
                    total = distributed.mean(total)
                out[split] = total.item() / self.config.eval_batches
        finally:
            self.model.train(was_training)
        return out

    # ------------------------------------------------------------------------------------ a step

    def _rng_state(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        cuda = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        return self.batch_generator.get_state(), torch.get_rng_state(), cuda

    def _set_rng_state(
        self, batch: torch.Tensor, cpu: torch.Tensor, cuda: torch.Tensor | None
    ) -> None:
        self.batch_generator.set_state(batch)
        torch.set_rng_state(cpu)
        if cuda is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(cuda, self.device)

    def _train_step(self) -> None:
        c = self.config
        self._begin_step()
        x, y = self.get_batch("train", self.batch_generator)
        lr = learning_rate(self.step + 1, c)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss = self._loss(x, y)
        self.scaler.scale(loss).backward()  # loss · s with fp16, else the loss itself
        self.scaler.unscale_(self.optimizer)  # the true gradients, for clipping and the log
        params = [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]
        if c.grad_clip is not None:
            # returns the norm before clipping; foreach: one kernel for all tensors instead of
            # one per tensor (torch's default on CUDA only)
            foreach = True if self.device.type in ("cpu", "cuda") else None
            norm = torch.nn.utils.clip_grad_norm_(params, c.grad_clip, foreach=foreach)
        else:
            norm = _total_norm([p.grad for p in params])
        with self._sigint:  # the update and its record are one: a Ctrl-C waits for both
            self.scaler.step(self.optimizer)  # skipped when fp16 gradients overflowed
            self.scaler.update()
            self._record(lr, loss, norm, y.numel() * self._ranks)  # tokens of all ranks

    # ---------------------------------------------------------------- step bookkeeping, saving

    def _begin_step(self) -> None:
        self._snapshot = (self.step, *self._rng_state())
        self._in_update = True
        if not self.model.training:  # (train() walks every submodule: only when needed)
            self.model.train()
        self.optimizer.zero_grad(set_to_none=True)

    def _record(self, lr: float, loss: torch.Tensor, norm: torch.Tensor, tokens: int) -> None:
        now = time.perf_counter() - self._clock if self._clock is not None else self.elapsed
        record = (self.step + 1, lr, loss.detach(), norm.detach(), self.tokens_seen + tokens, now)
        self._pending.append(record)
        self._count(record)

    def _count(self, record: tuple) -> None:
        self.step, self.tokens_seen, self.elapsed = record[0], record[4], record[5]
        self._in_update = False

    def _recover_interrupted_step(self) -> None:
        """After an interrupt mid-step: finish the step if the update was applied, else undo it.

        The update itself and its record run with Ctrl-C deferred, so an interrupt lands either
        before the update (undone here: the step repeats identically) or after its record.
        """
        if not self._in_update:
            return
        assert self._snapshot is not None
        start, *rng = self._snapshot
        if self._pending and self._pending[-1][0] == start + 1:  # the update was applied
            self._count(self._pending[-1])
        else:  # it was not: put the random generators back so the step repeats identically
            self._set_rng_state(*rng)
            self.optimizer.zero_grad(set_to_none=True)
            self._reset_scaler()
            self._in_update = False

    def _reset_scaler(self) -> None:
        """Forget an ``unscale_`` whose step never came (the scaler refuses a second one)."""
        if self.scaler.is_enabled():
            fresh = _scaler(self.device, True)
            fresh.load_state_dict(self.scaler.state_dict())
            self.scaler = fresh

    def _save_last(self) -> None:
        if self.config.out_dir is not None:
            with self._sigint:  # a Ctrl-C during the save waits for its end
                self.save(Path(self.config.out_dir) / "last")
                self._last_saved = self.step

    def _save_best(self, val_loss: float) -> None:
        if self.config.out_dir is None:
            return
        with self._sigint:
            extra = {"step": self.step, "val_loss": val_loss}
            best = Path(self.config.out_dir) / "best"
            distributed.on_main(lambda: checkpoint.save(best, self.model, extra=extra))
            self._best_pending = False

    def _save_after_interrupt(self) -> None:
        """On Ctrl-C: finish the step, write a best/ whose save was cut short, then last/.

        On several ranks only after a Ctrl-C that they agreed on (all stopped after the same
        step); an interrupt raised on one rank alone saves nothing, as the others may be
        waiting for it in a collective that never comes.
        """
        if self.world is not None and not self._sigint.agreed:
            return
        self._recover_interrupted_step()
        with contextlib.suppress(FloatingPointError):
            self._flush()
        if self.config.out_dir is None:
            return
        if self._best_pending:  # the weights are still those of that validation
            self._save_best(self.best_val_loss)
        if self._last_saved != self.step:
            self._save_last()

    def _flush(self) -> list[dict[str, float]]:
        """Copy pending losses to the host (one sync) and append them to the history."""
        if not self._pending:
            return []
        values = torch.stack(
            [torch.stack([loss.float(), norm.float()]) for _, _, loss, norm, _, _ in self._pending]
        )
        if self.world is not None:  # the loss of the global batch: the mean over ranks
            values[:, 0] = distributed.mean(values[:, 0])
        values = values.tolist()
        rows = []
        for (step, lr, *_, tokens, elapsed), (loss, norm) in zip(
            self._pending, values, strict=True
        ):
            if not math.isfinite(loss):
                self._pending.clear()
                raise FloatingPointError(
                    f"training diverged: loss is {loss} at step {step} (lr={lr:.3g}); "
                    "try a lower lr or set grad_clip"
                )
            rows.append(
                {
                    "step": step,
                    "lr": lr,
                    "train_loss": loss,
                    "val_loss": math.nan,
                    "grad_norm": norm,
                    "tokens_seen": tokens,
                    "elapsed": elapsed,
                }
            )
        self._pending.clear()
        self._rows.extend(rows)
        return rows

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            fn = getattr(cb, hook, None)
            if callable(fn):
                fn(self, *args)

    def _validate(self, row: dict[str, float]) -> None:
        c = self.config
        val = self.evaluate(("val",))["val"]
        row["val_loss"] = val
        if val < self.best_val_loss:
            self.best_val_loss = val
            self.evals_since_best = 0
            self._best_pending = c.out_dir is not None
        else:
            self.evals_since_best += 1
            patience = c.early_stopping_patience
            if patience is not None and self.evals_since_best >= patience:
                self.stopped_early = True
                self.should_stop = True
        # a best/ lost since (deleted, or a save that failed) is written again with this model
        if self._best_pending or (c.out_dir is not None and not distributed.on_main(self._has_best)):
            self._save_best(val)

    def _has_best(self) -> bool:
        return (Path(str(self.config.out_dir)) / "best" / checkpoint.CONFIG).is_file()

    # ------------------------------------------------------------------------------------- fit

    def fit(
        self, steps: int | None = None, resume_from: str | os.PathLike | None = None
    ) -> pd.DataFrame:
        """Train until ``max_steps`` (or for at most ``steps`` more steps); returns the history.

        ``resume_from`` first loads a checkpoint saved by :meth:`save` (weights, optimiser, RNG
        states, step, history). On ``KeyboardInterrupt`` the state of the last finished step is
        saved to ``out_dir/last`` (if ``out_dir`` is set) before the interrupt is re-raised; a
        Ctrl-C never splits an update from its bookkeeping, nor a save (it waits for their end).
        On several ranks a Ctrl-C is acted on at the next logging step (every ``log_every``
        steps), by all ranks together.
        """
        if steps is not None and (not _is_int(steps) or steps < 0):
            raise ValueError(f"steps must be None or an int >= 0; got {steps!r}")
        if resume_from is not None:
            self.load(resume_from)
        c = self.config
        target = c.max_steps if steps is None else min(c.max_steps, self.step + steps)
        if self.step == 0 and not self._resumed:
            torch.manual_seed(c.seed + self._rank)  # dropout etc.: on N ranks, one stream each
        self.should_stop = False
        self._clock = time.perf_counter() - self.elapsed
        bar = tqdm(
            total=c.max_steps,
            initial=self.step,
            disable=not c.progress or self._rank != 0,
            desc="train",
            unit="step",
            dynamic_ncols=True,
        )
        handler = self._sigint.install()
        try:
            try:
                if self._best_pending:  # an earlier fit stopped while best/ was written
                    self._save_best(self.best_val_loss)
                while self.step < target and not self.should_stop:
                    self._train_step()
                    s = self.step
                    eval_now = self.has_val and (s % c.eval_every == 0 or s == c.max_steps)
                    log_now = s % c.log_every == 0 or eval_now or s == target
                    if log_now:
                        rows = self._flush()
                        if eval_now:
                            self._validate(rows[-1])
                        for row in rows:
                            self._call("on_step", row)
                        if rows:
                            bar.update(rows[-1]["step"] - bar.n)
                            post = {"loss": f"{rows[-1]['train_loss']:.4f}"}
                            if self.best_val_loss < math.inf:
                                post["best_val"] = f"{self.best_val_loss:.4f}"
                            bar.set_postfix(post, refresh=False)
                        if eval_now:
                            self._call("on_eval", rows[-1])
                    if c.checkpoint_every and s % c.checkpoint_every == 0:
                        self._save_last()
                    if log_now and self.world is not None and self._sigint.agree(self.device):
                        raise KeyboardInterrupt  # a Ctrl-C on any rank: all stop after this step
            except KeyboardInterrupt:
                self._save_after_interrupt()
                raise
            self._flush()
            self._save_last()
        finally:
            bar.close()
            self._clock = None
            if handler:
                self._sigint.restore()
        self._call("on_fit_end")
        return self.history

    @property
    def history(self) -> pd.DataFrame:
        """One row per step: step, lr, train_loss, val_loss (NaN between validations), grad_norm,
        tokens_seen, elapsed (seconds)."""
        return pd.DataFrame(self._rows, columns=HISTORY_COLUMNS)

    # ------------------------------------------------------------------------------- checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything besides weights and optimiser that a resumed run needs (plain types)."""
        batch_rng, cpu_rng, cuda_rng = self._rng_state()
        state = {
            "kind": "labkit.train.Trainer",
            "step": self.step,
            "tokens_seen": self.tokens_seen,
            "elapsed": self.elapsed,
            "best_val_loss": self.best_val_loss,
            "evals_since_best": self.evals_since_best,
            "stopped_early": self.stopped_early,
            "batch_rng": batch_rng,
            "torch_rng": cpu_rng,
            "cuda_rng": cuda_rng,
            "grad_scaler": self.scaler.state_dict(),  # {} when disabled
            "train_config": dataclasses.asdict(self.config),
            "history": {col: [row[col] for row in self._rows] for col in HISTORY_COLUMNS},
        }
        if self.world is not None:  # every rank's own dropout generators, for an exact resume
            ranks = distributed.gather((cpu_rng, cuda_rng))
            state["rank_torch_rng"] = [cpu for cpu, _ in ranks]
            if cuda_rng is not None:
                state["rank_cuda_rng"] = [cuda for _, cuda in ranks]
        return state

    def save(self, path: str | os.PathLike) -> Path:
        """Write a checkpoint (weights, config, optimiser, RNG states, history) to folder ``path``.

        On several ranks call it on every rank: rank 0 writes, the others wait for it."""
        if self._pending:
            self._flush()
        extra = self.state_dict()
        return distributed.on_main(
            lambda: checkpoint.save(path, self.model, optimizer=self.optimizer, extra=extra)
        )

    def load(self, path: str | os.PathLike) -> None:
        """Restore weights, optimiser, RNG states, step and history from :meth:`save`'s folder."""
        state = checkpoint.load_trainer_state(path)
        _check_trainer_state(path, state)
        saved = state["train_config"].get("optimizer")
        if saved != self.config.optimizer:
            raise ValueError(
                f"checkpoint {os.fspath(path)!r} was trained with optimizer {saved!r}, but this "
                f"trainer's TrainConfig asks for optimizer {self.config.optimizer!r}; its state "
                f"(moments, momentum) cannot carry over: resume with optimizer={saved!r}"
            )
        checkpoint.load_weights(path, self.model)
        opt_state = state["optimizer"]
        current = self.optimizer.state_dict()["param_groups"]
        if len(opt_state["param_groups"]) != len(current):
            raise ValueError(
                f"checkpoint {os.fspath(path)!r}: optimiser has {len(opt_state['param_groups'])} "
                f"parameter groups, this trainer's has {len(current)}"
            )
        for saved_group, now in zip(opt_state["param_groups"], current, strict=True):
            for flag in ("fused", "foreach"):  # kernels follow this machine, not the saving one
                saved_group[flag] = now.get(flag)
        try:
            self.optimizer.load_state_dict(opt_state)
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(
                f"checkpoint {os.fspath(path)!r}: optimiser state does not fit: {err}"
            ) from None
        if state.get("grad_scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["grad_scaler"])
        cpu, cuda = state["torch_rng"], state.get("cuda_rng")
        if self.world is not None:
            cpu, cuda = self._rank_rng(state, cpu, cuda)
        self._set_rng_state(state["batch_rng"], cpu, cuda)
        self.step = int(state["step"])
        self.tokens_seen = int(state["tokens_seen"])
        self.elapsed = float(state["elapsed"])
        self.best_val_loss = float(state["best_val_loss"])
        self.evals_since_best = int(state["evals_since_best"])
        self.stopped_early = bool(state["stopped_early"])
        hist = state["history"]
        self._rows = [
            dict(zip(HISTORY_COLUMNS, vals, strict=True))
            for vals in zip(*(hist[col] for col in HISTORY_COLUMNS), strict=True)
        ]
        self._pending.clear()
        self._resumed = True
        self._best_pending = False
        self._last_saved = -1

    def _rank_rng(
        self, state: dict[str, Any], cpu: torch.Tensor, cuda: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's dropout generator states from a checkpoint saved on as many ranks. From
        any other checkpoint rank 0 continues the saved states and rank r > 0 starts afresh
        from ``seed + r``."""
        cpus, cudas = state.get("rank_torch_rng"), state.get("rank_cuda_rng")
        if isinstance(cpus, list) and len(cpus) == self._ranks:
            own = cudas[self._rank] if isinstance(cudas, list) and len(cudas) == self._ranks else None
            return cpus[self._rank], own
        if self._rank == 0:
            return cpu, cuda
        torch.manual_seed(self.config.seed + self._rank)
        return torch.get_rng_state(), None

    @classmethod
    def resume(
        cls,
        path: str | os.PathLike,
        train_data: torch.Tensor | None = None,
        val_data: torch.Tensor | None = None,
        model: nn.Module | None = None,
        config: TrainConfig | None = None,
        device: str | torch.device | None = None,
        batch_fn: BatchFn | None = None,
        callbacks: Iterable[Any] = (),
    ) -> Trainer:
        """A new Trainer continuing the run saved in ``path`` (e.g. ``out_dir/last``).

        ``model`` defaults to the one rebuilt from the checkpoint; ``config`` to the saved
        TrainConfig (pass one to change e.g. ``max_steps``).
        """
        if config is None:
            state = checkpoint.load_trainer_state(path)
            _check_trainer_state(path, state)
            try:
                config = TrainConfig(**state["train_config"])
            except TypeError as err:
                raise ValueError(
                    f"checkpoint {os.fspath(path)!r}: its train_config does not fit TrainConfig "
                    f"({err}); pass config=TrainConfig(...)"
                ) from None
        if model is None:
            model = checkpoint.load(path, device="cpu")
        trainer = cls(model, train_data, val_data, config, device, batch_fn, callbacks)
        trainer.load(path)
        return trainer


_STATE_TYPES: dict[str, tuple[type, ...]] = {
    "step": (int,),
    "tokens_seen": (int,),
    "elapsed": (int, float),
    "best_val_loss": (int, float),
    "evals_since_best": (int,),
    "stopped_early": (bool,),
    "batch_rng": (torch.Tensor,),
    "torch_rng": (torch.Tensor,),
    "train_config": (dict,),
    "history": (dict,),
    "optimizer": (dict,),
}


def _check_trainer_state(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """A clear ``ValueError`` for a trainer state that :meth:`Trainer.save` did not write."""
    where = f"checkpoint {os.fspath(path)!r}"
    if state.get("kind") != "labkit.train.Trainer" or "optimizer" not in state:
        raise ValueError(f"{where} holds no trainer state (saved by Trainer.save?)")
    for key, types in _STATE_TYPES.items():
        value = state.get(key)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            names = " or ".join(t.__name__ for t in types)
            raise ValueError(
                f"{where}: trainer state {key!r} must be {names}; got {type(value).__name__}"
            )
    hist = state["history"]
    columns = [hist.get(col) for col in HISTORY_COLUMNS]
    if not all(isinstance(c, list) and len(c) == len(columns[0]) for c in columns):
        raise ValueError(
            f"{where}: trainer state 'history' must hold equally long lists {HISTORY_COLUMNS}"
        )
    if not isinstance(state["optimizer"].get("param_groups"), list):
        raise ValueError(f"{where}: trainer state 'optimizer' has no 'param_groups' list")
