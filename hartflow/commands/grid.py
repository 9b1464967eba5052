"""`hartflow grid`: build, show and score grid puzzles; train, evaluate and ablate TRM/HRM."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from hartflow.atomic import write_json
from hartflow.commands.common import stderr, stdout
from hartflow.commands.grid_build import OutOption, build_app
from hartflow.grid.arc import crop as arc_crop

grid_app = typer.Typer(help="Grid puzzles (Sudoku, Maze, ARC): build data sets, show, score.")
grid_app.add_typer(build_app, name="build")


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
    """Render one puzzle and its solution in the terminal (ARC in its colours); a Sudoku's
    title gives its rating (guesses of the tdoku-style rater).

    Examples:
      hartflow grid show data/s9 --index 3
      hartflow grid show data/arc1 --index 10 --split train
    """
    from hartflow.grid.jobs import example

    ex = example(directory, index, part=part)
    rated = f", rating {ex['rating']} guesses" if "rating" in ex else ""
    table = Table(title=escape(f"{ex['task']} {part} #{index}{rated}"))
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
    compile: Annotated[
        bool | None,
        typer.Option(
            "--compile/--no-compile", help="torch.compile the train step (default: config, off)."
        ),
    ] = None,
    tensorboard: Annotated[
        Path | None,
        typer.Option("--tensorboard", help="Also write the log's scalars here, e.g. runs/tb."),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Train TRM or HRM with deep supervision, EMA and checkpoints (torchrun for several GPUs).

    Examples:
      hartflow grid train --arch trm-mlp --preset sudoku --data data/s9 --out runs/s9
      torchrun --nproc-per-node 4 -m cli grid train --arch trm-att --preset arc \\
          --data data/arc1 --out runs/arc1
      hartflow grid train --arch hrm --config run.json --data data/s4 --out runs/s4 --minutes 10
      hartflow grid train --arch trm-mlp --preset sudoku --data data/s9 --out runs/s9 --compile
      hartflow grid train --preset tiny --data data/s4 --out runs/s4 --tensorboard runs/tb/s4
    """
    from hartflow.grid.train_config import resolve_config
    from hartflow.grid.training import train

    cfg = resolve_config(arch=arch, preset=preset, config=config, data=data, out=out,
                         minutes=minutes, max_steps=max_steps, seed=seed, device=device,
                         validation_groups=validation_groups, compile=compile,
                         tensorboard=None if tensorboard is None else str(tensorboard))  # fmt: skip
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
