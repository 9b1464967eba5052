"""A tdoku-style Sudoku rater: DPLL search with naked and hidden singles, counting guesses.

Sudoku-Extreme's `rating` is the number of guesses tdoku's solver makes. This rater searches the
same way, with a smaller set of inferences, and counts the same thing:

    propagate to a fixed point:  naked singles (a cell with one candidate is placed and removed
        from its peers) and hidden singles (a digit with one possible cell in a row, column or box
        is placed there); a cell or a unit with no room left is a contradiction;
    if unsolved, guess: take the unplaced cell with the fewest candidates (ties: lowest index),
        place its lowest candidate digit, count one guess, propagate;
    on a contradiction, undo the last guess and eliminate its digit from its cell (not a guess:
        if one candidate is left it is a naked single), propagate, and choose again.

`rating` = guesses made before the first solution. tdoku also propagates locked candidates
(pointing and claiming), so on the same puzzles it guesses less: on the published benchmark
lists, solvers of exactly this kind ("sh/m": naked + hidden singles, min-candidate branching,
e.g. norvig, kudoku, fsss2) average 2.0 to 2.2 guesses on uniformly sampled minimal puzzles and
37 to 44 on magictour_top1465, where tdoku averages 1.1 and 9.1 (tdoku's benchmarks/README.md
result tables). Our ratings are therefore of tdoku's kind but larger than tdoku's on hard sets.
Checked on the first 40 puzzles of forum_hardest_1106 (one of Sudoku-Extreme's source lists, not
shipped here): 385 guesses per puzzle for the whole search that proves uniqueness (limit=2),
where those sh/m solvers average 280 to 402 on the list's 376 puzzles and tdoku 113; 200 guesses
to the first solution (the rating).

The search runs as a numba-compiled kernel when numba is installed (`pip install
hartflow[grid]`), else as the same code in plain Python (about 100x slower; fine for tests
and small sets). Both give identical counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from hartflow.grid.sudoku_solver import check_board, geometry

try:  # optional: compiles the kernels below; the pure-Python path gives the same results
    from numba import njit as _njit

    def _jit(fn):
        return _njit(cache=True, nogil=True)(fn)

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - depends on the environment

    def _jit(fn):
        return fn

    HAVE_NUMBA = False

__all__ = ["Rating", "rate", "rating", "count_solutions", "blank_while_unique", "fill_until_unique",
           "HAVE_NUMBA"]  # fmt: skip


@dataclass(frozen=True, eq=False)
class Rating:
    n_solutions: int  # solutions found, at most `limit`
    solution: np.ndarray | None  # (n·n,) int8, the first solution found
    guesses: int  # guesses before the first solution (all of them if there is none)
    total_guesses: int  # guesses of the whole search (with limit=2: proving uniqueness)


@cache
def tables(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(peers (n², 20 for n=9), units (3n, n), popcount (2ⁿ,), digit of a one-bit mask (2ⁿ,))."""
    geo = geometry(size)
    n = geo.size
    row, col, box = (np.asarray(t) for t in (geo.row_of, geo.col_of, geo.box_of))
    units = np.concatenate(
        [np.stack([np.flatnonzero(t == u) for u in range(n)]) for t in (row, col, box)]
    ).astype(np.int16)
    cells = np.arange(n * n)
    seen = (row[:, None] == row) | (col[:, None] == col) | (box[:, None] == box)  # (n², n²)
    peers = np.stack([np.flatnonzero(seen[i] & (cells != i)) for i in cells]).astype(np.int16)
    popcount = np.array([bin(m).count("1") for m in range(1 << n)], np.int8)
    digit = np.zeros(1 << n, np.int8)
    for d in range(n):
        digit[1 << d] = d + 1
    return peers, units, popcount, digit


@_jit
def _propagate(c, placed, peers, units, full):
    """Naked and hidden singles to a fixed point, in place; False on a contradiction."""
    nn = c.shape[0]
    n_units, n = units.shape
    changed = True
    while changed:
        changed = False
        for i in range(nn):  # naked singles
            if placed[i]:
                continue
            m = c[i]
            if m == 0:
                return False
            if m & (m - 1) == 0:
                placed[i] = True
                changed = True
                for k in range(peers.shape[1]):
                    p = peers[i, k]
                    if c[p] & m:
                        c[p] &= ~m
                        if c[p] == 0:
                            return False
        if changed:
            continue
        for u in range(n_units):  # hidden singles
            once = 0
            more = 0
            for k in range(n):
                m = c[units[u, k]]
                more |= once & m
                once |= m
            if once != full:
                return False  # a digit has no cell left in this unit
            single = once & ~more
            if single:
                for k in range(n):
                    i = units[u, k]
                    m = c[i] & single
                    if m and c[i] != m:
                        if m & (m - 1):
                            return False  # two digits need this cell
                        c[i] = m
                        changed = True
    return True


@_jit
def _search(c0, peers, units, popcount, digit, full, limit, solution):
    """DPLL search; returns (solutions found, guesses before the first, guesses in all)."""
    nn = c0.shape[0]
    c = c0.copy()
    placed = np.zeros(nn, np.bool_)
    stack_c = np.empty((nn + 1, nn), c0.dtype)
    stack_p = np.empty((nn + 1, nn), np.bool_)
    stack_cell = np.empty(nn + 1, np.int64)
    stack_rest = np.empty(nn + 1, c0.dtype)
    depth, n_sol, guesses, first = 0, 0, 0, -1
    ok = _propagate(c, placed, peers, units, full)
    while True:
        if ok:
            best, fewest = -1, 99
            for i in range(nn):
                if not placed[i]:
                    k = popcount[c[i]]
                    if k < fewest:
                        best, fewest = i, k
                        if k == 2:
                            break
            if best < 0:  # every cell placed: a solution
                n_sol += 1
                if n_sol == 1:
                    first = guesses
                    for i in range(nn):
                        solution[i] = digit[c[i]]
                if n_sol >= limit:
                    break
                ok = False
                continue
            m = c[best]
            bit = m & -m
            stack_c[depth] = c
            stack_p[depth] = placed
            stack_cell[depth] = best
            stack_rest[depth] = m & ~bit
            depth += 1
            guesses += 1
            c[best] = bit
            ok = _propagate(c, placed, peers, units, full)
        else:
            if depth == 0:
                break
            depth -= 1
            c[:] = stack_c[depth]
            placed[:] = stack_p[depth]
            c[stack_cell[depth]] = stack_rest[depth]
            ok = _propagate(c, placed, peers, units, full)
    return n_sol, (first if n_sol else guesses), guesses


@_jit
def _unique(q, peers, units, popcount, digit, full, scratch):
    """True if the digit board `q` (0 = blank) has exactly one solution."""
    c = np.empty(q.shape[0], np.int32)
    for i in range(q.shape[0]):
        # int(): q is int8, and NumPy 2 keeps `1 << int8` in int8 (digit 9 would shift out)
        c[i] = (1 << (int(q[i]) - 1)) if q[i] > 0 else full
    return _search(c, peers, units, popcount, digit, full, 2, scratch)[0] == 1


@_jit
def _blank_while_unique(q, answer, order, peers, units, popcount, digit, full):
    """Blank the givens of `q` in `order`, each only if the solution stays unique (in place)."""
    scratch = np.zeros(q.shape[0], np.int8)
    for i in order:
        if q[i]:
            q[i] = 0
            if not _unique(q, peers, units, popcount, digit, full, scratch):
                q[i] = answer[i]


@_jit
def _fill_until_unique(q, answer, order, peers, units, popcount, digit, full):
    """Give the answer's digits at the cells of `order` until the solution is unique (in place)."""
    scratch = np.zeros(q.shape[0], np.int8)
    for i in order:
        if q[i] == 0:
            q[i] = answer[i]
            if _unique(q, peers, units, popcount, digit, full, scratch):
                return


def blank_while_unique(
    question: np.ndarray, answer: np.ndarray, order: np.ndarray, size: int
) -> np.ndarray:
    """A copy of `question` with its givens blanked in `order` while the solution stays unique.

    Shapes:
        question, answer: (n·n,) digits; order: (k,) cell indices.
    """
    q = check_board(question, size).copy()
    peers, units, popcount, digit = tables(size)
    _blank_while_unique(q, check_board(answer, size), np.asarray(order, np.int64), peers, units,
                        popcount, digit, (1 << size) - 1)  # fmt: skip
    return q


def fill_until_unique(
    question: np.ndarray, answer: np.ndarray, order: np.ndarray, size: int
) -> np.ndarray:
    """A copy of `question` given `answer`'s digits at the blanks of `order` until unique."""
    q = check_board(question, size).copy()
    peers, units, popcount, digit = tables(size)
    _fill_until_unique(q, check_board(answer, size), np.asarray(order, np.int64), peers, units,
                       popcount, digit, (1 << size) - 1)  # fmt: skip
    return q


def candidates(grid: np.ndarray, size: int) -> np.ndarray:
    """Candidate bitmasks (n·n,) int32: a given is its digit's bit, a blank has all n bits."""
    g = check_board(grid, size).astype(np.int32)
    full = (1 << size) - 1
    return np.where(g > 0, np.left_shift(1, np.maximum(g - 1, 0)), full).astype(np.int32)


def rate(grid: np.ndarray, size: int = 9, *, limit: int = 2) -> Rating:
    """Search `grid` for up to `limit` solutions, counting guesses (see the module docstring).

    Givens that clash give 0 solutions, not an error.

    Shapes:
        grid: (n·n,) ints, 0 = blank.
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit} (2 also checks uniqueness)")
    peers, units, popcount, digit = tables(size)
    solution = np.zeros(size * size, np.int8)
    n_sol, first, total = _search(
        candidates(grid, size), peers, units, popcount, digit, (1 << size) - 1, limit, solution
    )
    return Rating(int(n_sol), solution if n_sol else None, int(first), int(total))


def rating(grid: np.ndarray, size: int = 9) -> int:
    """Guesses before the first solution: the Sudoku-Extreme-style difficulty of `grid`."""
    return rate(grid, size, limit=1).guesses


def count_solutions(grid: np.ndarray, size: int = 9, *, limit: int = 2) -> int:
    """How many solutions `grid` has, counting up to `limit`."""
    return rate(grid, size, limit=limit).n_solutions
