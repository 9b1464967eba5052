"""HRR-only vs TRM-only vs the HRR + TRM hybrid on every SCAN split and COGS gen; T, n, k ablations.

    python -m benchmarks.hybrid_accuracy                   # everything (SCAN, then COGS)
    python -m benchmarks.hybrid_accuracy --part scan       # one part (run two parts side by side)
    python -m benchmarks.hybrid_accuracy --merge           # join the parts into one JSON
    python -m benchmarks.hybrid_accuracy --quick           # smoke subset (2 splits, tiny budgets)

Every run trains the same refiner for the same number of optimizer steps (TRM-only = the same
refiner and budget without hypotheses), then scores the whole test set (`--test N`: a seeded
subset of N; the row's n says which). HRR-only is the zero-shot reasoner's own answer on the same
examples. Ablations vary T (n_cycles), n (n_latent_steps) and k (hypotheses) one at a time
around the default T=2, n=2, k=3, on SCAN addprim_jump and COGS gen.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.common import RESULTS, machine, save
from hartflow.hybrid import TrainConfig, evaluate_refiner, train

SCAN_SPLITS = ("simple", "length", "addprim_jump", "addprim_turn_left", "around_right",
               "jump_around_right", "opposite_right", "right", "filler_num0", "filler_num1",
               "filler_num2", "filler_num3")  # fmt: skip
COGS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cogs" / "data"
ABLATIONS = {  # around the default T=2, n=2, k=3
    "scan": (("n_cycles", (1, 3)), ("n_latent_steps", (1, 3, 6)), ("k", (1, 5))),
    "cogs": (("n_cycles", (1, 3)), ("n_latent_steps", (1, 3, 6)), ("k", (1, 5))),
}
BUDGET = {  # optimizer steps, batch size, test examples scored (None: the whole test set)
    "scan": {"steps": 60, "batch": 16, "test": None},
    "cogs": {"steps": 60, "batch": 16, "test": None},
    "quick": {"steps": 4, "batch": 8, "test": 40},
}
console = Console(stderr=True)


def _run(cfg: TrainConfig, work: Path, name: str, max_test: int) -> dict[str, Any]:
    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    trained = train(cfg, out=out)
    ev = evaluate_refiner(out, max_test=max_test)
    row = {
        "task": cfg.task, "split": cfg.split, "mode": cfg.mode, "n": ev["n"],
        "exact_match": ev["exact_match"], "hrr_exact_match": ev.get("hypothesis_exact_match"),
        "fixed": ev.get("fixed"), "broken": ev.get("broken"), "steps": trained["step"],
        "train_seconds": trained["seconds"], "eval_seconds": ev["seconds"],
        "parameters": trained["parameters"], "n_cycles": cfg.n_cycles,
        "n_latent_steps": cfg.n_latent_steps, "k": cfg.k,
    }  # fmt: skip
    if "per_category" in ev:
        row["per_category"] = ev["per_category"]
    console.print(f"{name}: {json.dumps({k: v for k, v in row.items() if k != 'per_category'})}")
    return row


def run_part(
    part: str,
    work: Path,
    *,
    quick: bool = False,
    ablations_only: bool = False,
    test: int | None = None,
    splits: tuple[str, ...] = SCAN_SPLITS,
) -> dict[str, Any]:
    """Train and score every configuration of one part ("scan" or "cogs"); the part's JSON is
    rewritten after every run, so an interrupted benchmark keeps what it measured. `test`
    scores a seeded subset of that many examples instead of the whole test set."""
    budget = dict(BUDGET["quick" if quick else part])
    if test is not None:
        budget["test"] = test
    rows: list[dict] = []
    ablations: list[dict] = []
    obj = {"rows": rows, "ablations": ablations, "budget": budget}
    start = time.perf_counter()

    def keep(row: dict, into: list) -> None:
        into.append(row)
        obj["seconds"] = time.perf_counter() - start
        name = f"{part}-ablations" if ablations_only else part
        (work / f"{name}.json").write_text(json.dumps(obj, indent=2))

    work.mkdir(parents=True, exist_ok=True)
    base = TrainConfig(
        max_steps=budget["steps"], batch_size=budget["batch"], lr=3e-3, warmup_steps=10,
        corruption=0.15, folds=3, cache_dir=str(work / "cache"), log_every=10,
        max_train=2000 if quick else None,
    )  # fmt: skip
    if part == "scan":
        tasks = [("scan", s, None) for s in (splits[:3:2] if quick else splits)]
        ablate_on = ("scan", "addprim_jump", None)
    else:
        tasks = [("cogs", "gen", str(COGS_DIR))]
        ablate_on = tasks[0]
    for task, split, data_dir in [] if ablations_only else tasks:
        for mode in ("hybrid", "trm"):
            cfg = replace(base, task=task, split=split, data_dir=data_dir, mode=mode)
            keep(_run(cfg, work, f"{task}-{split}-{mode}", budget["test"]), rows)
    task, split, data_dir = ablate_on
    for field, values in ABLATIONS[part][:1] if quick else ABLATIONS[part]:
        for value in values:
            cfg = replace(base, task=task, split=split, data_dir=data_dir, **{field: value})
            keep(_run(cfg, work, f"{task}-{split}-{field}{value}", budget["test"]), ablations)
    return obj


def merge(work: Path, parts: list[str], *, quick: bool, shared: str) -> dict[str, Any]:
    rows, ablations, budgets = [], [], {}
    for part in parts:
        obj = json.loads((work / f"{part}.json").read_text())
        rows += obj["rows"]
        ablations += obj["ablations"]
        budgets[part] = obj["budget"]
        extra = work / f"{part}-ablations.json"  # ablations run in a process of their own
        if extra.is_file():
            ablations += json.loads(extra.read_text())["ablations"]
    by = {(r["task"], r["split"], r["mode"]): r for r in rows}
    scan_hybrid = [r for r in rows if r["task"] == "scan" and r["mode"] == "hybrid"]
    cogs = by.get(("cogs", "gen", "hybrid"))
    return {
        "benchmark": "hybrid_accuracy",
        "quick": quick,
        "machine": {
            **machine(),
            "shared": shared,
        },
        "budget": budgets,
        "defaults": {
            "n_cycles": 2,
            "n_latent_steps": 2,
            "max_halt_steps": 2,
            "k": 3,
            "hidden": 64,
            "heads": 4,
            "lr": 3e-3,
            "corruption": 0.15,
            "cross_fit_folds": 3,
        },
        "rows": rows,
        "ablations": ablations,
        "summary": {
            "scan_hybrid_min": min((r["exact_match"] for r in scan_hybrid), default=None),
            "scan_hybrid_never_below_hrr": all(
                r["exact_match"] >= r["hrr_exact_match"] for r in scan_hybrid
            ),
            "cogs_gen_hybrid": cogs["exact_match"] if cogs else None,
            "cogs_gen_hrr": cogs["hrr_exact_match"] if cogs else None,
            "max_train_seconds_scan": max((r["train_seconds"] for r in scan_hybrid), default=None),
        },
    }


def table(result: dict[str, Any]) -> Table:
    t = Table(title="HRR-only vs TRM-only vs hybrid (exact match)")
    for col in ("task", "split", "n", "HRR-only", "TRM-only", "hybrid", "fixed", "broken"):
        t.add_column(col, justify="left" if col in ("task", "split") else "right")
    by = {(r["task"], r["split"], r["mode"]): r for r in result["rows"]}
    for (task, split, mode), r in by.items():
        if mode != "hybrid":
            continue
        trm = by.get((task, split, "trm"))
        t.add_row(task, split, str(r["n"]), f"{100 * r['hrr_exact_match']:.1f}",
                  f"{100 * trm['exact_match']:.1f}" if trm else "-",
                  f"{100 * r['exact_match']:.1f}", str(r["fixed"]), str(r["broken"]))  # fmt: skip
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("scan", "cogs"))
    parser.add_argument("--merge", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--ablations-only", action="store_true", help="with --part")
    parser.add_argument("--work", type=Path, default=Path("runs/hybrid_accuracy"))
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--test", type=int, default=None, help="score a seeded subset of N")
    parser.add_argument("--splits", default=",".join(SCAN_SPLITS), help="SCAN splits, a,b,c")
    parser.add_argument("--shared", default="no other job", help="what else ran on the machine")
    args = parser.parse_args()
    work = args.work / ("quick" if args.quick else "full")
    parts = [args.part] if args.part else ["scan", "cogs"]
    if not args.merge:
        for part in parts:
            run_part(part, work, quick=args.quick, ablations_only=args.ablations_only,
                     test=args.test, splits=tuple(args.splits.split(",")))  # fmt: skip
        if args.part:
            return
    present = [p for p in ("scan", "cogs") if (work / f"{p}.json").is_file()]
    result = merge(work, present, quick=args.quick, shared=args.shared)
    name = "hybrid_accuracy_quick" if args.quick else "hybrid_accuracy"
    path = save(name, result, args.out_dir)
    Console().print(table(result))
    Console().print(f"summary: {result['summary']}\nwrote {path}")


if __name__ == "__main__":
    main()
