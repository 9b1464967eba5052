"""Render benchmarks/results/*.json as markdown into the README, between marker comments.

python -m benchmarks.report          # rewrites README.md's <!-- name --> ... <!-- /name --> blocks
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmarks.common import RESULTS

README = Path(__file__).resolve().parents[1] / "README.md"


def _ratio(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}×"


def _ratio_cell(r: dict) -> str:
    if "ratio_range" not in r:
        return f"{r['ratio']:.2f}×"
    lo, hi = r["ratio_range"]
    return f"{r['ratio']:.2f}× ({lo:.2f}–{hi:.2f})"


def hrr_ops(result: dict) -> str:
    m = result["machine"]
    load = ""
    if "runs" in result:  # rows merged from several runs, each with its own load
        load = "; rows from " + ", ".join(
            f"`{run['command']}` (load average {run['load_average_before'][0]:.1f} → "
            f"{run['load_average_after'][0]:.1f})"
            for run in result["runs"]
        )
    elif "load_average_before" in m:
        load = (
            f", load average {m['load_average_before'][0]:.1f} before and "
            f"{m['load_average_after'][0]:.1f} after"
        )
    cores = f"{m['cores']} cores"
    if m.get("cpu_affinity") and m["cpu_affinity"] != m["cores"]:
        cores = f"pinned to {m['cpu_affinity']} of {m['cores']} cores"
    lines = [
        f"Measured on {m['cpu']} ({cores}{load}), torch {m['torch']}, torch-hd "
        f"{m['torchhd']}; {result.get('timing', 'median of repeats')}. Vectors per second; "
        "ratio = HartFlow / torchhd, in brackets the range over paired samples; *in rffts* = "
        "one bind's time in units of one `torch.fft.rfft` call on one operand (the FFT floor of "
        "a bind is 3).",
    ]
    summaries = result.get("summary_by_threads", {str(m["torch_threads"]): result["summary"]})
    for threads, s in summaries.items():
        rows = {
            (r["op"], r["d"], r["batch"]): r
            for r in result["rows"]
            if str(r.get("threads", m["torch_threads"])) == threads
        }
        lines += [
            "",
            f"**{threads} torch thread{'s' if threads != '1' else ''}** (both peers)",
            "",
            "| d | batch | bind: HartFlow | torchhd | ratio | unbind: ratio "
            "| unbind, cached role: ratio | bind in rffts: HartFlow / torchhd |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for d, batch in sorted({(d, batch) for _, d, batch in rows}):
            b, u, c = (rows[(op, d, batch)] for op in ("bind", "unbind", "unbind_role"))
            rffts = (
                f"{b['hartflow_in_rffts']:.1f} / {b['torchhd_in_rffts']:.1f}"
                if "hartflow_in_rffts" in b
                else "–"
            )
            lines.append(
                f"| {d} | {batch:,} | {b['hartflow_vectors_per_s']:.3g} | "
                f"{b['torchhd_vectors_per_s']:.3g} | {_ratio_cell(b)} | {_ratio_cell(u)} | "
                f"{_ratio_cell(c)} | {rffts} |"
            )
        lines += [
            "",
            f"Target {s['target']}: **{'met' if s['met'] else 'not met'}** — lowest ratio "
            f"{_ratio(s['min_ratio_single'])} on single vectors, "
            f"{_ratio(s['min_ratio_batched'])} on batches.",
        ]
    lines += [
        "",
        f"Largest difference between the two results: "
        f"{max(r['max_abs_diff'] for r in result['rows']):.1e}.",
    ]
    return "\n".join(lines)


def hrr_capacity(result: dict) -> str:
    cells = result["role_filler"]["cells"]
    n = result["role_filler"]["n_items"]
    ks = sorted({c["k"] for c in cells})
    by = {(c["d"], c["k"]): c for c in cells}
    lines = [
        f"Role–filler cleanup against N = {n} items (unitary roles): measured / predicted "
        f"(`hrr.prob_correct`), about {cells[0]['unbinds']:,} unbinds per cell; "
        "† = outside the prediction's 99 % band.",
        "",
        "| d | " + " | ".join(f"k={k}" for k in ks) + " | capacity at 1 % | Plate's rule |",
        "|---:|" + "---:|" * (len(ks) + 2),
    ]
    planner = {p["d"]: p for p in result["planner"]}
    for d in sorted({c["d"] for c in cells}):
        parts = []
        for k in ks:
            c = by[(d, k)]
            mark = "" if c["inside"] else " †"
            parts.append(f"{c['measured']:.3f}/{c['predicted']:.3f}{mark}")
        p = planner[d]
        tail = f" | {p['capacity_1pct']} | {p['plate_k_1pct']} |"
        lines.append(f"| {d} | " + " | ".join(parts) + tail)
    s = result["summary"]
    seq = result["sequence"]
    lines += [
        "",
        f"{s['cells_inside_band']} of {s['cells']} cells lie inside the band.",
        "",
        f"{seq['length']}-token sequences ({seq['sequences_per_row']} per row), token accuracy:",
        "",
        "| N | d | plain | predicted | explain-away |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in seq["rows"]:
        lines.append(
            f"| {r['n_items']} | {r['d']} | {r['plain']:.4f} | {r['predicted_plain']:.4f} | "
            f"{r['explain_away']:.4f} |"
        )
    smallest = ", ".join(f"{k}: d = {v}" for k, v in s["smallest_d_48_tokens_999"].items())
    lines += ["", f"Smallest d with ≥ 99.9 % token accuracy on 48 tokens — {smallest}."]
    return "\n".join(lines)


def memory_search(result: dict) -> str:
    lines = [
        "| N keys (d = 1024) | HartFlow queries/s | FAISS queries/s | ratio | same top-k | "
        "peak RSS growth while searching, HartFlow / FAISS |",
        "|---:|---:|---:|---:|:---:|---:|",
    ]
    for r in result["rows"]:
        peak = r["search_peak_rss_growth_bytes"]
        mb = " / ".join("n/a" if v is None else f"{v / 2**20:.0f} MB" for v in peak.values())
        lines.append(
            f"| {r['n_keys']:,} | {r['hartflow_queries_per_s']:.0f} "
            f"| {r['faiss_queries_per_s']:.0f} | {r['ratio']:.2f}× "
            f"| {'yes' if r['identical_topk'] else 'no'} | {mb} |"
        )
    s = result["summary"]
    lines += ["", f"Target {s['target']}: **{'met' if s['met'] else 'not met'}**."]
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def scan_accuracy(result: dict) -> str:
    lines = [
        f"Zero-shot, HRR-only ({result['source']}); time = build from train + answer all of test.",
        "",
        "| split | n | **HartFlow HRR-only** | seconds | seq2seq | best published |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['split']} | {r['n']:,} | **{100 * r['exact_match']:.2f}** | {r['seconds']:.1f} "
            f"| {_pct(r['published_seq2seq'])} | {_pct(r['published_best'])} |"
        )
    return "\n".join(lines)


def cogs_accuracy(result: dict) -> str:
    lines = [
        f"COGS gen, zero-shot HRR-only: **{100 * result['exact_match']:.1f} %** overall "
        f"({result['seconds']:.0f} s; lexical cases {100 * result['lexical_mean']:.1f} %, "
        f"structural cases {100 * result['structural_mean']:.1f} %). Published: Transformer 35 %, "
        f"LeAR 97.7 %. Target {100 * result['target']:.0f} %: "
        f"**{'met' if result['met'] else 'not met'}**.",
        "",
        "| category | exact match % |",
        "|---|---:|",
    ]
    lines += [f"| {c} | {100 * v:.1f} |" for c, v in result["per_category"].items()]
    return "\n".join(lines)


def grid_data(result: dict) -> str:
    lines = ["| job | measured | per 1000 | quality | target |", "|---|---:|---:|---|---|"]
    if "sudoku" in result:
        r = result["sudoku"]
        lines.append(
            f"| {r['count']} Sudokus 9×9, rating ≥ {r['min_rating']} | {r['seconds']:.0f} s "
            f"| {r['seconds_per_1000'] / 60:.1f} min | mean rating {r['mean_rating']:.0f}, "
            f"median {r['median_rating']:.0f} | ≤ 10 min: {'met' if r['met'] else 'not met'} |"
        )
    if "maze" in result:
        r = result["maze"]
        lines.append(
            f"| {r['count']} mazes 30×30, path > 110 | {r['seconds']:.0f} s "
            f"| {r['seconds_per_1000'] / 60:.1f} min | mean path {r['mean_path_length']:.1f} "
            f"| ≤ 10 min: {'met' if r['met'] else 'not met'} |"
        )
    if "arc" in result:
        r = result["arc"]
        peak = r["peak_rss_growth_bytes"]
        lines.append(
            f"| ARC-AGI-1, {r['aug']} variants per puzzle | {r['seconds'] / 60:.1f} min | – "
            f"| peak memory +{(peak or 0) / 2**30:.1f} GiB, {r['bytes_on_disk'] / 2**30:.1f} GiB "
            "on disk | fits |"
        )
    return "\n".join(lines)


def grid_sudoku_hard(result: dict) -> str:
    lines = ["| set | puzzles | mean rating (stored) | median | share ≥ 20 | mean rating, 8 random "
             "copies | clues | unique (independent solver) | min per 1000 (wall, "
             f"{result['workers']} workers) | CPU min per 1000 | target |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for name in ("hard", "easy"):
        r = result[name]
        target = "–"
        if "met" in r:
            target = "mean ≥ 20, all unique, ≤ 30 min: " + ("met" if r["met"] else "not met")
        lines.append(
            f"| {name}, min rating {r['min_rating']} | {r['count']} | {r['mean_rating']:.1f} "
            f"| {r['median_rating']:g} | {100 * r['share_rating_ge_20']:.1f} % "
            f"| {r['mean_rating_8_random_copies']:.1f} | {r['mean_clues']:.1f} "
            f"| {r['unique_by_independent_solver']} | {r['minutes_per_1000']:.1f} "
            f"| {r['cpu_minutes_per_1000']:.1f} | {target} |"
        )
    return "\n".join(lines)


def _pct100(x: float | None) -> str:
    if x is None:
        return "–"
    if 0.9995 <= x < 1:  # one decimal would round it to 100.0 %
        return f"{100 * x:.2f} %"
    return f"{100 * x:.1f} %"


def grid_cpu(result: dict) -> str:
    lines = ["| run | model | threads | budget | steps | final test exact "
             "| selected test exact (unseen) | cells | blank cells | halt steps | target |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for part in ("s4", "s4-hrm", "s4-long", "s6", "s6-hrm", "s9-easy", "s9-hard"):
        if part not in result:
            continue
        r = result[part]
        when, limit = r["reached_target_at_seconds"], r.get("target_minutes", r["budget_minutes"])
        if r["target"] is None:
            target = "reported, no target"
        else:
            target = f"≥ {100 * r['target']:.0f} % in ≤ {limit:g} min: " + (
                "met" if r["met"] else "not met"
            )
        if when is not None:
            target += f" (reached at {when / 60:.1f} min)"
        selected = r.get("selected_exact")
        name = f"{r['size']}×{r['size']} Sudoku"
        if "mean_rating" in r:  # a named puzzle set (s9-hard/s9-easy): its mean test rating
            rating = r["mean_rating"]["mean_rating_test"]
            name += f", {part.split('-')[1]} (test rating {rating:.1f})"
        lines.append(
            f"| {name} | {r['arch']} {r['parameters'] / 1e3:.0f} k "
            f"| {r.get('threads', '?')} | {r['budget_minutes']:g} min | {r['steps']} "
            f"| {_pct100(r['final_test_exact'])} "
            f"| {_pct100(selected)} ({_pct100(r['unseen_exact'])}, n={r['unseen_n']}) "
            f"| {_pct100(r['final_cell_accuracy'])} "
            f"| {_pct100(r.get('final_blank_cell_accuracy'))} "
            f"| {r['final_halt_steps']:.2f} | {target} |"
        )
    for key in sorted(k for k in result if k.startswith("flops")):
        r = result[key]
        lines.append(
            f"| 9×9 training step | trm-mlp {r['parameters'] / 1e6:.2f} M, batch {r['batch']} "
            f"| {r.get('threads', 2)} | – | – "
            f"| {r['model_flops_per_s'] / 1e9:.1f} GFLOP/s vs torch.mm "
            f"{r['gemm_flops_per_s'] / 1e9:.1f} GFLOP/s | – | – | – | – "
            f"| ≥ 40 %: {100 * r['fraction']:.0f} % ({'met' if r['met'] else 'not met'}) |"
        )
    return "\n".join(lines)


def hybrid_accuracy(result: dict) -> str:
    b = result["budget"]
    lines = [
        "Same refiner and budget in every row (optimizer steps × batch, per part: "
        + ", ".join(f"{p} {v['steps']} × {v['batch']}" for p, v in b.items())
        + "); exact match % on the whole test set (n; a smaller n is a seeded random subset). "
        "HRR-only = the zero-shot reasoner's own answer on the same examples; fixed/broken = "
        "hybrid answers that differ from it for the better/worse. Machine: "
        + result["machine"]["shared"]
        + ".",
        "",
        "| task | split | n | HRR-only | TRM-only | **hybrid** | fixed | broken | train s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by = {(r["task"], r["split"], r["mode"]): r for r in result["rows"]}
    for (task, split, mode), r in by.items():
        if mode != "hybrid":
            continue
        trm = by.get((task, split, "trm"))
        trm_pct = "–" if trm is None else f"{100 * trm['exact_match']:.1f}"
        lines.append(
            f"| {task} | {split} | {r['n']} | {100 * r['hrr_exact_match']:.1f} | {trm_pct} "
            f"| **{100 * r['exact_match']:.1f}** | {r['fixed']} | {r['broken']} "
            f"| {r['train_seconds']:.0f} |"
        )
    if result["ablations"]:
        lines += ["", "Ablations (one setting changed from T=2, n=2, k=3; hybrid):", "",
                  "| task | split | T | n | k | n test | exact % | HRR-only % |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        main = [r for r in result["rows"] if r["mode"] == "hybrid"]
        for r in sorted(
            [*[m for m in main if (m["task"], m["split"]) in
               {(a["task"], a["split"]) for a in result["ablations"]}], *result["ablations"]],
            key=lambda r: (r["task"], r["n_cycles"], r["n_latent_steps"], r["k"]),
        ):  # fmt: skip
            lines.append(
                f"| {r['task']} | {r['split']} | {r['n_cycles']} | {r['n_latent_steps']} "
                f"| {r['k']} | {r['n']} | {100 * r['exact_match']:.1f} "
                f"| {100 * r['hrr_exact_match']:.1f} |"
            )
    cogs = by.get(("cogs", "gen", "hybrid"))
    if cogs and "per_category" in cogs:
        lines += ["", "COGS gen per category (hybrid):", "",
                  "| category | exact % |", "|---|---:|"]  # fmt: skip
        lines += [f"| {c} | {100 * v:.1f} |" for c, v in cogs["per_category"].items()]
    return "\n".join(lines)


def grid_ablation(result: dict) -> str:
    from hartflow.grid.ablation import render_markdown

    return render_markdown(result).rstrip()


def _mean_of_seeds(label: str, rows: list[dict], slog: bool) -> list[str]:
    """The row with the mean over seeds (SLOG: the official metric), where there are several."""
    if len(rows) < 2:
        return []
    key = "official_match" if slog else "exact_match"
    mean = sum(r[key] for r in rows) / len(rows)
    what = "ensembles" if all(r.get("members") for r in rows) else "seeds"
    return [f"| {label}, mean of {len(rows)} {what} | – | **{_pct100(mean)}** | | | |"]


def _who(row: dict) -> str:
    """A run's seed, or an ensemble's members' seeds."""
    members = row.get("members")
    if members:
        return f"ensemble of {len(members)}, seeds {'+'.join(str(m['seed']) for m in members)}"
    return f"seed {row['seed']}"


def structure_accuracy(result: dict) -> str:
    """Per data set: which step buys what (pointer, slots, recombination, selector; hybrid and
    TRM-only), the decoder with gold slots, per category, and the depth curves."""
    lines = []
    for part, obj in result.get("parts", {}).items():
        slog = part == "slog"

        def score(r: dict | None, key: str = "", slog: bool = slog) -> str:
            if r is None:
                return "–"
            main = r.get(f"{key}official_match") if slog else r.get(f"{key}exact_match")
            if main is None:
                return "–"
            plain = _pct100(r[key + "exact_match"])
            return f"{_pct100(main)} ({plain})" if slog else _pct100(main)

        rows = {r["name"].split("-", 1)[1]: r for r in obj.get("rows", [])}
        hrr = obj.get("hrr_only", {})
        hrr_score = _pct100(hrr.get("official_match" if slog else "exact_match"))
        metric = "official metric (plain exact match)" if slog else "exact match"
        lines += [
            f"**{part.upper()} gen** ({metric} %; HRR-only {hrr_score}; "
            f"budget {obj['budget']['minutes']:g} min, rows without recombination "
            f"{obj['budget']['ablation_minutes']:g} min)",
            "",
            "| row | TRM-only | hybrid | fixed / broken | minutes | steps |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        seeds = sorted(k for k in rows if k.startswith("hybrid-final-s"))
        steps = [("pointer (earlier refiner)", "pointer-aug0", ""),
                 ("slots + decoder", "slots-aug0", ""),
                 ("slots + recombination (halting rule)", "final-s0", "halting_rule_")]  # fmt: skip
        for label, key, prefix in steps:
            hyb, trm = rows.get(f"hybrid-{key}"), rows.get(f"trm-{key}")
            ref = hyb or trm
            if ref is None:
                continue
            fb = f"{hyb['fixed']} / {hyb['broken']}" if hyb and not prefix else "–"
            lines.append(f"| {label} | {score(trm)} | {score(hyb, prefix)} | {fb} | "
                         f"{ref['train_minutes']:.1f} | {ref['steps']:,} |")  # fmt: skip
        finals = [rows[k] for k in seeds]
        for r in finals:
            lines.append(
                f"| **+ selector** (seed {r['seed']}) | – | **{score(r)}** | "
                f"{r['fixed']} / {r['broken']} | {r['train_minutes']:.1f} | {r['steps']:,} |"
            )
        lines += _mean_of_seeds("+ selector", finals, slog)
        redecoded = obj.get("redecoded", {})
        trm_prior = redecoded.get(f"{part}-trm-final-s0")
        hyb_prior = [(k, v) for k, v in sorted(redecoded.items()) if "-hybrid-final-" in k]
        for name, r in hyb_prior:
            seed = name.rsplit("-s", 1)[1]
            lines.append(
                f"| **+ configuration prior** (seed {seed}, same weights) | "
                f"{score(trm_prior) if seed == '0' else '–'} | **{score(r)}** | "
                f"{r['fixed']} / {r['broken']} | | |"
            )
        lines += _mean_of_seeds("+ configuration prior", [r for _, r in hyb_prior], slog)
        for earlier in obj.get("earlier_current", []):
            label = earlier.get("label", "earlier defaults")
            for r in earlier.get("rows", []):
                lines.append(
                    f"| {label} ({_who(r)}, {earlier['minutes']:g}-min budget) | – "
                    f"| {score(r)} | {r['fixed']} / {r['broken']} | {r['train_minutes']:.1f} | "
                    f"{r['steps']:,} |"
                )
            lines += _mean_of_seeds(label, earlier.get("rows", []), slog)
        current = obj.get("current", {})
        today = current.get("rows", [])
        for r in today:
            lines.append(
                f"| **today's defaults** ({_who(r)}, {current['minutes']:g}-min budget) | – "
                f"| **{score(r)}** | {r['fixed']} / {r['broken']} | {r['train_minutes']:.1f} | "
                f"{r['steps']:,} |"
            )
            for m in r.get("members") or []:  # an ensemble: its members alone
                lines.append(f"| … member seed {m['seed']} alone | – | {score(m)} | | | |")
        lines += _mean_of_seeds("today's defaults", today, slog)
        gold = obj.get("gold_slot_decoder")
        if gold:
            lines.append(f"| decoder with gold slots (graphs rebuilt) | | "
                         f"{_pct100(gold['exact_graph'])} | | | |")  # fmt: skip
        hyb, trm = rows.get("hybrid-final-s0"), rows.get("trm-final-s0")
        if redecoded.get(f"{part}-hybrid-final-s0"):  # the categories as finally decoded
            hyb = {**hyb, **redecoded[f"{part}-hybrid-final-s0"]}
            trm = {**trm, **redecoded[f"{part}-trm-final-s0"]} if trm and redecoded.get(
                f"{part}-trm-final-s0") else trm  # fmt: skip
        if hyb:
            per = "per_category_official" if slog else "per_category"
            hrr_cat = hrr.get(per) or hyb.get("hypothesis_per_category", {})
            now = today[0] if today else None
            extra = f" hybrid, today's defaults ({_who(now)}) |" if now else ""
            lines += ["", "| category | HRR-only | TRM-only | hybrid | hybrid, any order |"
                      + extra, "|---|---:|---:|---:|---:|" + ("---:|" if now else "")]  # fmt: skip
            for c, v in hyb[per].items():
                t = _pct100(trm[per][c]) if trm and per in trm else "–"
                lines.append(f"| {c} | {_pct100(hrr_cat.get(c))} | {t} | {_pct100(v)} | "
                             f"{_pct100(hyb['per_category_order_insensitive'][c])} |"
                             + (f" {_pct100(now[per].get(c))} |" if now else ""))  # fmt: skip
        curves = obj.get("depth_curves_redecoded") or obj.get("depth_curves")
        curves = {**(curves or {}), **obj.get("depth_curves_current", {})}
        if curves:
            lines += ["", f"Depth curves ({metric.split(' (')[0]} %, by recursion depth; "
                      "`structure_depth.png`):", "",
                      "| family | mode | " + " | ".join(str(d) for d in range(1, 13)) + " |",
                      "|---|---|" + "---:|" * 12]  # fmt: skip
            for mode, fams in curves.items():
                for fam, points in fams.items():
                    cells = [_pct100(points[str(d)]["exact"]) if str(d) in points else ""
                             for d in range(1, 13)]  # fmt: skip
                    lines.append(f"| {fam} | {mode} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip()


RENDERERS = {
    "grid_data": grid_data,
    "grid_sudoku_hard": grid_sudoku_hard,
    "grid_ablation": grid_ablation,
    "grid_cpu": grid_cpu,
    "hrr_ops": hrr_ops,
    "hrr_ops_idle": hrr_ops,  # the same benchmark on two idle cores of another machine
    "hrr_capacity": hrr_capacity,
    "memory_search": memory_search,
    "scan_accuracy": scan_accuracy,
    "cogs_accuracy": cogs_accuracy,
    "hybrid_accuracy": hybrid_accuracy,
    "structure_accuracy": structure_accuracy,
}


def update_readme(readme: Path = README, results: Path = RESULTS) -> list[str]:
    """Replace each `<!-- name -->...<!-- /name -->` block whose result JSON exists."""
    text = readme.read_text()
    done = []
    for name, render in RENDERERS.items():
        path = results / f"{name}.json"
        pattern = re.compile(rf"<!-- {name} -->.*?<!-- /{name} -->", re.S)
        if path.exists() and pattern.search(text):
            block = f"<!-- {name} -->\n{render(json.loads(path.read_text()))}\n<!-- /{name} -->"
            text = pattern.sub(lambda _, new=block: new, text)
            done.append(name)
    readme.write_text(text)
    return done


if __name__ == "__main__":
    print("updated:", ", ".join(update_readme()) or "nothing")
