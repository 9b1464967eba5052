"""The tdoku-style rater (naked + hidden singles, DPLL guesses) and the hard-puzzle generator.

The rater is checked against `naive_guesses`, the same rule spelled out here with Python sets,
and its solutions against the exact-cover solver of test_sudoku; hard puzzles' uniqueness is
checked by that exact-cover solver too.
"""

from __future__ import annotations

import numpy as np
import pytest

from hartflow.errors import DataError
from hartflow.grid import sudoku_rater
from hartflow.grid.sudoku import apply_transform, generate, random_transform
from hartflow.grid.sudoku_rater import count_solutions, rate, rating

from .test_sudoku import BOX, EULER, EULER_SOLUTION, board, exact_cover_solutions, valid_by_sets

# Arto Inkala's "hardest Sudoku" (2012): many guesses for singles-only solvers.
INKALA = "800000000003600000070090200050007000000045700000100030001000068008500010090000400"


def units(n: int) -> list[set[int]]:
    """Rows, columns and boxes of an n×n board as sets of cell indices."""
    br, bc = BOX[n]
    rows = [{r * n + c for c in range(n)} for r in range(n)]
    cols = [{r * n + c for r in range(n)} for c in range(n)]
    boxes = [
        {(r0 + r) * n + c0 + c for r in range(br) for c in range(bc)}
        for r0 in range(0, n, br)
        for c0 in range(0, n, bc)
    ]
    return rows + cols + boxes


def naive_guesses(grid: np.ndarray, n: int) -> tuple[int, list[int] | None]:
    """(guesses before the first solution, that solution): the module's rule with sets."""
    groups = units(n)
    peers = [set().union(*(u for u in groups if i in u)) - {i} for i in range(n * n)]
    cands = [{d} if d else set(range(1, n + 1)) for d in grid.tolist()]
    guesses = [0]

    def propagate(c):
        placed = set()
        while True:
            changed = False
            for i in range(n * n):
                if not c[i]:
                    return False
                if len(c[i]) == 1 and i not in placed:
                    placed.add(i)
                    changed = True
                    for p in peers[i]:
                        c[p] = c[p] - c[i]
                        if not c[p]:
                            return False
            if changed:
                continue
            for u in groups:
                for d in range(1, n + 1):
                    where = [i for i in u if d in c[i]]
                    if not where:
                        return False
                    if len(where) == 1 and len(c[where[0]]) > 1:
                        c[where[0]] = {d}
                        changed = True
            if not changed:
                return True

    def search(c):
        if not propagate(c):
            return None
        open_cells = [i for i in range(n * n) if len(c[i]) > 1]
        if not open_cells:
            return [next(iter(s)) for s in c]
        cell = min(open_cells, key=lambda i: (len(c[i]), i))
        d = min(c[cell])
        guesses[0] += 1
        tried = [set(s) for s in c]
        tried[cell] = {d}
        found = search(tried)
        if found is not None:
            return found
        rest = [set(s) for s in c]
        rest[cell] = c[cell] - {d}
        return search(rest)

    solution = search(cands)
    return guesses[0], solution


class TestRate:
    def test_known_puzzles(self):
        r = rate(board(EULER), 9)
        assert r.n_solutions == 1 and "".join(map(str, r.solution)) == EULER_SOLUTION
        hard = rate(board(INKALA), 9)
        assert hard.n_solutions == 1 and hard.guesses > 20
        assert hard.total_guesses >= hard.guesses

    def test_guesses_follow_the_stated_rule(self):
        puzzles = [board(EULER), board(INKALA), *(p.question for p in generate(6, 9, seed=2))]
        for q in puzzles:
            want, solution = naive_guesses(q, 9)
            r = rate(q, 9, limit=1)
            assert (r.guesses, r.solution.tolist()) == (want, solution)
        assert rating(board(INKALA), 9) > 0  # the comparison is not vacuous

    @pytest.mark.parametrize("size", [4, 6, 9])
    def test_solutions_agree_with_exact_cover(self, size):
        rng = np.random.default_rng(size)
        full = generate(1, size, seed=size)[0].answer
        for _ in range(5):
            q = np.where(rng.random(size * size) < 0.55, 0, full).astype(np.int8)
            want = exact_cover_solutions(q, size, limit=3)
            assert count_solutions(q, size, limit=3) == min(len(want), 3)
            got = rate(q, size, limit=1).solution
            assert valid_by_sets(got, size) and ((q == 0) | (q == got)).all()
            if len(want) == 1:
                assert got.tolist() == want[0]

    def test_edge_cases(self):
        full = board(EULER_SOLUTION)
        assert rate(full, 9).guesses == 0 and rate(full, 9).n_solutions == 1
        clash = board(EULER)
        clash[1] = clash[0] = 3
        assert rate(clash, 9).n_solutions == 0 and rate(clash, 9).solution is None
        assert count_solutions(np.zeros(16, np.int8), 4, limit=300) == 288
        with pytest.raises(ValueError, match="limit must be >= 1"):
            rate(full, 9, limit=0)
        with pytest.raises(DataError):
            rate(full[:80], 9)

    def test_rating_depends_on_order_not_on_the_puzzle_class(self):
        """Equivalent copies have the same solution count but may rate differently."""
        rng = np.random.default_rng(0)
        q = board(INKALA)
        copies = [apply_transform(q, random_transform(9, rng), 9) for _ in range(6)]
        assert all(rate(c, 9).n_solutions == 1 for c in copies)
        assert len({rating(c, 9) for c in [q, *copies]}) > 1

    @pytest.mark.skipif(not sudoku_rater.HAVE_NUMBA, reason="numba not installed")
    def test_compiled_and_python_kernels_agree(self, monkeypatch):
        puzzles = [board(INKALA), *(p.question for p in generate(4, 9, seed=5))]
        compiled = [rate(q, 9) for q in puzzles]
        for name in ("_propagate", "_search"):
            monkeypatch.setattr(sudoku_rater, name, getattr(sudoku_rater, name).py_func)
        for q, c in zip(puzzles, compiled, strict=True):
            p = rate(q, 9)
            assert (p.n_solutions, p.guesses, p.total_guesses) == (
                c.n_solutions,
                c.guesses,
                c.total_guesses,
            )


class TestUniqueHelpers:
    def test_blank_and_fill(self):
        answer = board(EULER_SOLUTION)
        order = np.random.default_rng(0).permutation(81)
        q = sudoku_rater.blank_while_unique(answer, answer, order, 9)
        assert exact_cover_solutions(q, 9) == [answer.tolist()]
        for i in np.flatnonzero(q):  # minimal
            fewer = q.copy()
            fewer[i] = 0
            assert count_solutions(fewer, 9) == 2
        emptier = q.copy()
        emptier[np.flatnonzero(q)[:3]] = 0
        filled = sudoku_rater.fill_until_unique(emptier, answer, order, 9)
        assert count_solutions(filled, 9) == 1 and ((filled == 0) | (filled == answer)).all()


SLOW_WITHOUT_NUMBA = pytest.mark.skipif(
    not sudoku_rater.HAVE_NUMBA, reason="annealing in pure Python takes minutes: pip install numba"
)


class TestGenerateHard:
    @SLOW_WITHOUT_NUMBA
    def test_hard_puzzles_are_rated_unique_and_reproducible(self):
        hard = generate(2, 9, min_rating=15, seed=1)
        for p in hard:
            assert p.rating >= 15 and p.rating == rating(p.question, 9)
            assert exact_cover_solutions(p.question, 9) == [p.answer.tolist()]
        again = generate(2, 9, min_rating=15, seed=1, workers=2)
        assert [p.question.tolist() for p in again] == [p.question.tolist() for p in hard]

    @SLOW_WITHOUT_NUMBA
    def test_much_harder_than_easy(self):
        easy = generate(4, 9, seed=7)
        hard = generate(4, 9, min_rating=10, seed=7)
        assert np.mean([p.rating for p in hard]) > 3 * max(1.0, np.mean([p.rating for p in easy]))

    @pytest.mark.parametrize("kwargs", [{"n_views": 0}, {"steps": 0}, {"workers": 0}])
    def test_bad_arguments(self, kwargs):
        with pytest.raises(DataError, match="need count"):
            generate(1, 9, min_rating=5, **kwargs)
