"""Exponential moving average of model weights, swapped in for evaluation (TRM: decay 0.999)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def _tracked(model: nn.Module) -> dict[str, nn.Parameter]:
    """The parameters an EMA follows: those with requires_grad, minus sparse puzzle embeddings.

    TRM keeps its puzzle-embedding table as a buffer, outside the EMA; ours is a sparse parameter
    that the model lists in `puzzle_parameters()`, so it is excluded the same way.
    """
    excluded: set[int] = set()
    if hasattr(model, "puzzle_parameters"):
        excluded = {id(p) for p in model.puzzle_parameters()}
    return {
        name: p for name, p in model.named_parameters() if p.requires_grad and id(p) not in excluded
    }


class EMA:
    """shadow ← decay · shadow + (1 − decay) · live, after each optimiser step.

    Args:
        model: the live model; the shadow starts as a copy of its tracked parameters.
        decay: the EMA rate μ (TRM: 0.999).
    """

    def __init__(self, model: nn.Module, *, decay: float = 0.999):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must lie in [0, 1), got {decay} (TRM uses 0.999)")
        self.decay = decay
        self.shadow = {name: p.detach().clone() for name, p in _tracked(model).items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the shadow towards the live weights of `model`."""
        live = _tracked(model)
        if live.keys() != self.shadow.keys():
            missing = sorted(set(self.shadow) ^ set(live))[:3]
            raise ValueError(f"EMA and model parameters differ (e.g. {missing}); same model?")
        names = list(self.shadow)
        torch._foreach_lerp_(
            [self.shadow[n] for n in names], [live[n].detach() for n in names], 1.0 - self.decay
        )

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The shadow weights by parameter name (plain tensors, safetensors-friendly)."""
        return {name: t.clone() for name, t in self.shadow.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load shadow weights written by `state_dict()` (same names and shapes)."""
        if state.keys() != self.shadow.keys():
            missing = sorted(set(self.shadow) ^ set(state))[:3]
            raise ValueError(f"EMA state does not match the model (e.g. {missing}); same config?")
        for name, t in state.items():
            if t.shape != self.shadow[name].shape:
                raise ValueError(
                    f"EMA state {name} has shape {tuple(t.shape)}, "
                    f"expected {tuple(self.shadow[name].shape)}; same config?"
                )
            self.shadow[name].copy_(t)

    def to(self, device: torch.device | str) -> EMA:
        """Move the shadow weights to `device` (returns self)."""
        self.shadow = {name: t.to(device) for name, t in self.shadow.items()}
        return self

    @contextmanager
    def swapped_into(self, model: nn.Module) -> Iterator[nn.Module]:
        """Temporarily load the EMA weights into `model`; the live weights come back on exit."""
        live = _tracked(model)
        backup = {name: p.detach().clone() for name, p in live.items()}
        with torch.no_grad():
            for name, p in live.items():
                p.copy_(self.shadow[name])
        try:
            yield model
        finally:
            with torch.no_grad():
                for name, p in live.items():
                    p.copy_(backup[name])
