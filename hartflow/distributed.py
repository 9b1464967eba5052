"""Data parallelism over `torch.distributed`: the same code runs single-process and under torchrun.

Launch with `torchrun --nproc-per-node N -m cli grid train ...` (or any script); torchrun sets
RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT. Without them, `setup_distributed`
returns a world of one and every collective here is a no-op. Backend: NCCL on CUDA, gloo on CPU.

Gradients are summed (not averaged) across ranks, as in the reference trainer: the loss is
already scaled by 1 / global batch before `backward()`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from hartflow.errors import HartFlowError

__all__ = [
    "DistContext",
    "setup_distributed",
    "all_reduce_gradients",
    "all_reduce_",
    "broadcast_parameters",
    "teardown",
]


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    is_main: bool = True
    initialized: bool = False  # True when setup_distributed created the process group


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise HartFlowError(f"{name}={value!r} is not an integer; launch with torchrun") from None


def setup_distributed(*, backend: str | None = None, device: str | None = None) -> DistContext:
    """Read torchrun's environment and join the process group when WORLD_SIZE > 1.

    Args:
        backend: "gloo" or "nccl"; default NCCL when the device is CUDA, else gloo.
        device: "cpu" or "cuda"; default CUDA when available.

    Returns:
        The context; `initialized` says whether a process group was created here.
    """
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", rank)
    kind = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if kind not in ("cpu", "cuda"):
        raise HartFlowError(f"device must be cpu or cuda, got {kind!r}")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise HartFlowError(
                "device cuda requested but no CUDA GPU is visible; use --device cpu"
            )
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        dev = torch.device("cuda", torch.cuda.current_device())
    else:
        dev = torch.device("cpu")
    initialized = False
    if world > 1 and not dist.is_initialized():
        backend = backend or ("nccl" if kind == "cuda" else "gloo")
        if backend not in ("gloo", "nccl"):
            raise HartFlowError(f"backend must be gloo or nccl, got {backend!r}")
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
        initialized = True
    return DistContext(rank, world, local_rank, dev, rank == 0, initialized)


def _params(model_or_params: torch.nn.Module | Iterable[torch.Tensor]) -> list[torch.Tensor]:
    if isinstance(model_or_params, torch.nn.Module):
        return [p for p in model_or_params.parameters() if p.requires_grad]
    return [p for p in model_or_params if p.requires_grad]


def all_reduce_(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum `tensor` across ranks in place (no-op in a world of one)."""
    if ctx.world_size > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def _reduce_sparse(grad: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum a sparse COO gradient across ranks by all-gathering its rows (the table stays sparse)."""
    grad = grad.coalesce()
    idx, val = grad.indices(), grad.values()
    count = torch.tensor([idx.shape[1]], device=val.device)
    counts = [torch.zeros_like(count) for _ in range(ctx.world_size)]
    dist.all_gather(counts, count)
    most = int(max(c.item() for c in counts))
    pad_idx = torch.zeros((idx.shape[0], most), dtype=idx.dtype, device=idx.device)
    pad_val = torch.zeros((most, *val.shape[1:]), dtype=val.dtype, device=val.device)
    pad_idx[:, : idx.shape[1]], pad_val[: val.shape[0]] = idx, val
    all_idx = [torch.empty_like(pad_idx) for _ in range(ctx.world_size)]
    all_val = [torch.empty_like(pad_val) for _ in range(ctx.world_size)]
    dist.all_gather(all_idx, pad_idx)
    dist.all_gather(all_val, pad_val)
    idx = torch.cat([a[:, : int(c.item())] for a, c in zip(all_idx, counts, strict=True)], dim=1)
    val = torch.cat([a[: int(c.item())] for a, c in zip(all_val, counts, strict=True)])
    return torch.sparse_coo_tensor(idx, val, grad.shape, check_invariants=True).coalesce()


def all_reduce_gradients(
    model_or_params: torch.nn.Module | Iterable[torch.Tensor], ctx: DistContext
) -> None:
    """Sum the gradients of trainable parameters across ranks (one flat all-reduce).

    A parameter without a gradient on some rank counts as zero there; it gets the summed
    gradient everywhere if any rank has one, and stays None if none has. Sparse gradients
    (embedding tables) are gathered row-wise.
    """
    if ctx.world_size == 1:
        return
    params = _params(model_or_params)
    flags = [[p.grad is not None, p.grad is not None and p.grad.is_sparse] for p in params]
    counts = all_reduce_(
        torch.tensor(flags, dtype=torch.int32, device=ctx.device).reshape(-1, 2), ctx
    )
    dense: list[torch.Tensor] = []
    for p, (n_has, n_sparse) in zip(params, counts.tolist(), strict=True):
        if n_has == 0:
            continue
        if n_sparse > 0:  # any rank sparse: gather rows (an empty sparse grad where missing)
            if p.grad is None:
                empty = torch.zeros((1, 0), dtype=torch.long, device=p.device)  # row-sparse
                p.grad = torch.sparse_coo_tensor(
                    empty, p.new_zeros((0, *p.shape[1:])), p.shape, check_invariants=True
                )
            grad = p.grad if p.grad.is_sparse else p.grad.to_sparse(1)
            p.grad = _reduce_sparse(grad, ctx)
            continue
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dense.append(p.grad)
    for dtype in {g.dtype for g in dense}:
        group = [g for g in dense if g.dtype == dtype]
        flat = torch.cat([g.reshape(-1) for g in group])
        all_reduce_(flat, ctx)
        offset = 0
        for g in group:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()


def broadcast_parameters(model: torch.nn.Module, ctx: DistContext, *, src: int = 0) -> None:
    """Copy rank `src`'s parameters and buffers to every rank."""
    if ctx.world_size == 1:
        return
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            dist.broadcast(t.data, src=src)


def teardown(ctx: DistContext) -> None:
    """Leave the process group if `setup_distributed` created it."""
    if ctx.initialized and dist.is_initialized():
        dist.destroy_process_group()
