"""The grid_cpu README renderer: one row per measured part, targets stated as met or not."""

from __future__ import annotations

from benchmarks.report import grid_cpu


def test_rows_and_targets():
    run = {"size": 4, "arch": "trm-att", "parameters": 57794, "budget_minutes": 10, "steps": 500,
           "final_test_exact": 0.995, "unseen_exact": 0.99, "unseen_n": 300,
           "final_cell_accuracy": 0.999, "final_halt_steps": 2.5, "target": 0.99,
           "reached_target_at_seconds": 420.0, "met": True, "target_minutes": 10,
           "selected_exact": 0.98, "threads": 2}  # fmt: skip
    flops = {"parameters": 5028866, "batch": 4, "model_flops_per_s": 3e9,
             "gemm_flops_per_s": 4e9, "fraction": 0.75, "met": True}  # fmt: skip
    late = {**run, "size": 6, "met": False, "target": 0.9, "reached_target_at_seconds": None}
    text = grid_cpu({"s4": run, "s6": late,
                     "flops": flops})  # fmt: skip
    lines = text.splitlines()
    assert len(lines) == 2 + 3
    row = "| 4×4 Sudoku | trm-att 58 k | 2 | 10 min | 500 | 99.5 % | 98.0 % (99.0 %, n=300)"
    assert row in lines[2]
    assert lines[2].endswith("| 99.9 % | – | 2.50 | ≥ 99 % in ≤ 10 min: met (reached at 7.0 min) |")
    assert lines[3].endswith("≥ 90 % in ≤ 10 min: not met |")
    assert (
        "| 9×9 training step | trm-mlp 5.03 M, batch 4 | 2 |" in lines[4]
        and "3.0 GFLOP/s vs torch.mm 4.0 GFLOP/s" in lines[4]
        and "75 % (met)" in lines[4]
    )


def test_reported_part_without_target():
    run = {"size": 9, "arch": "trm-att", "parameters": 60000, "budget_minutes": 30, "steps": 900,
           "final_test_exact": 0.0, "unseen_exact": 0.0, "unseen_n": 200,
           "final_cell_accuracy": 0.61, "final_halt_steps": 4.0, "target": None,
           "reached_target_at_seconds": None, "met": False, "target_minutes": None,
           "selected_exact": 0.0, "threads": 1, "final_blank_cell_accuracy": 0.4675,
           "mean_rating": {"mean_rating_train": 50.0, "mean_rating_test": 48.25}}  # fmt: skip
    (line,) = grid_cpu({"s9-hard": run}).splitlines()[2:]
    assert line.startswith("| 9×9 Sudoku, hard (test rating 48.2) | trm-att 60 k | 1 | 30 min |")
    assert line.endswith("| 61.0 % | 46.8 % | 4.00 | reported, no target |")
