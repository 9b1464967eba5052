"""The hard-Sudoku benchmark: JSON, saved puzzles, README table; grid_cpu's 9×9 data from them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import grid_cpu, grid_sudoku_hard
from benchmarks.report import grid_sudoku_hard as render
from hartflow.grid import sudoku, sudoku_rater, sudoku_solver

pytestmark = pytest.mark.skipif(
    not sudoku_rater.HAVE_NUMBA, reason="annealing in pure Python takes minutes: pip install numba"
)


def test_run_saves_rated_unique_puzzles_and_renders(tmp_path):
    args = ["--count", "3", "--min-rating", "5", "--workers", "1", "--out", str(tmp_path),
            "--save", str(tmp_path)]  # fmt: skip
    result = grid_sudoku_hard.main(args)
    assert json.loads((tmp_path / "grid_sudoku_hard.json").read_text())["hard"]["count"] == 3
    hard = sudoku.read_csv(tmp_path / "hard.csv")
    assert len(hard) == 3 and all(p.rating >= 5 for p in hard)
    for p in hard:  # stored rating = the rater's, unique by the independent solver
        assert p.rating == sudoku_rater.rating(p.question, 9)
        assert sudoku_solver.count_solutions(p.question, 9, limit=2) == 1
    assert result["hard"]["mean_rating"] == pytest.approx(np.mean([p.rating for p in hard]), 0.01)
    assert len(sudoku.read_csv(tmp_path / "easy.csv")) == 3
    lines = render(result).splitlines()
    assert lines[2].startswith("| hard, min rating 5 | 3 |") and lines[3].endswith("| – |")
    assert ("met" in lines[2]) and (("not met" in lines[2]) != result["hard"]["met"])


def test_grid_cpu_splits_saved_puzzles(tmp_path, monkeypatch):
    sudoku.write_csv(sudoku.generate(5, 9, seed=3), tmp_path / "easy.csv")
    monkeypatch.setitem(grid_cpu.DATA, "easy", {"train": 3, "test_size": 2, "aug": 1})
    out = grid_cpu.dataset(grid_cpu.PARTS["s9-easy"], tmp_path / "work", tmp_path)
    info = json.loads((out / "hartflow.json").read_text())
    assert info["size"] == 9 and info["aug"] == 1
    assert grid_cpu._mean_rating(out).keys() == {"mean_rating_train", "mean_rating_test"}
    meta = json.loads((out / "train" / "dataset.json").read_text())
    assert meta["total_groups"] == 3
    with pytest.raises(SystemExit, match=r"hard\.csv: missing"):
        grid_cpu.dataset(grid_cpu.PARTS["s9-hard"], tmp_path / "work", tmp_path)


def test_grid_cpu_learn_then_rescore(tmp_path, monkeypatch):
    """A tiny learn() run records blank-cell accuracy; rescore recomputes it from the checkpoint."""
    monkeypatch.setitem(grid_cpu.DATA, 4, {"generate": 40, "aug": 1, "test_size": 8})
    monkeypatch.setitem(grid_cpu.RUN, "validation_groups", 4)
    monkeypatch.setitem(grid_cpu.RUN, "global_batch", 8)
    entry = grid_cpu.learn("s4", tmp_path, minutes=0.05)
    assert entry["steps"] > 0 and 0 <= entry["final_blank_cell_accuracy"] <= 1
    old = {k: v for k, v in entry.items() if k not in ("final_blank_cell_accuracy", "run_dir")}
    again = grid_cpu.rescore("s4", old, tmp_path, None)
    assert again["final_blank_cell_accuracy"] == entry["final_blank_cell_accuracy"]
    assert again["run_dir"] == entry["run_dir"]
    with pytest.raises(SystemExit, match="not the stored final"):
        grid_cpu.rescore("s4", {**old, "final_test_exact": 2.0}, tmp_path, None)
