"""Entry point of a refiner run: settings resolved (the refiner kind, a graph task's defaults),
then the sequence `Trainer` or the structure refiner's `StructureTrainer`.

Kept apart from `training` so that `structure_run` (which extends `Trainer`) and `training` do
not import each other.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import torch

from hartflow.checkpoint import latest_checkpoint, read_config
from hartflow.errors import HartFlowError
from hartflow.hybrid.config import STRUCTURE_DEFAULTS, UNTIL_BUDGET, TrainConfig
from hartflow.hybrid.data import load_pairs
from hartflow.hybrid.structure import is_structured
from hartflow.hybrid.structure_run import StructureTrainer
from hartflow.hybrid.training import Progress, Trainer

log = logging.getLogger(__name__)

__all__ = ["resolve_refiner", "train", "with_defaults"]


def train(
    cfg: TrainConfig,
    *,
    out: str | Path,
    resume: bool = False,
    progress: Progress | None = None,
    threads: int | None = 1,
    device: str = "cpu",
    tensorboard: str | Path | None = None,
) -> dict[str, Any]:
    """Train the refiner (hybrid or TRM-only) into `out`; `resume` continues the latest
    checkpoint there exactly. Runs data-parallel under torchrun.

    `threads` sets torch's intra-op threads (1 by default: the model is small, and on a shared
    machine more threads than free cores make every small op far slower).

    `cfg.minutes` is wall-clock from this call: the memory's hypotheses and the recombined pairs
    are built inside the budget, and the selector is fitted after it."""
    started = time.perf_counter()
    out = Path(out)
    if threads is not None:
        torch.set_num_threads(threads)
    if not resume and latest_checkpoint(out) is not None:
        raise HartFlowError(f"{out} already holds a checkpoint; pass --resume or a new --out")
    found = latest_checkpoint(out) if resume else None
    if found is not None:  # the run's own settings; only the budget may change on resume
        saved = TrainConfig.from_json(read_config(found)["train"])
        cfg = dataclasses.replace(saved, max_steps=cfg.max_steps, minutes=cfg.minutes)
    cfg = resolve_refiner(cfg)
    if cfg.refiner_kind == "structure":
        trainer: Trainer = StructureTrainer(cfg, out=out, device=device)
    else:
        trainer = Trainer(cfg, out=out, device=device)
    trainer.setup_seconds = time.perf_counter() - started
    if resume:
        found = trainer.resume()
        if not found:
            log.info("no checkpoint in %s; starting fresh", out)
    elif trainer.ctx.is_main:
        (out / "log.jsonl").unlink(missing_ok=True)
    return trainer.run(progress=progress, tensorboard=tensorboard)


def resolve_refiner(cfg: TrainConfig) -> TrainConfig:
    """`refiner="auto"` made concrete: the structure refiner where every training output is a
    logical form over its input's positions, the sequence refiner otherwise."""
    if cfg.refiner_kind != "auto":
        return cfg
    train, _, _ = load_pairs(cfg)
    refiner = "structure" if is_structured(train) else "sequence"
    return dataclasses.replace(cfg, refiner_kind=refiner)


def with_defaults(cfg: TrainConfig, given: set[str]) -> TrainConfig:
    """The run's settings where the user gave only some fields (`given`): a graph-shaped task
    (the structure refiner) takes `STRUCTURE_DEFAULTS` for the others, and a run with `minutes`
    but no `max_steps` trains until the minutes are spent."""
    cfg = resolve_refiner(cfg)
    changes: dict[str, Any] = {}
    if cfg.refiner_kind == "structure":
        changes.update({k: v for k, v in STRUCTURE_DEFAULTS.items() if k not in given})
    if cfg.minutes is not None and "max_steps" not in given:
        changes["max_steps"] = UNTIL_BUDGET
    return dataclasses.replace(cfg, **changes)
