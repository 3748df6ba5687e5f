"""Training on several processes (GPUs, nodes) with ``torch.distributed``, as launched by torchrun.

``torchrun --standalone --nproc_per_node=N -m pneumolib train ...`` starts N copies of the
command with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in their environment; :func:`setup`
reads them and joins the process group (NCCL on GPUs, gloo on CPUs; ``PNEUMO_DIST_BACKEND``
overrides). A plain ``python -m pneumolib train`` (``WORLD_SIZE`` unset or 1) gets a world of
one and no group at all: the single-process code path is untouched.

Batches: ``batch_size`` stays the per-process batch. Every rank draws the same seeded order of
the epoch and takes its own contiguous slice (:func:`shard_bounds`) of each global batch of
``batch_size * world_size`` images, so global step k sees exactly the images one process with
the global batch would, and every epoch is reproducible from the seed. What still differs from
that one process: BatchNorm statistics, per rank unless SyncBatchNorm (GPUs only; on by default
there) computes them over the global batch, and the augmentation and dropout draws (a seed per
rank, :func:`rank_seed`). A run resumes only with as many processes as it started with.

This module holds everything that talks to the process group; the training loop only asks it.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from pneumolib import environment

BACKEND_ENV = environment.DIST_BACKEND  # force "gloo" or "nccl" (e.g. gloo on GPUs to debug)
TIMEOUT_ENV = environment.DIST_TIMEOUT_MINUTES  # how long a rank waits at a collective (the image cache is built meanwhile)
DEFAULT_TIMEOUT_MINUTES = 30.0


@dataclass(frozen=True)
class World:
    """This process's place in the run: rank, local rank (on its node), world size, backend, device.

    ``backend`` is None for a single process; ``owns_group`` says whether :func:`setup` created
    the group (and :func:`teardown` must destroy it) or found one its caller made.
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that prints, shows progress bars and writes files."""
        return self.rank == 0

    @property
    def comm_device(self) -> torch.device:
        """Where tensors for a collective must live: the GPU for NCCL, the CPU for gloo."""
        return self.device if self.backend == "nccl" else torch.device("cpu")


SINGLE = World()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def launched_world_size() -> int:
    """``WORLD_SIZE`` as torchrun set it (1 when not launched by torchrun)."""
    return _env_int("WORLD_SIZE", 1)


def is_main_process() -> bool:
    """Whether this process is rank 0 (or the only one); valid before, during and after a group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return _env_int("RANK", 0) == 0


def choose_backend(device: torch.device) -> str:
    """NCCL for CUDA devices, gloo otherwise, unless ``PNEUMO_DIST_BACKEND`` says which."""
    forced = (environment.read(BACKEND_ENV) or "").lower()
    if forced:
        if forced not in ("nccl", "gloo"):
            raise ValueError(f"{BACKEND_ENV}={forced!r}: choose nccl or gloo")
        return forced
    return "nccl" if device.type == "cuda" else "gloo"


def process_device(device: torch.device, local_rank: int, rank: int = 0) -> torch.device:
    """The device of one process of a distributed run: ``cuda:LOCAL_RANK`` for CUDA, else ``device``.

    One GPU per process; an explicit index (``--device cuda:1``) cannot hold for every process,
    so it gives way to the local rank (choose GPUs with ``CUDA_VISIBLE_DEVICES``).
    """
    if device.type != "cuda":
        return device
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise RuntimeError(f"local rank {local_rank} has no GPU of its own ({count} visible): "
                           "start at most one process per GPU (--nproc_per_node), or train on the CPU with --device cpu")
    if device.index is not None and device.index != local_rank and rank == 0:
        warnings.warn(f"under torchrun each process uses cuda:LOCAL_RANK; {device} is ignored "
                      "(choose the GPUs with CUDA_VISIBLE_DEVICES)", stacklevel=2)
    return torch.device("cuda", local_rank)


def _timeout() -> timedelta:
    return timedelta(minutes=float(environment.read(TIMEOUT_ENV) or DEFAULT_TIMEOUT_MINUTES))


def setup(device: torch.device) -> World:
    """Join the run this process belongs to; a single process when not launched by torchrun.

    Uses a process group the caller already initialised (and leaves it to them); otherwise, with
    ``WORLD_SIZE > 1`` in the environment, initialises one from torchrun's variables
    (``env://``: ``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``, ``WORLD_SIZE``).
    """
    adopted = dist.is_available() and dist.is_initialized()
    world_size = dist.get_world_size() if adopted else launched_world_size()
    if world_size <= 1:
        return World(device=device)
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed")
    rank = dist.get_rank() if adopted else _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", rank)
    device = process_device(device, local_rank, rank)
    if adopted:
        backend = str(dist.get_backend())
    else:
        backend = choose_backend(device)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend, init_method="env://", timeout=_timeout())
    return World(rank, local_rank, world_size, backend, device, owns_group=not adopted)


def teardown(world: World) -> None:
    """Destroy the process group if :func:`setup` created it (also after an error)."""
    if world.owns_group and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def membership(world: World) -> Iterator[World]:
    """Leave the group :func:`setup` joined when the block ends: together after a normal end, at once after an error.

    Ranks that finish at different moments (rank 0 still writing files) and destroy their gloo
    groups unsynchronised can abort a peer's process while it shuts its connections down; a
    barrier first lets every rank leave a quiet group. After an error there is no barrier: the
    other ranks may never reach it.
    """
    try:
        yield world
    except BaseException:
        teardown(world)
        raise
    if world.owns_group and dist.is_initialized():
        barrier(world)
    teardown(world)


def barrier(world: World) -> None:
    """Wait for every rank (a no-op for a single process)."""
    if not world.distributed:
        return
    if world.backend == "nccl":
        dist.barrier(device_ids=[world.device.index])
    else:
        dist.barrier()


def all_reduce_sum(world: World, values: Sequence[float]) -> list[float]:
    """Element-wise sums of ``values`` over every rank (float64)."""
    if not world.distributed:
        return [float(v) for v in values]
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=world.comm_device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.cpu().tolist()


def all_gather_concat(world: World, array: np.ndarray) -> np.ndarray:
    """Every rank's ``array`` (any length along axis 0) concatenated in rank order, on every rank."""
    if not world.distributed:
        return array
    array = np.ascontiguousarray(array)
    local = torch.as_tensor(array).to(world.comm_device)
    lengths = [torch.zeros(1, dtype=torch.int64, device=world.comm_device) for _ in range(world.world_size)]
    dist.all_gather(lengths, torch.tensor([len(array)], dtype=torch.int64, device=world.comm_device))
    sizes = [int(n.item()) for n in lengths]
    padded = torch.zeros((max(sizes), *local.shape[1:]), dtype=local.dtype, device=world.comm_device)
    padded[: len(array)] = local
    parts = [torch.empty_like(padded) for _ in range(world.world_size)]
    dist.all_gather(parts, padded)
    return np.concatenate([part[:size].cpu().numpy() for part, size in zip(parts, sizes, strict=True)])


def broadcast_object(world: World, value: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``value`` (any picklable object, e.g. a checkpoint dict) on every rank."""
    if not world.distributed:
        return value
    box = [value if world.rank == src else None]
    dist.broadcast_object_list(box, src=src, device=world.comm_device)
    return box[0]


def broadcast_buffers(world: World, module: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (BatchNorm running statistics) to every rank.

    Without SyncBatchNorm each rank updates its running statistics from its own images; after
    this every rank evaluates exactly the model rank 0 saves.
    """
    if not world.distributed:
        return
    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=src)


def rank_seed(seed: int, rank: int) -> int:
    """A seed of its own for each rank (augmentation, dropout); rank 0 keeps ``seed`` itself."""
    if rank == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank]).generate_state(1, np.uint64)[0] >> 1)


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """[start, stop) of rank's contiguous share of ``n`` items; shares differ by at most one."""
    base, extra = divmod(n, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def shard(items: np.ndarray, world: World) -> np.ndarray:
    """This rank's slice of ``items`` (e.g. one global batch of the epoch's shared order)."""
    start, stop = shard_bounds(len(items), world.rank, world.world_size)
    return items[start:stop]


def builds_cache(world: World, cache_dir: str | os.PathLike) -> bool:
    """Whether this rank decodes the images into ``cache_dir`` while the others wait.

    Global rank 0 always does; the local rank 0 of another node too, unless it sees a probe file
    rank 0 just wrote there (a folder shared between nodes: one builder for all of them).
    """
    if not world.distributed:
        return True
    cache_dir = Path(cache_dir)
    probe = cache_dir / f".probe-{broadcast_object(world, uuid.uuid4().hex)}"
    if world.is_main:
        cache_dir.mkdir(parents=True, exist_ok=True)
        probe.touch()
    barrier(world)
    sees_probe = probe.exists()
    barrier(world)
    if world.is_main:
        probe.unlink(missing_ok=True)
    return world.is_main or (world.local_rank == 0 and not sees_probe)


def wrap_model(model: nn.Module, world: World) -> nn.Module:
    """The model wrapped in DistributedDataParallel (gradients averaged over ranks), or itself alone.

    DDP copies rank 0's parameters and buffers to every rank here, and again (buffers) before
    every forward pass; checkpoints are written from the unwrapped ``model``.
    """
    if not world.distributed:
        return model
    device_ids = [world.device.index] if world.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def convert_sync_batchnorm(model: nn.Module) -> nn.Module:
    """BatchNorm statistics computed over the global batch (CUDA only: SyncBatchNorm needs a GPU).

    timm's converter also handles its fused BatchNorm + activation layers (EfficientNet-Lite0),
    which torch's own would replace by a bare BatchNorm, dropping the activation. Parameters and
    ``state_dict`` keys are unchanged, so checkpoints load into an ordinary model.
    """
    from timm.layers import convert_sync_batchnorm as convert

    return convert(model)
