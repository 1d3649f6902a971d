"""Data-parallel training with torchrun: who am I, on which device, and how ranks agree.

    torchrun --standalone --nproc_per_node 2 -m interlingua train --data corpus.jsonl --out runs/ddp

Without torchrun (no WORLD_SIZE in the environment) everything here is a no-op for one process.
Backends: NCCL on GPUs, gloo on CPUs.
"""
from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Context:
    rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Only rank 0 writes the run folder, checkpoints and logs."""
        return self.rank == 0


def setup() -> Context:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world <= 1:
        return Context(0, 1, torch.device("cuda" if cuda else "cpu"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return Context(dist.get_rank(), world, torch.device(f"cuda:{local}" if cuda else "cpu"))


def barrier(ctx: Context) -> None:
    if ctx.world > 1:
        dist.barrier()


def agree(ctx: Context, from_main: list[bool], from_any: list[bool] = ()) -> list[bool]:
    """Decisions every rank takes at the same step, in one collective.

    Each of ``from_main`` is rank 0's (e.g. 'the time budget is spent': the other ranks' clocks are
    not asked); each of ``from_any`` is true when it is true on any rank (e.g. 'a signal arrived here':
    torchrun or a user may signal only one process, and every rank must still stop together).
    """
    flags = [bool(f) and ctx.is_main for f in from_main] + [bool(f) for f in from_any]
    if ctx.world == 1:
        return flags
    value = torch.tensor(flags, dtype=torch.int32, device=ctx.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return [bool(v) for v in value.tolist()]


def total(ctx: Context, number: float) -> float:
    """Sum of a number over ranks (tokens processed, for throughput)."""
    if ctx.world == 1:
        return number
    value = torch.tensor([float(number)], device=ctx.device, dtype=torch.float64)
    dist.all_reduce(value)
    return float(value.item())


def gather(ctx: Context, numbers: list[int]) -> list[list[int]]:
    """Every rank's few integers, in rank order (each streamed rank's data position, for the checkpoint)."""
    if ctx.world == 1:
        return [list(numbers)]
    value = torch.tensor(numbers, device=ctx.device, dtype=torch.int64)
    parts = [torch.empty_like(value) for _ in range(ctx.world)]
    dist.all_gather(parts, value)
    return [part.tolist() for part in parts]


def teardown(ctx: Context) -> None:
    """Leave the process group together and while Python is fully alive.

    A DDP wrapper still holding the group at interpreter exit lets gloo's threads outlive it, and the
    process can then abort after training succeeded ("terminate called without an active
    exception", seen once in CI). The caller drops its DDP wrapper first; collecting here frees its
    reference cycles; the barrier keeps one rank from closing its sockets while the other still talks.
    """
    if ctx.world > 1 and dist.is_initialized():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()
