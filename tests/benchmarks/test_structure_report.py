"""The structure_accuracy benchmark's README tables render from its JSON fields."""

from __future__ import annotations

import pytest

from benchmarks.report import structure_accuracy


def row(name: str, mode: str, exact: float, *, official: float | None = None,
        seed: int = 0) -> dict:  # fmt: skip
    cats = {"pp_recursion": exact, "subj_to_obj_common": 1.0}
    return {
        "name": name, "task": "cogs", "split": "gen", "mode": mode, "seed": seed, "n": 2000,
        "exact_match": exact, "official_match": official, "order_insensitive_match": exact,
        "halting_rule_exact_match": exact - 0.1, "halting_rule_official_match": official,
        "hrr_exact_match": 0.5, "fixed": 10, "broken": 2, "ill_formed": 0, "steps": 100,
        "train_minutes": 2.0, "steps_per_second": 0.8, "parameters": 1234,
        "per_category": cats, "per_category_official": cats,
        "per_category_order_insensitive": cats,
        "hypothesis_per_category": {"pp_recursion": 0.0, "subj_to_obj_common": 1.0},
    }  # fmt: skip


def part(task: str) -> dict:
    off = 0.95 if task == "slog" else None
    return {
        "budget": {"minutes": 10, "ablation_minutes": 4},
        "hrr_only": {"exact_match": 0.5, "official_match": 0.6 if off else None},
        "gold_slot_decoder": {"exact_graph": 1.0},
        "rows": [row(f"{task}-hybrid-final-s0", "hybrid", 0.9, official=off),
                 row(f"{task}-trm-final-s0", "trm", 0.2, official=off),
                 row(f"{task}-hybrid-final-s1", "hybrid", 0.8, official=off, seed=1),
                 row(f"{task}-hybrid-pointer-aug0", "hybrid", 0.85, official=off)],
        "depth_curves": {"hybrid": {"pp_recursion": {"3": {"exact": 0.5, "n": 10}}}},
    }  # fmt: skip


def test_tables_have_every_step_mode_and_category():
    text = structure_accuracy({"parts": {"cogs": part("cogs"), "slog": part("slog")}})
    assert "**COGS gen** (exact match %; HRR-only 50.0 %" in text
    assert "| slots + recombination (halting rule) | 20.0 % | 80.0 % | – |" in text
    assert "| **+ selector** (seed 1) | – | **80.0 %** | 10 / 2 |" in text
    assert "| + selector, mean of 2 seeds | – | **85.0 %** |" in text
    assert "| pointer (earlier refiner) | – | 85.0 % | 10 / 2 |" in text
    assert "| decoder with gold slots (graphs rebuilt) | | 100.0 % |" in text
    assert "| pp_recursion | 0.0 % | 20.0 % | 90.0 % | 90.0 % |" in text
    assert "| pp_recursion | hybrid |  |  | 50.0 % |" in text
    # SLOG leads with its official metric, plain exact match in brackets
    assert "**SLOG gen** (official metric (plain exact match) %; HRR-only 60.0 %" in text
    assert "| **+ selector** (seed 0) | – | **95.0 % (90.0 %)** |" in text


def test_redecoded_rows_and_categories():
    obj = part("cogs")
    obj["redecoded"] = {
        "cogs-hybrid-final-s0": {**row("x", "hybrid", 0.97), "fixed": 20, "broken": 1},
        "cogs-hybrid-final-s1": {**row("x", "hybrid", 0.95), "fixed": 19, "broken": 3},
        "cogs-trm-final-s0": row("x", "trm", 0.3),
    }
    text = structure_accuracy({"parts": {"cogs": obj}})
    first = "| **+ configuration prior** (seed 0, same weights) | 30.0 % | **97.0 %** | 20 / 1 |"
    assert first in text
    assert "| + configuration prior, mean of 2 seeds | – | **96.0 %** |" in text
    assert "| pp_recursion | 0.0 % | 30.0 % | 97.0 % | 97.0 % |" in text  # categories re-decoded


def test_todays_rows_sit_beside_the_earlier_ones():
    obj = part("slog")
    obj["current"] = {"minutes": 28, "rows": [
        {**row("slog-hybrid-current-s0", "hybrid", 0.6, official=0.7), "fixed": 30, "broken": 4},
        {**row("slog-hybrid-current-s1", "hybrid", 0.5, official=0.6, seed=1)},
    ]}  # fmt: skip
    obj["depth_curves_current"] = {"hybrid (today)": {"PP": {"3": {"exact": 0.75, "n": 4}}}}
    text = structure_accuracy({"parts": {"slog": obj}})
    assert "| **today's defaults** (seed 0, 28-min budget) | – | **70.0 % (60.0 %)** | 30 / 4 |" \
        in text
    assert "| today's defaults, mean of 2 seeds | – | **65.0 %** |" in text
    assert "| category | HRR-only | TRM-only | hybrid | hybrid, any order | hybrid, today's" in text
    assert "| pp_recursion | 0.0 % | 20.0 % | 90.0 % | 90.0 % | 60.0 % |" in text
    assert "| PP | hybrid (today) |  |  | 75.0 % |" in text


def test_an_ensembles_row_names_its_members_and_their_scores():
    obj = part("slog")
    members = [{"seed": 2, "exact_match": 0.5, "official_match": 0.55},
               {"seed": 3, "exact_match": 0.6, "official_match": 0.65}]  # fmt: skip
    obj["current"] = {"minutes": 25, "rows": [
        {**row("slog-ensemble-s0", "hybrid", 0.6, official=0.7), "fixed": 3, "broken": 1},
        {**row("slog-ensemble-s2", "hybrid", 0.7, official=0.8, seed=2), "members": members},
    ]}  # fmt: skip
    obj["current"]["rows"][0]["members"] = [{**m, "seed": m["seed"] - 2} for m in members]
    text = structure_accuracy({"parts": {"slog": obj}})
    assert "| **today's defaults** (ensemble of 2, seeds 2+3, 25-min budget) | – | **80.0 %" in text
    assert "| … member seed 3 alone | – | 65.0 % (60.0 %) | | | |" in text
    assert "| today's defaults, mean of 2 ensembles | – | **75.0 %** |" in text


def test_ensembles_may_not_share_members(tmp_path):
    from benchmarks.structure_accuracy import run_current
    from hartflow.errors import HartFlowError

    with pytest.raises(HartFlowError, match="share members; space the seeds by 2"):
        run_current("cogs", tmp_path, minutes=0.1, seeds=(0, 1))


def test_earlier_defaults_stay_in_the_table(tmp_path, monkeypatch):
    import json

    from benchmarks import structure_accuracy as bench

    def current(official: float) -> dict:
        return {"minutes": 25, "rows": [row("slog-hybrid-current-s0", "hybrid", 0.5,
                                            official=official)]}  # fmt: skip

    saved = {"parts": {"slog": {**part("slog"), "current": current(0.6)}}}
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "structure_accuracy.json").write_text(json.dumps(saved))
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "slog-current.json").write_text(json.dumps({"current": current(0.8)}))
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "results")
    merged = bench.merge(tmp_path / "work")
    slog = merged["parts"]["slog"]
    assert slog["current"] == current(0.8) and slog["earlier_current"] == [current(0.6)]
    text = structure_accuracy(merged)
    assert "| earlier defaults (seed 0, 25-min budget) | – | 60.0 % (50.0 %) |" in text
    assert "| **today's defaults** (seed 0, 25-min budget) | – | **80.0 % (50.0 %)** |" in text
    # merged again with the same current rows: the history does not grow
    (tmp_path / "results" / "structure_accuracy.json").write_text(json.dumps(merged))
    assert bench.merge(tmp_path / "work")["parts"]["slog"]["earlier_current"] == [current(0.6)]


def test_rescore_scores_the_current_runs_again(tmp_path):
    import json
    import random

    from benchmarks import structure_accuracy as bench
    from hartflow.hybrid import TrainConfig, train
    from tests.hartflow.hybrid.test_structure import sentence

    rng = random.Random(0)
    (tmp_path / "train.tsv").write_text("".join(
        "\t".join(sentence(rng, rng.choice([0, 1]))) + "\n" for _ in range(120)))  # fmt: skip
    (tmp_path / "test.tsv").write_text("".join(
        "\t".join((*sentence(rng, 1), "depth_1")) + "\n" for _ in range(6)))  # fmt: skip
    cfg = TrainConfig(
        task=None, split=None, train_file=str(tmp_path / "train.tsv"),
        test_file=str(tmp_path / "test.tsv"), refiner_kind="structure", folds=2, hrr_d=256,
        feature_dim=16, dim=32, n_heads=2, batch_size=8, max_steps=2, warmup_steps=1,
        ckpt_every=1000, log_every=1,
    )  # fmt: skip
    work = tmp_path / "work"
    train(cfg, out=work / "x-hybrid-current-s0")
    stale = {"name": "x-hybrid-current-s0", "seed": 0, "steps": 2, "train_minutes": 0.5,
             "parameters": 7, "exact_match": -1.0}  # fmt: skip
    (work / "x-current.json").write_text(json.dumps(
        {"current": {"minutes": 1, "settings": cfg.to_json(), "rows": [stale]}}))  # fmt: skip
    out = bench.rescore_current("x", work)
    row = out["current"]["rows"][0]
    assert out["current"]["rescored"] and 0.0 <= row["exact_match"] <= 1.0
    assert row["steps"] == 2 and row["train_minutes"] == 0.5 and row["parameters"] == 7
    assert (work / "x-hybrid-current-s0" / "predictions.tsv").is_file()
