"""Scoring model predictions: exact / cell accuracy / halting, Maze valid paths, ARC votes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hartflow.grid.evaluate import head, score
from hartflow.grid.jobs import build_arc, build_maze, build_sudoku
from hartflow.grid.loader import load_grid_data


def perfect(split) -> dict[str, np.ndarray]:
    n = split.n_examples
    return {"predictions": split.labels.astype(np.int64), "q_halt": np.full(n, 0.9),
            "halt_steps": np.arange(n) % 3 + 1}  # fmt: skip


def test_sudoku_exact_cells_halting(tmp_path):
    build_sudoku(tmp_path / "s", generate=6, size=4, test_size=4, seed=2)
    data = load_grid_data(tmp_path / "s")
    result = perfect(data.test)
    got = score(data, data.test, result, part="test")
    assert (got["exact"], got["cell_accuracy"], got["n"]) == (1.0, 1.0, 4)
    assert got["halt_steps"] == pytest.approx(np.mean([1, 2, 3, 1]))
    wrong = result["predictions"].copy()
    wrong[0, 0] = wrong[0, 0] % 5 + 2  # one cell of one puzzle (a different digit)
    got = score(data, data.test, {**result, "predictions": wrong}, part="test")
    assert got["exact"] == 0.75 and got["cell_accuracy"] == pytest.approx(1 - 1 / 64)
    n_blank = (data.test.inputs == 1).sum()  # blank cells only: the wrong one counts if blank
    assert got["blank_cell_accuracy"] == pytest.approx(1 - (data.test.inputs[0, 0] == 1) / n_blank)
    copied = data.test.inputs.astype(np.int64)  # givens copied, blanks left blank: all wrong
    got = score(data, data.test, {**result, "predictions": copied}, part="test")
    assert got["blank_cell_accuracy"] == 0.0
    assert got["cell_accuracy"] == pytest.approx(1 - n_blank / data.test.inputs.size)


def test_maze_valid_shortest_path(tmp_path):
    build_maze(tmp_path / "m", generate=3, size=10, test_size=2, seed=0)
    data = load_grid_data(tmp_path / "m")
    got = score(data, data.test, perfect(data.test), part="test")
    assert got["exact"] == got["valid_shortest_path"] == 1.0
    blank = data.test.inputs.astype(np.int64)  # the unsolved maze: no path marked
    got = score(data, data.test, {**perfect(data.test), "predictions": blank}, part="test")
    assert got["exact"] == got["valid_shortest_path"] == 0.0


def test_arc_votes_pass_at_k(tmp_path):
    rng = np.random.default_rng(0)
    for part, names in (("training", ["t1"]), ("evaluation", ["e1", "e2"])):
        (tmp_path / "arc" / part).mkdir(parents=True)
        for name in names:
            pair = lambda: {"input": rng.integers(0, 10, (3, 3)).tolist(),  # noqa: E731
                            "output": rng.integers(0, 10, (2, 2)).tolist()}  # fmt: skip
            task = {"train": [pair()], "test": [pair()]}
            (tmp_path / "arc" / part / f"{name}.json").write_text(json.dumps(task))
    build_arc(tmp_path / "a", data_dir=tmp_path / "arc", aug=3)
    data = load_grid_data(tmp_path / "a")
    got = score(data, data.test, perfect(data.test), part="test")
    assert got["pass@1"] == got["pass@2"] == got["exact"] == 1.0
    # head() keeps whole groups: only e1's variants, and pass@k counts e1 only
    first = head(data.test, 1)
    assert first.n_groups == 1 and first.n_examples == int(data.test.group_indices[1])
    assert score(data, first, perfect(first), part="test")["pass@2"] == 1.0
    # no voting on the validation split
    assert "pass@2" not in score(data, data.test, perfect(data.test), part="validation")
