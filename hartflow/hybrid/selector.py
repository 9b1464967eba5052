"""The hybrid's choice between the memory's answer and the refiner's graph.

Where the two disagree, a logistic selector decides: its features are the refiner's own
confidence (halting probability, the weakest slot and label decisions' log-probability margins,
how many slot repairs the decoder needed), the memory's score, and the sentence length. It is
fitted on training pairs held out from the refiner's training (original pairs with their
cross-fitted memory hypotheses, and recombined pairs with the full memory's), on the rows where
exactly one of the two is right; never on test or generalisation data. With too few such rows
to fit, the rule is the refiner's halting head: the refiner wins when it gives its graph even
odds of being exactly right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["FEATURES", "Selector", "choose", "fit_selector"]

FEATURES = ("p_halt", "slot_margin", "label_margin", "repairs", "memory_score", "length")
MIN_ROWS = 8  # discordant held-out rows of each kind needed to fit


@dataclass
class Selector:
    """A logistic score over `FEATURES` (standardized); `weights` None = the halting rule."""

    weights: list[float] | None = None  # bias first, then one per feature
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    fitted_on: dict[str, int] = field(default_factory=dict)  # held-out rows behind the fit

    def refiner_wins(self, features: dict[str, float]) -> bool:
        """Whether the refiner's graph is the better bet where it and the memory disagree."""
        if self.weights is None:
            return features["p_halt"] >= 0.5
        x = [(features[f] - m) / s for f, m, s in zip(FEATURES, self.mean, self.std, strict=True)]
        score = self.weights[0] + sum(w * v for w, v in zip(self.weights[1:], x, strict=True))
        return score > 0

    def to_json(self) -> dict[str, Any]:
        return {"features": list(FEATURES), "weights": self.weights, "mean": self.mean,
                "std": self.std, "fitted_on": self.fitted_on}  # fmt: skip

    @classmethod
    def from_json(cls, obj: dict[str, Any] | None) -> Selector:
        if not obj:
            return cls()
        return cls(obj.get("weights"), list(obj.get("mean", [])), list(obj.get("std", [])),
                   dict(obj.get("fitted_on", {})))  # fmt: skip


def fit_selector(
    features: Sequence[dict[str, float]],
    refiner_right: Sequence[bool],
    memory_right: Sequence[bool],
    *,
    l2: float = 1e-2,
) -> Selector:
    """Fit on the rows where exactly one of refiner and memory is right (label: the refiner)."""
    rows = [i for i, (r, m) in enumerate(zip(refiner_right, memory_right, strict=True)) if r != m]
    wins = sum(bool(refiner_right[i]) for i in rows)
    counts = {"held_out": len(features), "refiner_only_right": wins,
              "memory_only_right": len(rows) - wins}  # fmt: skip
    if wins < MIN_ROWS or len(rows) - wins < MIN_ROWS:
        return Selector(fitted_on=counts)
    x = torch.tensor([[features[i][f] for f in FEATURES] for i in rows], dtype=torch.float64)
    y = torch.tensor([float(refiner_right[i]) for i in rows], dtype=torch.float64)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    x = (x - mean) / std
    w = torch.zeros(x.shape[1] + 1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logits = w[0] + x @ w[1:]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        loss = loss + l2 * (w[1:] ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return Selector(w.detach().tolist(), mean.tolist(), std.tolist(), counts)


def choose(
    refiner: Sequence[tuple[str, ...] | None],
    memory: Sequence[tuple[str, ...] | None],
    features: Sequence[dict[str, float]],
    selector: Selector,
) -> tuple[list[tuple[str, ...] | None], list[str]]:
    """The hybrid's answers and where each came from ("agree", "refiner", "memory")."""
    answers, sources = [], []
    for r, m, f in zip(refiner, memory, features, strict=True):
        if m is None or r == m:
            answers.append(r if m is None else m)
            sources.append("refiner" if m is None else "agree")
        elif r is None or not selector.refiner_wins(f):
            answers.append(m)
            sources.append("memory")
        else:
            answers.append(r)
            sources.append("refiner")
    return answers, sources
