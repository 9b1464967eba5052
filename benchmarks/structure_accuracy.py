"""HRR-only vs TRM-only vs the hybrid structure refiner on COGS gen and SLOG gen (whole sets).

    python -m benchmarks.structure_accuracy --part cogs --minutes 10   # hybrid, trm, ablations
    python -m benchmarks.structure_accuracy --part slog --minutes 10
    python -m benchmarks.structure_accuracy --merge                    # -> structure_accuracy.json
    python -m benchmarks.structure_accuracy --part cogs --quick        # smoke (tiny budgets)

Hybrid and TRM-only train the same structure refiner with the same wall-clock budget and batch
(TRM-only without the memory's evidence: no translations, no hypothesis graph); both are scored on
the whole generalisation set, exact match on the string and the order-insensitive match
(conjunct sets). HRR-only is the zero-shot reasoner's own answer on the same sentences; fixed /
broken count hybrid answers that differ from it for the better / worse. Ablations (COGS): T, n,
and deep supervision (N_sup = 1: one supervision step per batch) around the defaults.
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

from benchmarks.common import RESULTS, machine, save
from hartflow.hybrid import TrainConfig, evaluate_refiner, train

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PARTS = {"cogs": DATA / "cogs", "slog": DATA / "slog"}
BASE = dict(  # the refiner every row trains (ablations change one field)
    dim=128, n_heads=4, expansion=2.0, n_cycles=2, n_latent_steps=2, max_halt_steps=2,
    batch_size=64, lr=1e-3, warmup_steps=50, corruption=0.4, word_dropout=0.1, window=4,
    ema_decay=0.99, max_steps=10**9, ckpt_every=500, log_every=25, refiner_kind="structure",
)  # fmt: skip
ABLATIONS = (("n_cycles", (1, 3)), ("n_latent_steps", (1, 3)), ("max_halt_steps", (1,)))
console = Console(stderr=True)


def _run(
    cfg: TrainConfig, work: Path, name: str, max_test: int | None, *, reuse: bool = False
) -> dict[str, Any]:
    out = work / name
    if not reuse:
        shutil.rmtree(out, ignore_errors=True)
    # reuse: a run folder that already holds its budget's checkpoint resumes (and stops at once)
    trained = train(cfg, out=out, resume=reuse)
    ev = evaluate_refiner(out, max_test=max_test, batch_size=256)
    row = {
        "task": cfg.task, "split": cfg.split, "mode": cfg.mode, "n": ev["n"],
        "exact_match": ev["exact_match"], "order_insensitive_match": ev["order_insensitive_match"],
        "hrr_exact_match": ev.get("hypothesis_exact_match"), "fixed": ev.get("fixed"),
        "broken": ev.get("broken"), "ill_formed": ev["ill_formed"], "steps": trained["step"],
        "train_minutes": trained["seconds"] / 60,
        "steps_per_second": trained["step"] / max(trained["seconds"], 1e-9),
        "eval_seconds": ev["seconds"], "parameters": trained["parameters"],
        "n_cycles": cfg.n_cycles, "n_latent_steps": cfg.n_latent_steps,
        "max_halt_steps": cfg.max_halt_steps,
    }  # fmt: skip
    for key in ("per_category", "per_category_order_insensitive", "hypothesis_per_category"):
        if key in ev:
            row[key] = ev[key]
    console.print(f"{name}: {json.dumps({k: v for k, v in row.items() if 'categ' not in k})}")
    return row


def run_part(
    part: str, work: Path, *, minutes: float, ablation_minutes: float, quick: bool = False,
    ablations: bool = True, reuse: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Hybrid and TRM-only on one data set, then (COGS) the ablations; the part's JSON is rewritten
    after every run, so an interrupted benchmark keeps what it measured."""
    rows: list[dict] = []
    ablated: list[dict] = []
    obj: dict[str, Any] = {
        "rows": rows,
        "ablations": ablated,
        "budget": {"minutes": minutes, "ablation_minutes": ablation_minutes},
    }
    start = time.perf_counter()

    def keep(row: dict, into: list) -> None:
        into.append(row)
        obj["seconds"] = time.perf_counter() - start
        (work / f"{part}.json").write_text(json.dumps(obj, indent=2))

    work.mkdir(parents=True, exist_ok=True)
    base = TrainConfig(
        task=part, split="gen", data_dir=str(PARTS[part]), cache_dir=str(work / "cache"),
        minutes=minutes, max_train=600 if quick else None, **BASE,
    )  # fmt: skip
    max_test = 200 if quick else None
    for mode in ("hybrid", "trm"):
        keep(_run(replace(base, mode=mode), work, f"{part}-{mode}", max_test, reuse=reuse), rows)
    if ablations and part == "cogs":
        for field, values in ABLATIONS[:1] if quick else ABLATIONS:
            for value in values:
                cfg = replace(base, minutes=ablation_minutes, **{field: value})
                keep(_run(cfg, work, f"{part}-{field}{value}", max_test, reuse=reuse), ablated)
        cfg = replace(base, minutes=ablation_minutes)  # the default at the ablations' budget
        keep(_run(cfg, work, f"{part}-default-short", max_test, reuse=reuse), ablated)
    return obj


def merge(work: Path) -> dict[str, Any]:
    rows, ablations, budgets = [], [], {}
    for part in PARTS:
        path = work / f"{part}.json"
        if path.is_file():
            obj = json.loads(path.read_text())
            rows += obj["rows"]
            ablations += obj["ablations"]
            budgets[part] = obj["budget"]
    return {"rows": rows, "ablations": ablations, "budget": budgets, "settings": BASE,
            "machine": machine()}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--part", choices=tuple(PARTS))
    p.add_argument("--merge", action="store_true")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--ablation-minutes", type=float, default=4.0)
    p.add_argument("--no-ablations", action="store_true")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reuse", action="store_true", help="keep finished runs (resume them)")
    p.add_argument("--work", type=Path, default=Path("runs/structure_accuracy"))
    args = p.parse_args()
    if args.part:
        minutes = 0.2 if args.quick else args.minutes
        run_part(args.part, args.work, minutes=minutes, quick=args.quick,
                 ablation_minutes=0.2 if args.quick else args.ablation_minutes,
                 ablations=not args.no_ablations, reuse=args.reuse)  # fmt: skip
    if args.merge:
        save("structure_accuracy", merge(args.work))
        console.print(f"wrote {RESULTS / 'structure_accuracy.json'}")


if __name__ == "__main__":
    main()
