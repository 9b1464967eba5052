"""`hartflow data`: list, show and export the data sets' splits; write the SCAN grammar."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from hartflow import data
from hartflow.commands.common import (
    DataDirOption,
    JsonOption,
    TestOption,
    TrainOption,
    print_json,
    stdout,
)

data_app = typer.Typer(help="Data sets: list, show and export splits; write the SCAN grammar.")

TaskArgument = Annotated[str, typer.Argument(help="Task name: scan, cogs or slog.")]
SplitOption = Annotated[
    str, typer.Option("--split", "-s", help="Split, e.g. --split addprim_jump.")
]
FormatOption = Annotated[
    str | None, typer.Option("--format", help="scan or tsv, overriding the file extension.")
]
HubOption = Annotated[
    bool, typer.Option("--hub", help="Download SCAN from the Hugging Face hub instead (online).")
]


@data_app.command("list")
def data_list(
    data_dir: Annotated[
        Path | None, typer.Option("--scan-dir", help="Read SCAN's official files from here.")
    ] = None,
    cogs_dir: Annotated[
        Path | None, typer.Option("--cogs-dir", help="COGS folder (default $HARTFLOW_DATA/cogs).")
    ] = None,
    slog_dir: Annotated[
        Path | None, typer.Option("--slog-dir", help="SLOG folder (default $HARTFLOW_DATA/slog).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Tasks, splits and their sizes.

    Examples:
      hartflow data list
      hartflow data list --cogs-dir ~/COGS --slog-dir ~/SLOG/data/cogs_LF --json
    """
    rows = data.catalog(scan_dir=data_dir, cogs_dir_=cogs_dir, slog_dir=slog_dir)
    if as_json:
        print_json(rows)
        return
    table = Table(title="data sets")
    for col in ("task", "split", "train", "test", "source"):
        table.add_column(col, justify="right" if col in ("train", "test") else "left")
    for r in rows:
        size = ["-" if r[k] is None else f"{r[k]:,}" for k in ("train", "test")]
        table.add_row(r["task"], r["split"], *size, escape(r["source"]))
    stdout.print(table)


@data_app.command("show")
def data_show(
    task: Annotated[str | None, typer.Argument(help="Task name: scan, cogs or slog.")] = None,
    split: Annotated[
        str | None, typer.Option("--split", "-s", help="Split, e.g. --split addprim_jump.")
    ] = None,
    train: TrainOption = None,
    test: TestOption = None,
    fmt: FormatOption = None,
    n: Annotated[
        int, typer.Option("-n", min=1, help="Pairs to show from each part, e.g. -n 5.")
    ] = 5,
    data_dir: DataDirOption = None,
    hub: HubOption = False,
    as_json: JsonOption = False,
) -> None:
    """Show a few pairs of a split (train and test) and any test tokens unseen in training.

    Examples:
      hartflow data show scan --split addprim_jump -n 5
      hartflow data show --train my/train.tsv --test my/test.tsv
      hartflow data show cogs --split gen --data-dir ~/COGS/data
      hartflow data show slog --split gen --data-dir ~/SLOG/data/cogs_LF
    """
    parts = data.load_examples(
        task, split, data_dir=data_dir, train=train, test=test, fmt=fmt, hub=hub
    )
    task, split = (task, split) if train is None else ("files", f"{train} → {test}")
    unseen = data.unseen_output_tokens(parts)
    if as_json:
        print_json(
            {
                "task": task,
                "split": split,
                "sizes": {p: len(parts[p]) for p in parts},
                "examples": {p: [vars(e) for e in parts[p][:n]] for p in parts},
                "unseen_output_tokens": dict(unseen),
            }
        )
        return
    for part, examples in parts.items():
        table = Table(
            title=f"{task} {split}: {part} ({len(examples):,} pairs)", title_justify="left"
        )
        table.add_column("input")
        table.add_column("output")
        if any(e.category for e in examples[:n]):
            table.add_column("category")
        for e in examples[:n]:
            cells = [e.input, e.output, *([e.category] if e.category else [])]
            table.add_row(*map(escape, cells))
        stdout.print(table)
    if unseen:
        shown = escape(", ".join(f"{t} ({c})" for t, c in unseen.most_common(8)))
        stdout.print(
            f"[yellow]{sum(unseen.values())} uses of {len(unseen)} output tokens in test never "
            f"appear in training (test examples per token): {shown}[/]"
        )


@data_app.command("export")
def data_export(
    task: TaskArgument,
    split: SplitOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder, e.g. --out runs/out.")],
    data_dir: DataDirOption = None,
    hub: HubOption = False,
) -> None:
    """Write a split as train/test files (SCAN: train.txt/test.txt; COGS, SLOG: .tsv).

    Examples:
      hartflow data export scan --split length --out data/length
      hartflow data export cogs --split gen --data-dir ~/COGS --out data/cogs
      hartflow data export slog --split gen --data-dir ~/SLOG/data/cogs_LF --out /tmp/slog
    """
    for path in data.export(task, split, out, data_dir=data_dir, hub=hub):
        stdout.print(Text(f"wrote {path}"))


@data_app.command("augment")
def data_augment(
    out: Annotated[Path, typer.Option("--out", "-o", help="TSV to write, e.g. --out aug.tsv.")],
    task: Annotated[
        str | None, typer.Option("--task", "-t", help="cogs or slog (its train.tsv only).")
    ] = None,
    data_dir: DataDirOption = None,
    train: Annotated[
        Path | None, typer.Option("--train", help="Your own training TSV instead of a task.")
    ] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="Pairs to make, e.g. --n 10000.")] = 1000,
    max_depth: Annotated[
        int, typer.Option("--max-depth", min=1, help="Nested substitutions per pair: 1..D.")
    ] = 4,
    seed: Annotated[int, typer.Option("--seed", help="Sampler seed.")] = 0,
    pool: Annotated[
        int,
        typer.Option("--pool", min=1, help="Draw POOL x N candidates, keep N weighted toward "
                     "node configurations training shows least (1 = keep the draws)."),
    ] = 3,
) -> None:
    """Recombine training pairs into new ones: a typed span (a node, what it reaches, its
    function words; types induced, never named) replaced by another of its type, nested up to
    --max-depth deep, re-indexed and rendered by the codec; of --pool times as many candidates,
    those with combinations training shows least are kept most. Reads the training file only.

    Examples:
      hartflow data augment --task cogs --data-dir ~/COGS --n 10000 --max-depth 4 --out aug.tsv
      hartflow data augment --train my/train.tsv --n 500 --out my/aug.tsv --seed 1
    """
    from hartflow.data.formats import Example, write_examples
    from hartflow.hybrid.structure import augment_task

    if (task is None) == (train is None):
        raise typer.BadParameter("give --task cogs|slog or --train FILE (one of them)")
    made = augment_task(task, data_dir=None if data_dir is None else str(data_dir),
                        train=None if train is None else str(train), n=n, max_depth=max_depth,
                        seed=seed, pool=pool)  # fmt: skip
    path = write_examples(out, [Example(s, f, "recombined") for s, f in made], "tsv")
    stdout.print(Text(f"wrote {len(made):,} recombined pairs to {path}"))


@data_app.command("scan-grammar")
def data_scan_grammar(
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write, e.g. --out tasks.txt.")],
) -> None:
    """Write all 20,910 SCAN pairs, generated from the grammar, in SCAN format.

    Examples:
      hartflow data scan-grammar --out tasks.txt
    """
    stdout.print(Text(f"wrote {data.write_scan_grammar(out)}"))
