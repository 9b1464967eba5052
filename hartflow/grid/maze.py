"""Maze-Hard: grid mazes whose answer marks a shortest start-to-goal path (HRM/TRM's Maze-Hard).

A maze is a row-major string of side² characters over CHARSET = "# SGo": '#' wall, ' ' open,
'S' start, 'G' goal, 'o' path (answers only: the cells strictly between S and G). Token = index
in CHARSET + 1: PAD 0, '#' 1, ' ' 2, 'S' 3, 'G' 4, 'o' 5; vocab_size 6, seq_len side².

`read_csv` reads the HF files of sapientinc/maze-30x30-hard-1k; `generate` re-implements the
published recipe (its docstring says where it departs, and why); `build` writes the TRM/HRM
layout; `score` also credits an equally short other path, which exact match counts wrong.

Dihedral transforms (the TRM/HRM builders' ids), on the last two axes:

    t  transform                               inverse    t  transform                 inverse
    0  identity                                0          4  flip left-right (columns)  4
    1  rotate 90° counter-clockwise (np.rot90) 3          5  flip up-down (rows)        5
    2  rotate 180°                             2          6  transpose                  6
    3  rotate 270° counter-clockwise           1          7  anti-transpose             7
"""

from __future__ import annotations

import csv
import functools
import hashlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order

from hartflow.errors import DataError
from hartflow.grid.dihedral import INVERSE as DIHEDRAL_INVERSE
from hartflow.grid.dihedral import dihedral, inverse_dihedral
from hartflow.grid.layout import SplitBuilder, write_dataset

__all__ = [
    "CHARSET", "VOCAB_SIZE", "Maze", "encode", "decode",  # data
    "generate", "default_min_path", "read_csv", "split_disjoint",  # sources
    "solve", "score",  # solving and scoring
    "DIHEDRAL_INVERSE", "dihedral", "inverse_dihedral",  # augmentation
    "build",  # data set
]  # fmt: skip

logger = logging.getLogger(__name__)

CHARSET = "# SGo"
VOCAB_SIZE = len(CHARSET) + 1  # + PAD = 0
WALL, OPEN, START, GOAL, PATH = range(1, 6)  # tokens
CSV_HEADER = ["source", "question", "answer", "rating"]
HF_REPO = "sapientinc/maze-30x30-hard-1k"

_TOKEN = np.zeros(256, np.uint8)  # byte -> token; 0 marks a byte outside CHARSET
_TOKEN[np.frombuffer(CHARSET.encode(), np.uint8)] = np.arange(1, 6)
_CHAR = np.frombuffer(b"\0" + CHARSET.encode(), np.uint8)  # token -> byte
_TRIES = 100  # start/goal draws per wall layout (the recipe's number)
_BLOCK = 256  # layouts per RNG stream (seed, block): a block is searched as one graph
_CROSS = np.zeros((3, 3, 3), bool)  # 4-neighbour links inside each board of a stack
_CROSS[1] = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class Maze:
    """One maze; `layout_id` (derived) hashes the walls, so splits can keep layouts apart."""

    question: str  # side² chars over "# SG", row-major
    answer: str  # the question with one shortest S→G path marked 'o'
    path_length: int  # steps from S to G; the path has path_length - 1 'o' cells
    layout_id: str = field(init=False)

    def __post_init__(self):
        walls = np.packbits(np.frombuffer(self.question.encode(), np.uint8) == ord("#"))
        digest = hashlib.blake2b(self.side.to_bytes(2, "little") + walls.tobytes(), digest_size=8)
        object.__setattr__(self, "layout_id", digest.hexdigest())

    @property
    def side(self) -> int:
        return math.isqrt(len(self.question))


def encode(text: str) -> np.ndarray:
    """Characters of CHARSET to tokens. Shapes: str of L chars -> (L,) uint8."""
    tokens = _TOKEN[np.frombuffer(text.encode("latin-1", "replace"), np.uint8)]
    if not tokens.all():
        raise ValueError(f"maze holds {sorted(set(text) - set(CHARSET))}; use only {CHARSET!r}")
    return tokens


def decode(tokens: np.ndarray) -> str:
    """Tokens 1..5 back to characters. Shapes: (L,) -> str of L chars."""
    tokens = np.asarray(tokens).ravel()
    if tokens.min(initial=1) < 1 or tokens.max(initial=1) >= VOCAB_SIZE:
        raise ValueError(f"maze tokens must lie in 1..{VOCAB_SIZE - 1} (PAD 0 has no character)")
    return _CHAR[tokens].tobytes().decode()


# ---------------------------------------------------------------- grid search


@functools.lru_cache(maxsize=16)
def _neighbours(side: int) -> np.ndarray:
    """(side², 4) int32 ids of the up, left, right, down neighbours; -1 off the board."""
    idx = np.arange(side * side, dtype=np.int32).reshape(side, side)
    nb = np.full((side, side, 4), -1, np.int32)
    nb[1:, :, 0], nb[:, 1:, 1], nb[:, :-1, 2], nb[:-1, :, 3] = (
        idx[:-1], idx[:, :-1], idx[:, 1:], idx[1:]
    )  # fmt: skip
    return nb.reshape(-1, 4)


def _grid_graph(open_: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr, indices) of the links between open cells of B boards as one graph (node =
    board · N + cell); each row is sorted. Shapes: open_ (B, N)."""
    b, n = open_.shape
    nb = _neighbours(side)
    glob = nb[None] + (np.arange(b, dtype=np.int32) * n)[:, None, None]  # (B, N, 4)
    ok = (nb >= 0)[None] & open_[:, :, None] & open_.ravel()[glob]  # -1 reads a cell: masked
    indptr = np.zeros(b * n + 1, np.int32)
    np.cumsum(ok.sum(2).ravel(), out=indptr[1:])
    return indptr, glob[ok]


def _bfs(graph: tuple[np.ndarray, np.ndarray], sources) -> tuple[np.ndarray, np.ndarray]:
    """Steps from the nearest source to every node (-1: unreached), and the reached nodes in BFS
    order. One C search from a virtual root linked to all sources; FIFO order puts children in
    their parents' order, so a level ends where the parents' positions pass the last level."""
    indptr, indices = graph
    m = len(indptr) - 1
    sources = np.sort(np.atleast_1d(sources))
    indptr, indices = np.append(indptr, indptr[-1] + len(sources)), np.append(indices, sources)
    full = csr_matrix((np.ones(len(indices)), indices, indptr), (m + 1, m + 1))
    order, pred = breadth_first_order(full, m, directed=True, return_predecessors=True)
    pos = np.empty(m + 1, np.int64)
    pos[order] = np.arange(len(order))
    parent = pos[pred[order[1:]]]  # nondecreasing
    ends = [1]
    while ends[-1] < len(order):
        ends.append(1 + int(np.searchsorted(parent, ends[-1])))
    dist = np.full(m + 1, -1)
    dist[order] = np.repeat(np.arange(len(ends)), np.diff(ends, prepend=0))
    return np.where(dist > 0, dist - 1, -1)[:m], order[1:]


def solve(question: str) -> tuple[str, int]:
    """The answer (one shortest S→G path marked 'o') and its length in steps.

    Ties go to the first neighbour (up, left, right, down) one step closer to G, walking from S.

    Raises:
        ValueError: length not side², S or G missing or repeated, no path, or a character
            outside CHARSET.
    """
    side = math.isqrt(len(question))
    if side < 2 or side * side != len(question):
        raise ValueError(f"a maze has side² characters (side >= 2), got {len(question)}")
    cells = encode(question).copy()
    starts, goals = np.flatnonzero(cells == START), np.flatnonzero(cells == GOAL)
    if len(starts) != 1 or len(goals) != 1:
        raise ValueError(f"a maze needs one S and one G, got {len(starts)} and {len(goals)}")
    dist = _bfs(_grid_graph((cells != WALL)[None], side), goals)[0]
    cur, nb = starts[0], _neighbours(side)
    if dist[cur] < 0:
        raise ValueError("G cannot be reached from S")
    for _ in range(dist[cur] - 1):
        cur = next(n for n in nb[cur] if n >= 0 and dist[n] == dist[cur] - 1)
        cells[cur] = PATH
    return decode(cells), int(dist[starts[0]])


# ---------------------------------------------------------------- generation


def default_min_path(side: int) -> int:
    """round(110 · (side / 30)^1.2): HRM's "> 110" on 30×30, scaled to the same hardness.

    A layout's longest shortest path grows like side^1.2 (paths near the percolation threshold
    are fractal). Measured 99th percentiles of the layout diameter at sides 6, 8, 10, 12, 15, 20,
    30: 16, 23, 30, 38, 48, 69, 108; this rule: 16, 23, 29, 37, 48, 68, 110. So small boards keep
    the top ~1 % of layouts too and need about as many layouts per maze. A linear rule would ask
    22 steps of a 6×6 board, beyond the 99.9th percentile (18).
    """
    return round(110 * (side / 30) ** 1.2)


def generate(
    count: int,
    side: int = 30,
    *,
    min_path: int | None = None,
    seed: int = 0,
    literal_recipe: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[Maze]:
    """`count` mazes with distinct wall layouts, reproducible from `seed`.

    Recipe (Searchformer's generator plus HRM's filter, reimplemented from the description):
    shuffle the N = side² cells, draw the number of walls uniformly in [⌈3N/10⌉, ⌊5N/10⌋], wall
    the first cells of the shuffle; up to 100 times draw an ordered (start, goal) pair of distinct
    free cells and take the first whose shortest path (4-neighbour BFS) has >= side steps; keep
    the maze if that path has > `min_path` steps.

    `literal_recipe=True` runs exactly that, but at 30×30 only ~1e-5 of layouts survive it
    (measured: 1 maze in 88k layouts, 150 s; ~2 days for 1000). The default applies the length
    filter to each of the 100 draws instead (a draw succeeds if its path has >= side and
    > min_path steps): walls and draws keep their distributions, layouts with more long pairs
    are favoured, and ~8e-4 of 30×30 layouts yield a maze (1000 mazes: 7.3 min on one core).
    Landmark bounds settle most draws without a search, exactly (`_bounds`).

    Args:
        min_path: keep paths longer than this; default `default_min_path(side)` (110 at 30).
        seed: everything is drawn from it; a smaller count gives a prefix of a larger one.
        progress: called as progress(mazes_so_far, count) after each maze.

    Raises:
        ValueError: count < 0, side < 2, seed < 0, or a min_path no layout can reach.
    """
    n = side * side
    if count < 0 or side < 2 or seed < 0:
        raise ValueError(f"need count >= 0, side >= 2, seed >= 0; got {count}, {side}, {seed}")
    thr = max(side - 1, default_min_path(side) if min_path is None else min_path)
    most_open = n - -(-3 * n // 10)
    if thr + 2 > most_open:  # a path of thr + 1 steps needs thr + 2 open cells
        raise ValueError(
            f"min_path {min_path} cannot be met on a {side}×{side} board with >= 30 % walls; "
            f"use at most {most_open - 2} (default {default_min_path(side)})"
        )
    mazes, seen, block = [], set(), 0
    while len(mazes) < count:
        for open_, s, g in _block(np.random.default_rng([seed, block]), side, thr, literal_recipe):
            chars = np.where(open_, ord(" "), ord("#")).astype(np.uint8)
            chars[s], chars[g] = ord("S"), ord("G")
            maze = Maze(chars.tobytes().decode(), *solve(chars.tobytes().decode()))
            assert maze.path_length > thr, f"drew {maze.path_length} steps, filter > {thr}"
            if maze.layout_id not in seen:
                seen.add(maze.layout_id)
                mazes.append(maze)
                if progress:
                    progress(len(mazes), count)
                if len(mazes) == count:
                    break
        block += 1
    return mazes


def _block(rng: np.random.Generator, side: int, thr: int, literal: bool):
    """Yield (open mask, start, goal) for each of _BLOCK layouts that yields a maze, in order."""
    n = side * side
    open_ = np.ones((_BLOCK, n), bool)  # (B, N)
    order = rng.permuted(np.tile(np.arange(n), (_BLOCK, 1)), axis=1)
    n_walls = rng.integers(-(-3 * n // 10), 5 * n // 10 + 1, size=_BLOCK)
    open_[np.repeat(np.arange(_BLOCK), n_walls), order[np.arange(n) < n_walls[:, None]]] = False
    labels = ndimage.label(open_.reshape(-1, side, side), _CROSS)[0].ravel()  # 0 = wall
    cand, land = (open_.ravel(), None) if literal else _bounds(open_, labels, side, thr)
    n_cand = cand.reshape(_BLOCK, n).sum(1)
    for i in range(_BLOCK):  # every layout draws, so both modes see the same pairs
        starts, goals = _draws(rng, np.flatnonzero(open_[i]))
        if n_cand[i] < 2:
            continue  # no pair of this layout has > thr steps
        lab = labels[i * n : (i + 1) * n]
        graph = functools.cache(lambda i=i: _grid_graph(open_[i : i + 1], side))
        if literal:  # the recipe as written: the first draw with >= side steps decides
            for s, g in zip(starts, goals, strict=True):
                if lab[s] == lab[g] and (d := _bfs(graph(), s)[0][g]) >= side:
                    if d > thr:
                        yield open_[i], s, g
                    break
            continue
        c, dl = cand[i * n : (i + 1) * n], land[:, i * n : (i + 1) * n]
        ds, dg = dl[:, starts], dl[:, goals]  # (3, T) steps to the landmarks
        maybe = c[starts] & c[goals] & (lab[starts] == lab[goals]) & ((ds + dg).min(0) > thr)
        sure = np.abs(ds - dg).max(0) > thr  # the lower bound already exceeds thr
        for k in np.flatnonzero(maybe):
            if sure[k] or _bfs(graph(), starts[k])[0][goals[k]] > thr:
                yield open_[i], starts[k], goals[k]
                break


def _bounds(open_: np.ndarray, labels: np.ndarray, side: int, thr: int):
    """Which cells can end a path of > thr steps, and landmark distances bounding each pair.

    In each component of > thr + 1 cells, BFS from three landmarks l: the cell nearest its
    centroid, the cell farthest from that, the cell farthest from that one. Every pair obeys
    |d(s,l) - d(g,l)| <= d(s,g) <= d(s,l) + d(l,g), and ecc(x) <= d(x,l) + ecc(l).

    Shapes: open_ (B, N), labels (B·N,) -> cand (B·N,) bool, land (3, B·N) steps.
    """
    graph, m, n = _grid_graph(open_, side), len(labels), open_.shape[1]
    sizes = np.bincount(labels)
    sizes[0] = 0  # walls
    comps, cells = np.flatnonzero(sizes > thr + 1), np.flatnonzero(sizes[labels] > thr + 1)
    comp = labels[cells]
    r, c = np.divmod(cells % n, side)
    key = (r - np.bincount(comp, r)[comp] / sizes[comp]) ** 2
    key += (c - np.bincount(comp, c)[comp] / sizes[comp]) ** 2
    best = np.full(len(sizes), np.iinfo(np.int64).max)
    np.minimum.at(best, comp, np.round(key * 1e3).astype(np.int64) * m + cells)
    sources = best[comps] % m  # the cells nearest the centroids
    land, ecc = np.full((3, m), -1), np.zeros((3, len(sizes)), np.int64)
    for j in range(3):
        land[j], reached = _bfs(graph, sources)
        last = np.full(len(sizes), -1)
        np.maximum.at(last, labels[reached], np.arange(len(reached)))
        sources = reached[last[comps]]  # the farthest cell of each component
        ecc[j, comps] = land[j, sources]
    cand = np.zeros(m, bool)
    cand[cells] = (land[:, cells] + ecc[:, comp]).min(0) > thr
    return cand, land


def _draws(rng: np.random.Generator, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """_TRIES ordered pairs of distinct free cells, uniformly at random."""
    s = rng.integers(len(free), size=_TRIES)
    g = rng.integers(len(free) - 1, size=_TRIES)
    return free[s], free[g + (g >= s)]


def split_disjoint(
    mazes: Sequence[Maze], n_test: int, seed: int = 0
) -> tuple[list[Maze], list[Maze]]:
    """(train, test), with every wall layout on one side only.

    Layouts go to test in a seeded random order while they fit: test holds exactly n_test mazes
    when each layout holds one (as `generate` guarantees), never more. Splits keep input order.
    """
    if not 0 <= n_test <= len(mazes):
        raise ValueError(f"n_test must lie in 0..{len(mazes)} (the number of mazes), got {n_test}")
    groups: dict[str, list[int]] = {}
    for i, m in enumerate(mazes):
        groups.setdefault(m.layout_id, []).append(i)
    members, in_test = list(groups.values()), set()
    for k in np.random.default_rng(seed).permutation(len(members)):
        if len(in_test) + len(members[k]) <= n_test:
            in_test.update(members[k])
    train = [m for i, m in enumerate(mazes) if i not in in_test]
    return train, [m for i, m in enumerate(mazes) if i in in_test]


def read_csv(path: str | Path) -> list[Maze]:
    """Mazes of a Maze-Hard CSV (`source,question,answer,rating`; source and rating unused).

    `path_length` is recomputed by BFS; the stored answer is kept (it is the papers' label)
    once it is checked to keep the question's walls.

    Raises:
        DataError: missing file, wrong header, a row without 4 fields, a non-square length,
            characters outside "# SGo" ('o' only in answers), or no path; with file and line.
    """
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            try:
                if [h.strip() for h in next(reader, [])] != CSV_HEADER:
                    raise ValueError(f"expected the header {','.join(CSV_HEADER)}")
                return [_row_maze(row) for row in reader if row]  # blank lines are skipped
            except ValueError as e:
                raise DataError(str(e), path=path, line=max(reader.line_num, 1)) from None
    except OSError as e:
        raise DataError(
            f"cannot read ({e.strerror}); get the CSVs of {HF_REPO}", path=path
        ) from None


def _row_maze(row: list[str]) -> Maze:
    if len(row) != 4:
        raise ValueError(f"expected 4 fields ({','.join(CSV_HEADER)}), got {len(row)}")
    _, question, answer, _ = row
    side = math.isqrt(len(question))
    if side < 2 or side * side != len(question) or len(answer) != len(question):
        raise ValueError(
            f"question and answer need side² characters, got {len(question)} and {len(answer)}"
        )
    for name, text, allowed in (("question", question, "# SG"), ("answer", answer, CHARSET)):
        if bad := sorted(set(text) - set(allowed)):
            raise ValueError(f"{name} holds {bad}; allowed are {allowed!r}")
    if any((q == "#") != (a == "#") for q, a in zip(question, answer, strict=True)):
        raise ValueError("answer and question differ in their walls")
    return Maze(question, answer, solve(question)[1])


# ---------------------------------------------------------------- augmentation


# ---------------------------------------------------------------- data set and scoring


def build(
    train: Sequence[Maze],
    test: Sequence[Maze],
    out: str | Path,
    *,
    aug: bool = False,
    seed: int = 0,
    source: str = "generated",
) -> Path:
    """Write the TRM/HRM layout: inputs = question tokens, labels = answer tokens, puzzle id 0.

    A train maze is a group of one puzzle, or with `aug` of its 8 dihedral variants (t = 0..7,
    the original first); test mazes are never augmented. hartflow.json records `seed`, `source`
    (a CSV path, HF_REPO or "generated") and the mean path length over train and test.
    """
    mazes = [*train, *test]
    if len(sides := {m.side for m in mazes}) != 1:
        raise ValueError(f"build needs mazes of one side, got sides {sorted(sides)}")
    side = sides.pop()
    if shared := {m.layout_id for m in train} & {m.layout_id for m in test}:
        logger.warning("%d wall layouts are in train and test; see split_disjoint", len(shared))
    splits = {}
    for name, group, n_aug in (("train", train, 8 if aug else 1), ("test", test, 1)):
        builder = SplitBuilder(seq_len=side * side)
        for m in group:
            x, y = (encode(s).reshape(side, side) for s in (m.question, m.answer))
            for t in range(n_aug):
                builder.add_puzzle(0, dihedral(x, t).ravel(), dihedral(y, t).ravel())
            builder.end_group()
        splits[name] = builder.finish()
    mean_path = float(np.mean([m.path_length for m in mazes]))
    info = {"task": "maze", "side": side, "aug": aug, "seed": seed, "source": source,
            "mean_path_length": mean_path}  # fmt: skip
    return write_dataset(out, splits, vocab_size=VOCAB_SIZE, identifiers=["<blank>"], info=info)


def score(
    inputs: np.ndarray, labels: np.ndarray, predictions: np.ndarray, side: int
) -> dict[str, float]:
    """Exact match, cell accuracy, and the share of predictions marking a shortest path.

    "exact" (the papers' metric) needs every cell to equal the label. "valid_shortest_path" also
    credits another path of the same length: walls, S and G unchanged, open cells ' ' or 'o',
    and the 'o' cells joining S to G in exactly the shortest path's number of steps.

    Shapes: inputs, labels, predictions (N, side²) tokens. Returns {"n", "exact",
    "cell_accuracy", "valid_shortest_path"}: fractions of mazes (of cells for cell_accuracy).
    """
    x, y, p = (np.asarray(a).reshape(-1, side * side) for a in (inputs, labels, predictions))
    if not len(x) == len(y) == len(p) or len(x) == 0:
        raise ValueError(
            f"need N >= 1 inputs, labels, predictions; got {len(x)}, {len(y)}, {len(p)}"
        )
    valid = [_marks_shortest_path(xi, pi, side) for xi, pi in zip(x, p, strict=True)]
    return {
        "n": len(x),
        "exact": float((p == y).all(1).mean()),
        "cell_accuracy": float((p == y).mean()),
        "valid_shortest_path": float(np.mean(valid)),
    }


def _marks_shortest_path(x: np.ndarray, p: np.ndarray, side: int) -> bool:
    """A connected set of d + 1 open cells holding S and G, d = dist(S, G), is a shortest path."""
    fixed = x != OPEN  # walls, S and G must stay as they are
    if (p[fixed] != x[fixed]).any() or not np.isin(p[~fixed], (OPEN, PATH)).all():
        return False
    starts, goals = np.flatnonzero(x == START), np.flatnonzero(x == GOAL)
    if len(starts) != 1 or len(goals) != 1:
        return False
    d = _bfs(_grid_graph((x != WALL)[None], side), starts)[0][goals[0]]
    if d < 0:
        return not (p == PATH).any()
    on = (p == PATH) | (x == START) | (x == GOAL)
    return bool(on.sum() == d + 1 and _bfs(_grid_graph(on[None], side), starts)[0][goals[0]] >= 0)
