"""Sudoku puzzles and their equivalence transforms (relabel digits, shuffle rows and columns
within bands and stacks, transpose), shared by the builder (`sudoku`) and the generator
(`sudoku_generator`) so that neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hartflow.errors import DataError
from hartflow.grid.sudoku_solver import geometry

__all__ = ["Puzzle", "Transform", "random_transform", "apply_transform", "invert_transform",
           "augment"]  # fmt: skip


@dataclass(frozen=True, eq=False)
class Puzzle:
    question: np.ndarray  # (n·n,) int8, 0 = blank
    answer: np.ndarray  # (n·n,) int8, digits 1..n
    rating: int  # guesses of the tdoku-style rater before its first solution


# --------------------------------------------------------------------------------- augmentation
@dataclass(frozen=True, eq=False)
class Transform:
    """An equivalence transform: transpose?, then reorder rows and columns, then relabel digits."""

    digits: np.ndarray  # (n + 1,) new digit of digit d; digits[0] == 0
    transpose: bool  # only for square boxes (n = 4, 9)
    rows: np.ndarray  # (n,) new row i is old row rows[i]; bands and rows within bands
    cols: np.ndarray  # (n,) the same for stacks and columns within stacks


def random_transform(size: int, rng: np.random.Generator) -> Transform:
    """A uniformly random transform of the kinds TRM/HRM's `shuffle_sudoku` draws."""
    geo = geometry(size)
    br, bc = geo.box_rows, geo.box_cols
    digits = np.concatenate([[0], rng.permutation(size) + 1]).astype(np.int8)
    transpose = bool(rng.random() < 0.5) if br == bc else False
    rows = np.concatenate([b * br + rng.permutation(br) for b in rng.permutation(size // br)])
    cols = np.concatenate([s * bc + rng.permutation(bc) for s in rng.permutation(size // bc)])
    return Transform(digits, transpose, rows, cols)


def _check_transform(t: Transform, size: int) -> None:
    geo = geometry(size)
    if t.digits.shape != (size + 1,) or t.rows.shape != (size,) or t.cols.shape != (size,):
        raise DataError(f"transform is not for a {size}×{size} board")
    if t.transpose and geo.box_rows != geo.box_cols:
        raise DataError(f"a {size}×{size} board has non-square boxes and cannot be transposed")


def apply_transform(grid: np.ndarray, t: Transform, size: int) -> np.ndarray:
    """`grid` under `t`. Law: invert_transform(apply_transform(g, t), t) == g.

    Shapes:
        grid: (..., n·n) digits; returns the same shape.
    """
    _check_transform(t, size)
    g = np.asarray(grid)
    b = g.reshape(-1, size, size)
    if t.transpose:
        b = b.transpose(0, 2, 1)
    return t.digits[b[:, t.rows][:, :, t.cols]].reshape(g.shape)


def invert_transform(grid: np.ndarray, t: Transform, size: int) -> np.ndarray:
    """The grid that `apply_transform(·, t, size)` maps to `grid` (e.g. a model's prediction).

    Shapes:
        grid: (..., n·n) digits; returns the same shape.
    """
    _check_transform(t, size)
    g = np.asarray(grid)
    b = np.argsort(t.digits).astype(t.digits.dtype)[g.reshape(-1, size, size)]
    b = b[:, np.argsort(t.rows)][:, :, np.argsort(t.cols)]
    if t.transpose:
        b = b.transpose(0, 2, 1)
    return b.reshape(g.shape)


def augment(
    question: np.ndarray, answer: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One random equivalent copy (question, answer) under `random_transform(size, rng)`."""
    t = random_transform(size, rng)
    return apply_transform(question, t, size), apply_transform(answer, t, size)
