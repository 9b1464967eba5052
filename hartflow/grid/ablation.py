"""The TRM paper's ablations (Table 1) as one runner: every variant trains under the same budget.

Variants are changes to one base run (the base config's arch, preset and recipe):

| name           | change                                                       | paper (Sudoku) |
|----------------|--------------------------------------------------------------|----------------|
| base           | none (TRM-MLP at the paper preset)                           | 87.4           |
| attention      | self-attention mixer instead of the sequence MLP (trm-att)   | 74.7           |
| less-recursion | T and n lowered (T − 1, n // 2; at least 1)                  | 73.7 (T=2,n=2) |
| no-ema         | evaluate the live weights (no EMA)                           | 79.9           |
| one-step-grad  | gradient through the last z and y updates only (HRM's)       | 56.5           |
| separate-nets  | separate networks for the z and y updates                    | 82.4           |
| act-continue   | Q-continue head and loss (HRM's halting)                     | 86.1           |
| hrm            | the HRM model                                                | 55.0           |

Model selection is on the validation split when the base config holds out groups; the table
reports the test exact accuracy at the last evaluation and at the validation-best one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hartflow.atomic import write_bytes, write_json
from hartflow.errors import HartFlowError
from hartflow.grid.train_config import TrainConfig

__all__ = ["VARIANTS", "variant_config", "run_ablation", "render_markdown"]

VARIANTS = ("base", "attention", "less-recursion", "no-ema", "one-step-grad", "separate-nets",
            "act-continue", "hrm")  # fmt: skip
PAPER = {"base": 87.4, "attention": 74.7, "less-recursion": 73.7, "no-ema": 79.9,
         "one-step-grad": 56.5, "separate-nets": 82.4, "act-continue": 86.1,
         "hrm": 55.0}  # fmt: skip


def variant_config(base: TrainConfig, name: str) -> TrainConfig:
    """`base` changed as the variant `name` says (see the module table)."""
    from reasoner.presets import grid_config

    if name not in VARIANTS:
        raise HartFlowError(f"unknown ablation variant {name!r}; choose from {', '.join(VARIANTS)}")
    model = dict(base.model)
    out = str(Path(base.out or ".") / name)
    if name == "base":
        return base.replace(out=out)
    if name == "attention":
        model.pop("mixer", None)
        model.pop("pos_encoding", None)
        return base.replace(arch="trm-att", model=model, out=out)
    if name == "less-recursion":
        resolved = dataclasses.asdict(grid_config(base.arch, base.preset, **_model_only(model)))
        model["n_cycles"] = max(1, resolved["n_cycles"] - 1)
        model["n_latent_steps"] = max(1, resolved["n_latent_steps"] // 2)
        return base.replace(model=model, out=out)
    if name == "no-ema":
        return base.replace(ema=False, out=out)
    if name == "hrm":
        keep = {"hidden_size", "n_heads", "max_halt_steps", "halt_exploration_prob", "expansion"}
        model = {k: v for k, v in model.items() if k in keep}
        return base.replace(arch="hrm", model=model, out=out)
    flag = {"one-step-grad": "one_step_grad", "separate-nets": "separate_nets",
            "act-continue": "act_continue"}[name]  # fmt: skip
    return base.replace(model={**model, flag: True}, out=out)


def _model_only(model: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in model.items() if k not in ("vocab_size", "seq_len")}


def run_ablation(
    base: TrainConfig,
    variants: list[str] | None = None,
    *,
    progress: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train each variant with `base`'s budget (epochs / max_steps / minutes) and tabulate.

    Writes `<out>/<variant>/` runs, `<out>/ablation.json` and `<out>/ablation.md`.

    Returns:
        {"base": base config, "rows": [{"variant", "test_exact", "best_test_exact", ...}]}.
    """
    from hartflow.grid.training import train

    if base.out is None or base.data is None:
        raise HartFlowError("ablate needs --data DIR and --out DIR")
    names = list(variants or VARIANTS)
    rows = []
    for name in names:
        cfg = variant_config(base, name)
        on = (lambda rec, n=name: progress(n, rec)) if progress is not None else None
        result = train(cfg, progress=on)
        final = result.final or {}
        test = final.get("test", {})
        rows.append({
            "variant": name, "arch": cfg.arch, "model": cfg.model, "ema": cfg.ema,
            "steps": result.steps, "seconds": round(result.seconds, 1),
            "parameters": result.parameters,
            "test_exact": test.get("exact"), "test_cell_accuracy": test.get("cell_accuracy"),
            "halt_steps": test.get("halt_steps"),
            "best_step": (result.best or {}).get("step"),
            "best_test_exact": (result.best or {}).get("test_exact"),
            "paper_sudoku_extreme": PAPER[name],
        })  # fmt: skip
    report = {"base": base.to_dict(), "rows": rows}
    out = Path(base.out)
    write_json(out / "ablation.json", report)
    write_bytes(out / "ablation.md", render_markdown(report).encode())
    return report


def render_markdown(report: dict[str, Any]) -> str:
    """The ablation table as Markdown."""
    lines = [
        "| variant | params | steps | seconds | test exact % | best-on-validation test % "
        "| halt steps | paper (Sudoku-Extreme) % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    pct = lambda v: "–" if v is None else f"{100 * v:.1f}"  # noqa: E731
    for r in report["rows"]:
        halt = "–" if r["halt_steps"] is None else f"{r['halt_steps']:.2f}"
        lines.append(
            f"| {r['variant']} | {r['parameters']:,} | {r['steps']} | {r['seconds']} | "
            f"{pct(r['test_exact'])} | {pct(r['best_test_exact'])} | {halt} | "
            f"{r['paper_sudoku_extreme']} |"
        )
    return "\n".join(lines) + "\n"
