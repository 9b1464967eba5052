"""Losses: stablemax and softmax cross-entropy (masked), and the ACT loss of TRM/HRM.

The ACT loss = lm + 0.5 · (q_halt + q_continue), where lm is each sequence's mean token loss over
its valid tokens summed over the batch, q_halt is the BCE of the halting logit against "this
step's prediction is exactly right", and q_continue (optional) the BCE of the continue logit
against the bootstrapped target. Every combination of {stablemax, softmax} × {q_continue on, off}
runs (TRM's original crashes on two of them).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

LOSSES = ("stablemax", "softmax")


def _stablemax_s(x: torch.Tensor) -> torch.Tensor:
    """s(x) = x + 1 for x >= 0, 1 / (1 − x) for x < 0 (positive, monotone, linear growth)."""
    return torch.where(x < 0, 1.0 / (1.0 - x.clamp(max=0)), x + 1.0)


def log_stablemax(logits: torch.Tensor, *, dim: int = -1) -> torch.Tensor:
    """log(s(x_i) / Σ_j s(x_j)), in float64.

    Shapes:
        logits: any -> same shape, float64.
    """
    s = _stablemax_s(logits.to(torch.float64))
    return torch.log(s / s.sum(dim=dim, keepdim=True))


def _valid(labels: torch.Tensor, ignore_index: int, valid_mask: torch.Tensor | None):
    return labels != ignore_index if valid_mask is None else valid_mask


def stablemax_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    ignore_index: int = -100,
    valid_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-token cross-entropy under stablemax, computed in float64; 0 where masked.

    Shapes:
        logits: (B, L, V); labels: (B, L) long; valid_mask: (B, L) bool or None (= labels !=
        ignore_index) -> (B, L) float64.
    """
    mask = _valid(labels, ignore_index, valid_mask)
    logp = log_stablemax(logits, dim=-1)
    safe = torch.where(mask, labels, 0).long()
    picked = logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    return torch.where(mask, -picked, 0.0)


def softmax_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    ignore_index: int = -100,
    valid_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-token softmax cross-entropy, computed in float32; 0 where masked.

    Shapes:
        logits: (B, L, V); labels: (B, L) long; valid_mask: (B, L) bool or None -> (B, L) float32.
    """
    mask = _valid(labels, ignore_index, valid_mask)
    safe = torch.where(mask, labels, 0).long()
    logp = torch.log_softmax(logits.float(), dim=-1)
    picked = logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    return torch.where(mask, -picked, 0.0)


def act_loss(
    out: Any,
    carry: Any,
    *,
    loss: str = "stablemax",
    q_continue: bool | None = None,
    ignore_index: int = -100,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The deep-supervision loss of one ACT step, summed over the batch, and its metrics.

    Args:
        out: the model output (`logits`, `q_halt_logits`, `q_continue_logits`,
            `target_q_continue`).
        carry: the carry returned with it (`data["labels"]`, `halted`, `steps`).
        loss: "stablemax" (TRM's default) or "softmax".
        q_continue: add the Q-continue BCE; needs `out.target_q_continue` (a model with
            `act_continue=True`). None = add it exactly when the target is present.

    Returns:
        (loss, metrics): loss is a scalar (the trainer scales it by 1 / global batch).
        metrics hold detached sums over the rows that halted at this step: count, accuracy
        (sum of per-row token accuracy), exact_accuracy, q_halt_accuracy, steps; and the losses
        lm_loss, q_halt_loss (and q_continue_loss) over the whole batch.

    Raises:
        ValueError: unknown `loss`, or q_continue=True without a target.

    Shapes:
        out.logits: (B, L, V); carry.data["labels"]: (B, L); q logits: (B,).
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    target = getattr(out, "target_q_continue", None)
    if q_continue is None:
        q_continue = target is not None
    if q_continue and target is None:
        raise ValueError(
            "q_continue=True needs target_q_continue, which the model computes only in training "
            "with act_continue=True and max_halt_steps > 1; build it so, or pass "
            "q_continue=None (add when present)"
        )
    labels = carry.data["labels"]
    logits = out.logits
    mask = labels != ignore_index
    counts = mask.sum(-1)  # (B,)
    divisor = counts.clamp_min(1)
    with torch.no_grad():
        is_correct = mask & (logits.argmax(-1) == labels)
        seq_correct = is_correct.sum(-1) == counts
        valid = carry.halted & (counts > 0)
        metrics = {
            "count": valid.sum(),
            "accuracy": torch.where(valid, is_correct.sum(-1).float() / divisor, 0.0).sum(),
            "exact_accuracy": (valid & seq_correct).sum(),
            "q_halt_accuracy": (valid & ((out.q_halt_logits >= 0) == seq_correct)).sum(),
            "steps": torch.where(valid, carry.steps, 0).sum(),
        }
    ce = stablemax_cross_entropy if loss == "stablemax" else softmax_cross_entropy
    token_loss = ce(logits, labels, ignore_index=ignore_index, valid_mask=mask)
    lm_loss = (token_loss / divisor.unsqueeze(-1)).sum()
    q_halt_loss = F.binary_cross_entropy_with_logits(
        out.q_halt_logits.float(), seq_correct.float(), reduction="sum"
    )
    metrics["lm_loss"] = lm_loss.detach()
    metrics["q_halt_loss"] = q_halt_loss.detach()
    q_loss = q_halt_loss
    if q_continue:
        q_continue_loss = F.binary_cross_entropy_with_logits(
            out.q_continue_logits.float(), target.float(), reduction="sum"
        )
        q_loss = q_halt_loss + q_continue_loss  # the Q losses summed first, as the reference
        metrics["q_continue_loss"] = q_continue_loss.detach()
    return lm_loss + 0.5 * q_loss, metrics
