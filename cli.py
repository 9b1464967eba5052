"""HartFlow's command line (`hartflow --help`): thin commands over the library.

Results go to stdout (a rich table, or JSON with `--json`); errors go to stderr as one red line
ending in the fix, with a non-zero exit. `--debug` anywhere shows the traceback instead.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from hartflow.atomic import write_json
from hartflow.commands.common import (
    CheckpointOption,
    DataDirOption,
    DimOption,
    JsonOption,
    SeedOption,
    TaskOption,
    TestOption,
    TrainOption,
    error_line,
    print_json,
    stderr,
    stdout,
)
from hartflow.commands.data import data_app
from hartflow.commands.grid import grid_app
from hartflow.data import TASKS
from hartflow.encoding import encode_command
from hartflow.errors import HartFlowError
from hartflow.evaluation import build_reasoner, decode_command, evaluate
from hrr.errors import HRRError

app = typer.Typer(
    name="hartflow",
    help="HartFlow: compositional reasoning with HRR algebra, similarity memory and tiny recursive "
    "reasoners.",
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")  # hartflow/commands/data.py
app.add_typer(grid_app, name="grid")  # hartflow/commands/grid.py and grid_build.py

KNOWN_ERRORS = (HRRError, HartFlowError)


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
        print_json(report)
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
    episodes: Annotated[
        Path | None,
        typer.Option(
            "--episodes", help="Score every NAME_train.txt/NAME_test.txt pair here, e.g. eps/."
        ),
    ] = None,
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions",
            help="Write one TSV line per example (input, gold, answer, category, correct), "
            "e.g. --predictions errors.tsv.",
        ),
    ] = None,
    word_prior: Annotated[
        bool,
        typer.Option(
            "--word-prior/--no-word-prior",
            help="Structure checkpoints: answer with the training pairs' word prior.",
        ),
    ] = True,
) -> None:
    """Evaluate a reasoner on a split's test set (exact match), on your own files, or on a
    folder of few-shot episodes (each built from its own training pairs).

    Examples:
      hartflow eval --mode hrr --task scan --split addprim_jump
      hartflow eval --mode hrr --task cogs --split gen --data-dir ~/COGS --json cogs.json
      hartflow eval --mode hrr --train train.txt --test test.txt
      hartflow eval --mode hybrid --checkpoint runs/jump --task scan --split addprim_jump
      hartflow eval --mode hrr --episodes episodes/ --json episodes.json
      hartflow eval --mode hrr --task slog --split gen --data-dir ~/SLOG --predictions p.tsv
    """
    if episodes is not None:
        _eval_episodes(episodes, mode=mode, dim=dim, json_file=json_file)
        return
    with Progress(console=stderr, transient=True, disable=quiet) as bar:
        job = bar.add_task(f"eval {task or 'files'} {split or ''}", total=None)
        result = evaluate(
            task, split, mode=mode, data_dir=data_dir, train=train, test=test, d=dim,
            progress=lambda done, total: bar.update(job, completed=done, total=total),
            checkpoint=checkpoint, predictions=predictions, word_prior=word_prior,
        )  # fmt: skip
    if json_file is not None:
        write_json(json_file, result)
    _print_eval(result)


def _print_eval(result: dict) -> None:
    """An evaluation's tables: overall, an ensemble's members, per category."""
    table = Table(title=escape(f"{result['task']} {result['split']} ({result['mode']})"))
    unordered = "order_insensitive_match" in result  # the structure refiner's logical forms
    official = "official_match" in result  # SLOG: its official metric leads
    for col in ("n", *(["official"] if official else []), "exact match",
                *(["any order"] if unordered else []), "unanswerable", "seconds"):  # fmt: skip
        table.add_column(col, justify="right")
    table.add_row(
        f"{result['n']:,}",
        *([f"{100 * result['official_match']:.2f} %"] if official else []),
        f"{100 * result['exact_match']:.2f} %",
        *([f"{100 * result['order_insensitive_match']:.2f} %"] if unordered else []),
        str(result["unanswerable"]),
        f"{result['seconds']:.1f}",
    )
    stdout.print(table)
    if result.get("members"):  # an ensemble: what each member answers alone
        mem = Table(title="members alone (the vote above)", title_justify="left")
        for col in ("seed", *(["official"] if official else []), "exact match", "refiner alone"):
            mem.add_column(col, justify="right")
        for m in result["members"]:
            mem.add_row(str(m["seed"]),
                        *([f"{100 * m['official_match']:.2f} %"] if official else []),
                        f"{100 * m['exact_match']:.2f} %",
                        f"{100 * m['refiner_alone_exact_match']:.2f} %")  # fmt: skip
        stdout.print(mem)
    if "per_category" in result:
        cats = Table(title="per category")
        cats.add_column("category")
        per_official = result.get("per_category_official")
        if per_official:
            cats.add_column("official", justify="right")
        cats.add_column("exact match", justify="right")
        any_order = result.get("per_category_order_insensitive")
        if any_order:
            cats.add_column("any order", justify="right")
        for name, acc in result["per_category"].items():
            first = [f"{100 * per_official[name]:.1f} %"] if per_official else []
            extra = [f"{100 * any_order[name]:.1f} %"] if any_order else []
            cats.add_row(escape(name), *first, f"{100 * acc:.1f} %", *extra)
        stdout.print(cats)


def _eval_episodes(folder: Path, *, mode: str, dim: int, json_file: Path | None) -> None:
    from hartflow.episodes import evaluate_episodes

    result = evaluate_episodes(folder, mode=mode, d=dim)
    if json_file is not None:
        write_json(json_file, result)
    table = Table(title=escape(f"episodes in {folder} ({mode})"))
    for col in ("episode", "queries", "exact match", "solved", "seconds"):
        table.add_column(col, justify="left" if col == "episode" else "right")
    for r in result["episodes"]:
        table.add_row(escape(r["name"]), str(r["n"]), f"{100 * r['exact_match']:.1f} %",
                      "yes" if r["solved"] else "no", f"{r['seconds']:.2f}")  # fmt: skip
    table.add_row("mean", "", f"{100 * result['mean_exact_match']:.1f} %",
                  f"{100 * result['solved']:.1f} %", f"{result['seconds']:.1f}")  # fmt: skip
    stdout.print(table)


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
    if task in TASKS and split is None and train is None:
        raise HartFlowError(f"decode --task {task} needs --split, one of: {', '.join(TASKS[task])}"
                            f" (e.g. --split {TASKS[task][0]})")  # fmt: skip
    reasoner = build_reasoner(task, split, data_dir=data_dir, train=train, d=dim)
    result = decode_command(command, reasoner)
    if as_json:
        print_json(result)
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
        print_json(result)
        return
    stdout.print(Text(result["answer"]))
    if result.get("stand_ins"):
        shown = ", ".join(f"{w} -> {s}" for w, s in result["stand_ins"].items())
        stderr.print(Text(f"words training never shows, answered through stand-ins: {shown}"))
    if not trace:
        return
    hyps = Table(title=f"memory hypotheses ({result['mode']})", title_justify="left")
    for col in ("#", "hypothesis", "score", "source"):
        hyps.add_column(col, justify="right" if col in ("#", "score") else "left")
    for i, h in enumerate(result["hypotheses"] or [{"answer": "(none)", "score": 0, "source": ""}]):
        hyps.add_row(str(i + 1), escape(h["answer"]), f"{h['score']:.3f}", h["source"])
    stdout.print(hyps)
    if result.get("refiner") == "structure":
        for r in result["trace"]:
            title = (f"graph after supervision step {r['step']}, cycle {r['cycle']} "
                     f"(P(halt) {r['halt_probability']:.3f})")  # fmt: skip
            _print_graph(r["graph"], title)
            stdout.print(Text(r["answer"] or "(ill-formed graph)"))
        stdout.print(Text(f"refiner: {result['refiner_answer']}"))
        stdout.print(Text(f"memory:  {result.get('memory_answer') or '(no answer)'}"))
        for i, m in enumerate(result.get("members", [])):  # an ensemble: each member's say
            stdout.print(Text(f"member {i}: {m['refiner_answer']} (its hybrid: "
                              f"{m['answer_source']})"))  # fmt: skip
        stdout.print(Text(f"chosen:  {result['answer_source']}"))
        return
    steps = Table(title="y decoded after each outer step", title_justify="left")
    for col in ("sup. step", "cycle", "answer", "P(halt)"):
        steps.add_column(col, justify="left" if col == "answer" else "right")
    for r in result["trace"]:
        steps.add_row(str(r["step"]), str(r["cycle"]), escape(r["answer"]),
                      f"{r['halt_probability']:.3f}")  # fmt: skip
    stdout.print(steps)


def _print_graph(rows: list[dict], title: str) -> None:
    """A structure refiner's graph: per position its predicate, kind, constant and edges."""
    table = Table(title=escape(title), title_justify="left")
    for col in ("#", "word", "predicate", "kind", "constant", "edges"):
        table.add_column(col, justify="right" if col == "#" else "left")
    for r in rows:
        cells = (r["word"], r["pred"] or "", r["kind"], r["constant"] or "", ", ".join(r["edges"]))
        table.add_row(str(r["position"]), *map(escape, cells))
    stdout.print(table)


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
    steps: Annotated[
        int | None,
        typer.Option("--steps", min=1, help="Optimizer steps (default 600, or until --minutes)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the latest checkpoint in --out exactly.")
    ] = False,
    k: Annotated[int, typer.Option("--k", min=1, help="Hypotheses per command (top-k).")] = 3,
    n_cycles: Annotated[int, typer.Option("--T", min=1, help="Outer cycles T.")] = 2,
    n_latent_steps: Annotated[int, typer.Option("--n", min=1, help="Latent steps n.")] = 2,
    max_halt_steps: Annotated[
        int, typer.Option("--sup-steps", min=1, help="Deep-supervision steps N_sup.")
    ] = 2,
    dim: Annotated[
        int | None, typer.Option("--hidden", min=8, help="Hidden size (64; 128 for COGS/SLOG).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Global batch (16; 64 for COGS/SLOG).")
    ] = None,
    lr: Annotated[
        float | None, typer.Option("--lr", help="Learning rate (3e-3; 1e-3 for COGS/SLOG).")
    ] = None,
    lr_min_ratio: Annotated[
        float | None,
        typer.Option(
            "--lr-min-ratio",
            min=0.0,
            max=1.0,
            help="Cosine decay of the rate to lr · this over the budget (1 = constant; "
            "0.05 for COGS/SLOG).",
        ),
    ] = None,
    max_train: Annotated[
        int | None, typer.Option("--max-train", min=1, help="Seeded subset of training pairs.")
    ] = None,
    seed: SeedOption = 0,
    threads: Annotated[int, typer.Option("--threads", min=1, help="torch threads.")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    tensorboard: Annotated[
        Path | None, typer.Option("--tensorboard", help="Also write the log's scalars here.")
    ] = None,
    refiner: Annotated[
        str,
        typer.Option(
            "--refiner",
            help="auto, sequence or structure (auto: structure for logical forms over input "
            "positions, e.g. COGS, SLOG).",
        ),
    ] = "auto",
    window: Annotated[
        int, typer.Option("--window", min=0, help="Structure refiner: attention reach (0 = all).")
    ] = 4,
    hypothesis_input: Annotated[
        bool,
        typer.Option(
            "--hypothesis-input/--no-hypothesis-input",
            help="Structure hybrid: the memory's best hypothesis as the refiner's "
            "evidence (off: the HRR lexicon only; the memory's answer stays a "
            "candidate).",
        ),
    ] = True,
    reanchor: Annotated[
        bool,
        typer.Option(
            "--reanchor/--no-reanchor",
            help="Structure refiner: a constant another word could carry (a question's "
            "'?') stands where the graph looks like training's (off: the codec's "
            "word).",
        ),
    ] = True,
    word_dropout: Annotated[
        float | None,
        typer.Option(
            "--word-dropout", help="Structure refiner: <unk> rate in training (0.1; 0.3 COGS/SLOG)."
        ),
    ] = None,
    corruption: Annotated[
        float | None,
        typer.Option("--corruption", help="Edited training hypotheses (0.15; 0.7 COGS/SLOG)."),
    ] = None,
    augment: Annotated[
        int | None,
        typer.Option(
            "--augment",
            min=0,
            help="Structure refiner: recombined training pairs "
            "(default half the training set; 0 = none).",
        ),
    ] = None,
    augment_pool: Annotated[
        int,
        typer.Option(
            "--augment-pool",
            min=1,
            help="Structure refiner: recombined pairs kept from POOL x as many candidates, "
            "weighted toward configurations training shows least (1 = as drawn).",
        ),
    ] = 3,
    edge_output: Annotated[
        str, typer.Option("--edges", help="Structure refiner: slots (+ decoder) or pointer.")
    ] = "slots",
    strict: Annotated[
        bool, typer.Option("--strict", help="A training line that does not parse is an error.")
    ] = False,
    members: Annotated[
        int | None,
        typer.Option(
            "--members",
            min=1,
            help="Structure refiner: runs trained side by side (seeds seed, seed+1, "
            "…; one process each) that answer by vote (2 for COGS/SLOG).",
        ),
    ] = None,
) -> None:
    """Train the recursive refiner on memory hypotheses (hybrid) or without them (trm).

    Writes checkpoints, log.jsonl and curve.png into --out (an ensemble, --members 2 by default on
    COGS/SLOG: into --out/member-0 … beside ensemble.json). Data parallel under torchrun.
    With --minutes and no --steps it trains for those minutes; on a graph-shaped task (COGS,
    SLOG) the defaults are the benchmark's (hidden 128, batch 64, lr 1e-3 decaying to 5 % over
    the budget, corruption 0.7, word dropout 0.3).

    Examples:
      hartflow train --task scan --split addprim_jump --out runs/jump --minutes 5
      hartflow train --task scan --split addprim_jump --out runs/jump --resume
      hartflow train --task scan --split addprim_jump --out runs/jump --tensorboard runs/tb
      hartflow train --task cogs --split gen --data-dir ~/COGS/data --out runs/cogs
      hartflow train --task slog --split gen --data-dir ~/SLOG/data/cogs_LF --out runs/slog
      hartflow train --train my/train.txt --test my/test.txt --mode trm --out runs/mine
    """
    if tensorboard is not None:  # before any work: without the package, one line says why
        from hartflow.tensorboard_writer import require_tensorboard

        require_tensorboard()
    from hartflow.hybrid import TrainConfig
    from hartflow.hybrid import train as train_refiner
    from hartflow.hybrid.run import with_defaults

    given = {k: v for k, v in dict(dim=dim, batch_size=batch_size, lr=lr, max_steps=steps,
                                   corruption=corruption, word_dropout=word_dropout,
                                   lr_min_ratio=lr_min_ratio, members=members).items()
             if v is not None}  # fmt: skip
    cfg = with_defaults(TrainConfig(
        task=task, split=split, data_dir=None if data_dir is None else str(data_dir),
        train_file=None if train is None else str(train),
        test_file=None if test is None else str(test), mode=mode, k=k,
        n_cycles=n_cycles, n_latent_steps=n_latent_steps, max_halt_steps=max_halt_steps,
        minutes=minutes, max_train=max_train, seed=seed, refiner_kind=refiner, window=window,
        augment=augment, augment_pool=augment_pool, edge_output=edge_output, strict=strict,
        hypothesis_input=hypothesis_input, reanchor=reanchor, **given,
    ), set(given))  # fmt: skip
    with Progress(console=stderr, transient=True, disable=quiet) as bar:
        by_time = minutes is not None and steps is None  # the bar counts seconds then
        total = 60 * minutes if by_time else cfg.max_steps
        jobs = {None: bar.add_task(f"train {mode} {task or 'files'} {split or ''}", total=total)}

        def show(row: dict) -> None:  # an ensemble's members report with their index
            member = row.get("member")
            if member not in jobs:
                jobs[member] = jobs.pop(None) if None in jobs else bar.add_task("", total=total)
            text = f"loss {row['loss']:.3f} exact {100 * row['exact']:.1f} %"
            text = text if member is None else f"member {member}: {text}"
            done = row["seconds"] if by_time else row["step"]
            bar.update(jobs[member], completed=done, description=text)

        result = train_refiner(cfg, out=out, resume=resume, progress=show, threads=threads,
                               tensorboard=tensorboard)  # fmt: skip
    table = Table(title=escape(f"trained {result['out']}"))
    for col in ("steps", "seconds", "parameters", "checkpoint"):
        table.add_column(col, justify="left" if col == "checkpoint" else "right")
    table.add_row(str(result["step"]), f"{result['seconds']:.1f}", f"{result['parameters']:,}",
                  escape(result["checkpoint"]))  # fmt: skip
    stdout.print(table)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on `argv` and return the exit code (known errors become one red line)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    try:
        result = app(args=args or ["--help"], prog_name="hartflow", standalone_mode=False)
    except typer.Abort:
        error_line("interrupted")
        return 130
    except typer.TyperException as e:  # usage errors: bad flag, missing or bad value
        if debug:
            raise
        message = e.format_message() if hasattr(e, "format_message") else str(e)
        error_line(f"{message} (see hartflow --help)")
        return int(getattr(e, "exit_code", 2))
    except KNOWN_ERRORS as e:
        if debug:
            raise
        error_line(str(e))
        return 2
    except Exception as e:  # a bug or an environment failure: still one line, never a traceback
        if debug:
            raise
        error_line(f"unexpected {type(e).__name__}: {e} (rerun with --debug for the traceback)")
        return 1
    return result if isinstance(result, int) else 0


def main() -> None:
    """Console-script entry point: `hartflow ...`."""
    sys.exit(run())


if __name__ == "__main__":
    main()
