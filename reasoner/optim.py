"""Optimisers of the TRM/HRM recipe: AdamATan2 (dense weights), sign-SGD (sparse puzzle
embeddings), and the linear-warm-up / cosine learning-rate multiplier.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


def _check_lr_wd(lr: float, weight_decay: float) -> None:
    if lr < 0:
        raise ValueError(f"lr must be >= 0, got {lr} (TRM uses 1e-4)")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay} (TRM uses 0.1 or 1.0)")


class AdamATan2(torch.optim.Optimizer):
    """Adam with atan2 in place of m / (sqrt(v) + eps): scale-invariant and eps-free.

    Per step t, with bias corrections bc1 = 1 − β1ᵗ, bc2 = 1 − β2ᵗ:

        p ← p · (1 − lr·wd)                       (decoupled weight decay)
        m ← β1·m + (1 − β1)·g ;  v ← β2·v + (1 − β2)·g²
        p ← p − (lr / bc1) · atan2(m, sqrt(v) / sqrt(bc2))

    This is the update of the `adam-atan2` CUDA kernel (a = b = 1) in plain PyTorch, so it runs on
    any device. Sparse gradients are not supported (use `SignSGD` for sparse embeddings).
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        *,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.95),
        weight_decay: float = 0.0,
    ):
        _check_lr_wd(lr, weight_decay)
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must lie in [0, 1), got {betas} (TRM uses (0.9, 0.95))")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd = float(group["lr"]), float(group["weight_decay"])
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise ValueError("AdamATan2 does not take sparse gradients; use SignSGD")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = state["step"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                g = p.grad
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                bc1, bc2 = 1 - beta1**t, 1 - beta2**t
                if wd:
                    p.mul_(1 - lr * wd)
                p.add_(torch.atan2(m, v.sqrt() / math.sqrt(bc2)), alpha=-lr / bc1)
        return loss


class SignSGD(torch.optim.Optimizer):
    """Sign-SGD with decoupled weight decay, for sparse embedding tables.

    For each row r that has a gradient: w_r ← w_r · (1 − lr·wd) − lr · sign(g_r). Rows without a
    gradient (not in this batch) are untouched, weight decay included. Sparse (COO) gradients are
    coalesced first, so repeated ids in a batch sum their gradients before the sign. For dense
    gradients a row "has a gradient" when any entry of it is non-zero.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        *,
        lr: float,
        weight_decay: float = 0.0,
    ):
        _check_lr_wd(lr, weight_decay)
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd = float(group["lr"]), float(group["weight_decay"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if g.is_sparse:
                    g = g.coalesce()
                    rows, values = g.indices()[0], g.values()
                else:
                    flat = g.reshape(g.shape[0], -1) if g.dim() > 1 else g.reshape(-1, 1)
                    rows = flat.ne(0).any(dim=1).nonzero().squeeze(1)
                    values = g[rows]
                if rows.numel() == 0:
                    continue
                w = p[rows]
                p[rows] = w * (1 - lr * wd) - lr * torch.sign(values).to(p.dtype)
        return loss


def cosine_ratio(progress: float, min_ratio: float) -> float:
    """The cosine's multiplier at `progress` (0 → 1, 1 → `min_ratio`; clipped to [0, 1])."""
    progress = min(max(progress, 0.0), 1.0)
    return min_ratio + (1 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_constant(
    step: int,
    *,
    warmup_steps: int,
    total_steps: int | None = None,
    min_ratio: float = 1.0,
) -> float:
    """The learning-rate multiplier at `step`: linear warm-up from 0, then cosine to `min_ratio`.

    With `min_ratio=1.0` (the TRM/HRM default) the rate is constant after warm-up; then
    `total_steps` is not needed. Step 0 gives 0, step `warmup_steps` gives 1.
    """
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps} (TRM uses 2000)")
    if not 0.0 <= min_ratio <= 1.0:
        raise ValueError(f"min_ratio must lie in [0, 1], got {min_ratio} (1.0 = constant)")
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    if min_ratio == 1.0:
        return 1.0
    if total_steps is None:
        raise ValueError("total_steps is needed when min_ratio < 1 (the cosine needs an end)")
    return cosine_ratio((step - warmup_steps) / max(1, total_steps - warmup_steps), min_ratio)
