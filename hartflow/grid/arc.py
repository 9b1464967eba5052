"""ARC-AGI-1/2: reader, builder to the 30×30-canvas layout, and the voting evaluator.

Builder (as TRM/HRM build ARC): colour c → token c + 2 on a 30×30 canvas, PAD 0, EOS 1 on the
row below and the column right of the grid. Each puzzle gets `aug` unique variants (a dihedral
symmetry and a permutation of colours 1..9, colour 0 fixed; deduplicated by content hash), each
with its own puzzle identifier `name|||t<t>|||<perm>`. Training puzzles put all pairs in train;
evaluation puzzles put their demonstrations in train and their test pairs in test. Train examples
are translated by a random offset (one example per puzzle left in place); test stays top-left.

Evaluator: crop each prediction to its grid, map it back through the variant's inverse colour
permutation and inverse symmetry, vote across variants by (count, mean halting score), and score
pass@k per puzzle as the fraction of its test pairs whose answer is among the top k.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hartflow.errors import DataError
from hartflow.grid.dihedral import dihedral, inverse_dihedral
from hartflow.grid.layout import Split, SplitBuilder, write_dataset

SIDE = 30
PAD, EOS, COLOUR0 = 0, 1, 2
VOCAB = 12
PASS_K = (1, 2, 5, 10, 100, 1000)
Grid = np.ndarray  # (h, w) ints 0..9
Pair = tuple[Grid, Grid]


@dataclass(frozen=True)
class Task:
    name: str
    train: list[Pair]
    test: list[Pair]


# -------------------------------------------------------------------------------------- reading
def read_folder(folder: str | Path) -> dict[str, Task]:
    """Every task JSON in `folder` (ARC format: {"train": [{"input", "output"}], "test": [...]})."""
    folder = Path(folder)
    files = sorted(folder.glob("*.json"))
    if not files:
        raise DataError(f"no ARC task JSON files in {folder}; pass --data-dir to an ARC-AGI folder")
    return {f.stem: _read_task(f) for f in files}


def _read_task(path: Path) -> Task:
    try:
        raw = json.loads(path.read_text())
        parts = {
            part: [(_grid(p["input"]), _grid(p["output"])) for p in raw[part]]
            for part in ("train", "test")
        }
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(f"not an ARC task ({type(e).__name__}: {e})", path=path) from None
    return Task(path.stem, parts["train"], parts["test"])


def _grid(rows: list[list[int]]) -> Grid:
    g = np.asarray(rows, dtype=np.int64)
    if g.ndim != 2 or not (1 <= g.shape[0] <= SIDE and 1 <= g.shape[1] <= SIDE):
        raise ValueError(f"grid of shape {g.shape}; ARC grids are 1..30 × 1..30")
    if g.min() < 0 or g.max() > 9:
        raise ValueError("colours must be 0..9")
    return g


def read_arc(data_dir: str | Path, version: int = 1) -> tuple[dict[str, Task], dict[str, Task]]:
    """(training tasks, evaluation tasks) of an ARC-AGI folder with training/ and evaluation/."""
    root = Path(data_dir)
    if not (root / "training").is_dir() and (root / f"arc-agi-{version}").is_dir():
        root = root / f"arc-agi-{version}"
    return read_folder(root / "training"), read_folder(root / "evaluation")


# ------------------------------------------------------------------------------------ encoding
def to_canvas(grid: Grid, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """(900,) tokens: the grid at `offset` on the 30×30 canvas with its EOS border."""
    canvas = np.zeros((SIDE, SIDE), np.uint8)
    r, c = offset
    h, w = grid.shape
    canvas[r : r + h, c : c + w] = grid + COLOUR0
    if r + h < SIDE:
        canvas[r + h, c : c + w + 1 if c + w < SIDE else c + w] = EOS
    if c + w < SIDE:
        canvas[r : r + h, c + w] = EOS
    return canvas.reshape(-1)


def crop(tokens: np.ndarray) -> Grid | None:
    """The largest top-left rectangle of colour tokens (2..11) → a grid of colours 0..9."""
    canvas = np.asarray(tokens).reshape(SIDE, SIDE)
    colour = (canvas >= COLOUR0) & (canvas < COLOUR0 + 10)
    best, best_area = None, 0
    width = SIDE
    for h in range(1, SIDE + 1):
        row = colour[h - 1]
        w = int(np.argmin(row[:width])) if not row[:width].all() else width
        width = w
        if width == 0:
            break
        if h * width > best_area:
            best, best_area = (h, width), h * width
    if best is None:
        return None
    return canvas[: best[0], : best[1]].astype(np.int64) - COLOUR0


@dataclass(frozen=True)
class Variant:
    """A dihedral symmetry `t` and colour map `perm` (perm[c] = new colour of c; perm[0] = 0)."""

    t: int
    perm: tuple[int, ...]

    def apply(self, grid: Grid) -> Grid:
        return np.asarray(self.perm)[dihedral(grid, self.t)]

    def invert(self, grid: Grid) -> Grid:
        inv = np.argsort(np.asarray(self.perm))
        return inverse_dihedral(inv[grid], self.t)

    def name(self, base: str) -> str:
        return f"{base}|||t{self.t}|||{''.join(map(str, self.perm))}"

    @classmethod
    def parse(cls, name: str) -> tuple[str, Variant]:
        base, t, perm = name.split("|||")
        return base, cls(int(t[1:]), tuple(int(ch) for ch in perm))


IDENTITY = Variant(0, tuple(range(10)))


def variants(task: Task, count: int, rng: np.random.Generator) -> list[Variant]:
    """The identity plus up to `count` distinct random variants (distinct by content)."""
    seen = {_digest(task, IDENTITY)}
    out = [IDENTITY]
    for _ in range(5 * count):
        if len(out) > count:
            break
        v = Variant(int(rng.integers(8)), (0, *(int(c) for c in rng.permutation(9) + 1)))
        key = _digest(task, v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def _digest(task: Task, v: Variant) -> bytes:
    h = hashlib.sha256()
    for pair in task.train + task.test:
        for g in pair:
            a = v.apply(g)
            h.update(np.asarray(a.shape, np.int64).tobytes() + a.astype(np.uint8).tobytes())
    return h.digest()


# -------------------------------------------------------------------------------------- build
def build(
    training: dict[str, Task],
    evaluation: dict[str, Task],
    out: str | Path,
    *,
    aug: int = 1000,
    seed: int = 42,
    version: int = 1,
    progress=None,
) -> Path:
    """Write the ARC data set (train: all training pairs + evaluation demos; test: eval tests)."""
    rng = np.random.default_rng(seed)
    identifiers = ["<blank>"]
    train, test = SplitBuilder(SIDE * SIDE), SplitBuilder(SIDE * SIDE)
    tasks = [(t, False) for t in training.values()] + [(t, True) for t in evaluation.values()]
    for done, (task, is_eval) in enumerate(tasks, 1):
        demos = task.train if is_eval else task.train + task.test
        for v in variants(task, aug, rng):
            identifiers.append(v.name(task.name))
            pid = len(identifiers) - 1
            keep = int(rng.integers(len(demos)))  # this example stays untranslated
            ins, labs = [], []
            for i, (x, y) in enumerate(demos):
                x, y = v.apply(x), v.apply(y)
                off = (0, 0) if i == keep else _offset(x, y, rng)
                ins.append(to_canvas(x, off))
                labs.append(to_canvas(y, off))
            train.add_puzzle(pid, np.stack(ins), np.stack(labs))
            if is_eval:
                xs = [to_canvas(v.apply(x)) for x, _ in task.test]
                ys = [to_canvas(v.apply(y)) for _, y in task.test]
                test.add_puzzle(pid, np.stack(xs), np.stack(ys))
        train.end_group()
        test.end_group()
        if progress:
            progress(done, len(tasks))
    raw_tests = {
        t.name: [{"input": x.tolist(), "output": y.tolist()} for x, y in t.test]
        for t in evaluation.values()
    }
    info = {"task": "arc", "version": version, "aug": aug, "seed": seed,
            "training_tasks": len(training), "evaluation_tasks": len(evaluation)}  # fmt: skip
    return write_dataset(
        out,
        {"train": train.finish(), "test": test.finish()},
        vocab_size=VOCAB,
        identifiers=identifiers,
        info=info,
        extra_files={"test_puzzles.json": raw_tests},
    )


def _offset(x: Grid, y: Grid, rng: np.random.Generator) -> tuple[int, int]:
    """A random top-left offset at which both grids and their EOS border fit."""
    h = max(x.shape[0], y.shape[0])
    w = max(x.shape[1], y.shape[1])
    return int(rng.integers(SIDE - h + 1)), int(rng.integers(SIDE - w + 1))


# ----------------------------------------------------------------------------------- evaluate
@dataclass
class Votes:
    """Votes per (task, test pair) → answer: [count, summed halting score]. Plain dicts, so ranks
    of a distributed run can gather them (`torch.distributed.gather_object`) and `merge`; make a
    fresh `Votes` per checkpoint and nothing leaks between checkpoints."""

    table: dict

    @classmethod
    def empty(cls) -> Votes:
        return cls({})

    def add(self, task: str, pair: int, answer: Grid, q: float) -> None:
        key = (tuple(answer.shape), answer.astype(np.uint8).tobytes())
        entry = self.table.setdefault((task, pair), {}).setdefault(key, [0, 0.0])
        entry[0] += 1
        entry[1] += q

    def merge(self, other: Votes) -> Votes:
        for k, answers in other.table.items():
            for a, (n, q) in answers.items():
                entry = self.table.setdefault(k, {}).setdefault(a, [0, 0.0])
                entry[0] += n
                entry[1] += q
        return self

    def ranked(self, task: str, pair: int) -> list[tuple]:
        """Answers best first: most votes, then highest mean halting score."""
        answers = self.table.get((task, pair), {})
        return sorted(
            answers, key=lambda a: (answers[a][0], answers[a][1] / answers[a][0]), reverse=True
        )


def collect_votes(
    split: Split,
    identifiers: list[str],
    predictions: np.ndarray,
    q_halt: np.ndarray | None = None,
    *,
    into: Votes | None = None,
) -> Votes:
    """Votes from test-split predictions (N, 900), one per example, mapped back to the original.

    Each call starts from empty votes unless `into` is given (accumulating across checkpoints is
    then the caller's explicit choice)."""
    votes = Votes.empty() if into is None else into
    q = np.zeros(len(predictions)) if q_halt is None else np.asarray(q_halt, float)
    for p, pid in enumerate(split.puzzle_identifiers):
        base, v = Variant.parse(identifiers[pid])
        lo, hi = split.puzzle_indices[p], split.puzzle_indices[p + 1]
        for pair, ex in enumerate(range(lo, hi)):
            grid = crop(predictions[ex])
            if grid is not None:
                votes.add(base, pair, v.invert(grid), float(q[ex]))
    return votes


def gather_votes(votes: Votes) -> Votes:
    """All ranks' votes merged (every rank gets the sum); unchanged in a single process."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return votes
    parts: list = [None] * dist.get_world_size()
    dist.all_gather_object(parts, votes.table)
    merged = Votes.empty()
    for table in parts:
        merged.merge(Votes(table))
    return merged


def score(votes: Votes, test_puzzles: dict[str, list[dict]], ks: Iterable[int] = PASS_K) -> dict:
    """pass@k: per puzzle the fraction of test pairs answered within the top k, averaged."""
    ks = tuple(ks)
    totals = dict.fromkeys(ks, 0.0)
    for task, pairs in test_puzzles.items():
        for pair, raw in enumerate(pairs):
            truth = np.asarray(raw["output"], np.uint8)
            key = (tuple(truth.shape), truth.tobytes())
            ranked = votes.ranked(task, pair)
            for k in ks:
                totals[k] += (key in ranked[:k]) / len(pairs)
    n = max(len(test_puzzles), 1)
    return {f"pass@{k}": totals[k] / n for k in ks}
