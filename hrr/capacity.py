"""How many superposed terms a trace can hold: the analytic model, a planner, and load tracking.

The model. A trace holds k bound pairs `Σ r_i ⊛ f_i`. Unbinding one role gives
`q = f_j + n`, where the noise `n` has about `m` unit-norm random-like terms (`m = k - 1` for
unitary roles, `m = k` for Gaussian roles, whose involution leaves one more noise term). Against
a codebook of N unit vectors, the true filler scores `1 + N(0, (m + 1/2)/d)` (the 1/2 is the
spread of the filler's own norm) and each of the N - 1 others
scores `N(0, |q|²/d)` with `|q|² ≈ 1 + m`, independently given q. So

    P(correct) = E_z[ Φ((1 + z·sqrt((m + 1/2)/d)) / sqrt((1 + m)/d)) ** (N - 1) ],  z ~ N(0, 1),

computed here by Gauss–Hermite quadrature. `plate_dim` gives Plate's (2003) rule of thumb
`d ≈ 3.16 (k − 0.25) ln(N / ε³)` for comparison; it is conservative next to argmax cleanup.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np
import torch
from scipy.special import log_ndtr, ndtri

from hrr.errors import CapacityWarning, HRRError

__all__ = [
    "Bundle",
    "abstain_threshold",
    "capacity",
    "check_load",
    "plate_dim",
    "prob_correct",
    "required_dim",
]

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(96)  # ∫ f(z) φ(z) dz ≈ Σ w f(z) / √(2π)
_WEIGHTS = _WEIGHTS / math.sqrt(2 * math.pi)


def _check(d: int, k: int, n_items: int) -> None:
    if d < 1 or k < 0 or n_items < 1:
        raise HRRError(f"need d >= 1, k >= 0 and n_items >= 1, got d={d}, k={k}, n_items={n_items}")


@lru_cache(maxsize=65536)
def prob_correct(d: int, k: int, n_items: int, *, unitary_roles: bool = True) -> float:
    """Predicted probability that cleanup picks the right item out of `n_items`.

    Args:
        d: dimension.
        k: number of bound pairs superposed in the trace (its load).
        n_items: size of the codebook the unbound vector is cleaned up against.
        unitary_roles: roles unitary (exact unbinding) or Gaussian (involution leaves noise).
    """
    _check(d, k, n_items)
    if n_items == 1 or k == 0:
        return 1.0
    m = (k - 1) if unitary_roles else k
    # true score 1 + N(0, (m + 1/2)/d): the 1/2 is the spread of |f|, as |f|² ~ 1 ± sqrt(2/d)
    x = (1 + _NODES * math.sqrt((m + 0.5) / d)) / math.sqrt((1 + m) / d)  # in noise-std units
    log_p = (n_items - 1) * log_ndtr(x)
    return float(np.clip(np.sum(_WEIGHTS * np.exp(log_p)), 0.0, 1.0))


def capacity(d: int, n_items: int, p_err: float = 0.01, *, unitary_roles: bool = True) -> int:
    """The largest load k whose per-item cleanup error stays <= `p_err` (0 if even k=1 fails)."""
    _check(d, 1, n_items)
    if not 0 < p_err < 1:
        raise HRRError(f"capacity: p_err must lie in (0, 1), got {p_err}")

    def ok(k: int) -> bool:
        return 1 - prob_correct(d, k, n_items, unitary_roles=unitary_roles) <= p_err

    lo, hi = 0, 1
    while ok(hi) and hi < 1 << 30:
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # invariant: ok(lo) (or lo == 0), not ok(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def required_dim(k: int, n_items: int, p_err: float = 0.01, *, unitary_roles: bool = True) -> int:
    """The smallest d at which a load of `k` cleans up with error <= `p_err`."""
    _check(1, k, n_items)
    if not 0 < p_err < 1:
        raise HRRError(f"required_dim: p_err must lie in (0, 1), got {p_err}")

    def ok(d: int) -> bool:
        return 1 - prob_correct(d, k, n_items, unitary_roles=unitary_roles) <= p_err

    lo, hi = 0, 1
    while not ok(hi):
        lo, hi = hi, hi * 2
        if hi > 1 << 40:
            raise HRRError(f"required_dim: no d up to 2^40 holds k={k} at p_err={p_err}")
    while hi - lo > 1:  # invariant: not ok(lo), ok(hi)
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def plate_dim(k: int, n_items: int, p_err: float = 0.01) -> float:
    """Plate's (2003) rule of thumb: d ≈ 3.16 (k − 0.25) ln(n_items / p_err³)."""
    return 3.16 * (k - 0.25) * math.log(n_items / p_err**3)


def abstain_threshold(d: int, n_items: int, p_false: float = 1e-3) -> float:
    """A cosine that pure noise exceeds against any of `n_items` items with probability ~`p_false`.

    Cleanup below it should abstain: a random query has cosine ~ N(0, 1/d) with each item.
    """
    _check(d, 0, n_items)
    return float(ndtri(1 - p_false / n_items) / math.sqrt(d))


def check_load(load: int, d: int, n_items: int, p_err: float | None, *, what: str) -> None:
    """Warn with `CapacityWarning` when `load` terms exceed the capacity at `p_err`."""
    if p_err is None or load <= 1:
        return
    cap = capacity(d, n_items, p_err)
    if load > cap:
        warnings.warn(
            f"{what} superposes {load} terms but d={d} with {n_items} items holds {cap} at "
            f"p_err={p_err}; use d >= {required_dim(load, n_items, p_err)} or split the trace",
            CapacityWarning,
            stacklevel=3,
        )


class Bundle:
    """A superposition that counts its terms, so an encoder knows when it is over budget.

    Args:
        d: dimension.
        n_items: size of the codebook its contents will be cleaned up against.
        p_err: the per-item error budget.
    """

    def __init__(
        self,
        d: int,
        *,
        n_items: int,
        p_err: float = 0.01,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        _check(d, 0, n_items)
        self.d, self.n_items, self.p_err = d, n_items, p_err
        self.vector = torch.zeros(d, dtype=dtype, device=device)
        self.load = 0

    def add(self, term: torch.Tensor, *, load: int = 1) -> Bundle:
        """Superpose `term` (d,), which itself holds `load` unit terms; returns self."""
        if term.shape[-1] != self.d:
            raise HRRError(f"Bundle.add: term has shape {tuple(term.shape)}, bundle has d={self.d}")
        self.vector = self.vector + term
        self.load += load
        return self

    @property
    def capacity(self) -> int:
        return capacity(self.d, self.n_items, self.p_err)

    @property
    def over_budget(self) -> bool:
        return self.load > self.capacity

    @property
    def prob_correct(self) -> float:
        """Predicted per-item cleanup accuracy at the current load."""
        return prob_correct(self.d, max(self.load, 1), self.n_items)

    def __repr__(self) -> str:
        return f"Bundle(d={self.d}, load={self.load}, capacity={self.capacity}, p_err={self.p_err})"
