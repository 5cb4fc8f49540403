"""Which process this is in a ``torchrun`` job, and the few collectives training needs.

``torchrun --nproc_per_node N`` (or across nodes with ``--nnodes``) sets RANK,
WORLD_SIZE and LOCAL_RANK; without them this is a one-process run and every helper here
is a no-op. CUDA runs use NCCL, one GPU per process; CPU runs use gloo.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import RequestError


@dataclass
class Distributed:
    """This process's place in the job and the device it trains on."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Only the main process (rank 0) writes files and shows progress."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> Distributed:
    """Join the torchrun job if there is one; pick the device (``auto``, ``cpu``, ``cuda``)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise RequestError("train.device is cuda but no CUDA GPU is available")
        torch.cuda.set_device(local_rank)
        torch_device = torch.device("cuda", local_rank)
    else:
        torch_device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device == "cuda" else "gloo")
    return Distributed(rank, world_size, local_rank, torch_device)


def teardown(info: Distributed) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def mean_across(info: Distributed, value: torch.Tensor) -> torch.Tensor:
    """The mean of a tensor over all processes (the tensor itself when alone)."""
    if not info.enabled:
        return value
    value = value.clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / info.world_size


def sum_across(info: Distributed, value: torch.Tensor) -> torch.Tensor:
    if not info.enabled:
        return value
    value = value.clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


def gather_to_all(info: Distributed, value: torch.Tensor) -> list[torch.Tensor]:
    """Every process's copy of ``value`` (same shape everywhere), in rank order."""
    if not info.enabled:
        return [value]
    gathered = [torch.empty_like(value) for _ in range(info.world_size)]
    dist.all_gather(gathered, value.contiguous())
    return gathered


def barrier(info: Distributed) -> None:
    if info.enabled:
        dist.barrier()
