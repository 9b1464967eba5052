"""`hartflow grid build`: Sudoku, Maze and ARC data sets in the TRM/HRM on-disk layout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from hartflow.commands.common import stderr, stdout

build_app = typer.Typer(help="Build a grid data set in the TRM/HRM on-disk layout.")

OutOption = Annotated[Path, typer.Option("--out", "-o", help="Output folder, e.g. --out data/x.")]
SeedOption0 = Annotated[int, typer.Option("--seed", help="Seed for generation and augmentation.")]
GenerateOption = Annotated[
    int | None, typer.Option("--generate", min=1, help="Generate N training puzzles, e.g. 1000.")
]
CsvOption = Annotated[Path | None, typer.Option("--csv", help="Read puzzles from a CSV instead.")]
TestCsvOption = Annotated[
    Path | None, typer.Option("--test-csv", help="The test CSV that goes with --csv.")
]
TestSizeOption = Annotated[
    int | None, typer.Option("--test-size", min=1, help="Generated test puzzles (default N/10).")
]


def _progress_build(what: str, job: Callable[..., dict], **kwargs: Any) -> None:
    with Progress(console=stderr, transient=True) as bar:
        task = bar.add_task(what, total=None)
        summary = job(progress=lambda done, total: bar.update(task, completed=done, total=total),
                      **kwargs)  # fmt: skip
    table = Table(title=escape(f"built {summary['out']} in {summary['seconds']:.1f} s"))
    for col in ("split", "examples", "puzzles", "groups", "seq_len"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for part, n in summary["splits"].items():
        table.add_row(part, *(f"{n[k]:,}" for k in ("examples", "puzzles", "groups", "seq_len")))
    stdout.print(table)


@build_app.command("sudoku")
def grid_build_sudoku(
    out: OutOption,
    generate: GenerateOption = None,
    csv: CsvOption = None,
    test_csv: TestCsvOption = None,
    size: Annotated[int, typer.Option("--size", help="Board side: 4, 6 or 9.")] = 9,
    min_rating: Annotated[
        int,
        typer.Option(
            "--min-rating",
            min=0,
            help="Puzzles rated >= K guesses (tdoku-style rater; 20 ≈ Sudoku-Extreme), e.g. 20.",
        ),
    ] = 0,
    aug: Annotated[
        int, typer.Option("--aug", min=0, help="Augmented copies per train puzzle.")
    ] = 0,
    test_size: TestSizeOption = None,
    subsample: Annotated[
        int | None, typer.Option("--subsample", min=1, help="Seeded train subset, e.g. 1000.")
    ] = None,
    seed: SeedOption0 = 0,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Generator processes, e.g. 2 (same result).")
    ] = 1,
) -> None:
    """Sudoku: generate unique-solution puzzles rated by guesses, or read Sudoku-Extreme CSVs.

    --min-rating K > 0 anneals each puzzle until it is rated >= K guesses by the tdoku-style
    rater (naked + hidden singles); K = 20 gives sets as hard as Sudoku-Extreme by that rater.
    Much faster with numba installed (pip install 'hartflow[grid]').

    Examples:
      hartflow grid build sudoku --generate 1000 --size 9 --min-rating 20 --workers 2 --out data/s9
      hartflow grid build sudoku --csv train.csv --test-csv test.csv --out data/extreme
    """
    from hartflow.grid.jobs import build_sudoku

    _progress_build("sudoku", build_sudoku, out=out, generate=generate, csv=csv, test_csv=test_csv,
                    size=size, min_rating=min_rating, aug=aug, test_size=test_size,
                    subsample=subsample, seed=seed, workers=workers)  # fmt: skip


@build_app.command("maze")
def grid_build_maze(
    out: OutOption,
    generate: GenerateOption = None,
    csv: CsvOption = None,
    test_csv: TestCsvOption = None,
    size: Annotated[int, typer.Option("--size", help="Board side, e.g. 30.")] = 30,
    min_path: Annotated[
        int | None, typer.Option("--min-path", help="Keep paths longer than this (30×30: 110).")
    ] = None,
    aug: Annotated[bool, typer.Option("--aug", help="Add the 8 dihedral copies of train.")] = False,
    test_size: TestSizeOption = None,
    seed: SeedOption0 = 0,
) -> None:
    """Maze: random walls, shortest path by BFS, long paths only; or read Maze-Hard CSVs.

    Examples:
      hartflow grid build maze --generate 1000 --size 30 --out data/maze
      hartflow grid build maze --csv train.csv --test-csv test.csv --out data/maze-hard
    """
    from hartflow.grid.jobs import build_maze

    options = {"generate": generate, "csv": csv, "test_csv": test_csv, "size": size,
               "min_path": min_path, "aug": aug, "test_size": test_size, "seed": seed}  # fmt: skip
    _progress_build("maze", build_maze, out=out, **options)


@build_app.command("arc")
def grid_build_arc(
    out: OutOption,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="ARC-AGI folder (training/, evaluation/).")
    ],
    version: Annotated[int, typer.Option("--version", min=1, max=2, help="ARC-AGI 1 or 2.")] = 1,
    aug: Annotated[
        int, typer.Option("--aug", min=0, help="Variants per puzzle (default 1000).")
    ] = 1000,
    seed: SeedOption0 = 42,
) -> None:
    """ARC-AGI: 30×30 canvas with EOS border, dihedral × colour variants, eval demos in train.

    Examples:
      hartflow grid build arc --version 1 --data-dir ARC-AGI/data --out data/arc1
    """
    from hartflow.grid.jobs import build_arc

    _progress_build("arc", build_arc, out=out, data_dir=data_dir, version=version, aug=aug,
                    seed=seed)  # fmt: skip
