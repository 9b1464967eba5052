"""The structure_accuracy benchmark's README table renders from its JSON fields."""

from __future__ import annotations

from benchmarks.report import structure_accuracy


def row(mode: str, exact: float) -> dict:
    cats = {"pp_recursion": exact, "subj_to_obj_common": 1.0}
    return {
        "task": "cogs", "split": "gen", "mode": mode, "n": 2000, "exact_match": exact,
        "order_insensitive_match": exact, "hrr_exact_match": 0.5 if mode == "hybrid" else None,
        "fixed": 10 if mode == "hybrid" else None, "broken": 2 if mode == "hybrid" else None,
        "ill_formed": 0, "steps": 100, "train_minutes": 2.0, "steps_per_second": 0.8,
        "eval_seconds": 30.0, "parameters": 1234, "n_cycles": 2, "n_latent_steps": 2,
        "max_halt_steps": 2, "per_category": cats, "per_category_order_insensitive": cats,
        "hypothesis_per_category": {"pp_recursion": 0.0, "subj_to_obj_common": 1.0},
    }  # fmt: skip


def test_table_has_every_mode_and_category():
    text = structure_accuracy({"rows": [row("hybrid", 0.9), row("trm", 0.1)],
                               "ablations": [row("hybrid", 0.8)]})  # fmt: skip
    assert "| overall | 50.0 % | 10.0 % (10.0 %) | **90.0 %** (90.0 %) | 10 / 2 |" in text
    assert "| pp_recursion | 0.0 % | 10.0 % | 90.0 % | 90.0 % |" in text
    assert "**Ablations**" in text and "| 2 | 2 | 2 | 2.0 | 100 | 80.0 % | 80.0 % |" in text
