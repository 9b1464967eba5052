"""Grid models on this CPU: learning small Sudokus in minutes, and training-step efficiency.

    python -m benchmarks.grid_cpu                      # all parts (about 80 min)
    python -m benchmarks.grid_cpu --parts s4,flops     # some parts; others in the JSON are kept

Parts (results merged into benchmarks/results/grid_cpu.json):
  s4      TRM on generated 4×4 Sudoku, wall-clock budget (target: ≥ 99 % exact test accuracy in
          ≤ 10 min on 2 cores)
  s4-hrm  HRM on the same data and budget
  s4-long the s4 run with a 30-minute budget (where the curve goes when 10 minutes are too few)
  s6      TRM on generated 6×6 Sudoku (target: ≥ 90 % in ≤ 30 min)
  s6-hrm  HRM on the same 6×6 data and budget
  s9-hard TRM on 1,000 hard generated 9×9 Sudokus (rating >= 20), 30 minutes (reported, no
          target); needs the puzzles of `python -m benchmarks.grid_sudoku_hard --count 1200
          --save DIR` (pass --puzzles DIR): the first 1,000 train, the last 200 test
  s9-easy the same on the easy (random minimal) 9×9 puzzles of that run, beside it
  flops   one training step of the 9×9 Sudoku TRM-MLP preset (5.03 M), its FLOP/s (counted
          with torch.utils.flop_counter) as a fraction of this machine's fp32 GEMM FLOP/s
          (torch.mm at the model's own matmul shape) (target ≥ 40 %)

`--rescore` adds the final blank-cell accuracy (the blank cells only; the givens are there to
copy) to stored parts that predate it, from the run's last checkpoint, and checks that its exact
and cell accuracy equal the stored ones.

The budget counts everything inside `train` (evaluations and checkpoints included). Data are
built with the project's generator (unique-solution puzzles); the 4×4 space is small, so part of
the test set also occurs in train (augmentations included): the JSON reports that share and the
exact accuracy on the unseen test puzzles alone. Model selection uses held-out train groups.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import RESULTS, machine, save
from hartflow.distributed import DistContext
from hartflow.grid import sudoku
from hartflow.grid.evaluate import head, predict
from hartflow.grid.jobs import build_sudoku
from hartflow.grid.loader import load_grid_data
from hartflow.grid.models import build_grid_model
from hartflow.grid.train_config import train_config
from hartflow.grid.training import train

NAME = "grid_cpu"
# The CPU recipes (the paper's model shapes do not fit a 10-minute, 2-core budget).
TRM_SMALL = {"hidden_size": 32, "n_heads": 2, "max_halt_steps": 4}
HRM_SMALL = {"hidden_size": 32, "n_heads": 2, "max_halt_steps": 4, "high_layers": 2,
             "low_layers": 2}  # fmt: skip
RUN = {"global_batch": 64, "lr": 3e-3, "lr_warmup_steps": 20, "weight_decay": 0.1,
       "puzzle_emb_lr": 1e-2, "epochs": 1000, "eval_interval": 3, "validation_groups": 100,
       "eval_limit": 1000, "ema_rate": 0.99, "device": "cpu", "log_every": 20}  # fmt: skip
# target: exact test accuracy to reach within target_minutes (the issue's); minutes: the budget
PARTS = {
    "s4": {"size": 4, "arch": "trm-att", "model": TRM_SMALL, "minutes": 10, "target": 0.99,
           "target_minutes": 10},
    "s4-hrm": {"size": 4, "arch": "hrm", "model": HRM_SMALL, "minutes": 10, "target": 0.99,
               "target_minutes": 10},
    "s4-long": {"size": 4, "arch": "trm-att", "model": TRM_SMALL, "minutes": 30, "target": 0.99,
                "target_minutes": 10},
    "s6": {"size": 6, "arch": "trm-att", "model": TRM_SMALL, "minutes": 30, "target": 0.90,
           "target_minutes": 30},
    "s6-hrm": {"size": 6, "arch": "hrm", "model": HRM_SMALL, "minutes": 30, "target": 0.90,
               "target_minutes": 30},
    "s9-hard": {"size": 9, "data": "hard", "arch": "trm-att", "model": TRM_SMALL, "minutes": 30,
                "target": None},
    "s9-easy": {"size": 9, "data": "easy", "arch": "trm-att", "model": TRM_SMALL, "minutes": 30,
                "target": None},
}  # fmt: skip
DATA = {4: {"generate": 3000, "aug": 10, "test_size": 500},
        6: {"generate": 3000, "aug": 10, "test_size": 500},
        "hard": {"train": 1000, "test_size": 200, "aug": 100},
        "easy": {"train": 1000, "test_size": 200, "aug": 100}}  # fmt: skip


def load_avg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def dataset(spec: dict[str, Any], work: Path, puzzles: Path | None) -> Path:
    """The part's data set in `work` (built once): generated, or split from a saved CSV."""
    key = spec.get("data", spec["size"])
    out = work / (f"sudoku{key}" if key == spec["size"] else f"sudoku{spec['size']}-{key}")
    if (out / "hartflow.json").is_file():
        return out
    if key == spec["size"]:
        build_sudoku(out, size=spec["size"], seed=0, **DATA[key])
        return out
    csv = (puzzles or work) / f"{key}.csv"
    if not csv.is_file():
        raise SystemExit(f"{csv}: missing; run python -m benchmarks.grid_sudoku_hard --count "
                         f"1200 --save {csv.parent} first (or pass --puzzles DIR)")  # fmt: skip
    rows = sudoku.read_csv(csv, size=spec["size"])
    n, n_test = DATA[key]["train"], DATA[key]["test_size"]
    if len(rows) < n + n_test:
        raise SystemExit(f"{csv}: {len(rows)} puzzles, need {n + n_test}")
    sudoku.build(rows[:n], rows[len(rows) - n_test :], out, size=spec["size"],
                 aug=DATA[key]["aug"], seed=0)  # fmt: skip
    return out


def unseen_exact(run_dir: Path, data_dir: Path, result) -> dict[str, Any]:
    """Exact accuracy on the test puzzles whose input grid never occurs in train (EMA weights)."""
    data = load_grid_data(data_dir)
    seen = set(map(bytes, data.train.inputs))
    test = head(data.test, RUN["eval_limit"])
    fresh = np.array([bytes(x) not in seen for x in test.inputs])
    model = result.model
    from hartflow.checkpoint import load_checkpoint
    from hartflow.grid.evaluate import resolve_checkpoint
    from reasoner.ema import EMA

    ema = EMA(model, decay=0.99)
    load_checkpoint(resolve_checkpoint(run_dir), model=model, ema=ema, restore_rng=False)
    with ema.swapped_into(model):
        pred = predict(model, test, data.meta, global_batch=256, ctx=DistContext())
    exact = (pred["predictions"] == test.labels).all(1)
    return {"test_in_train_share": float(1 - fresh.mean()),
            "unseen_n": int(fresh.sum()),
            "unseen_exact": float(exact[fresh].mean()) if fresh.any() else None,
            "selected_exact": float(exact.mean())}  # fmt: skip


def overrides(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """`--set model.hidden_size=64 --set run.lr=2e-3` -> {"model": {...}, "run": {...}}."""
    out: dict[str, dict[str, Any]] = {"model": {}, "run": {}}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        group, dot, name = key.partition(".")
        if not sep or not dot or group not in out:
            raise SystemExit(f"--set {pair!r}: write model.FIELD=VALUE or run.FIELD=VALUE")
        try:
            out[group][name] = json.loads(value)
        except ValueError:
            out[group][name] = value
    return out


def learn(
    part: str,
    work: Path,
    minutes: float | None,
    changes: dict[str, dict] | None = None,
    puzzles: Path | None = None,
) -> dict[str, Any]:
    spec = PARTS[part]
    budget = minutes or spec["minutes"]
    data_dir = dataset(spec, work, puzzles)
    changes = changes or {"model": {}, "run": {}}
    model = {**spec["model"], **changes["model"]}
    run = {**RUN, **spec.get("run", {}), **changes["run"]}
    out = work / f"run-{part}-{os.getpid()}"
    shutil.rmtree(out, ignore_errors=True)
    cfg = train_config("tiny", arch=spec["arch"], model=model, data=str(data_dir),
                       out=str(out), minutes=budget, **run)  # fmt: skip
    load_before = load_avg()
    result = train(cfg, progress=lambda r: print(json.dumps(r), flush=True))
    curve = [{"step": e["step"], "seconds": e["seconds"], "test_exact": e["test"]["exact"],
              "test_cell_accuracy": e["test"]["cell_accuracy"],
              "test_blank_cell_accuracy": e["test"].get("blank_cell_accuracy"),
              "validation_exact": e["validation"]["exact"],
              "halt_steps": e["test"]["halt_steps"]} for e in result.evaluations]  # fmt: skip
    target = spec["target"]
    reached = next((c for c in curve if target and c["test_exact"] >= target), None)
    final = result.final["test"]
    return {
        "size": spec["size"], "arch": spec["arch"], "model": model, "recipe": run,
        "data": DATA[spec.get("data", spec["size"])], "parameters": result.parameters,
        "budget_minutes": budget, "steps": result.steps, "seconds": round(result.seconds, 1),
        "test_n": final["n"], "final_test_exact": final["exact"],
        "final_cell_accuracy": final["cell_accuracy"], "final_halt_steps": final["halt_steps"],
        "final_blank_cell_accuracy": final.get("blank_cell_accuracy"), "run_dir": str(out),
        "best_on_validation": result.best, "target": target,
        "target_minutes": spec.get("target_minutes"),
        "reached_target_at_seconds": reached["seconds"] if reached else None,
        "met": bool(reached and reached["seconds"] <= 60 * spec["target_minutes"]),
        **({"mean_rating": _mean_rating(data_dir)} if "data" in spec else {}),
        "curve": curve, **unseen_exact(out, data_dir, result),
        "load_average_before": load_before, "load_average_after": load_avg(),
    }  # fmt: skip


def rescore(part: str, entry: dict[str, Any], work: Path, puzzles: Path | None) -> dict[str, Any]:
    """`entry` with final_blank_cell_accuracy from its run's last checkpoint (module doc)."""
    from hartflow.checkpoint import latest_checkpoint
    from hartflow.grid.evaluate import evaluate_checkpoint

    runs = [Path(entry["run_dir"])] if "run_dir" in entry else sorted(
        work.glob(f"run-{part}-[0-9]*"), key=lambda p: p.stat().st_mtime)  # fmt: skip
    checkpoint = latest_checkpoint(runs[-1]) if runs else None
    if checkpoint is None:
        raise SystemExit(f"{part}: no run folder with a checkpoint under {work}")
    got = evaluate_checkpoint(checkpoint, dataset(PARTS[part], work, puzzles),
                              limit=RUN["eval_limit"], device="cpu")  # fmt: skip
    if (got["exact"], round(got["cell_accuracy"], 6)) != (
        entry["final_test_exact"],
        round(entry["final_cell_accuracy"], 6),
    ):
        raise SystemExit(f"{part}: {checkpoint} scores {got['exact']}/{got['cell_accuracy']}, "
                         f"not the stored final {entry['final_test_exact']}/"
                         f"{entry['final_cell_accuracy']}")  # fmt: skip
    return {**entry, "final_blank_cell_accuracy": got["blank_cell_accuracy"],
            "run_dir": str(runs[-1])}  # fmt: skip


def _mean_rating(data_dir: Path) -> dict[str, float]:
    """Mean stored rating of the train and test puzzles (as written by `sudoku.build`)."""
    info = json.loads((data_dir / "hartflow.json").read_text())
    return {k: v for k, v in info.items() if "rating" in k}


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def flops(batch: int = 4, repeats: int = 2) -> dict[str, Any]:
    """Training-step FLOP/s of the 9×9 TRM-MLP preset vs torch.mm FLOP/s at its matmul shape."""
    from torch.utils.flop_counter import FlopCounterMode

    from reasoner.losses import act_loss

    model = build_grid_model("trm-mlp", "sudoku", {})
    L = 81
    g = torch.Generator().manual_seed(0)
    batch_t = {"inputs": torch.randint(1, 11, (batch, L), generator=g),
               "labels": torch.randint(2, 11, (batch, L), generator=g),
               "puzzle_identifiers": torch.zeros(batch, dtype=torch.long)}  # fmt: skip
    carry = model.initial_carry(batch_t)
    gen = torch.Generator().manual_seed(1)

    def step():
        nonlocal carry
        carry, out = model(carry, batch_t, generator=gen)
        loss, _ = act_loss(out, carry)
        loss.backward()
        model.zero_grad(set_to_none=True)

    with FlopCounterMode(display=False) as counter:  # also the warm-up step
        step()
    step_flops = counter.get_total_flops()
    # the model's dominant matmul: (B·97, 512) @ (512, 3072) (SwiGLU gate+up)
    m, k, n = batch * 97, 512, 3072
    a, b = torch.randn(m, k, generator=g), torch.randn(k, n, generator=g)

    def gemm_rate() -> float:
        torch.mm(a, b)
        best = min(_timed(lambda: torch.mm(a, b)) for _ in range(5))
        return 2 * m * k * n / best

    # interleaved, best of each: the machine is shared, so load hits both alike
    rates = [gemm_rate()]
    times = []
    for _ in range(repeats):
        times.append(_timed(step))
        rates.append(gemm_rate())
    step_s, gemm_flops = min(times), max(rates)
    model_flops = step_flops / step_s
    return {"preset": "trm-mlp sudoku", "parameters": sum(p.numel() for p in
                                                          model.dense_parameters()),
            "batch": batch, "step_flops": step_flops, "step_seconds": step_s,
            "model_flops_per_s": model_flops, "gemm_shape": [m, k, n],
            "gemm_flops_per_s": gemm_flops, "fraction": model_flops / gemm_flops,
            "target": 0.40, "met": model_flops / gemm_flops >= 0.40,
            "load_average": load_avg()}  # fmt: skip


def plot(result: dict[str, Any], png: Path) -> None:
    """Test exact and cell accuracy against wall-clock minutes, one line per learning part."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for part, r in result.items():
        if not isinstance(r, dict) or "curve" not in r:
            continue
        minutes = [c["seconds"] / 60 for c in r["curve"]]
        axes[0].plot(minutes, [c["test_exact"] for c in r["curve"]], "o-", ms=3, label=part)
        axes[1].plot(minutes, [c.get("test_cell_accuracy", np.nan) for c in r["curve"]], "o-",
                     ms=3, label=part)  # fmt: skip
    axes[0].set(title="test exact accuracy", xlabel="minutes", ylim=(-0.02, 1.02))
    axes[1].set(title="test cell accuracy", xlabel="minutes", ylim=(0, 1.02))
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="s4,s4-hrm,s6,s6-hrm,flops")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=None, help="override every budget")
    parser.add_argument("--work", type=Path, default=Path("runs/grid_cpu"))
    parser.add_argument(
        "--puzzles",
        type=Path,
        default=None,
        help="folder of hard.csv/easy.csv for the s9 parts (default: --work)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="GROUP.FIELD=VALUE",
        help="override a model or run field, e.g. --set model.hidden_size=64",
    )
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="add blank-cell accuracy to the stored --parts (no training)",
    )
    parser.add_argument("--key", default=None, help="store under this name (default: the part)")
    parser.add_argument(
        "--shared",
        default="not stated (pass --shared to say what else ran)",
        help="what else ran on the machine",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    path = RESULTS / f"{NAME}.json"
    result: dict[str, Any] = {}
    if args.rescore:
        result = json.loads(path.read_text())
        for part in args.parts.split(","):
            result[part] = rescore(part, result[part], args.work, args.puzzles)
            print(part, result[part]["final_blank_cell_accuracy"], flush=True)
        save(NAME, result)
        return result
    for part in args.parts.split(","):
        changes = overrides(args.set)
        entry = (flops() if part == "flops"
                 else learn(part, args.work, args.minutes, changes, args.puzzles))  # fmt: skip
        entry.update(threads=args.threads, machine_shared=args.shared,
                     measured_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))  # fmt: skip
        # re-read just before writing: two invocations may run side by side on different parts
        result = json.loads(path.read_text()) if path.exists() else {}
        key = part if part != "flops" or args.threads == 2 else f"flops-{args.threads}-thread"
        key = args.key or key
        result[key] = entry
        result["machine"] = {**machine(), "pid": os.getpid()}
        save(NAME, result)
        plot(result, RESULTS / f"{NAME}.png")
        print(json.dumps({k: v for k, v in entry.items() if k != "curve"}), flush=True)
    return result


if __name__ == "__main__":
    main()
