"""What every command module shares: the consoles, option aliases and output helpers.

Results go to `stdout`; progress, logs and errors to `stderr`. The option aliases show an example in
their help; typer shows the default.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

__all__ = [
    "CheckpointOption",
    "DataDirOption",
    "DimOption",
    "JsonOption",
    "SeedOption",
    "TaskOption",
    "TestOption",
    "TrainOption",
    "error_line",
    "print_json",
    "stderr",
    "stdout",
]

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)

# Reusable option aliases: help shows an example; typer shows the default.
DimOption = Annotated[
    int, typer.Option("--dim", "-d", min=2, help="HRR dimension d, e.g. --dim 2048.")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed for every vector, e.g. --seed 7.")]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON to stdout instead of a table.")
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder of the official files, e.g. --data-dir ~/SCAN; SCAN is generated without "
        "one; COGS and SLOG fall back to $HARTFLOW_DATA/cogs and $HARTFLOW_DATA/slog.",
    ),
]
TaskOption = Annotated[
    str | None, typer.Option("--task", help="scan, cogs or slog, e.g. --task scan.")
]
TrainOption = Annotated[
    Path | None, typer.Option("--train", help="Your training file (.txt SCAN format or .tsv).")
]
TestOption = Annotated[Path | None, typer.Option("--test", help="Your test file, e.g. test.tsv.")]
CheckpointOption = Annotated[
    Path | None,
    typer.Option("--checkpoint", help="A run folder of hartflow train, e.g. --checkpoint runs/x."),
]


def print_json(obj: Any) -> None:
    """Write `obj` to stdout as indented JSON (the `--json` output of every command)."""
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def error_line(message: str) -> None:
    """Print one red `hartflow: error: ...` line to stderr, whatever newlines `message` holds."""
    line = " ".join(str(message).split())  # one line, whatever the exception held
    stderr.print(Text(f"hartflow: error: {line}", style="red"), soft_wrap=True)
