"""The jobs behind `hartflow grid ...`: build a data set, read one example, score predictions."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hartflow.errors import DataError
from hartflow.grid import arc
from hartflow.grid.layout import read_info, read_split

Progress = Callable[[int, int], None] | None


def build_sudoku(
    out: str | Path,
    *,
    generate: int | None = None,
    csv: str | Path | None = None,
    test_csv: str | Path | None = None,
    size: int = 9,
    min_rating: int = 0,
    aug: int = 0,
    test_size: int | None = None,
    subsample: int | None = None,
    seed: int = 0,
    workers: int = 1,
    progress: Progress = None,
) -> dict[str, Any]:
    """Generate (or read from CSV) Sudoku puzzles and write the data set; returns a summary."""
    from hartflow.grid import sudoku

    start = time.perf_counter()
    train, test = _puzzles(
        generate, csv, test_csv, test_size,
        make=lambda n: sudoku.generate(n, size, min_rating=min_rating, seed=seed,
                                       workers=workers, progress=progress),
        read=sudoku.read_csv,
        split=lambda ps, n: (ps[: len(ps) - n], ps[len(ps) - n :]),
    )  # fmt: skip
    if csv is not None:
        size = math.isqrt(len(train[0].question))
    path = sudoku.build(train, test, out, size=size, aug=aug, subsample=subsample, seed=seed)
    return _summary(path, start)


def build_maze(
    out: str | Path,
    *,
    generate: int | None = None,
    csv: str | Path | None = None,
    test_csv: str | Path | None = None,
    size: int = 30,
    min_path: int | None = None,
    aug: bool = False,
    test_size: int | None = None,
    seed: int = 0,
    progress: Progress = None,
) -> dict[str, Any]:
    """Generate (or read from CSV) mazes, train/test wall layouts disjoint, and write them."""
    from hartflow.grid import maze

    start = time.perf_counter()
    train, test = _puzzles(
        generate, csv, test_csv, test_size,
        make=lambda n: maze.generate(n, size, min_path=min_path, seed=seed, progress=progress),
        read=maze.read_csv,
        split=lambda ms, n: maze.split_disjoint(ms, n, seed=seed),
    )  # fmt: skip
    path = maze.build(train, test, out, aug=aug, seed=seed)
    return _summary(path, start)


def _puzzles(generate, csv, test_csv, test_size, *, make, read, split) -> tuple[list, list]:
    """(train, test): read from CSV files, or `make` N + N_test puzzles and `split` them."""
    if (generate is None) == (csv is None):
        raise DataError("give exactly one of --generate N or --csv FILE")
    if csv is not None:
        return read(csv), (read(test_csv) if test_csv else [])
    n_test = max(1, generate // 10) if test_size is None else test_size
    return split(make(generate + n_test), n_test)


def build_arc(
    out: str | Path,
    *,
    data_dir: str | Path,
    version: int = 1,
    aug: int = 1000,
    seed: int = 42,
    progress: Progress = None,
) -> dict[str, Any]:
    """Read ARC-AGI-`version` from `data_dir` and write the augmented data set."""
    start = time.perf_counter()
    training, evaluation = arc.read_arc(data_dir, version)
    path = arc.build(
        training, evaluation, out, aug=aug, seed=seed, version=version, progress=progress
    )
    return _summary(path, start)


def _summary(path: Path, start: float) -> dict[str, Any]:
    info = read_info(path)
    sizes = {}
    for part in ("train", "test"):
        split, meta = read_split(path / part)
        sizes[part] = {"examples": split.n_examples, "puzzles": split.n_puzzles,
                       "groups": split.n_groups, "seq_len": meta["seq_len"]}  # fmt: skip
    return {"out": str(path), "info": info, "splits": sizes, "seconds": time.perf_counter() - start}


def example(out: str | Path, index: int, *, part: str = "test") -> dict[str, Any]:
    """One example (input and label grids, as 2-D lists of tokens) and what it is."""
    info = read_info(out)
    split, meta = read_split(Path(out) / part)
    if not 0 <= index < split.n_examples:
        raise DataError(f"--index must be in 0..{split.n_examples - 1} for {part}, got {index}")
    side = math.isqrt(meta["seq_len"])
    result = {
        "task": info["task"],
        "part": part,
        "index": index,
        "side": side,
        "input": split.inputs[index].reshape(side, side).tolist(),
        "label": split.labels[index].reshape(side, side).tolist(),
    }
    if info["task"] == "sudoku":  # guesses of the tdoku-style rater on this (augmented) copy
        from hartflow.grid import sudoku, sudoku_rater

        result["rating"] = sudoku_rater.rating(sudoku.decode_grid(split.inputs[index]), side)
    return result


def eval_predictions(
    out: str | Path, predictions: str | Path, *, q_halt: str | Path | None = None
) -> dict[str, Any]:
    """Score test-split predictions (N, seq_len) tokens: exact and cell accuracy; valid shortest
    path for mazes; pass@k after voting for ARC."""
    out = Path(out)
    info = read_info(out)
    split, meta = read_split(out / "test")
    pred = _load_npy(predictions)
    if pred.shape != split.labels.shape:
        raise DataError(
            f"predictions have shape {pred.shape}; the test split needs {split.labels.shape}",
            path=predictions,
        )
    mask = split.labels != 0  # PAD is never scored
    equal = (pred == split.labels) | ~mask
    result: dict[str, Any] = {
        "task": info["task"],
        "n": split.n_examples,
        "exact": float(equal.all(axis=1).mean()),
        "cell_accuracy": float(((pred == split.labels) & mask).sum() / mask.sum()),
    }
    if info["task"] == "maze":
        from hartflow.grid import maze

        side = math.isqrt(meta["seq_len"])
        result.update(maze.score(split.inputs, split.labels, pred, side))
    if info["task"] == "arc":
        identifiers = json.loads((out / "identifiers.json").read_text())
        tests = json.loads((out / "test_puzzles.json").read_text())
        q = _load_npy(q_halt) if q_halt is not None else None
        result.update(arc.score(arc.collect_votes(split, identifiers, pred, q), tests))
    return result


def _load_npy(path: str | Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read a .npy array ({e})", path=path) from None
