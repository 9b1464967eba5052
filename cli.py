"""HartFlow's command line (`hartflow --help`): thin commands over the library.

Results go to stdout (a rich table, or JSON with `--json`); errors go to stderr as one red line
ending in the fix, with a non-zero exit. `--debug` anywhere shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hartflow.encoding import encode_command
from hartflow.errors import HartFlowError
from hrr.errors import HRRError

app = typer.Typer(
    name="hartflow",
    help="HartFlow: compositional reasoning with HRR algebra, similarity memory and tiny recursive "
    "reasoners.",
    add_completion=False,
    pretty_exceptions_enable=False,
)
stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)

KNOWN_ERRORS = (HRRError, HartFlowError)

# Reusable option aliases: help shows an example; typer shows the default.
DimOption = Annotated[
    int, typer.Option("--dim", "-d", min=2, help="HRR dimension d, e.g. --dim 2048.")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed for every vector, e.g. --seed 7.")]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON to stdout instead of a table.")
]


@app.callback()
def _root() -> None:
    """HartFlow: compositional reasoning with HRR algebra, similarity memory and tiny recursive
    reasoners. Add --debug to any command for the traceback of an error."""


@app.command()
def encode(
    command: Annotated[str, typer.Argument(help='The command to encode, e.g. "jump twice".')],
    dim: DimOption = 1024,
    seed: SeedOption = 0,
    distractors: Annotated[
        int, typer.Option(min=0, help="Extra random symbols in the cleanup memory, e.g. 1000.")
    ] = 0,
    as_json: JsonOption = False,
) -> None:
    """Encode a command as one HRR vector and decode it back, position by position.

    Examples:
      hartflow encode "jump twice"
      hartflow encode "jump around left twice" --dim 256 --distractors 1000 --json
    """
    report = encode_command(command, dim=dim, seed=seed, distractors=distractors)
    if as_json:
        _print_json(report)
        return
    summary = Table(title=f"encode {command!r}", show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column()
    for key in ("dim", "seed", "length", "vocabulary_size", "norm", "capacity"):
        value = report[key]
        summary.add_row(
            key.replace("_", " "), f"{value:.4f}" if isinstance(value, float) else str(value)
        )
    summary.add_row("predicted token accuracy", f"{report['predicted_token_accuracy']:.6f}")
    stdout.print(summary)

    table = Table(title="round trip (unbind position → cleanup)", title_justify="left")
    for name in ("position", "token", "decoded", "cosine", "margin", "ok"):
        table.add_column(
            name, justify="right" if name in ("position", "cosine", "margin") else "left"
        )
    for p in report["positions"]:
        table.add_row(
            str(p["position"]),
            p["token"],
            str(p["decoded"]),
            f"{p['score']:.3f}",
            f"{p['margin']:.3f}",
            "[green]✓[/]" if p["correct"] else "[red]✗[/]",
        )
    stdout.print(table)
    verdict = "[green]exact[/]" if report["exact"] else "[red]not exact[/]"
    stdout.print(f"round trip: {verdict}")


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def _error_line(message: str) -> None:
    line = " ".join(str(message).split())  # one line, whatever the exception held
    stderr.print(Text(f"hartflow: error: {line}", style="red"), soft_wrap=True)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on `argv` and return the exit code (known errors become one red line)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    try:
        result = app(args=args or ["--help"], prog_name="hartflow", standalone_mode=False)
    except typer.Abort:
        _error_line("interrupted")
        return 130
    except typer.TyperException as e:  # usage errors: bad flag, missing or bad value
        if debug:
            raise
        message = e.format_message() if hasattr(e, "format_message") else str(e)
        _error_line(f"{message} (see hartflow --help)")
        return int(getattr(e, "exit_code", 2))
    except KNOWN_ERRORS as e:
        if debug:
            raise
        _error_line(str(e))
        return 2
    return result if isinstance(result, int) else 0


def main() -> None:
    """Console-script entry point: `hartflow ...`."""
    sys.exit(run())


if __name__ == "__main__":
    main()
