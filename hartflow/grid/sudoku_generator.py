"""Sudoku generation: random minimal puzzles, and hard ones by annealing on the tdoku-style rating.

Easy (`min_rating=0`): a random full board, then its cells blanked in a random order while the
solution stays unique, so the puzzle is minimal. Random minimal 9×9 puzzles are easy: about 2
guesses on average by `sudoku_rater` (as the uniformly sampled lists of tdoku's benchmarks).

Hard (`min_rating=K > 0`): from a random minimal puzzle, simulated annealing over puzzles with the
same answer. A move blanks one or two givens, adds givens of the answer at random cells until the
solution is unique again, and blanks redundant givens (minimal again). Its score is the mean
rating over `n_views` random equivalent copies (relabelled, rows/columns shuffled, transposed):
the rating of one fixed copy depends on the order the search meets cells and digits, and a
search on it would find lucky orders rather than hard puzzles. Moves that lower the score by Δ
are taken with probability exp(-Δ / temperature). Once the score reaches K, a fresh random
equivalent copy is drawn (up to `n_views` times) until its own rating is >= K; that copy is the
puzzle, and its rating is the one stored. Sudoku-Extreme's puzzles are likewise randomly
permuted copies rated as stored.

Every puzzle's uniqueness is checked a second time by the independent backtracking solver of
`sudoku_solver`, and its answer must match. Puzzle i draws only from a generator seeded by
(seed, i): the same seed gives the same puzzles whatever `workers` is, and `generate(10, ...)`
starts with `generate(5, ...)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from hartflow.errors import DataError
from hartflow.grid import sudoku_rater, sudoku_solver
from hartflow.grid.sudoku_transform import Puzzle, apply_transform, random_transform

__all__ = ["generate", "HARD_STEPS"]

HARD_STEPS = 3000  # default annealing moves per attempt before starting over from a new board
TEMPERATURE = 2.0  # guesses; a move costing Δ guesses is taken with probability exp(-Δ/T)
GOAL = 1.5  # anneal until the mean over the views is >= GOAL·min_rating (the views overfit)


def generate(
    count: int,
    size: int,
    *,
    min_rating: int = 0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    max_attempts: int = 1000,
    n_views: int = 4,
    steps: int = HARD_STEPS,
    workers: int = 1,
) -> list[Puzzle]:
    """`count` distinct puzzles with unique solutions and `rating >= min_rating` (module doc).

    Args:
        min_rating: 0 = random minimal puzzles; K > 0 = anneal until rated >= K (9×9: K = 20
            gives a set whose mean rating is well above 20; 4×4 puzzles are always rated 0).
        max_attempts: fresh boards tried per puzzle (min_rating = 0: random minimal puzzles;
            else annealing runs of HARD_STEPS moves).
        n_views: random equivalent copies whose mean rating scores a hard candidate.
        steps: annealing moves per attempt (min_rating > 0).
        workers: processes (puzzles are independent; results do not depend on it).

    Raises:
        DataError: bad arguments, or a puzzle that needs more than `max_attempts` attempts.
    """
    sudoku_solver.geometry(size)
    if min(count, min_rating) < 0 or min(max_attempts, n_views, steps, workers) < 1:
        raise DataError(
            "need count, min_rating >= 0 and max_attempts, n_views, steps, workers >= 1, got "
            f"{count}, {min_rating}, {max_attempts}, {n_views}, {steps} and {workers}"
        )
    jobs = [(i, size, min_rating, seed, max_attempts, n_views, steps) for i in range(count)]
    pool = ProcessPoolExecutor(workers) if workers > 1 and count > 1 else None
    puzzles: list[Puzzle] = []
    seen: set[bytes] = set()
    try:
        firsts = pool.map(_first, jobs) if pool else (None for _ in jobs)
        for job, first in zip(jobs, firsts, strict=True):
            # a worker's first puzzle is the answer unless it repeats an earlier one; then
            # continue the same stream here (what a single process does from the start)
            if first is None or first.question.tobytes() in seen:
                first = next((p for p in _candidates(*job) if p.question.tobytes() not in seen),
                             None)  # fmt: skip
            if first is None:
                raise DataError(
                    f"puzzle {job[0]}: no new {size}×{size} puzzle with rating >= {min_rating} "
                    f"in {max_attempts} attempts; lower min_rating or raise max_attempts"
                )
            seen.add(first.question.tobytes())
            puzzles.append(first)
            if progress:
                progress(len(puzzles), count)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    return puzzles


def _first(job: tuple[int, ...]) -> Puzzle | None:
    return next(_candidates(*job), None)


def _candidates(
    i: int, size: int, min_rating: int, seed: int, max_attempts: int, n_views: int, steps: int
) -> Iterator[Puzzle]:
    """Puzzle i's candidates in order, one per successful attempt, from its own generator."""
    rng = np.random.default_rng([seed, i])
    for _ in range(max_attempts):
        answer = _random_solution(size, rng)
        question = _remove_clues(answer, answer, size, rng)
        if min_rating == 0:
            puzzle = Puzzle(question, answer, sudoku_rater.rating(question, size))
        else:
            puzzle = _anneal(question, answer, size, rng, min_rating, n_views, steps)
        if puzzle is not None:
            _check_unique(puzzle, size)
            yield puzzle


def _random_solution(size: int, rng: np.random.Generator) -> np.ndarray:
    """A random full board: random digits in independent diagonal boxes, solved, then shuffled."""
    geo = sudoku_solver.geometry(size)
    n, br, bc = size, geo.box_rows, geo.box_cols
    for _ in range(100):
        board = np.zeros((n, n), np.int8)
        for k in range(min(n // br, n // bc)):  # boxes (k, k) share no row, column or box
            board[k * br : (k + 1) * br, k * bc : (k + 1) * bc] = (
                rng.permutation(n).reshape(br, bc) + 1
            )
        found = sudoku_solver.solve(board.ravel(), size, limit=1).solution
        if found is not None:  # the solver's completion is lexicographically biased: shuffle it
            return apply_transform(found, random_transform(size, rng), size)
    raise AssertionError(f"100 random diagonal-box fillings of a {n}×{n} board had no completion")


def _remove_clues(
    start: np.ndarray, answer: np.ndarray, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Blank the givens of `start` in a random order while the solution stays unique."""
    return sudoku_rater.blank_while_unique(start, answer, rng.permutation(size * size), size)


def _anneal(
    question: np.ndarray,
    answer: np.ndarray,
    size: int,
    rng: np.random.Generator,
    min_rating: int,
    n_views: int,
    steps: int,
) -> Puzzle | None:
    """Anneal from `question` (module doc): a copy rated >= min_rating, or None."""
    views = [random_transform(size, rng) for _ in range(n_views)]

    def score(q: np.ndarray) -> float:
        return float(np.mean([sudoku_rater.rating(apply_transform(q, t, size), size)
                              for t in views]))  # fmt: skip

    current = score(question)
    for _ in range(steps):
        if current >= GOAL * min_rating:  # one fresh copy per move: little room for luck
            t = random_transform(size, rng)
            q, a = apply_transform(question, t, size), apply_transform(answer, t, size)
            r = sudoku_rater.rating(q, size)
            if r >= min_rating:
                return Puzzle(q, a, r)
        candidate = _neighbour(question, answer, size, rng)
        s = score(candidate)
        if s >= current or rng.random() < math.exp((s - current) / TEMPERATURE):
            question, current = candidate, s
    return None


def _neighbour(
    question: np.ndarray, answer: np.ndarray, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Blank 1-2 givens, add answer digits at random blanks until unique, make minimal."""
    q = question.copy()
    givens = np.flatnonzero(q)
    q[rng.choice(givens, min(len(givens), int(rng.integers(1, 3))), replace=False)] = 0
    q = sudoku_rater.fill_until_unique(q, answer, rng.permutation(np.flatnonzero(q == 0)), size)
    return _remove_clues(q, answer, size, rng)


def _check_unique(puzzle: Puzzle, size: int) -> None:
    """The independent solver agrees: exactly one solution, the stored answer."""
    check = sudoku_solver.solve(puzzle.question, size, limit=2)
    if check.n_solutions != 1 or not np.array_equal(check.solution, puzzle.answer):
        raise AssertionError(
            f"rater and solver disagree: the solver finds {check.n_solutions} solution(s)"
        )
