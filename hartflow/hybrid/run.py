"""Entry point of a refiner run: settings resolved (the refiner kind, a graph task's defaults),
then the sequence `Trainer` or the structure refiner's `StructureTrainer`.

Kept apart from `training` so that `structure_run` (which extends `Trainer`) and `training` do
not import each other.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any

import torch

from hartflow.checkpoint import latest_checkpoint, read_config
from hartflow.errors import HartFlowError
from hartflow.hybrid.config import STRUCTURE_DEFAULTS, UNTIL_BUDGET, TrainConfig
from hartflow.hybrid.data import load_pairs
from hartflow.hybrid.ensemble import read_ensemble, train_ensemble
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
    spent: float = 0.0,
) -> dict[str, Any]:
    """Train the refiner (hybrid or TRM-only) into `out`; `resume` continues the latest
    checkpoint there exactly. Runs data-parallel under torchrun. With `cfg.members` > 1 (the
    structure refiner), trains that many members side by side into `out/member-i`, one process
    each (`hartflow.hybrid.ensemble`).

    `threads` sets torch's intra-op threads (1 by default: the model is small, and on a shared
    machine more threads than free cores make every small op far slower).

    `cfg.minutes` is wall-clock from this call: the memory's hypotheses and the recombined pairs
    are built inside the budget, and the selector is fitted after it; `spent` is time the caller
    spent before this call, counted in the budget."""
    started, started_wall = time.perf_counter() - spent, time.time() - spent
    out = Path(out)
    if threads is not None:
        torch.set_num_threads(threads)
    ensemble = read_ensemble(out)
    trained = latest_checkpoint(out) is not None or (
        ensemble is not None and any(latest_checkpoint(m) for m in ensemble[0])
    )  # an ensemble whose members never saved a checkpoint may start again
    if not resume and trained:
        raise HartFlowError(f"{out} already holds a checkpoint; pass --resume or a new --out")
    found = latest_checkpoint(out) if resume else None
    saved_json = None  # the run's own settings; only the budget may change on resume
    if resume and ensemble is not None:  # an ensemble: its settings, as its members resume
        saved_json = ensemble[1]
        if saved_json is None:
            raise HartFlowError(f"{out} is an ensemble of runs trained apart; resume each member")
    elif found is not None:
        saved_json = read_config(found)["train"]
    if saved_json is not None:
        saved = TrainConfig.from_json(saved_json)
        cfg = dataclasses.replace(saved, max_steps=cfg.max_steps, minutes=cfg.minutes)
    cfg = resolve_refiner(cfg)
    if cfg.members > 1:
        if _under_torchrun():
            raise HartFlowError(
                "--members trains its members in processes of its own; under torchrun train "
                "one member per command (--members 1)"
            )
        if cfg.refiner_kind != "structure":
            raise HartFlowError(
                "--members applies to the structure refiner (graph-shaped tasks such as COGS "
                "and SLOG); train one run here"
            )
        return train_ensemble(
            cfg,
            out=out,
            resume=resume,
            progress=progress,
            threads=threads,
            device=device,
            tensorboard=tensorboard,
            started=started_wall,
        )
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


def _under_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


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
        if _under_torchrun():  # data parallel: one run over the ranks, not an ensemble
            changes.pop("members", None)
    if cfg.minutes is not None and "max_steps" not in given:
        changes["max_steps"] = UNTIL_BUDGET
    return dataclasses.replace(cfg, **changes)
