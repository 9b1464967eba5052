"""The 8 symmetries of a square grid (the dihedral group D4), numbered as TRM/HRM number them.

    0 identity   1 rot90   2 rot180   3 rot270   4 flip left-right   5 flip up-down
    6 transpose  7 anti-transpose (flip left-right of rot90)

Rotations are counter-clockwise (`numpy.rot90`). `INVERSE[t]` undoes `t`: rot90 ↔ rot270, every
reflection is its own inverse. Non-square grids work too (rot90 swaps the sides).
"""

from __future__ import annotations

import numpy as np

INVERSE = (0, 3, 2, 1, 4, 5, 6, 7)


def dihedral(grid: np.ndarray, t: int) -> np.ndarray:
    """Apply symmetry `t` (0..7) to a 2-D grid."""
    if t == 0:
        return grid
    if t in (1, 2, 3):
        return np.rot90(grid, k=t)
    if t == 4:
        return np.fliplr(grid)
    if t == 5:
        return np.flipud(grid)
    if t == 6:
        return grid.T
    if t == 7:
        return np.fliplr(np.rot90(grid, k=1))
    raise ValueError(f"dihedral transform id must be 0..7, got {t}")


def inverse_dihedral(grid: np.ndarray, t: int) -> np.ndarray:
    """Undo `dihedral(·, t)`."""
    return dihedral(grid, INVERSE[t])
