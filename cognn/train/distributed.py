"""Process-group plumbing for ``torchrun``: detect the launch from RANK / WORLD_SIZE, start NCCL (GPUs) or gloo
(CPUs), and reduce metric tensors across ranks. A plain ``cognn-train`` run is a world of one."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from ..errors import CognnError

__all__ = ["DistEnv", "setup", "teardown", "all_reduce_sum", "barrier"]


@dataclass(frozen=True)
class DistEnv:
    """Where this process stands: ``rank`` of ``world`` processes, on ``device``."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """The rank that writes files and prints."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    try:
        return default if value is None else int(value)
    except ValueError:
        raise CognnError(f"environment variable {name}={value!r} is not an integer") from None


def resolve_device(device: str | None, local_rank: int = 0) -> torch.device:
    """``"cpu"``, ``"cuda"`` / ``"cuda:N"`` or ``None`` (a GPU when present) as a torch device for this rank."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise CognnError(f"unknown device {device!r}; use cpu or cuda") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise CognnError("--device cuda was asked for but no CUDA GPU is available")
        if dev.index is None:
            dev = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(dev)
    elif dev.type != "cpu":
        raise CognnError(f"unsupported device {device!r}; use cpu or cuda")
    return dev


def setup(device: str | None = None) -> DistEnv:
    """Join the process group when launched by ``torchrun`` (WORLD_SIZE > 1); otherwise a world of one."""
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    dev = resolve_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        kwargs: dict[str, Any] = {"device_id": dev} if dev.type == "cuda" else {}
        dist.init_process_group(backend=backend, timeout=timedelta(minutes=30), **kwargs)
    return DistEnv(rank=rank, world=world, local_rank=local_rank, device=dev)


def teardown(env: DistEnv) -> None:
    """Leave the process group (if this process joined one)."""
    if env.distributed and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(t: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Sum ``t`` over all ranks (returns ``t`` itself in a world of one)."""
    if not env.distributed:
        return t
    out = t.to(env.device if env.device.type == "cuda" else "cpu").clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.to(t.device)


def barrier(env: DistEnv) -> None:
    """Wait for every rank."""
    if env.distributed:
        dist.barrier()
