"""Hard 9×9 Sudoku: how hard the generated sets are by the tdoku-style rater, and what they cost.

    python -m benchmarks.grid_sudoku_hard                       # 1000 puzzles, min rating 20,
                                                                # 2 worker processes
    python -m benchmarks.grid_sudoku_hard --count 50 --out /tmp/x   # quick look
    python -m benchmarks.grid_sudoku_hard --count 1200 --save runs/sudoku9   # also keep the
                                  # puzzles (hard.csv, easy.csv) for benchmarks.grid_cpu's s9 parts

Target (issue 14): mean rating >= 20 by `hartflow.grid.sudoku_rater` (Sudoku-Extreme averages 22
guesses of tdoku's solver), unique solutions checked by an independent solver, <= 30 min per
1000 puzzles on 2 cores (wall-clock on a machine that may be shared, and the CPU minutes of all
processes, which divided by 2 is the time on 2 free cores). Reported beside it: the easy
generator (min rating 0) on the same count, and for both the mean rating over 8 fresh random
equivalent copies of each puzzle (a rating that does not depend on the one stored order of cells
and digits).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import numpy as np
from rich.progress import Progress, TimeElapsedColumn
from rich.table import Table

from benchmarks.common import finish, machine
from hartflow.grid import sudoku, sudoku_rater, sudoku_solver


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker processes)."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def describe(puzzles: list[sudoku.Puzzle], seconds: float, cpu: float, seed: int) -> dict:
    """Rating statistics, the independent uniqueness check, and the cost per 1000 puzzles."""
    ratings = [p.rating for p in puzzles]
    rng = np.random.default_rng([seed, 99])
    views = [
        statistics.mean(
            sudoku_rater.rating(sudoku.apply_transform(p.question, t, 9), 9)
            for t in (sudoku.random_transform(9, rng) for _ in range(8))
        )
        for p in puzzles
    ]
    unique = sum(sudoku_solver.count_solutions(p.question, 9, limit=2) == 1 for p in puzzles)
    return {
        "count": len(puzzles),
        "seconds": round(seconds, 1),
        "minutes_per_1000": round(seconds / 60 * 1000 / len(puzzles), 2),
        "cpu_minutes_per_1000": round(cpu / 60 * 1000 / len(puzzles), 2),
        "mean_rating": round(statistics.mean(ratings), 2),
        "median_rating": statistics.median(ratings),
        "share_rating_ge_20": round(sum(r >= 20 for r in ratings) / len(ratings), 3),
        "mean_rating_8_random_copies": round(statistics.mean(views), 2),
        "mean_clues": round(statistics.mean(int((p.question > 0).sum()) for p in puzzles), 2),
        "unique_by_independent_solver": unique,
    }


def run(count: int, min_rating: int, workers: int, seed: int, save: Path | None = None) -> dict:
    result: dict = {
        "benchmark": "grid_sudoku_hard",
        "machine": machine(),
        "numba": sudoku_rater.HAVE_NUMBA,
        "workers": workers,
        "seed": seed,
    }
    sudoku_rater.rating(np.zeros(81, np.int8), 9)  # compile the kernels outside the timing
    for name, k in (("hard", min_rating), ("easy", 0)):
        start, cpu = time.perf_counter(), cpu_seconds()
        with Progress(*Progress.get_default_columns(), TimeElapsedColumn()) as bar:
            task = bar.add_task(f"{name} 9×9 (min rating {k})", total=count)
            puzzles = sudoku.generate(
                count, 9, min_rating=k, seed=seed, workers=workers,
                progress=lambda done, _, t=task: bar.update(t, completed=done),
            )  # fmt: skip
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
        result[name] = {"min_rating": k, **describe(puzzles, seconds, cpu, seed)}
        if save is not None:  # Sudoku-Extreme's CSV format: `grid build sudoku --csv` reads it
            sudoku.write_csv(puzzles, save / f"{name}.csv", source=f"hartflow-{name}")
    hard = result["hard"]
    hard["met"] = bool(
        hard["mean_rating"] >= 20
        and hard["unique_by_independent_solver"] == count
        and hard["minutes_per_1000"] <= 30
    )
    result["summary"] = (
        f"hard: mean rating {hard['mean_rating']} (8 random copies: "
        f"{hard['mean_rating_8_random_copies']}), {hard['minutes_per_1000']} min per 1000 on "
        f"{workers} workers; easy: mean {result['easy']['mean_rating']}; "
        f"target {'met' if hard['met'] else 'NOT met'}"
    )
    return result


def table(result: dict) -> Table:
    t = Table(title="generated 9×9 Sudoku, rated by the tdoku-style rater (guesses)")
    keys = ["min_rating", "count", "mean_rating", "median_rating", "share_rating_ge_20",
            "mean_rating_8_random_copies", "mean_clues", "unique_by_independent_solver",
            "minutes_per_1000", "cpu_minutes_per_1000"]  # fmt: skip
    t.add_column("set")
    for k in keys:
        t.add_column(k.replace("_", " "), justify="right")
    for name in ("hard", "easy"):
        t.add_row(name, *(str(result[name][k]) for k in keys))
    return t


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--min-rating", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    parser.add_argument(
        "--save",
        type=Path,
        default=None,
        help="also write the puzzles to DIR/hard.csv and DIR/easy.csv",
    )
    args = parser.parse_args(argv)
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
    result = run(args.count, args.min_rating, args.workers, args.seed, args.save)
    return finish("grid_sudoku_hard", result, args.out, table(result))


if __name__ == "__main__":
    main()
