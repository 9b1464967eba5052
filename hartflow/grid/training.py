"""Train TRM / HRM on a grid data set: deep supervision with a persistent ACT carry.

One optimiser step per supervision step (as the reference and the paper's pseudocode): each
global batch is one call `carry, out = model(carry, batch)`; rows that halted take fresh examples
from the batch, the others keep theirs, so an example sees up to max_halt_steps updates across
consecutive batches. Loss = ACT loss summed over the batch / global batch; gradients summed over
ranks; AdamATan2 on dense weights and SignSGD on the puzzle embedding, both under linear warm-up;
EMA of the dense weights used for evaluation. Evaluations write a checkpoint (live weights, EMA,
optimisers, the carry, RNG and loader position), so `resume=True` continues bit-identically.

Model selection: when `validation_groups > 0`, evaluations score the held-out validation groups
and `best.json` names the best checkpoint by validation exact accuracy; the test split is scored
too, for the record, but never used to choose.
"""

from __future__ import annotations

import functools
import logging
import math
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hartflow.atomic import write_json
from hartflow.checkpoint import (
    generator_state,
    latest_checkpoint,
    load_checkpoint,
    read_config,
    save_checkpoint,
    set_generator_state,
)
from hartflow.distributed import (
    DistContext,
    all_reduce_,
    all_reduce_gradients,
    broadcast_parameters,
    setup_distributed,
    teardown,
)
from hartflow.errors import HartFlowError
from hartflow.grid.compiled import StepFunctions
from hartflow.grid.evaluate import autocast_for, evaluate
from hartflow.grid.loader import GridData, load_grid_data, train_batches
from hartflow.grid.models import (
    build_grid_model,
    carry_tensors,
    check_data_fits,
    data_overrides,
    parameter_count,
    resolve_device,
    restore_carry,
)
from hartflow.grid.runlog import RunLog
from hartflow.grid.train_config import TrainConfig
from hartflow.tensorboard_writer import require_tensorboard

__all__ = [
    "TrainResult",
    "train",
    "build_grid_model",
    "parameter_count",
    "resolve_device",
    "check_data_fits",
]

log = logging.getLogger(__name__)
METRICS = (
    "count",
    "accuracy",
    "exact_accuracy",
    "q_halt_accuracy",
    "steps",
    "lm_loss",
    "q_halt_loss",
    "rows",
)


@dataclass
class TrainResult:
    """What a run did: steps, time, the last and best evaluations, where things are."""

    steps: int
    seconds: float
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    out: str | None = None
    parameters: int = 0
    model: Any = None  # the live model (for callers in the same process)
    stopped_by: str = "steps"  # steps | minutes

    @property
    def final(self) -> dict[str, Any] | None:
        return self.evaluations[-1] if self.evaluations else None


def _steps(cfg: TrainConfig, data: GridData, epochs: float) -> int:
    mean = data.train.n_examples / max(data.train.n_puzzles, 1)
    return int(epochs * data.train.n_groups * mean / cfg.global_batch)


def _same_recipe(saved: dict[str, Any], cfg: TrainConfig) -> None:
    free = {
        "out",
        "data",
        "minutes",
        "max_steps",
        "log_every",
        "keep_checkpoints",
        "device",
        "plot",
        "tensorboard",
        "compile",  # the same arithmetic up to float rounding
    }
    now = cfg.to_dict()
    diff = sorted(k for k in now if k not in free and saved.get(k) != now[k])
    if diff:
        raise HartFlowError(
            f"--resume with a different config ({', '.join(diff)}); resume with the run's own "
            "config.json (--config OUT/config.json) or start a new --out"
        )


class _Run:
    """The state of one training run (a class because train() would otherwise pass 15 names)."""

    def __init__(self, cfg: TrainConfig, ctx: DistContext, data: GridData):
        from reasoner.ema import EMA
        from reasoner.optim import AdamATan2, SignSGD

        self.cfg, self.ctx, self.data = cfg, ctx, data
        self.overrides = {**cfg.model, **data_overrides(data)}
        self.model = build_grid_model(cfg.arch, cfg.preset, self.overrides, seed=cfg.seed)
        self.model.to(ctx.device)
        broadcast_parameters(self.model, ctx)
        self.dense = AdamATan2(
            self.model.dense_parameters(),
            lr=cfg.lr,
            betas=(cfg.beta1, cfg.beta2),
            weight_decay=cfg.weight_decay,
        )
        puzzle = list(self.model.puzzle_parameters())
        self.optimizers: dict[str, torch.optim.Optimizer] = {"dense": self.dense}
        if puzzle:
            self.optimizers["puzzle"] = SignSGD(
                puzzle, lr=cfg.puzzle_emb_lr, weight_decay=cfg.puzzle_emb_weight_decay
            )
        self.ema = EMA(self.model, decay=cfg.ema_rate) if cfg.ema else None
        from reasoner.losses import act_loss

        self.steps = StepFunctions(
            self.model,
            functools.partial(act_loss, loss=cfg.loss, q_continue=cfg.q_continue),
            enabled=cfg.compile,
            compile_optimizer=ctx.device.type == "cuda",
        )
        # exploration draws of the halting rule: one generator per rank, checkpointed
        self.explore = torch.Generator(device=ctx.device).manual_seed(cfg.seed * 1000 + ctx.rank)
        self.total_steps = max(1, _steps(cfg, data, cfg.epochs))
        if cfg.max_steps is not None:
            self.total_steps = min(self.total_steps, cfg.max_steps)
        self.eval_every = max(1, _steps(cfg, data, cfg.eval_interval))
        self.step, self.pass_index, self.batch_index, self.elapsed = 0, 0, 0, 0.0
        self.last_record = (0, 0.0)  # step and seconds of the last train log line (steps/s)
        self.carry: Any = None
        self.carry_tensors: dict[str, torch.Tensor] | None = None
        self.best: dict[str, Any] | None = None
        self.evaluations: list[dict[str, Any]] = []

    def config_json(self) -> dict[str, Any]:
        return {
            "arch": self.cfg.arch,
            "preset": self.cfg.preset,
            "model_overrides": self.overrides,
            "train": self.cfg.to_dict(),
            "task": self.data.task,
            "parameters": self.parameters(),
        }

    def parameters(self) -> int:
        from reasoner.presets import count_parameters

        return int(count_parameters(self.model))

    def lr_scale(self) -> float:
        from reasoner.optim import warmup_constant

        return warmup_constant(
            self.step + 1,
            warmup_steps=self.cfg.lr_warmup_steps,
            total_steps=self.total_steps,
            min_ratio=self.cfg.lr_min_ratio,
        )

    def train_step(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """One supervision step = one optimiser step; returns the metric sums (len(METRICS),)."""
        cfg, ctx = self.cfg, self.ctx
        batch = {k: v.to(ctx.device, non_blocking=True) for k, v in batch.items()}
        if self.carry is None:
            self.carry = self.model.initial_carry(batch)
            if self.carry_tensors is not None:  # resumed: continue the saved carry
                self.carry = restore_carry(self.carry, self.carry_tensors, ctx.device)
                self.carry_tensors = None
        with autocast_for(ctx.device, cfg.bf16):
            self.carry, out = self.model(
                self.carry, batch, generator=self.explore, inner=self.steps.inner
            )
        loss, metrics = self.steps.loss(out, self.carry)
        (loss / cfg.global_batch).backward()
        all_reduce_gradients(self.model, ctx)
        scale = self.lr_scale()
        for name, opt in self.optimizers.items():
            base = cfg.lr if name == "dense" else cfg.puzzle_emb_lr
            for group in opt.param_groups:
                group["lr"] = base * scale
            self.steps.optimizer_step(opt)
            opt.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        rows = torch.tensor(float(batch["inputs"].shape[0]), device=ctx.device)
        return torch.stack([metrics.get(k, rows).float() for k in METRICS])

    def state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "pass": self.pass_index,
            "batch": self.batch_index,
            "epoch": self.step * self.cfg.global_batch / max(self.data.train.n_examples, 1),
            "elapsed": self.elapsed,
            "explore": generator_state(self.explore),
            "best": self.best,
            "evaluations": self.evaluations,
        }

    def restore(self, checkpoint: Path) -> None:
        state = load_checkpoint(
            checkpoint, model=self.model, optimizers=self.optimizers, ema=self.ema, restore_rng=True
        )
        self.step, self.pass_index, self.batch_index = state["step"], state["pass"], state["batch"]
        self.elapsed, self.best = state["elapsed"], state["best"]
        self.evaluations = state["evaluations"]
        self.last_record = (self.step, self.elapsed)
        set_generator_state(self.explore, state["explore"])
        self.carry_tensors = state.get("tensors")
        if self.ema is not None:
            self.ema.to(self.ctx.device)

    def evaluate(self) -> dict[str, Any]:
        cfg = self.cfg
        bs = cfg.eval_batch or cfg.global_batch
        record: dict[str, Any] = {"step": self.step, "seconds": round(self.elapsed, 2)}
        parts = (["validation"] if self.data.validation is not None else []) + ["test"]
        with self.ema.swapped_into(self.model) if self.ema is not None else nullcontext():
            for part in parts:
                r = evaluate(
                    self.model,
                    self.data,
                    part=part,
                    global_batch=bs,
                    ctx=self.ctx,
                    limit=cfg.eval_limit,
                    bf16=cfg.bf16,
                )
                record[part] = {k: v for k, v in r.items() if k != "split"}
        if "validation" in record:
            score = record["validation"]["exact"]
            if self.best is None or score > self.best["validation_exact"]:
                self.best = {
                    "step": self.step,
                    "validation_exact": score,
                    "test_exact": record["test"]["exact"],
                }
        self.evaluations.append(record)
        return record

    def save(self, out: Path) -> Path:
        folder = out / "checkpoints" / f"step_{self.step:08d}"
        tensors = carry_tensors(self.carry) if self.carry is not None else None
        save_checkpoint(
            folder,
            model=self.model,
            config=self.config_json(),
            state=self.state(),
            optimizers=self.optimizers,
            ema=self.ema,
            tensors=tensors,
        )
        keep = {folder.name} | ({f"step_{self.best['step']:08d}"} if self.best else set())
        older = sorted(p for p in (out / "checkpoints").iterdir() if p.name.startswith("step_"))
        for p in older[: -self.cfg.keep_checkpoints]:
            if p.name not in keep:
                shutil.rmtree(p, ignore_errors=True)
        if self.best is not None:
            write_json(
                out / "best.json",
                {
                    **self.best,
                    "checkpoint": str(out / "checkpoints" / f"step_{self.best['step']:08d}"),
                },
            )
        return folder


def train(
    cfg: TrainConfig,
    *,
    progress: Callable[[dict[str, Any]], None] | None = None,
    resume: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train `cfg.arch` on `cfg.data`, writing log, curves and checkpoints under `cfg.out`.

    Args:
        cfg: the run (see TrainConfig; `data` and `out` are required).
        progress: called on the main rank with each log/eval record (for a progress bar).
        resume: continue from the latest checkpoint in `cfg.out` (same recipe required).
        on_step: called after every optimiser step with the step number (tests use it to
            interrupt a run).

    Returns:
        TrainResult with the evaluations (validation + test per evaluation), best by validation.

    Raises:
        HartFlowError: missing data/out, a bad data set, a resume that does not match.
    """
    if cfg.data is None or cfg.out is None:
        raise HartFlowError("train needs data and out (--data DIR --out DIR)")
    if cfg.tensorboard is not None:  # before any work: a missing package is one line
        require_tensorboard()
    out = Path(cfg.out)
    ctx = setup_distributed(device=None if cfg.device == "auto" else cfg.device)
    try:
        # every rank checks (before any collective), so a refusal never leaves a rank waiting
        found = latest_checkpoint(out)
        if resume and found is None:
            raise HartFlowError(f"--resume: no checkpoint under {out}; drop --resume to start")
        if not resume and found is not None:
            raise HartFlowError(f"{out} already holds a run; pass --resume or a new --out")
        if resume:
            _same_recipe(read_config(found)["train"], cfg)
        data = load_grid_data(cfg.data, validation_groups=cfg.validation_groups, seed=cfg.seed)
        run = _Run(cfg, ctx, data)
        runlog = RunLog(out, enabled=ctx.is_main, plot=cfg.plot, tensorboard=cfg.tensorboard)
        if resume:
            run.restore(found)
            runlog.truncate(run.step)
            log.info("resumed from %s at step %d", found, run.step)
        if ctx.is_main:
            write_json(out / "config.json", run.config_json())
        try:
            return _loop(run, runlog, out, progress, on_step)
        finally:
            runlog.close()
    finally:
        teardown(ctx)


def _loop(run: _Run, runlog: RunLog, out: Path, progress, on_step) -> TrainResult:
    cfg, ctx = run.cfg, run.ctx
    window = torch.zeros(len(METRICS), device=ctx.device)
    stopped_by, started = "steps", time.perf_counter() - run.elapsed
    batches = train_batches(
        run.data,
        global_batch=cfg.global_batch,
        seed=cfg.seed,
        rank=ctx.rank,
        world_size=ctx.world_size,
        epochs_per_pass=cfg.epochs_per_pass,
        start_pass=run.pass_index,
        start_batch=run.batch_index,
    )
    run.model.train()
    while run.step < run.total_steps:
        over = cfg.minutes is not None and time.perf_counter() - started > 60 * cfg.minutes
        if _agree(over, ctx):
            stopped_by = "minutes"
            break
        pass_index, batch_index, batch = next(batches)
        window += run.train_step(batch)
        run.pass_index, run.batch_index = pass_index, batch_index + 1
        run.elapsed = time.perf_counter() - started
        if run.step % cfg.log_every == 0 or run.step == run.total_steps:
            all_reduce_(window, ctx)
            record = _train_record(run, window)
            window.zero_()
            runlog.write(record)
            if progress is not None and ctx.is_main:
                progress(record)
        if run.step % run.eval_every == 0 and run.step < run.total_steps:
            _eval_and_save(run, runlog, out, progress)
        if on_step is not None:
            on_step(run.step)
    if not run.evaluations or run.evaluations[-1]["step"] != run.step:
        _eval_and_save(run, runlog, out, progress)
    runlog.plot()
    return TrainResult(
        steps=run.step,
        seconds=run.elapsed,
        evaluations=run.evaluations,
        best=run.best,
        out=str(out),
        parameters=run.parameters(),
        model=run.model,
        stopped_by=stopped_by,
    )


def _agree(flag: bool, ctx: DistContext) -> bool:
    """Every rank stops together (the slowest clock decides)."""
    if ctx.world_size == 1:
        return flag
    t = torch.tensor([float(flag)], device=ctx.device)
    return bool(all_reduce_(t, ctx).item() > 0)


def _train_record(run: _Run, window: torch.Tensor) -> dict[str, Any]:
    m = dict(zip(METRICS, window.tolist(), strict=True))
    count = max(m["count"], 1.0)
    last_step, last_seconds = run.last_record
    seconds = run.elapsed - last_seconds
    steps_per_s = (run.step - last_step) / seconds if seconds > 0 else None
    run.last_record = (run.step, run.elapsed)
    return {
        "kind": "train",
        "step": run.step,
        "seconds": round(run.elapsed, 2),
        "lr": run.cfg.lr * run.lr_scale(),
        "total_steps": run.total_steps,
        "loss": m["lm_loss"] / max(m["rows"], 1.0),
        "q_halt_loss": m["q_halt_loss"] / max(m["rows"], 1.0),
        "exact": m["exact_accuracy"] / count,
        "accuracy": m["accuracy"] / count,
        "q_halt_accuracy": m["q_halt_accuracy"] / count,
        "halt_steps": m["steps"] / count,
        "halted": m["count"],
        "steps_per_s": steps_per_s,
    }


def _eval_and_save(run: _Run, runlog: RunLog, out: Path, progress) -> None:
    record = run.evaluate()
    record = {"kind": "eval", **record}
    runlog.write(record)
    if run.ctx.is_main:
        run.save(out)
        runlog.plot(force=False)
        if progress is not None:
            progress(record)
    if math.isnan(record["test"]["exact"]):
        raise HartFlowError("evaluation produced NaN; lower the learning rate")
