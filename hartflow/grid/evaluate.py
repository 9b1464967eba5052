"""Evaluate a grid model: run every example to the maximum number of supervision steps, score.

Metrics (fractions): exact (every supervised cell right, the papers' metric), cell_accuracy, and
halt_steps (mean step at which the halting head first says "stop"; max_halt_steps if it never
does; the prediction scored is always the one after the last step, as in the reference). Sudoku
adds blank_cell_accuracy (over the blank cells only: the givens are there to copy). Maze adds
valid_shortest_path (the existing evaluator); ARC test adds pass@k after voting over variants
(hartflow.grid.arc). Data-parallel: each rank predicts its rows; predictions are all-gathered.
"""

from __future__ import annotations

import json
import math
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from hartflow.distributed import DistContext
from hartflow.grid import arc, maze, sudoku
from hartflow.grid.layout import Split
from hartflow.grid.loader import IGNORE, GridData, eval_batches

__all__ = ["predict", "score", "evaluate", "evaluate_checkpoint", "resolve_checkpoint", "head"]


def head(split: Split, limit: int | None) -> Split:
    """The first whole puzzles holding at most `limit` examples (at least one puzzle)."""
    if limit is None or limit >= split.n_examples:
        return split
    n_p = max(1, int(np.searchsorted(split.puzzle_indices, limit, side="right")) - 1)
    n_g = max(1, int(np.searchsorted(split.group_indices, n_p, side="right")) - 1)
    n_p = int(split.group_indices[n_g])
    n_e = int(split.puzzle_indices[n_p])
    return Split(
        split.inputs[:n_e],
        split.labels[:n_e],
        split.puzzle_identifiers[:n_p],
        split.puzzle_indices[: n_p + 1],
        split.group_indices[: n_g + 1],
    )


def autocast_for(device: torch.device, bf16: bool):
    """bf16 autocast on CUDA when asked; nothing on CPU.

    The grid models cast every weight themselves at each use, so autocast only sets the compute
    dtype: the result is the reference's bf16 arithmetic bit for bit (tests/reasoner/test_bf16.py).
    """
    if bf16 and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def _gather(local: torch.Tensor, ctx: DistContext) -> list[torch.Tensor]:
    if ctx.world_size == 1:
        return [local]
    parts = [torch.empty_like(local) for _ in range(ctx.world_size)]
    dist.all_gather(parts, local)
    return parts


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    split: Split,
    meta: dict[str, Any],
    *,
    global_batch: int,
    ctx: DistContext,
    bf16: bool = True,
) -> dict[str, np.ndarray]:
    """Predictions for every example of `split` (all ranks get all of them).

    Returns:
        {"predictions": (N, L) int64 tokens, "q_halt": (N,) sigmoid of the last halting logit,
        "halt_steps": (N,) first step whose halting head says stop}.
    """
    was_training = model.training
    model.eval()
    max_steps = int(model.max_halt_steps)
    out_pred, out_q, out_steps = [], [], []
    local = global_batch // ctx.world_size
    batches = eval_batches(
        split, meta, global_batch=global_batch, rank=ctx.rank, world_size=ctx.world_size
    )
    for i, (_, batch) in enumerate(batches):
        batch = {k: v.to(ctx.device) for k, v in batch.items()}
        carry = model.initial_carry(batch)
        halt_at = torch.full((local,), max_steps, dtype=torch.long, device=ctx.device)
        for step in range(1, max_steps + 1):
            with autocast_for(ctx.device, bf16):
                carry, out = model(carry, batch)
            q = out.q_halt_logits
            stop = q > out.q_continue_logits if out.q_continue_logits is not None else q > 0
            first = stop & (halt_at == max_steps)
            halt_at = torch.where(first, torch.full_like(halt_at, step), halt_at)
            if bool(carry.halted.all()):
                break
        pred = out.logits.argmax(-1)
        q_sig = torch.sigmoid(out.q_halt_logits.float())
        # real rows of each rank in this global batch (the rest is padding)
        real = min(global_batch, split.n_examples - i * global_batch)
        n_real = [min(local, max(0, real - r * local)) for r in range(ctx.world_size)]
        for tensor, sink in ((pred, out_pred), (q_sig, out_q), (halt_at, out_steps)):
            parts = _gather(tensor.contiguous(), ctx)
            sink.append(torch.cat([p[:n] for p, n in zip(parts, n_real, strict=True)]).cpu())
    model.train(was_training)
    if not out_pred:
        return {
            "predictions": np.zeros((0, split.inputs.shape[1]), np.int64),
            "q_halt": np.zeros(0),
            "halt_steps": np.zeros(0, np.int64),
        }
    return {
        "predictions": torch.cat(out_pred).numpy(),
        "q_halt": torch.cat(out_q).numpy(),
        "halt_steps": torch.cat(out_steps).numpy(),
    }


def score(
    data: GridData,
    split: Split,
    result: dict[str, np.ndarray],
    *,
    part: str,
) -> dict[str, Any]:
    """Exact, cell accuracy and halting steps (+ Maze valid path, ARC test pass@k).

    Args:
        data: the data set (task, metadata, folder for ARC's test puzzles).
        split: the split that was predicted (its labels are the truth).
        result: what `predict` returned for it.
        part: "test" or "validation" (ARC voting runs on the test split only).
    """
    pred = result["predictions"]
    labels = split.labels.astype(np.int64)
    ignore = data.meta.get("ignore_label_id")
    mask = labels != (IGNORE if ignore is None else ignore)
    hit = (pred == labels) & mask
    n = len(pred)
    out: dict[str, Any] = {
        "split": part,
        "n": n,
        "exact": float((hit | ~mask).all(1).mean()) if n else 0.0,
        "cell_accuracy": float(hit.sum() / max(mask.sum(), 1)),
        "halt_steps": float(result["halt_steps"].mean()) if n else 0.0,
    }
    if data.task == "sudoku" and n:
        blank = (split.inputs == sudoku.BLANK) & mask
        out["blank_cell_accuracy"] = float(hit[blank].sum() / max(blank.sum(), 1))
    if data.task == "maze" and n:
        side = math.isqrt(split.inputs.shape[1])
        out["valid_shortest_path"] = maze.score(split.inputs, split.labels, pred, side)[
            "valid_shortest_path"
        ]
    tests_file = data.directory / "test_puzzles.json"
    if data.task == "arc" and part == "test" and tests_file.is_file() and n:
        identifiers = json.loads((data.directory / "identifiers.json").read_text())
        tests = json.loads(tests_file.read_text())
        names = {arc.Variant.parse(identifiers[i])[0] for i in split.puzzle_identifiers}
        tests = {k: v for k, v in tests.items() if k in names}  # what was evaluated (eval_limit)
        votes = arc.collect_votes(split, identifiers, pred, result["q_halt"])
        out.update(arc.score(votes, tests))
    return out


def evaluate(
    model: torch.nn.Module,
    data: GridData,
    *,
    part: str = "test",
    global_batch: int,
    ctx: DistContext | None = None,
    limit: int | None = None,
    bf16: bool = True,
) -> dict[str, Any]:
    """Predict and score one split of `data` ("test" or "validation").

    Returns:
        {"split", "n", "exact", "cell_accuracy", "halt_steps", ...task metrics}.
    """
    ctx = ctx or DistContext()
    split = data.test if part == "test" else data.validation
    if split is None:
        raise ValueError(f"no {part} split; set validation_groups > 0 for a validation split")
    split = head(split, limit)
    result = predict(model, split, data.meta, global_batch=global_batch, ctx=ctx, bf16=bf16)
    return score(data, split, result, part=part)


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder as given, or a run folder's validation-best (best.json) or latest."""
    from hartflow.checkpoint import latest_checkpoint

    path = Path(path)
    best = path / "best.json"
    if best.is_file():
        try:
            chosen = Path(json.loads(best.read_text())["checkpoint"])
        except (ValueError, KeyError):
            chosen = None
        if chosen is not None and (chosen / "state.json").is_file():
            return chosen
    return latest_checkpoint(path) or path


def evaluate_checkpoint(
    checkpoint: str | Path,
    data_dir: str | Path,
    *,
    part: str = "test",
    batch: int | None = None,
    limit: int | None = None,
    use_ema: bool = True,
    device: str = "auto",
) -> dict[str, Any]:
    """Load a checkpoint written by `train` (EMA weights when it has them) and evaluate it."""
    from hartflow.checkpoint import load_checkpoint, read_config
    from hartflow.grid.loader import load_grid_data
    from hartflow.grid.models import build_grid_model, check_data_fits, resolve_device
    from reasoner.ema import EMA

    checkpoint = resolve_checkpoint(checkpoint)
    config = read_config(checkpoint)
    run = config["train"]
    # the run's own validation groups, so --split validation scores what selection saw
    data = load_grid_data(data_dir, validation_groups=run["validation_groups"], seed=run["seed"])
    check_data_fits(config, data)
    dev = resolve_device(device)
    model = build_grid_model(config["arch"], config["preset"], config["model_overrides"])
    ema = EMA(model, decay=run["ema_rate"]) if run["ema"] else None
    state = load_checkpoint(checkpoint, model=model, ema=ema, restore_rng=False)
    model.to(dev)
    use_ema = use_ema and ema is not None
    if use_ema:
        ema.to(dev)
    with ema.swapped_into(model) if use_ema else nullcontext():
        result = evaluate(model, data, part=part, ctx=DistContext(device=dev), limit=limit,
                          global_batch=batch or run["eval_batch"] or run["global_batch"],
                          bf16=run["bf16"])  # fmt: skip
    result.update(checkpoint=str(checkpoint), step=state.get("step"),
                  weights="ema" if use_ema else "live")  # fmt: skip
    return result
