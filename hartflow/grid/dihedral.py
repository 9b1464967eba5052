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
    """Apply symmetry `t` (0..7) to the last two axes of `grid` (a view where numpy allows).

    Law: `inverse_dihedral(dihedral(g, t), t) == g`.

    Shapes:
        (..., H, W) -> (..., H, W), or (..., W, H) for t in {1, 3, 6, 7}
    """
    if t not in range(8):
        raise ValueError(f"dihedral transform ids are 0..7, got {t}")
    g = np.asarray(grid)
    if t < 4:
        return np.rot90(g, t, axes=(-2, -1))
    if t in (4, 5):
        return g[..., :, ::-1] if t == 4 else g[..., ::-1, :]
    transposed = np.swapaxes(g, -1, -2)
    return transposed if t == 6 else transposed[..., ::-1, ::-1]


def inverse_dihedral(grid: np.ndarray, t: int) -> np.ndarray:
    """Undo `dihedral(·, t)`: rotations by 90 and 270 swap, reflections are their own inverse."""
    if t not in range(8):
        raise ValueError(f"dihedral transform ids are 0..7, got {t}")
    return dihedral(grid, INVERSE[t])
