"""Grid data generation and building: time and peak memory on this machine.

    python -m benchmarks.grid_data                       # 1000 30×30 mazes, ARC-AGI-1 with
                                                         # 1000 augmentations
    python -m benchmarks.grid_data --sudoku 50 --maze 20 --arc-aug 8 --out /tmp/x   # quick look

Targets (issue 6): 1000 30×30 mazes in <= 10 min on 2 CPU cores; ARC-AGI-1 with 1000
augmentations must fit in memory and time (measured and reported). Hard 9×9 Sudoku generation is
measured by `benchmarks.grid_sudoku_hard` (issue 14: the tdoku-style rating, <= 30 min per 1000);
`--sudoku N` still times N of them here, one process, against issue 6's 10 minutes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console

from benchmarks.common import PeakRSS, machine, save
from hartflow.grid import arc, maze, sudoku


def _timed(job):
    with PeakRSS() as rss:
        start = time.perf_counter()
        value = job()
        seconds = time.perf_counter() - start
    return value, seconds, rss.peak


def run(n_sudoku: int, n_maze: int, arc_aug: int, arc_dir: Path | None, min_rating: int) -> dict:
    result: dict = {"benchmark": "grid_data", "machine": machine()}
    if n_sudoku:
        puzzles, secs, _ = _timed(lambda: sudoku.generate(n_sudoku, 9, min_rating=min_rating))
        ratings = [p.rating for p in puzzles]
        result["sudoku"] = {
            "count": n_sudoku, "size": 9, "min_rating": min_rating, "seconds": secs,
            "seconds_per_1000": secs * 1000 / n_sudoku, "mean_rating": statistics.mean(ratings),
            "median_rating": statistics.median(ratings), "met": secs * 1000 / n_sudoku <= 600,
        }  # fmt: skip
    if n_maze:
        mazes, secs, _ = _timed(lambda: maze.generate(n_maze, 30))
        result["maze"] = {
            "count": n_maze, "side": 30, "seconds": secs, "seconds_per_1000": secs * 1000 / n_maze,
            "mean_path_length": statistics.mean(m.path_length for m in mazes),
            "met": secs * 1000 / n_maze <= 600,
        }  # fmt: skip
    if arc_dir is not None and arc_aug:
        training, evaluation = arc.read_arc(arc_dir, 1)
        out = Path(tempfile.mkdtemp(prefix="arc-bench-"))
        try:
            _, secs, peak = _timed(
                lambda: arc.build(training, evaluation, out / "arc", aug=arc_aug)
            )
            size = sum(f.stat().st_size for f in (out / "arc").rglob("*") if f.is_file())
        finally:
            shutil.rmtree(out, ignore_errors=True)
        result["arc"] = {"version": 1, "aug": arc_aug, "seconds": secs,
                         "peak_rss_growth_bytes": peak, "bytes_on_disk": size}  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sudoku", type=int, default=0, help="hard 9×9 puzzles to generate")
    p.add_argument("--min-rating", type=int, default=20)
    p.add_argument("--maze", type=int, default=1000, help="30×30 mazes to generate")
    p.add_argument("--arc-aug", type=int, default=1000)
    p.add_argument(
        "--arc-dir", type=Path, default=None, help="ARC-AGI-1 folder (skipped if absent)"
    )
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    result = run(args.sudoku, args.maze, args.arc_aug, args.arc_dir, args.min_rating)
    path = save("grid_data", result, args.out)
    Console().print(result, f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
