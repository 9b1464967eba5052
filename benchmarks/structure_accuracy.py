"""Structure by composition on COGS gen and SLOG gen (whole sets): which step buys what.

    python -m benchmarks.structure_accuracy --part cogs [--minutes 10 --ablation-minutes 4]
    python -m benchmarks.structure_accuracy --part slog
    python -m benchmarks.structure_accuracy --merge        # -> structure_accuracy.json + PNG
    python -m benchmarks.structure_accuracy --part cogs --current --minutes 25   # today's hybrid
    python -m benchmarks.structure_accuracy --part cogs --rescore   # those runs, today's decoder
    python -m benchmarks.structure_accuracy --part cogs --quick     # smoke (tiny budgets)

Rows, each hybrid (with the memory's evidence) and TRM-only (without) at the same wall-clock budget
and batch, scored on the whole generalisation set:

- `pointer`: the earlier refiner (a pointer over positions per role), no recombination;
- `slots`: per-position slots + the constrained decoder, no recombination;
- `slots + recombination`: the same trained on recombined pairs too (the default), the hybrid
  choosing by its halting head; `+ selector`: the same run choosing by the fitted selector (the
  default hybrid), with a second seed beside it;
- `decoder, gold slots`: the decoder given every node's gold slots (no learning).

COGS is scored by exact match (its official metric), SLOG by its official metric
(`hartflow.data.slog_metric`) with plain exact match beside it. HRR-only is the zero-shot reasoner's
own answer; fixed / broken count hybrid answers that differ from it for the better / worse. Depth
curves: exact match by recursion depth (the longest chain of edges of one role family in the gold
graph, e.g. nested PPs or clauses) for COGS pp/cp_recursion and SLOG PP, CP and center_embed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks.common import RESULTS, machine, save
from hartflow.checkpoint import latest_checkpoint, read_config
from hartflow.data import load_examples
from hartflow.data.logical_form import Graph, parse_form, to_graph
from hartflow.data.slog_metric import official_match
from hartflow.data.slots import decode_edges, graph_slots, same_edges
from hartflow.errors import HartFlowError
from hartflow.evaluation import evaluate
from hartflow.hybrid import TrainConfig, evaluate_refiner, train
from hartflow.hybrid.config import STRUCTURE_DEFAULTS
from hartflow.hybrid.ensemble import read_ensemble, totals
from hartflow.zeroshot.lexicon import induce_lexicon

DATA = Path(
    os.environ.get("HARTFLOW_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
PARTS = {"cogs": DATA / "cogs", "slog": DATA / "slog"}
BASE = dict(  # the refiner every row trains (rows change edge_output / augment / seed)
    n_heads=4, expansion=2.0, n_cycles=2, n_latent_steps=2, max_halt_steps=2,
    window=4, ema_decay=0.99, max_steps=10**9, refiner_kind="structure", **STRUCTURE_DEFAULTS,
)  # fmt: skip
DEPTH_CATEGORIES = {
    "cogs": ("pp_recursion", "cp_recursion"),
    "slog": ("PP", "CP", "center_embed"),
}
console = Console(stderr=True)


def depth(graph: Graph) -> int:
    """The longest chain of edges of one role family (the role path's first token: `nmod` for
    every PP and relative clause) along any directed path of the graph."""
    out = defaultdict(list)
    for e in graph.edges:
        out[e.head].append(e)
    best = 0

    def walk(node: int, counts: dict[str, int], seen: frozenset) -> None:
        nonlocal best
        best = max(best, *counts.values(), 0)
        for e in out[node]:
            if e.target in seen:
                continue
            c = dict(counts)
            c[e.role[0]] = c.get(e.role[0], 0) + 1
            walk(e.target, c, seen | {e.target})

    for start in {e.head for e in graph.edges}:
        walk(start, {}, frozenset([start]))
    return best


def _family(part: str, category: str) -> str | None:
    for fam in DEPTH_CATEGORIES[part]:
        if category == fam or category.startswith(fam + "_"):
            return fam
    return None


def _read_predictions(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def _scored(part: str, rows: list[dict[str, str]]) -> list[bool]:
    if part == "slog":
        return [official_match(r["answer"] or None, r["gold"]) for r in rows]
    return [r["correct"] == "true" for r in rows]


def _run(
    cfg: TrainConfig, work: Path, name: str, max_test: int | None, *, reuse: bool = False
) -> dict[str, Any]:
    out = work / name
    if not reuse:
        shutil.rmtree(out, ignore_errors=True)
    found = read_ensemble(out) if reuse else None
    assembled = found is not None and found[1] is None  # runs trained apart: scored as they are
    trained = _finished(found[0]) if assembled else train(cfg, out=out, resume=reuse)
    return _scored_row(cfg, out, name, max_test, trained)


def _finished(members: list[Path]) -> dict[str, Any]:
    """The training figures of an ensemble assembled from runs trained apart (`write_ensemble`),
    read from its members' last checkpoints."""
    rows = []
    for folder in members:
        ckpt = latest_checkpoint(folder)
        if ckpt is None:
            raise HartFlowError(f"{folder}: no checkpoint to score")
        state = json.loads((ckpt / "state.json").read_text())
        rows.append({"step": state["step"], "seconds": state.get("elapsed", 0.0),
                     "parameters": read_config(ckpt).get("parameters")})  # fmt: skip
    return {**totals(rows), "members": rows}


def _scored_row(
    cfg: TrainConfig, out: Path, name: str, max_test: int | None, trained: dict[str, Any]
) -> dict[str, Any]:
    """A trained run's row: `trained` (step, seconds, parameters) and its evaluation."""
    ev = evaluate_refiner(out, max_test=max_test,
                          predictions=out / "predictions.tsv")  # fmt: skip
    row = {
        "name": name, "task": cfg.task, "split": cfg.split, "mode": cfg.mode,
        "edge_output": cfg.edge_output, "augment": cfg.augment, "seed": cfg.seed, "n": ev["n"],
        "exact_match": ev["exact_match"], "order_insensitive_match": ev["order_insensitive_match"],
        "official_match": ev.get("official_match"),
        "halting_rule_exact_match": ev.get("halting_rule_exact_match"),
        "halting_rule_official_match": ev.get("halting_rule_official_match"),
        "refiner_alone_exact_match": ev.get("refiner_alone_exact_match"),
        "hrr_exact_match": ev.get("hypothesis_exact_match"), "fixed": ev.get("fixed"),
        "broken": ev.get("broken"), "ill_formed": ev["ill_formed"], "steps": trained["step"],
        "train_minutes": trained["seconds"] / 60,
        "steps_per_second": trained["step"] / max(trained["seconds"], 1e-9),
        "eval_seconds": ev["seconds"], "parameters": trained["parameters"],
        "answer_sources": ev.get("answer_sources"), "selector": ev.get("selector"),
        "members": ev.get("members"), "trained_members": trained.get("members"),
    }  # fmt: skip
    for key in ("per_category", "per_category_official", "per_category_order_insensitive",
                "hypothesis_per_category"):  # fmt: skip
        if key in ev:
            row[key] = ev[key]
    console.print(f"{name}: {json.dumps({k: v for k, v in row.items() if 'categ' not in k})}")
    return row


def gold_slot_decoder(part: str) -> dict[str, Any]:
    """The decoder's exact graph rebuilds from gold slots on the whole generalisation set (the
    graphs the refiner learns: constants placed by the induced anchoring)."""
    from hartflow.hybrid.anchoring import induce_anchoring, reanchor

    parts = load_examples(part, "gen", data_dir=PARTS[part])
    pairs = [(e.input.split(), e.output.split()) for e in parts["train"]]
    anchors = induce_lexicon(pairs)
    anchoring = induce_anchoring(
        pairs, [to_graph(parse_form(e.output), e.input.split(), anchors=anchors)
                for e in parts["train"]]
    )  # fmt: skip
    hits, per_cat, total = 0, defaultdict(int), defaultdict(int)
    for e in parts["test"]:
        g = reanchor(to_graph(parse_form(e.output), e.input.split(), anchors=anchors), anchoring)
        got, left = decode_edges(graph_slots(g))
        ok = left == 0 and same_edges(got, g.edges)
        hits += ok
        per_cat[e.category] += ok
        total[e.category] += 1
    return {"n": len(parts["test"]), "exact_graph": hits / len(parts["test"]),
            "per_category": {c: per_cat[c] / total[c] for c in sorted(total)}}  # fmt: skip


def depth_curves(part: str, work: Path, runs: dict[str, Path]) -> dict[str, Any]:
    """Exact match (SLOG: official) by depth per category family, for each run's predictions."""
    parts = load_examples(part, "gen", data_dir=PARTS[part])
    anchors = induce_lexicon([(e.input.split(), e.output.split()) for e in parts["train"]])
    where = {}  # sentence -> (family, depth) for the families with a depth curve
    for e in parts["test"]:
        fam = _family(part, e.category)
        if fam is not None:
            g = to_graph(parse_form(e.output), e.input.split(), anchors=anchors)
            where[" ".join(e.input.split())] = (fam, depth(g))
    curves: dict[str, Any] = {}
    for mode, path in runs.items():
        if not path.is_file():
            continue
        rows = _read_predictions(path)
        table: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for r, ok in zip(rows, _scored(part, rows), strict=True):
            if r["input"] in where:
                fam, d = where[r["input"]]
                table[fam][d][0] += ok
                table[fam][d][1] += 1
        curves[mode] = {fam: {str(d): {"exact": h / n, "n": n} for d, (h, n) in sorted(t.items())}
                        for fam, t in table.items()}  # fmt: skip
    return curves


def run_part(
    part: str, work: Path, *, minutes: float, ablation_minutes: float, quick: bool = False,
    seeds: tuple[int, ...] = (0, 1), reuse: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Every row of one data set; the part's JSON is rewritten after every run, so an
    interrupted benchmark keeps what it measured."""
    obj: dict[str, Any] = {
        "rows": [],
        "budget": {"minutes": minutes, "ablation_minutes": ablation_minutes},
    }
    start = time.perf_counter()

    def keep(row: dict | None = None) -> None:
        if row is not None:
            obj["rows"].append(row)
        obj["seconds"] = time.perf_counter() - start
        (work / f"{part}.json").write_text(json.dumps(obj, indent=2))

    work.mkdir(parents=True, exist_ok=True)
    base = TrainConfig(
        task=part, split="gen", data_dir=str(PARTS[part]), cache_dir=str(work / "cache"),
        minutes=minutes, max_train=600 if quick else None, **{**BASE, "members": 1},
    )  # fmt: skip
    max_test = 200 if quick else None
    obj["gold_slot_decoder"] = gold_slot_decoder(part)
    keep()
    hrr = evaluate(part, "gen", mode="hrr", data_dir=PARTS[part],
                   predictions=work / f"{part}-hrr.tsv")  # fmt: skip
    obj["hrr_only"] = {k: hrr.get(k) for k in ("exact_match", "official_match", "per_category",
                                                "per_category_official", "seconds")}  # fmt: skip
    keep()
    final = {}
    for mode in ("hybrid", "trm"):
        name = f"{part}-{mode}-final-s{seeds[0]}"
        keep(_run(replace(base, mode=mode, seed=seeds[0]), work, name, max_test, reuse=reuse))
        final[mode] = work / name / "predictions.tsv"
    obj["depth_curves"] = depth_curves(part, work, {"hrr": work / f"{part}-hrr.tsv", **final})
    keep()
    for seed in seeds[1:]:
        name = f"{part}-hybrid-final-s{seed}"
        keep(_run(replace(base, mode="hybrid", seed=seed), work, name, max_test, reuse=reuse))
    for edge_output, augment in (("slots", 0), ("pointer", 0)):
        for mode in ("hybrid", "trm"):
            cfg = replace(base, mode=mode, edge_output=edge_output, augment=augment,
                          minutes=ablation_minutes)  # fmt: skip
            keep(_run(cfg, work, f"{part}-{mode}-{edge_output}-aug{augment}", max_test,
                      reuse=reuse))  # fmt: skip
    return obj


def redecode(part: str, work: Path) -> dict[str, Any]:
    """Score the finished final runs again with today's decoder (same weights): for runs trained
    before the decoder's configuration prior, `evaluate_refiner` reads it from the same training
    and recombined pairs. Written to `<part>-redecoded.json`, which `merge` folds in (so it can
    run beside a part that is still measuring its other rows)."""
    rows = json.loads((work / f"{part}.json").read_text())["rows"]
    path = work / f"{part}-redecoded.json"
    out: dict[str, Any] = {"redecoded": {}}
    for row in rows:
        run = work / row["name"]
        if "final" not in row["name"] or not run.is_dir():
            continue
        ev = evaluate_refiner(run, predictions=run / "predictions-redecoded.tsv")
        keep = ("exact_match", "official_match", "order_insensitive_match", "fixed", "broken",
                "ill_formed", "refiner_alone_exact_match", "answer_sources", "per_category",
                "per_category_official", "per_category_order_insensitive", "seconds")  # fmt: skip
        out["redecoded"][row["name"]] = {k: ev.get(k) for k in keep}
        console.print(f"{row['name']} redecoded: {ev['exact_match']:.4f}")
        path.write_text(json.dumps(out, indent=2))
    finals = {r["mode"]: work / r["name"] / "predictions-redecoded.tsv"
              for r in rows if r["name"].endswith("final-s0")}  # fmt: skip
    out["depth_curves_redecoded"] = depth_curves(
        part, work, {"hrr": work / f"{part}-hrr.tsv", **finals}
    )
    path.write_text(json.dumps(out, indent=2))
    return out


def run_current(
    part: str, work: Path, *, minutes: float, seeds: tuple[int, ...], quick: bool = False,
    reuse: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """The hybrid with today's defaults (what `hartflow train --task PART --minutes M` trains),
    one run per seed, written to `<part>-current.json`, which `merge` folds in beside the rows
    measured by earlier code (kept as they were, so the table shows what each step bought).

    With the default two members a run is an ensemble (`<part>-ensemble-s<seed>`, members of
    seeds seed and seed+1). With `reuse`, a folder already holding an ensemble assembled from
    runs trained apart (`hartflow.hybrid.ensemble.write_ensemble`) is scored as it is."""
    work.mkdir(parents=True, exist_ok=True)
    base = TrainConfig(
        task=part, split="gen", data_dir=str(PARTS[part]), cache_dir=str(work / "cache"),
        minutes=minutes, max_train=600 if quick else None, mode="hybrid", **BASE,
    )  # fmt: skip
    path = work / f"{part}-current.json"
    out: dict[str, Any] = {"current": {"minutes": minutes, "settings": base.to_json(), "rows": []}}
    kind = "ensemble" if base.members > 1 else "hybrid-current"
    names = {s: f"{part}-{kind}-s{s}" for s in seeds}
    for a in seeds:  # an ensemble's members have seeds seed … seed+members-1: none twice
        if any(a < b < a + base.members for b in seeds):
            raise HartFlowError(f"--seeds {' '.join(map(str, seeds))}: ensembles of "
                                f"{base.members} share members; space the seeds by "
                                f"{base.members} (e.g. --seeds 0 {base.members})")  # fmt: skip
    for seed in seeds:
        name = names[seed]
        out["current"]["rows"].append(_run(replace(base, seed=seed), work, name,
                                           200 if quick else None, reuse=reuse))  # fmt: skip
        path.write_text(json.dumps(out, indent=2))
    first = work / names[seeds[0]] / "predictions.tsv"
    out["depth_curves_current"] = depth_curves(part, work, {"hybrid (today)": first})
    path.write_text(json.dumps(out, indent=2))
    return out


def rescore_current(part: str, work: Path) -> dict[str, Any]:
    """The `--current` runs scored again by today's code (same weights, the training figures
    kept): what a change of the decoder alone buys."""
    path = work / f"{part}-current.json"
    out = json.loads(path.read_text())
    base = TrainConfig.from_json(out["current"]["settings"])
    rows = []
    for r in out["current"]["rows"]:
        trained = {"step": r["steps"], "seconds": 60 * r["train_minutes"],
                   "parameters": r["parameters"], "members": r.get("trained_members")}  # fmt: skip
        rows.append(_scored_row(replace(base, seed=r["seed"]), work / r["name"], r["name"], None,
                                trained))  # fmt: skip
    out["current"]["rows"] = rows
    out["current"]["rescored"] = True
    if part in PARTS:
        first = work / rows[0]["name"] / "predictions.tsv"
        out["depth_curves_current"] = depth_curves(part, work, {"hybrid (today)": first})
    path.write_text(json.dumps(out, indent=2))
    return out


def merge(work: Path) -> dict[str, Any]:
    """The parts measured in `work`; a part whose full rows were measured in another work folder
    keeps them from the saved result (`benchmarks/results/structure_accuracy.json`)."""
    out: dict[str, Any] = {"parts": {}, "settings": {**BASE, "members": 1}, "machine": machine()}
    saved_path = RESULTS / "structure_accuracy.json"
    previous = json.loads(saved_path.read_text()) if saved_path.is_file() else {}
    saved = previous.get("parts", {})
    out["settings_of_earlier_rows"] = previous.get("settings_of_earlier_rows",
                                                   previous.get("settings"))  # fmt: skip
    for part in PARTS:
        path = work / f"{part}.json"
        if path.is_file():
            out["parts"][part] = json.loads(path.read_text())
        elif part in saved:
            out["parts"][part] = {k: v for k, v in saved[part].items()
                                  if k not in ("current", "depth_curves_current")}  # fmt: skip
        if part in out["parts"]:
            for extra in (f"{part}-redecoded.json", f"{part}-current.json"):
                if (work / extra).is_file():
                    out["parts"][part].update(json.loads((work / extra).read_text()))
            # defaults measured before today's stay in the table: what each change bought
            history = list(saved.get(part, {}).get("earlier_current", []))
            before, now = saved.get(part, {}).get("current"), out["parts"][part].get("current")
            if before and now and before != now and before not in history:
                history.append(before)
            if history:
                out["parts"][part]["earlier_current"] = history
    return out


def _curves(part_obj: dict[str, Any]) -> dict[str, Any]:
    earlier = part_obj.get("depth_curves_redecoded") or part_obj.get("depth_curves") or {}
    return {**earlier, **part_obj.get("depth_curves_current", {})}


def plot(obj: dict[str, Any], png: Path) -> Path | None:
    """Depth curves: one panel per category family, one line per mode."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    panels = [(part, fam) for part, p in obj["parts"].items()
              for fam in DEPTH_CATEGORIES[part] if _curves(p)]  # fmt: skip
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), squeeze=False)
    for ax, (part, fam) in zip(axes[0], panels, strict=True):
        for mode, curves in _curves(obj["parts"][part]).items():
            points = curves.get(fam, {})
            xs = sorted(int(d) for d in points)
            ax.plot(xs, [100 * points[str(d)]["exact"] for d in xs], marker="o", label=mode)
        ax.set_title(f"{part} {fam}")
        ax.set_xlabel("depth")
        ax.set_ylim(-2, 102)
    axes[0][0].set_ylabel("exact match % (SLOG: official)")
    axes[0][-1].legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--part", choices=tuple(PARTS))
    p.add_argument("--merge", action="store_true")
    p.add_argument(
        "--redecode",
        action="store_true",
        help="score the part's finished final runs again with today's decoder",
    )
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--ablation-minutes", type=float, default=4.0)
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="seeds (default 0 1; with --current, ensembles' first seeds: 0 2)",
    )
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reuse", action="store_true", help="keep finished runs (resume them)")
    p.add_argument(
        "--current",
        action="store_true",
        help="only the hybrid with today's defaults, one run per seed (--minutes each)",
    )
    p.add_argument(
        "--rescore",
        action="store_true",
        help="score the part's --current runs again with today's code (same weights)",
    )
    p.add_argument("--work", type=Path, default=Path("runs/structure_accuracy"))
    args = p.parse_args()
    if args.part and args.rescore:
        rescore_current(args.part, args.work)
    elif args.part and args.current:
        seeds = tuple(args.seeds or (0, BASE["members"]))
        run_current(args.part, args.work, minutes=0.2 if args.quick else args.minutes,
                    seeds=seeds, quick=args.quick, reuse=args.reuse)  # fmt: skip
    elif args.part and not args.redecode:
        minutes = 0.2 if args.quick else args.minutes
        run_part(args.part, args.work, minutes=minutes, quick=args.quick,
                 ablation_minutes=0.2 if args.quick else args.ablation_minutes,
                 seeds=tuple(args.seeds or (0, 1)), reuse=args.reuse)  # fmt: skip
    if args.redecode:
        for part in [args.part] if args.part else list(PARTS):
            if (args.work / f"{part}.json").is_file():
                redecode(part, args.work)
    if args.merge:
        obj = merge(args.work)
        save("structure_accuracy", obj)
        png = plot(obj, RESULTS / "structure_depth.png")
        also = f" and {png}" if png else ""
        console.print(f"wrote {RESULTS / 'structure_accuracy.json'}{also}")


if __name__ == "__main__":
    main()
