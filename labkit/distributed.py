"""Data-parallel training on ``torch.distributed``: the plumbing, out of the Trainer's way.

``torchrun --nproc_per_node N -m labkit train gpt ...`` starts N processes (*ranks*), each with
a full copy of the model. Every step each rank draws its own shard of one global batch, computes
the loss and its gradient on it, and :class:`~torch.nn.parallel.DistributedDataParallel` averages
the gradients over the ranks during ``backward``:

    g = (1/N) Σ_r ∇_θ loss_r          (loss_r: the mean loss on rank r's b windows)

which, with equal shards, is the gradient of the mean loss over all N·b windows. Every rank then
applies the same update to the same weights, so N ranks × b windows train exactly like one
process × N·b windows (up to the order of float additions; with dropout each rank draws its own
masks, from ``seed + rank``, so the two then agree in distribution only). Notebook 16 builds it
by hand.

- :func:`launched` tells a torchrun launch (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` set) apart
  from a plain one; :func:`session` starts the process group (gloo on the CPU, NCCL on CUDA
  GPUs, rank r on ``cuda:LOCAL_RANK``) and always destroys it at the end, errors included.
- :func:`world` describes the running group (``None`` outside one); :func:`wrap` puts a model
  into DDP; :func:`mean`, :func:`any_rank`, :func:`gather` and :func:`on_main` are the few
  collectives the Trainer needs: the logged loss, a Ctrl-C on any rank, the ranks' random
  states, and work that rank 0 alone does (saves) while the others wait for its result.
- :class:`AgreedInterrupt`: under torchrun a Ctrl-C reaches every rank at a slightly different
  moment; acting on it at once would leave the other ranks waiting in a collective. It is noted
  instead, and every rank stops at the same step once they have agreed on it.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from labkit.runs import DeferredInterrupt

__all__ = [
    "AgreedInterrupt",
    "RelayedError",
    "TIMEOUT",
    "World",
    "any_rank",
    "gather",
    "launched",
    "mean",
    "on_main",
    "session",
    "world",
    "wrap",
]

#: How long a collective (a gradient average, a barrier around a save) may wait for the slowest
#: rank before it fails instead of hanging.
TIMEOUT = datetime.timedelta(minutes=10)

_LAUNCH_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
_NEEDED_VARS = (*_LAUNCH_VARS, "MASTER_ADDR", "MASTER_PORT")
_HOW = "torchrun --nproc_per_node N -m labkit train gpt ..."

T = TypeVar("T")


class RelayedError(RuntimeError):
    """Rank 0 failed in work it does for all ranks (see :func:`on_main`); the other ranks stop
    with this error, while rank 0 reports the original one."""


@dataclass(frozen=True)
class World:
    """The running process group: this process's ``rank`` in ``[0, size)``, its ``local_rank``
    on this machine, and the ``device`` it trains on."""

    rank: int
    size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


# ----------------------------------------------------------------------------- launch, teardown


def launched() -> bool:
    """True when this process was started by torchrun (or another launcher that sets ``RANK``,
    ``WORLD_SIZE`` or ``LOCAL_RANK``) and should join a process group."""
    return any(name in os.environ for name in _LAUNCH_VARS)


def _env_int(name: str, low: int, high: int | None = None) -> int:
    raw = os.environ[name]
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value >= high):
        allowed = f">= {low}" if high is None else f"in [{low}, {high})"
        raise ValueError(
            f"environment variable {name} must be a whole number {allowed}; got {raw!r} "
            f"(start training on several processes with `{_HOW}`, which sets it)"
        )
    return value


def _launch_env() -> tuple[int, int, int]:
    """``(rank, world size, local rank)`` from torchrun's environment, checked."""
    missing = [name for name in _NEEDED_VARS if not os.environ.get(name, "").strip()]
    if missing:
        given = ", ".join(f"{n}={os.environ[n]}" for n in _LAUNCH_VARS if n in os.environ)
        raise ValueError(
            f"{given} is set, so this process expects to be one of several, but "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: start "
            f"training on several processes with `{_HOW}` (it sets {', '.join(_NEEDED_VARS)}), "
            f"or unset {', '.join(n for n in _LAUNCH_VARS if n in os.environ)} to train in "
            "one process"
        )
    size = _env_int("WORLD_SIZE", 1)
    return _env_int("RANK", 0, size), size, _env_int("LOCAL_RANK", 0)


def _rank_device(device: str | torch.device | None, local_rank: int) -> torch.device:
    """The device of this rank: ``cuda:LOCAL_RANK`` for CUDA (the default where there is a GPU),
    else the CPU. One GPU per rank is what NCCL and DDP expect."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device) if isinstance(device, str) else device
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise ValueError(
            f"device {str(device)!r} cannot train on several processes: torch.distributed "
            "serves 'cpu' (gloo) and 'cuda' (NCCL); use one of them"
        )
    if dev.index is not None and dev.index != local_rank:
        raise ValueError(
            f"device {str(device)!r}: under torchrun each process trains on its own GPU, "
            f"cuda:LOCAL_RANK (cuda:{local_rank} here); give 'cuda' without a number"
        )
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise ValueError(
            f"LOCAL_RANK={local_rank} needs GPU cuda:{local_rank}, but this machine has "
            f"{count} CUDA GPU(s): start at most {count} processes per machine "
            "(torchrun --nproc_per_node), or train on the CPU"
        )
    return torch.device("cuda", local_rank)


@contextmanager
def session(
    device: str | torch.device | None = None, timeout: datetime.timedelta = TIMEOUT
) -> Iterator[World | None]:
    """Join the process group of a torchrun launch for the duration of the block.

    Yields the :class:`World` (``None`` when this is a plain, single-process run: then nothing
    happens). The backend follows the device: NCCL for CUDA, gloo for the CPU. The group is
    destroyed when the block ends, also on an error or a Ctrl-C, so no rank is left behind.
    """
    if not launched():
        yield None
        return
    if dist.is_initialized():
        raise RuntimeError("a torch.distributed process group is already running in this process")
    rank, size, local_rank = _launch_env()
    dev = _rank_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
        dist.init_process_group("nccl", timeout=timeout, device_id=dev)
    else:
        dist.init_process_group("gloo", timeout=timeout)
    try:
        yield World(rank, size, local_rank, dev)
    finally:
        dist.destroy_process_group()


def world() -> World | None:
    """The process group this process belongs to, or ``None`` when it trains alone."""
    if not (dist.is_available() and dist.is_initialized()):
        return None
    local_rank = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    nccl = dist.get_backend() == "nccl"
    dev = torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")
    return World(dist.get_rank(), dist.get_world_size(), local_rank, dev)


# ------------------------------------------------------------------------------------- the model


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in DistributedDataParallel: rank 0's weights are copied to every rank, and
    ``backward`` averages the gradients over the ranks (bucketed, overlapping the backward).

    Buffers are sent once, not before every forward: the models here keep only constants in
    them (position tables), the same on every rank.
    """
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    # torch >= 2.13 names the switch forward_sync_buffers; older releases broadcast_buffers
    newer = "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
    flag = {"forward_sync_buffers" if newer else "broadcast_buffers": False}
    return DistributedDataParallel(model, device_ids=ids, **flag)


# ----------------------------------------------------------------------------------- collectives


def mean(values: torch.Tensor) -> torch.Tensor:
    """The mean over ranks of ``values`` (each rank passes its own; all get the same result)."""
    total = values.detach().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)  # gloo has no AVG
    return total / dist.get_world_size()


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when ``flag`` is True on at least one rank."""
    t = torch.tensor([int(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def gather(obj: Any) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (pickled: keep it small)."""
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def on_main(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 alone while the other ranks wait, and return its result on every
    rank (pickled: keep it small). An error in ``fn`` is raised on rank 0 as it is and on the
    others as :class:`RelayedError`, so no rank waits for a rank 0 that has given up.
    Outside a process group ``fn`` simply runs.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return fn()
    box: list[Any] = [None]
    if dist.get_rank() == 0:
        try:
            box[0] = (True, fn())
        except Exception as err:
            dist.broadcast_object_list([(False, f"{type(err).__name__}: {err}")], src=0)
            raise
    dist.broadcast_object_list(box, src=0)
    ok, value = box[0]
    if not ok:
        raise RelayedError(f"rank 0 failed: {value}")
    return value


# ------------------------------------------------------------------------------------------ Ctrl-C


class AgreedInterrupt(DeferredInterrupt):
    """Ctrl-C for a training run on several processes: every rank stops at the same step.

    The interface of :class:`labkit.runs.DeferredInterrupt` (``install``, ``restore``,
    ``with guard:``), but a first Ctrl-C is only *noted* (``noted``), wherever it lands; the
    Trainer asks :meth:`agree` at its logging steps, a collective that tells every rank whether
    any rank was interrupted, and then all of them stop after that same step (``agreed``). A
    rank that raised at once would leave the others waiting for it in the next gradient average.
    A second Ctrl-C raises ``KeyboardInterrupt`` at once, the way out of a run that hangs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.noted = False
        self.agreed = False

    def install(self) -> bool:
        self.noted = self.agreed = False
        return super().install()

    def restore(self) -> None:
        super().restore()
        self.noted = False

    def _handle(self, signum: int, frame: Any) -> None:
        if not self.noted:
            self.noted = True
            return
        self._previous(signum, frame)

    def agree(self, device: torch.device) -> bool:
        """True on every rank when any rank has noted a Ctrl-C (a collective: call it on all)."""
        self.agreed = any_rank(self.noted, device)
        return self.agreed

    def __enter__(self) -> AgreedInterrupt:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        return None
