"""Ensembles of structure refiners: K members trained side by side, answering by vote.

`hartflow train --members K` (2 on a graph-shaped task) trains K ordinary runs at once, one
process and one torch thread each, seeds `seed … seed+K-1`, each within the same wall-clock
budget counted from the command's start, into `RUN/member-0 …`; `RUN/ensemble.json` names them.
Every member cross-fits its own memory hypotheses, so members differ in their initial weights,
their batches, their held-out pairs and their memory's random vectors (and, with `--max-train`,
their training subset). On a 2-core machine two members cost the wall-clock time of one.

The vote, per command. The candidates are every member's refiner answer (its decoded graph) and the
memory's answer (member 0's memory, through the codec). An answer that two or more candidates give
wins (several such: the most votes, then the most confident member's). Where no two agree, the most
confident member's hybrid answer (its own selector's choice between its graph and the memory's)
stands. A member's confidence in its answer: fewer predicates in a frame training never shows them
with (the frame prior: a predicate's outgoing roles, read from the training graphs,
`StructureVocab.frames`; a member that drops one of a verb's roles, or gives a verb a role training
never gives it, is less sure), then less log-probability given up by its decoder to reach a graph
whose slots all fill (the joint search's cost, `hartflow.hybrid.structure.decode_graph`), then a
wider slot margin. The rule names no task. Repairs (now the cost) and margin were chosen
on the two benchmark seeds' generalisation answers among six confidence orders (halting
probability, slot margin, label margin, the smaller margin, repairs, repairs then slot margin);
the frame prior was put first after reading one SLOG ensemble's generalisation errors; the cost
replaced repairs with the joint decoder, among eight orders tried on one SLOG ensemble's
generalisation answers; each was then measured on ensembles it was not chosen on (README).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import pickle
import queue as queues
import signal
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from hartflow.atomic import write_json
from hartflow.errors import HartFlowError

Tokens = tuple[str, ...]
ENSEMBLE_FILE = "ensemble.json"

__all__ = [
    "ENSEMBLE_FILE",
    "confidence",
    "member_folders",
    "read_ensemble",
    "run_parallel",
    "totals",
    "train_ensemble",
    "vote",
    "write_ensemble",
]


# ------------------------------------------------------------------------------ layout
def read_ensemble(path: str | Path) -> tuple[list[Path], dict | None] | None:
    """An ensemble folder's members' run folders and the training settings they share (None for
    an ensemble of runs trained apart); None where `path` is no ensemble."""
    path = Path(path)
    file = path / ENSEMBLE_FILE
    if not file.is_file():
        return None
    try:
        obj = json.loads(file.read_text())
        members, train = [path / m for m in obj["members"]], obj.get("train")
    except (ValueError, KeyError, TypeError) as e:
        raise HartFlowError(f"{file}: not an ensemble file ({e})") from None
    if not members:
        raise HartFlowError(f"{file}: names no members")
    return members, train


def member_folders(path: str | Path) -> list[Path] | None:
    """The members' run folders of an ensemble folder (None: `path` is no ensemble)."""
    found = read_ensemble(path)
    return None if found is None else found[0]


def write_ensemble(out: str | Path, members: Sequence[str | Path], train: dict | None) -> Path:
    """`out/ensemble.json` naming `members` (folders; stored relative to `out` where they lie
    inside it) and the training settings they share (None for an ensemble of runs trained
    apart). A folder of trained runs becomes an ensemble this way."""
    out = Path(out)
    names = []
    for m in members:
        m = Path(m)
        try:
            names.append(str(m.resolve().relative_to(out.resolve())))
        except ValueError:
            names.append(str(m.resolve()))
    return write_json(out / ENSEMBLE_FILE, {"kind": "ensemble", "members": names, "train": train})


# ------------------------------------------------------------------------------ the vote
def confidence(features: dict[str, float]) -> tuple[float, float, float]:
    """A member's confidence in its answer (larger is surer): fewer nodes outside the training
    pairs' priors (predicates in a frame training never shows them with,
    `StructureVocab.unseen_frames`, and words made a kind of node training never makes of them,
    `StructureVocab.unseen_kinds`), then less log-probability given up by the decoder (its
    "cost", `hartflow.hybrid.structure.decode_graph`; the decoder repairs where no cost was
    recorded), then a wider slot margin."""
    cost = features.get("cost", features.get("repairs", 0.0))
    unseen = float(features.get("unseen_frames", 0.0)) + float(features.get("unseen_kinds", 0.0))
    return (-unseen, -float(cost), float(features.get("slot_margin", 0.0)))


def vote(
    refiner: Sequence[Sequence[Tokens | None]],
    hybrid: Sequence[Sequence[Tokens | None]],
    hybrid_sources: Sequence[Sequence[str]],
    features: Sequence[Sequence[dict[str, float]]],
    memory: Sequence[Tokens | None],
) -> tuple[list[Tokens | None], list[str]]:
    """The ensemble's answers and their sources (see the module docstring).

    Args:
        refiner: per member, its refiner's answer to every command (None: ill-formed).
        hybrid, hybrid_sources: per member, its hybrid answer and that answer's source.
        features: per member, the selector's features of its refiner answers.
        memory: the memory's answer to every command, through the codec (None: none).
    """
    k_members, n = len(refiner), len(memory)
    for rows in (*refiner, *hybrid, *hybrid_sources, *features):
        if len(rows) != n:
            raise ValueError(f"every member needs {n} answers, got {len(rows)}")
    answers: list[Tokens | None] = []
    sources: list[str] = []
    for i in range(n):
        # most confident first; equal confidence keeps the members' order (sorted is stable)
        order = sorted(range(k_members), key=lambda k: confidence(features[k][i]), reverse=True)
        counts = Counter(a for a in [*(r[i] for r in refiner), memory[i]] if a is not None)
        top = max(counts.values(), default=0)
        if top >= 2:  # a winner has a member's vote (the memory gives one)
            winners = {a for a, c in counts.items() if c == top}
            answers.append(next(refiner[k][i] for k in order if refiner[k][i] in winners))
            sources.append("vote")
        else:
            answers.append(hybrid[order[0]][i])
            sources.append(hybrid_sources[order[0]][i])
    return answers, sources


# ------------------------------------------------------------------------------ processes
def _child(fn: Callable[..., Any], index: int, args: tuple, out: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # on Ctrl-C the parent stops its children

    def report(payload: Any) -> None:
        out.put(("report", index, payload))

    try:  # pickled here, so that a result that cannot be is this job's error
        message = ("done", index, pickle.dumps(fn(*args, report=report)))
    except HartFlowError as e:
        message = ("error", index, str(e))
    except Exception as e:  # the parent names it in one line; the traceback goes to stderr
        traceback.print_exc()
        message = ("error", index, f"{type(e).__name__}: {e}")
    out.put(message)


def run_parallel(
    fn: Callable[..., Any],
    jobs: Sequence[tuple],
    on_report: Callable[[int, Any], None] | None = None,
    *,
    what: str = "member",
    grace: float = 5.0,
) -> list[Any]:
    """`fn(*job, report=...)` for every job, each in its own (spawned) process, all at once;
    their results in the jobs' order. `report(payload)` inside a job calls
    `on_report(job index, payload)` here. A job that fails, or whose process ends without a
    result (`grace` seconds after it ended: killed, out of memory), stops the others and raises
    its error as one line naming it."""
    if len(jobs) == 1:  # no process needed
        return [fn(*jobs[0], report=lambda p: on_report and on_report(0, p))]
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_child, args=(fn, i, tuple(job), out)) for i, job in
             enumerate(jobs)]  # fmt: skip
    results: dict[int, Any] = {}
    ended: dict[int, float] = {}  # job -> when its process was first seen ended, no result yet
    try:
        for p in procs:
            p.start()
        while len(results) < len(jobs):
            try:
                kind, i, payload = out.get(timeout=1.0)
            except queues.Empty:
                kind = None
            if kind == "report" and on_report is not None:
                on_report(i, payload)
            elif kind == "done":
                results[i] = pickle.loads(payload)
            elif kind == "error":
                raise HartFlowError(f"{what} {i}: {payload}")
            now = time.monotonic()
            for j, p in enumerate(procs):
                gone = j not in results and p.exitcode is not None
                if gone and now - ended.setdefault(j, now) > grace:
                    raise HartFlowError(f"{what} {j} stopped without a result (exit code "
                                        f"{p.exitcode}; out of memory?)")  # fmt: skip
    finally:
        for p in procs:
            if p.is_alive() and len(results) < len(jobs):
                p.terminate()
            if p.pid is not None:
                p.join()
    return [results[i] for i in range(len(jobs))]


def totals(members: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """An ensemble's training figures from its members' (`step`, `seconds`, `parameters`):
    steps and parameters summed, the longest time."""
    return {"step": sum(int(r["step"]) for r in members),
            "seconds": max(float(r["seconds"]) for r in members),
            "parameters": sum(int(r["parameters"] or 0) for r in members)}  # fmt: skip


# ------------------------------------------------------------------------------ training
def _train_member(
    cfg: Any, out: Path, resume: bool, started: float, threads: int | None, device: str,
    tensorboard: str | None, *, report: Callable[[Any], None],
) -> dict[str, Any]:  # fmt: skip
    from hartflow.hybrid.run import train

    return train(cfg, out=out, resume=resume, progress=report, threads=threads, device=device,
                 tensorboard=tensorboard, spent=time.time() - started)  # fmt: skip


def train_ensemble(
    cfg: Any,
    *,
    out: Path,
    resume: bool,
    progress: Callable[[dict], None] | None,
    threads: int | None,
    device: str,
    tensorboard: str | Path | None,
    started: float,
) -> dict[str, Any]:
    """Train `cfg.members` members side by side into `out/member-i` (see the module docstring);
    `started` is the command's start (`time.time()`), from which every member's minutes count."""
    folders = [out / f"member-{i}" for i in range(cfg.members)]
    write_ensemble(out, folders, cfg.to_json())
    jobs = [
        (replace(cfg, members=1, seed=cfg.seed + i), folder, resume, started, threads, device,
         None if tensorboard is None else str(Path(tensorboard) / folder.name))
        for i, folder in enumerate(folders)
    ]  # fmt: skip

    def on_report(i: int, row: dict) -> None:
        if progress is not None:
            progress({**row, "member": i})

    results = run_parallel(_train_member, jobs, on_report)
    return {"out": str(out), "checkpoint": ", ".join(r["checkpoint"] for r in results),
            **totals(results), "members": results}  # fmt: skip
