"""Distributed data parallel helpers: ``torchrun --nproc_per_node N -m aksar train ...``.

The process group is set up from torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``): NCCL on CUDA, gloo on CPU. Without those variables everything is a
single process (rank 0 of 1) and these helpers are no-ops.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_from_environment() -> DistEnv:
    return DistEnv(rank=int(os.environ.get("RANK", 0)), world_size=int(os.environ.get("WORLD_SIZE", 1)),
                   local_rank=int(os.environ.get("LOCAL_RANK", 0)))


def init_distributed(device: torch.device, timeout_minutes: float = 60.0) -> DistEnv:
    """Join the process group if launched by torchrun (or already initialised); else a single-process env."""
    if dist.is_available() and dist.is_initialized():
        return DistEnv(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))
    env = env_from_environment()
    if not env.enabled:
        return env
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, rank=env.rank, world_size=env.world_size,
                            timeout=timedelta(minutes=timeout_minutes))
    log.info("distributed: rank %d of %d (%s)", env.rank, env.world_size, backend)
    return env


def cleanup_distributed(created: bool) -> None:
    if created and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    if env.enabled:
        dist.barrier()


def all_reduce_mean(values: list[float], env: DistEnv, device: torch.device) -> list[float]:
    """Mean over ranks of a few floats (one collective)."""
    if not env.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / env.world_size).tolist()


def broadcast_object(obj, env: DistEnv):
    """Rank 0's ``obj`` on every rank."""
    if not env.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_buffers(module: torch.nn.Module, env: DistEnv) -> None:
    """Rank 0's buffers (BatchNorm running stats) on every rank: DDP syncs them at each forward, so
    after the last step they differ by one local update."""
    if not env.enabled:
        return
    for buf in module.buffers():
        dist.broadcast(buf, src=0)


def any_rank(flag: bool, env: DistEnv, device: torch.device) -> bool:
    """True on every rank if ``flag`` is true on any rank (stop signals, budgets)."""
    if not env.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


__all__ = ["DistEnv", "init_distributed", "cleanup_distributed", "barrier", "all_reduce_mean",
           "broadcast_object", "broadcast_buffers", "any_rank", "env_from_environment"]
