"""Sudoku board geometry and a deterministic backtracking solver that counts its backtracks.

A board of side n ∈ {4, 6, 9} is a flat row-major int array of n·n cells, 0 = blank, 1..n = digit.
Boxes are 2×2 (n=4), 2 rows × 3 columns (n=6) and 3×3 (n=9).

The solver uses one fixed heuristic, so its counts are reproducible: fill the blank cell with the
fewest candidates (ties: lowest index), trying digits in increasing order. A cell with one
candidate is forced; trying a digit at a cell with two or more candidates is a guess, and a guess
that is later undone is a *backtrack*. The backtracks before the first solution are the puzzle's
rating. Sudoku-Extreme rates by tdoku's backtracks; tdoku also propagates hidden singles and
locked candidates, so it guesses far less: our ratings are comparable in spirit, not in value.
(Measured on generated 9×9 puzzles with our rating >= 20, mean ~200: a solver that also fills
hidden singles needs ~3 backtracks on average, and none for 40 % of them.)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from hartflow.errors import DataError

SIZES = (4, 6, 9)
BOX_SHAPES = {4: (2, 2), 6: (2, 3), 9: (3, 3)}  # (rows, columns) of one box


@dataclass(frozen=True)
class Geometry:
    """Which row, column and box each cell is in, and bitmask tables for one board size."""

    size: int
    box_rows: int
    box_cols: int
    row_of: tuple[int, ...]  # (n·n,)
    col_of: tuple[int, ...]
    box_of: tuple[int, ...]
    full: int  # all n digit bits set; digit d is bit 1 << (d - 1)
    popcount: tuple[int, ...]  # (2**n,) candidates in a mask
    digits_of: tuple[tuple[tuple[int, int], ...], ...]  # (2**n,) of (bit, digit), digit increasing


@cache
def geometry(size: int) -> Geometry:
    """The (cached) geometry of an n×n board; n must be 4, 6 or 9."""
    if size not in BOX_SHAPES:
        raise DataError(f"Sudoku size must be one of {SIZES}, got {size!r}")
    br, bc = BOX_SHAPES[size]
    cells = range(size * size)
    rows = tuple(i // size for i in cells)
    cols = tuple(i % size for i in cells)
    boxes = tuple((r // br) * (size // bc) + c // bc for r, c in zip(rows, cols, strict=True))
    masks = range(1 << size)
    return Geometry(
        size,
        br,
        bc,
        rows,
        cols,
        boxes,
        (1 << size) - 1,
        tuple(bin(m).count("1") for m in masks),
        tuple(tuple((1 << k, k + 1) for k in range(size) if m >> k & 1) for m in masks),
    )


@dataclass(frozen=True, eq=False)
class SolveResult:
    n_solutions: int  # solutions found, at most `limit`
    solution: np.ndarray | None  # (n·n,) the first solution in search order, None if none
    backtracks: int  # undone guesses before the first solution (all of them if there is none)
    nodes: int  # cells filled during the whole search, forced ones included


def check_board(grid: np.ndarray, size: int, *, name: str = "grid") -> np.ndarray:
    """`grid` as a flat int8 array of n·n values in 0..n, or a DataError saying what is wrong."""
    g = np.asarray(grid)
    n = geometry(size).size
    if g.shape != (n * n,) or not np.issubdtype(g.dtype, np.integer):
        raise DataError(
            f"{name} must be a flat int array of {n * n} cells, got {g.dtype} {g.shape}"
        )
    if g.size and (g.min() < 0 or g.max() > n):
        raise DataError(
            f"{name} values must be 0 (blank) or digits 1..{n}, got {g.min()}..{g.max()}"
        )
    return g.astype(np.int8)


def solve(grid: np.ndarray, size: int, *, limit: int = 2) -> SolveResult:
    """Search for up to `limit` solutions of `grid` (limit=2 decides uniqueness).

    Givens that already clash (a digit repeated in a unit) give 0 solutions, not an error.

    Shapes:
        grid: (n·n,) ints, 0 = blank; `SolveResult.solution`: (n·n,) int8.
    """
    if limit < 1:
        raise DataError(f"limit must be >= 1, got {limit} (2 checks uniqueness)")
    g = check_board(grid, size)
    geo = geometry(size)
    row_of, col_of, box_of = geo.row_of, geo.col_of, geo.box_of
    rows, cols, boxes = [0] * size, [0] * size, [0] * size
    cells = g.tolist()
    for i, d in enumerate(cells):
        if d:
            bit = 1 << (d - 1)
            r, c, b = row_of[i], col_of[i], box_of[i]
            if (rows[r] | cols[c] | boxes[b]) & bit:
                return SolveResult(0, None, 0, 0)
            rows[r] |= bit
            cols[c] |= bit
            boxes[b] |= bit
    solutions, counts = _search(cells, rows, cols, boxes, geo, limit)
    first = np.asarray(solutions[0], np.int8) if solutions else None
    backtracks = counts[2] if solutions else counts[0]
    return SolveResult(len(solutions), first, backtracks, counts[1])


def _search(
    cells: list[int], rows: list[int], cols: list[int], boxes: list[int], geo: Geometry, limit: int
) -> tuple[list[list[int]], list[int]]:
    """Depth-first search, mutating its arguments.

    Returns:
        (solutions, [backtracks, nodes, backtracks when the first solution was found]).
    """
    row_of, col_of, box_of = geo.row_of, geo.col_of, geo.box_of
    full, popcount, digits_of = geo.full, geo.popcount, geo.digits_of
    blanks = [i for i, d in enumerate(cells) if d == 0]  # increasing index: ties go to the lowest
    solutions: list[list[int]] = []
    counts = [0, 0, 0]  # backtracks, nodes, backtracks when the first solution was found

    def fill(left: int) -> bool:  # True = stop, `limit` solutions found
        if left == 0:
            solutions.append(cells[:])
            if len(solutions) == 1:
                counts[2] = counts[0]
            return len(solutions) >= limit
        best, fewest, best_mask = -1, 99, 0
        for i in blanks:
            if cells[i]:
                continue
            mask = full & ~(rows[row_of[i]] | cols[col_of[i]] | boxes[box_of[i]])
            k = popcount[mask]
            if k < fewest:
                best, fewest, best_mask = i, k, mask
                if k < 2:
                    break
        if fewest == 0:
            return False
        r, c, b = row_of[best], col_of[best], box_of[best]
        guess = fewest > 1
        for bit, d in digits_of[best_mask]:
            cells[best] = d
            rows[r] |= bit
            cols[c] |= bit
            boxes[b] |= bit
            counts[1] += 1
            if fill(left - 1):
                return True
            cells[best] = 0
            rows[r] ^= bit
            cols[c] ^= bit
            boxes[b] ^= bit
            if guess:
                counts[0] += 1
        return False

    fill(len(blanks))
    return solutions, counts


def count_solutions(grid: np.ndarray, size: int, *, limit: int = 2) -> int:
    """How many solutions `grid` has, counting up to `limit`."""
    return solve(grid, size, limit=limit).n_solutions


def rating(grid: np.ndarray, size: int) -> int:
    """Backtracks our solver makes before its first solution (0 for a naked-singles board)."""
    return solve(grid, size, limit=1).backtracks


def valid_solutions(grids: np.ndarray, size: int) -> np.ndarray:
    """Which rows of `grids` are full boards with every digit once per row, column and box.

    Shapes:
        grids: (N, n·n) ints; returns (N,) bool.
    """
    n = geometry(size).size
    br, bc = BOX_SHAPES[size]
    g = np.asarray(grids)
    if g.ndim != 2 or g.shape[1] != n * n:
        raise DataError(f"grids must be (N, {n * n}), got {g.shape}")
    ok = np.empty(len(g), bool)
    want = np.arange(1, n + 1, dtype=np.int8)
    for lo in range(0, len(g), 65536):  # chunks bound the temporaries for millions of boards
        chunk = g[lo : lo + 65536]
        in_range = ((chunk >= 1) & (chunk <= n)).all(1)  # before the cast, which would wrap
        b = np.where(in_range[:, None], chunk, 0).astype(np.int8).reshape(-1, n, n)
        boxes = b.reshape(-1, n // br, br, n // bc, bc).transpose(0, 1, 3, 2, 4).reshape(b.shape)
        units = (b, b.transpose(0, 2, 1), boxes)  # each (M, n units, n cells)
        ok[lo : lo + 65536] = np.all([(np.sort(u, -1) == want).all((1, 2)) for u in units], 0)
        ok[lo : lo + 65536] &= in_range
    return ok


def is_valid_solution(grid: np.ndarray, size: int) -> bool:
    """True if `grid` (n·n,) is a full board with every digit once per row, column and box."""
    g = np.asarray(grid)
    n = geometry(size).size
    if g.shape != (n * n,) or not np.issubdtype(g.dtype, np.integer):
        return False
    return bool(valid_solutions(g[None], size)[0])
