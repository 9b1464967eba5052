"""HartFlow's command line (`hartflow --help`): thin commands over the library.

Results go to stdout (a rich table, or JSON with `--json`); errors go to stderr as one red line
ending in the fix, with a non-zero exit. `--debug` anywhere shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from hartflow import data
from hartflow.atomic import write_json
from hartflow.encoding import encode_command
from hartflow.errors import HartFlowError
from hartflow.evaluation import build_reasoner, decode_command, evaluate
from hartflow.grid.arc import crop as arc_crop
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
    summary = Table(title=escape(f"encode {command!r}"), show_header=False, title_justify="left")
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
            escape(p["token"]),
            escape(str(p["decoded"])),
            f"{p['score']:.3f}",
            f"{p['margin']:.3f}",
            "[green]✓[/]" if p["correct"] else "[red]✗[/]",
        )
    stdout.print(table)
    verdict = "[green]exact[/]" if report["exact"] else "[red]not exact[/]"
    stdout.print(f"round trip: {verdict}")


data_app = typer.Typer(help="Data sets: list, show and export splits; write the SCAN grammar.")
app.add_typer(data_app, name="data")

TaskArgument = Annotated[str, typer.Argument(help="Task name: scan or cogs.")]
SplitOption = Annotated[
    str, typer.Option("--split", "-s", help="Split, e.g. --split addprim_jump.")
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder of the official files, e.g. --data-dir ~/SCAN; SCAN is generated without "
        "one; COGS falls back to $HARTFLOW_DATA/cogs.",
    ),
]
TaskOption = Annotated[str | None, typer.Option("--task", help="scan or cogs, e.g. --task scan.")]
TrainOption = Annotated[
    Path | None, typer.Option("--train", help="Your training file (.txt SCAN format or .tsv).")
]
TestOption = Annotated[Path | None, typer.Option("--test", help="Your test file, e.g. test.tsv.")]
FormatOption = Annotated[
    str | None, typer.Option("--format", help="scan or tsv, overriding the file extension.")
]
HubOption = Annotated[
    bool, typer.Option("--hub", help="Download SCAN from the Hugging Face hub instead (online).")
]
CheckpointOption = Annotated[
    Path | None,
    typer.Option("--checkpoint", help="A run folder of hartflow train, e.g. --checkpoint runs/x."),
]


@data_app.command("list")
def data_list(
    data_dir: Annotated[
        Path | None, typer.Option("--scan-dir", help="Read SCAN's official files from here.")
    ] = None,
    cogs_dir: Annotated[
        Path | None, typer.Option("--cogs-dir", help="COGS folder (default $HARTFLOW_DATA/cogs).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Tasks, splits and their sizes.

    Examples:
      hartflow data list
      hartflow data list --cogs-dir ~/COGS --json
    """
    rows = data.catalog(scan_dir=data_dir, cogs_dir_=cogs_dir)
    if as_json:
        _print_json(rows)
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
    task: Annotated[str | None, typer.Argument(help="Task name: scan or cogs.")] = None,
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
    """
    parts = data.load_examples(
        task, split, data_dir=data_dir, train=train, test=test, fmt=fmt, hub=hub
    )
    task, split = (task, split) if train is None else ("files", f"{train} → {test}")
    unseen = data.unseen_output_tokens(parts)
    if as_json:
        _print_json(
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
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder, e.g. --out runs/jump.")],
    data_dir: DataDirOption = None,
    hub: HubOption = False,
) -> None:
    """Write a split as train/test files (SCAN: train.txt/test.txt; COGS: train.tsv/test.tsv).

    Examples:
      hartflow data export scan --split length --out data/length
      hartflow data export cogs --split gen --data-dir ~/COGS --out data/cogs
    """
    for path in data.export(task, split, out, data_dir=data_dir, hub=hub):
        stdout.print(Text(f"wrote {path}"))


@data_app.command("scan-grammar")
def data_scan_grammar(
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write, e.g. --out tasks.txt.")],
) -> None:
    """Write all 20,910 SCAN pairs, generated from the grammar, in SCAN format.

    Examples:
      hartflow data scan-grammar --out tasks.txt
    """
    stdout.print(Text(f"wrote {data.write_scan_grammar(out)}"))


@app.command("eval")
def eval_(
    mode: Annotated[
        str,
        typer.Option(
            "--mode", help="Reasoner: hrr (zero-shot), hybrid or trm (trained), e.g. --mode hrr."
        ),
    ],
    task: TaskOption = None,
    split: Annotated[str | None, typer.Option("--split", "-s", help="e.g. --split length.")] = None,
    data_dir: DataDirOption = None,
    train: TrainOption = None,
    test: TestOption = None,
    dim: DimOption = 1024,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the result JSON here, e.g. r.json.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    checkpoint: CheckpointOption = None,
) -> None:
    """Evaluate a reasoner on a split's test set (exact match), or on your own files.

    Examples:
      hartflow eval --mode hrr --task scan --split addprim_jump
      hartflow eval --mode hrr --task cogs --split gen --data-dir ~/COGS --json cogs.json
      hartflow eval --mode hrr --train train.txt --test test.txt
      hartflow eval --mode hybrid --checkpoint runs/jump --task scan --split addprim_jump
    """
    with Progress(console=stderr, transient=True, disable=quiet) as bar:
        job = bar.add_task(f"eval {task or 'files'} {split or ''}", total=None)
        result = evaluate(
            task, split, mode=mode, data_dir=data_dir, train=train, test=test, d=dim,
            progress=lambda done, total: bar.update(job, completed=done, total=total),
            checkpoint=checkpoint,
        )  # fmt: skip
    if json_file is not None:
        write_json(json_file, result)
    table = Table(title=escape(f"{result['task']} {result['split']} ({result['mode']})"))
    for col in ("n", "exact match", "unanswerable", "seconds"):
        table.add_column(col, justify="right")
    table.add_row(
        f"{result['n']:,}",
        f"{100 * result['exact_match']:.2f} %",
        str(result["unanswerable"]),
        f"{result['seconds']:.1f}",
    )
    stdout.print(table)
    if "per_category" in result:
        cats = Table(title="per category")
        cats.add_column("category")
        cats.add_column("exact match", justify="right")
        for name, acc in result["per_category"].items():
            cats.add_row(escape(name), f"{100 * acc:.1f} %")
        stdout.print(cats)


@app.command()
def decode(
    command: Annotated[str, typer.Argument(help='A command, e.g. "jump around left twice".')],
    task: TaskOption = None,
    split: Annotated[
        str | None, typer.Option("--split", "-s", help="e.g. --split addprim_jump.")
    ] = None,
    data_dir: DataDirOption = None,
    train: TrainOption = None,
    dim: DimOption = 1024,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show the neighbours, lexicon entries and rules.")
    ] = False,
    as_json: JsonOption = False,
    checkpoint: CheckpointOption = None,
    trace: Annotated[
        bool, typer.Option("--trace", help="With --checkpoint: y after every outer step.")
    ] = False,
) -> None:
    """Answer one command with the zero-shot reasoner built from a split's training pairs,
    or with a trained refiner (--checkpoint).

    Examples:
      hartflow decode "jump around left twice" --task scan --split addprim_jump --explain
      hartflow decode "dax twice" --train my/train.tsv
      hartflow decode "jump around left twice" --checkpoint runs/jump --trace
    """
    if checkpoint is not None:
        _decode_refiner(command, checkpoint, trace=trace, as_json=as_json)
        return
    reasoner = build_reasoner(task, split, data_dir=data_dir, train=train, d=dim)
    result = decode_command(command, reasoner)
    if as_json:
        _print_json(result)
        return
    stdout.print(Text(result["answer"]))
    if explain:
        stdout.print(Text(f"score {result['score']:.4f}"))
        near = Table(title="nearest stored skeletons (cosine)", title_justify="left")
        near.add_column("skeleton")
        near.add_column("cosine", justify="right")
        for n in result["neighbours"]:
            near.add_row(escape(n["skeleton"]), f"{n['cosine']:.4f}")
        stdout.print(near)
        lex = Table(title="lexicon entries used", title_justify="left")
        lex.add_column("word")
        lex.add_column("token")
        for w, t in result["lexicon"].items():
            lex.add_row(escape(w), escape(t))
        stdout.print(lex)
        for rule in result["rules"] or ["(none: the skeleton was stored)"]:
            stdout.print(Text(f"rule {rule}"))


def _decode_refiner(command: str, checkpoint: Path, *, trace: bool, as_json: bool) -> None:
    from hartflow.hybrid import decode_trace

    result = decode_trace(checkpoint, command)
    if as_json:
        _print_json(result)
        return
    stdout.print(Text(result["answer"]))
    if not trace:
        return
    hyps = Table(title=f"memory hypotheses ({result['mode']})", title_justify="left")
    for col in ("#", "hypothesis", "score", "source"):
        hyps.add_column(col, justify="right" if col in ("#", "score") else "left")
    for i, h in enumerate(result["hypotheses"] or [{"answer": "(none)", "score": 0, "source": ""}]):
        hyps.add_row(str(i + 1), escape(h["answer"]), f"{h['score']:.3f}", h["source"])
    stdout.print(hyps)
    steps = Table(title="y decoded after each outer step", title_justify="left")
    for col in ("sup. step", "cycle", "answer", "P(halt)"):
        steps.add_column(col, justify="left" if col == "answer" else "right")
    for r in result["trace"]:
        steps.add_row(str(r["step"]), str(r["cycle"]), escape(r["answer"]),
                      f"{r['halt_probability']:.3f}")  # fmt: skip
    stdout.print(steps)


@app.command("train")
def train_(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder, e.g. --out runs/jump.")],
    task: TaskOption = None,
    split: Annotated[str | None, typer.Option("--split", "-s", help="e.g. --split length.")] = None,
    data_dir: DataDirOption = None,
    train: TrainOption = None,
    test: TestOption = None,
    mode: Annotated[
        str, typer.Option("--mode", help="hybrid (with memory hypotheses) or trm (without).")
    ] = "hybrid",
    minutes: Annotated[
        float | None, typer.Option("--minutes", min=0.01, help="Wall-clock budget, e.g. 5.")
    ] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimizer steps, e.g. 600.")] = 600,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the latest checkpoint in --out exactly.")
    ] = False,
    k: Annotated[int, typer.Option("--k", min=1, help="Hypotheses per command (top-k).")] = 3,
    n_cycles: Annotated[int, typer.Option("--T", min=1, help="Outer cycles T.")] = 2,
    n_latent_steps: Annotated[int, typer.Option("--n", min=1, help="Latent steps n.")] = 2,
    max_halt_steps: Annotated[
        int, typer.Option("--sup-steps", min=1, help="Deep-supervision steps N_sup.")
    ] = 2,
    dim: Annotated[int, typer.Option("--hidden", min=8, help="Hidden size, e.g. 64.")] = 64,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Global batch.")] = 16,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate, e.g. 3e-3.")] = 3e-3,
    max_train: Annotated[
        int | None, typer.Option("--max-train", min=1, help="Seeded subset of training pairs.")
    ] = None,
    seed: SeedOption = 0,
    threads: Annotated[int, typer.Option("--threads", min=1, help="torch threads.")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Train the recursive refiner on memory hypotheses (hybrid) or without them (trm).

    Writes checkpoints, log.jsonl and curve.png into --out. Data parallel under torchrun.

    Examples:
      hartflow train --task scan --split addprim_jump --out runs/jump --minutes 5
      hartflow train --task scan --split addprim_jump --out runs/jump --resume
      hartflow train --task cogs --split gen --data-dir ~/COGS/data --out runs/cogs
      hartflow train --train my/train.txt --test my/test.txt --mode trm --out runs/mine
    """
    from hartflow.hybrid import TrainConfig
    from hartflow.hybrid import train as train_refiner

    cfg = TrainConfig(
        task=task, split=split, data_dir=None if data_dir is None else str(data_dir),
        train_file=None if train is None else str(train),
        test_file=None if test is None else str(test), mode=mode, k=k, dim=dim,
        n_cycles=n_cycles, n_latent_steps=n_latent_steps, max_halt_steps=max_halt_steps,
        batch_size=batch_size, lr=lr, max_steps=steps, minutes=minutes, max_train=max_train,
        seed=seed,
    )  # fmt: skip
    with Progress(console=stderr, transient=True, disable=quiet) as bar:
        job = bar.add_task(f"train {mode} {task or 'files'} {split or ''}", total=steps)

        def show(row: dict) -> None:
            text = f"loss {row['loss']:.3f} exact {100 * row['exact']:.1f} %"
            bar.update(job, completed=row["step"], description=text)

        result = train_refiner(cfg, out=out, resume=resume, progress=show, threads=threads)
    table = Table(title=escape(f"trained {result['out']}"))
    for col in ("steps", "seconds", "parameters", "checkpoint"):
        table.add_column(col, justify="left" if col == "checkpoint" else "right")
    table.add_row(str(result["step"]), f"{result['seconds']:.1f}", f"{result['parameters']:,}",
                  escape(result["checkpoint"]))  # fmt: skip
    stdout.print(table)


grid_app = typer.Typer(help="Grid puzzles (Sudoku, Maze, ARC): build data sets, show, score.")
app.add_typer(grid_app, name="grid")
build_app = typer.Typer(help="Build a grid data set in the TRM/HRM on-disk layout.")
grid_app.add_typer(build_app, name="build")

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
        int, typer.Option("--min-rating", min=0, help="Keep puzzles rated >= R backtracks.")
    ] = 0,
    aug: Annotated[
        int, typer.Option("--aug", min=0, help="Augmented copies per train puzzle.")
    ] = 0,
    test_size: TestSizeOption = None,
    subsample: Annotated[
        int | None, typer.Option("--subsample", min=1, help="Seeded train subset, e.g. 1000.")
    ] = None,
    seed: SeedOption0 = 0,
) -> None:
    """Sudoku: generate unique-solution puzzles rated by backtracks, or read Sudoku-Extreme CSVs.

    Examples:
      hartflow grid build sudoku --generate 1000 --size 9 --min-rating 20 --aug 100 --out data/s9
      hartflow grid build sudoku --csv train.csv --test-csv test.csv --out data/extreme
    """
    from hartflow.grid.jobs import build_sudoku

    _progress_build("sudoku", build_sudoku, out=out, generate=generate, csv=csv, test_csv=test_csv,
                    size=size, min_rating=min_rating, aug=aug, test_size=test_size,
                    subsample=subsample, seed=seed)  # fmt: skip


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


ARC_COLOURS = ("#000000", "#0074D9", "#FF4136", "#2ECC40", "#FFDC00",
               "#AAAAAA", "#F012BE", "#FF851B", "#7FDBFF", "#870C25")  # fmt: skip


def _render(task: str, grid: list[list[int]]) -> Text:
    """Tokens → terminal text: ARC in its colours, Sudoku digits, Maze characters."""
    out = Text()
    if task == "arc":
        cropped = arc_crop(grid)
        for row in cropped if cropped is not None else []:
            for c in row:
                out.append("██", style=ARC_COLOURS[c])
            out.append("\n")
        out.rstrip()
        return out
    chars = {"sudoku": lambda t: "." if t == 1 else str(t - 1), "maze": lambda t: "# SGo"[t - 1]}
    lines = [" ".join(chars[task](t) if t else "_" for t in row) for row in grid]
    return out.append("\n".join(lines))


@grid_app.command("show")
def grid_show(
    directory: Annotated[Path, typer.Argument(help="A built data set, e.g. data/s9.")],
    index: Annotated[int, typer.Option("--index", "-i", help="Example index, e.g. --index 0.")] = 0,
    part: Annotated[str, typer.Option("--split", help="train or test.")] = "test",
) -> None:
    """Render one puzzle and its solution in the terminal (ARC in its colours).

    Examples:
      hartflow grid show data/s9 --index 3
      hartflow grid show data/arc1 --index 10 --split train
    """
    from hartflow.grid.jobs import example

    ex = example(directory, index, part=part)
    table = Table(title=escape(f"{ex['task']} {part} #{index}"))
    table.add_column("puzzle")
    table.add_column("solution")
    table.add_row(_render(ex["task"], ex["input"]), _render(ex["task"], ex["label"]))
    stdout.print(table)


@grid_app.command("eval-predictions")
def grid_eval_predictions(
    directory: Annotated[Path, typer.Argument(help="A built data set, e.g. data/s9.")],
    predictions: Annotated[Path, typer.Argument(help="(N, seq_len) token array, e.g. pred.npy.")],
    q_halt: Annotated[
        Path | None, typer.Option("--q-halt", help="ARC: (N,) halting scores for the vote.")
    ] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the JSON here.")
    ] = None,
) -> None:
    """Score predictions on the test split: exact, cell accuracy (+ valid path, pass@k).

    Examples:
      hartflow grid eval-predictions data/s9 pred.npy --json score.json
    """
    from hartflow.grid.jobs import eval_predictions

    result = eval_predictions(directory, predictions, q_halt=q_halt)
    if json_file is not None:
        write_json(json_file, result)
    table = Table(title=escape(f"{result['task']} test ({result['n']:,} examples)"))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if isinstance(value, float):
            table.add_row(key, f"{100 * value:.2f} %")
    stdout.print(table)


ArchOption = Annotated[str, typer.Option("--arch", help="trm-mlp, trm-att or hrm.")]
PresetOption = Annotated[
    str | None, typer.Option("--preset", help="sudoku, maze, arc or tiny (paper recipes).")
]
GridConfigOption = Annotated[
    Path | None, typer.Option("--config", help="JSON of TrainConfig fields, e.g. run.json.")
]
DataOption = Annotated[Path, typer.Option("--data", help="A built data set, e.g. data/s9.")]
MinutesOption = Annotated[
    float | None, typer.Option("--minutes", min=0.01, help="Wall-clock budget, e.g. 10.")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def _train_progress(quiet: bool, label: Callable[[dict], str] | None = None):
    """A rich progress bar fed by the trainer's records (None with --quiet or no TTY)."""
    if quiet or not stderr.is_terminal:
        return None, None
    bar = Progress(*Progress.get_default_columns(), "{task.fields[info]}", console=stderr,
                   transient=True)  # fmt: skip
    task = bar.add_task("train", total=None, info="")

    def update(record: dict) -> None:
        if record["kind"] == "train":
            info = (f"loss {record['loss']:.3f}  exact {100 * record['exact']:.1f} %  "
                    f"halt {record['halt_steps']:.2f}")  # fmt: skip
            bar.update(task, completed=record["step"], total=record["total_steps"], info=info,
                       description=label(record) if label else "train")  # fmt: skip
        else:
            part = "validation" if "validation" in record else "test"
            r = record[part]
            bar.console.print(
                f"step {record['step']}: {part} exact {100 * r['exact']:.2f} %, cells "
                f"{100 * r['cell_accuracy']:.2f} %, halting step {r['halt_steps']:.2f}"
            )

    return bar, update


def _eval_table(title: str, result: dict) -> Table:
    table = Table(title=escape(title))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key == "halt_steps":
            table.add_row(key, f"{value:.2f}")
        elif isinstance(value, float):
            table.add_row(key, f"{100 * value:.2f} %")
    return table


@grid_app.command("train")
def grid_train(
    data: DataOption,
    out: OutOption,
    arch: ArchOption = "trm-mlp",
    preset: PresetOption = None,
    config: GridConfigOption = None,
    minutes: MinutesOption = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out.")] = False,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="Stop early.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Run seed.")] = None,
    device: Annotated[str | None, typer.Option("--device", help="auto, cpu or cuda.")] = None,
    validation_groups: Annotated[
        int | None,
        typer.Option("--validation-groups", min=0, help="Train groups held out to select on."),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Train TRM or HRM with deep supervision, EMA and checkpoints (torchrun for several GPUs).

    Examples:
      hartflow grid train --arch trm-mlp --preset sudoku --data data/s9 --out runs/s9
      torchrun --nproc-per-node 4 -m cli grid train --arch trm-att --preset arc \\
          --data data/arc1 --out runs/arc1
      hartflow grid train --arch hrm --config run.json --data data/s4 --out runs/s4 --minutes 10
    """
    from hartflow.grid.train_config import resolve_config
    from hartflow.grid.training import train

    cfg = resolve_config(arch=arch, preset=preset, config=config, data=data, out=out,
                         minutes=minutes, max_steps=max_steps, seed=seed, device=device,
                         validation_groups=validation_groups)  # fmt: skip
    bar, update = _train_progress(quiet)
    if bar is None:
        result = train(cfg, resume=resume)
    else:
        with bar:
            result = train(cfg, resume=resume, progress=update)
    final = result.final or {}
    stdout.print(f"{cfg.arch}: {result.steps} steps in {result.seconds:.0f} s (stopped by "
                 f"{result.stopped_by}); {cfg.out}")  # fmt: skip
    stdout.print(_eval_table("test", final.get("test", {})))
    if result.best is not None:
        stdout.print(f"best on validation: step {result.best['step']} (validation exact "
                     f"{100 * result.best['validation_exact']:.2f} %)")  # fmt: skip


@grid_app.command("eval")
def grid_eval(
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", help="A checkpoint or run folder, e.g. runs/s9.")
    ],
    data: DataOption,
    json_file: Annotated[Path | None, typer.Option("--json", help="Also write JSON here.")] = None,
    part: Annotated[str, typer.Option("--split", help="test or validation.")] = "test",
    live: Annotated[bool, typer.Option("--live", help="Live weights instead of EMA.")] = False,
) -> None:
    """Evaluate a checkpoint (EMA weights; a run folder means its validation-best checkpoint).

    Examples:
      hartflow grid eval --checkpoint runs/s9 --data data/s9 --json score.json
    """
    from hartflow.grid.evaluate import evaluate_checkpoint

    result = evaluate_checkpoint(checkpoint, data, part=part, use_ema=not live)
    if json_file is not None:
        write_json(json_file, result)
    stdout.print(_eval_table(f"{result['checkpoint']} (step {result['step']}, "
                             f"{result['weights']} weights) — {part}", result))  # fmt: skip


@grid_app.command("params")
def grid_params(
    arch: ArchOption = "trm-mlp",
    preset: Annotated[str, typer.Option("--preset", help="sudoku, maze, arc or tiny.")] = "sudoku",
) -> None:
    """Print the dense parameter count of a model preset (puzzle embeddings excluded).

    Examples:
      hartflow grid params --arch trm-mlp --preset sudoku
    """
    from hartflow.grid.models import parameter_count

    stdout.print(f"{arch} {preset}: {parameter_count(arch, preset):,} parameters")


@grid_app.command("ablate")
def grid_ablate(
    data: DataOption,
    out: OutOption,
    preset: PresetOption = None,
    config: GridConfigOption = None,
    minutes: MinutesOption = None,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", min=1, help="Per variant.")
    ] = None,
    variants: Annotated[
        str | None, typer.Option("--variants", help="Comma list, e.g. base,attention,no-ema.")
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Train TRM-paper ablation variants with one budget; write ablation.json + ablation.md.

    Variants: base, attention, less-recursion, no-ema, one-step-grad, separate-nets,
    act-continue, hrm.

    Examples:
      hartflow grid ablate --config run.json --data data/s4 --out runs/ablate --minutes 5
    """
    from hartflow.grid.ablation import run_ablation
    from hartflow.grid.train_config import resolve_config

    cfg = resolve_config(arch="trm-mlp", preset=preset, config=config, data=data, out=out,
                         minutes=minutes, max_steps=max_steps)  # fmt: skip
    names = [v.strip() for v in variants.split(",")] if variants else None
    bar, update = _train_progress(quiet, label=None)
    if bar is None:
        report = run_ablation(cfg, names)
    else:
        with bar:
            report = run_ablation(cfg, names, progress=lambda name, rec: update(rec))
    table = Table(title=escape(f"ablation ({out / 'ablation.json'})"))
    for col in ("variant", "params", "steps", "test exact", "best-on-val test", "halt", "paper"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    pct = lambda v: "–" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    for r in report["rows"]:
        halt = "–" if r["halt_steps"] is None else f"{r['halt_steps']:.2f}"
        table.add_row(r["variant"], f"{r['parameters']:,}", str(r["steps"]),
                      pct(r["test_exact"]), pct(r["best_test_exact"]), halt,
                      f"{r['paper_sudoku_extreme']} %")  # fmt: skip
    stdout.print(table)


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
    except Exception as e:  # a bug or an environment failure: still one line, never a traceback
        if debug:
            raise
        _error_line(f"unexpected {type(e).__name__}: {e} (rerun with --debug for the traceback)")
        return 1
    return result if isinstance(result, int) else 0


def main() -> None:
    """Console-script entry point: `hartflow ...`."""
    sys.exit(run())


if __name__ == "__main__":
    main()
