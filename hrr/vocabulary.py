"""Item memory: symbols ↔ vectors, and batched cleanup of noisy vectors to the nearest symbols.

Vectors are seeded deterministically from (seed, name), so two processes that build the same
vocabulary get the same vectors without storing them.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import torch

from hrr.algebra import _normalize, check_vector, random, random_unitary
from hrr.errors import HRRError

__all__ = ["Cleanup", "Vocabulary", "name_seed", "named_vector"]


def name_seed(name: str, seed: int = 0) -> int:
    """A 63-bit seed derived from `name` and `seed` by SHA-256 (stable across processes)."""
    digest = hashlib.sha256(f"{seed}\x00{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def named_vector(
    name: str,
    d: int,
    *,
    seed: int = 0,
    unitary: bool = False,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The vector that `name` always gets under `seed`: N(0, 1/d), or unitary.

    Shapes:
        -> (d,)
    """
    sampler = random_unitary if unitary else random
    return sampler(1, d, seed=name_seed(name, seed), dtype=dtype, device=device)[0]


@dataclass(frozen=True)
class Cleanup:
    """The result of cleaning up a batch of vectors against an item memory.

    Attributes:
        indices: (*, k) long, the top-k symbol indices, best first.
        scores: (*, k) cosine similarities of those symbols.
        margin: (*) best score minus the second best (the best score itself if there is one symbol).
        accepted: (*) bool, best score >= threshold (all True without a threshold).
        vocabulary: the symbols the indices refer to.
    """

    indices: torch.Tensor
    scores: torch.Tensor
    margin: torch.Tensor
    accepted: torch.Tensor
    vocabulary: tuple[str, ...] = field(repr=False)

    @property
    def symbols(self) -> list:
        """The best symbol per vector (None where abstained), nested like the leading shape."""
        best = torch.where(self.accepted, self.indices[..., 0], -1).tolist()
        return _names(best, self.vocabulary)

    @property
    def topk_symbols(self) -> list:
        """The top-k symbols per vector, nested like the leading shape."""
        return _names(self.indices.tolist(), self.vocabulary)


def _names(ids: list | int, vocabulary: tuple[str, ...]) -> list | str | None:
    if isinstance(ids, int):
        return vocabulary[ids] if ids >= 0 else None
    return [_names(i, vocabulary) for i in ids]


class Vocabulary:
    """Symbols and their vectors, with batched cleanup.

    Args:
        d: dimension of the vectors.
        symbols: initial symbols, created from their names.
        seed: the seed that, with each name, fixes its vector.
        unitary: draw unitary vectors (for roles and positions) instead of N(0, 1/d).
        strict: if False, looking up an unknown symbol creates it instead of raising.
    """

    def __init__(
        self,
        d: int,
        symbols: Iterable[str] = (),
        *,
        seed: int = 0,
        unitary: bool = False,
        strict: bool = True,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        if d < 1:
            raise HRRError(f"Vocabulary: d must be >= 1, got {d}")
        self.d, self.seed, self.unitary, self.strict = d, seed, unitary, strict
        self.dtype, self.device = dtype, torch.device(device or "cpu")
        self._symbols: list[str] = []
        self._index: dict[str, int] = {}
        self._vectors = torch.empty(0, d, dtype=dtype, device=self.device)
        self._unit: torch.Tensor | None = None  # cached unit-norm codebook for cleanup
        self.add(*symbols)

    # ---------------------------------------------------------------------------- contents
    def __len__(self) -> int:
        return len(self._symbols)

    def __iter__(self) -> Iterator[str]:
        return iter(self._symbols)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._index

    def __repr__(self) -> str:
        return f"Vocabulary(d={self.d}, n={len(self)}, seed={self.seed}, unitary={self.unitary})"

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._symbols)

    @property
    def vectors(self) -> torch.Tensor:
        """(N, d) the stored vectors, in symbol order (read-only: edit through add/remove)."""
        return self._vectors

    def add(self, *symbols: str) -> torch.Tensor:
        """Add symbols (already present ones are kept as they are); return their vectors (n, d)."""
        new = [s for s in dict.fromkeys(symbols) if s not in self._index]
        for s in new:
            if not isinstance(s, str) or not s:
                raise HRRError(f"Vocabulary.add: symbols must be non-empty strings, got {s!r}")
        if new:
            vecs = torch.stack(
                [
                    named_vector(s, self.d, seed=self.seed, unitary=self.unitary, dtype=self.dtype)
                    for s in new
                ]
            ).to(self.device)
            self._append(new, vecs)
        return self[list(symbols)] if symbols else self._vectors[:0]

    def add_vectors(self, symbols: Sequence[str], vectors: torch.Tensor) -> None:
        """Store given vectors under new symbols (e.g. learned or composed ones)."""
        check_vector(vectors, "Vocabulary.add_vectors", "vectors")
        if vectors.shape != (len(symbols), self.d):
            raise HRRError(
                f"Vocabulary.add_vectors: expected vectors of shape ({len(symbols)}, {self.d}), "
                f"got {tuple(vectors.shape)}"
            )
        clash = [s for s in symbols if s in self._index]
        if clash or len(set(symbols)) != len(symbols):
            raise HRRError(f"Vocabulary.add_vectors: symbols already present or repeated: {clash}")
        self._append(list(symbols), vectors.to(device=self.device, dtype=self.dtype))

    def _append(self, symbols: list[str], vectors: torch.Tensor) -> None:
        for s in symbols:
            self._index[s] = len(self._symbols)
            self._symbols.append(s)
        self._vectors = torch.cat([self._vectors, vectors])
        self._unit = None

    def remove(self, *symbols: str) -> None:
        """Forget symbols; the remaining ones keep their vectors (indices shift down)."""
        self.index(list(symbols))  # raises on an unknown symbol
        gone = set(symbols)
        keep = [i for i, s in enumerate(self._symbols) if s not in gone]
        self._symbols = [self._symbols[i] for i in keep]
        self._index = {s: i for i, s in enumerate(self._symbols)}
        self._vectors = self._vectors[keep]
        self._unit = None

    def index(self, symbols: str | Sequence[str]) -> int | torch.Tensor:
        """Index of a symbol, or a LongTensor of indices for a list of symbols."""
        if not isinstance(symbols, (list, tuple)):
            return self._lookup(symbols)  # one symbol (raises HRRError if it is no string)
        return torch.tensor([self._lookup(s) for s in symbols], dtype=torch.long)

    def _lookup(self, symbol: str) -> int:
        if not isinstance(symbol, str):
            raise HRRError(f"symbols are strings, got {symbol!r} ({type(symbol).__name__})")
        if symbol not in self._index:
            if not self.strict:
                self.add(symbol)
                return self._index[symbol]
            near = ", ".join(difflib.get_close_matches(symbol, self._symbols, n=3, cutoff=0.0))
            raise HRRError(
                f"unknown symbol {symbol!r} in a vocabulary of {len(self)}"
                + (f" (nearest: {near})" if near else "")
            )
        return self._index[symbol]

    def __getitem__(self, symbols: str | Sequence[str]) -> torch.Tensor:
        """The vector of a symbol (d,), or of a list of symbols (n, d)."""
        idx = self.index(symbols)
        if isinstance(idx, int):
            return self._vectors[idx].clone()  # callers may edit it; the store stays intact
        return self._vectors[idx.to(self.device)]

    # ----------------------------------------------------------------------------- cleanup
    def scores(self, v: torch.Tensor) -> torch.Tensor:
        """Cosine of every query with every symbol, in one matrix product.

        Shapes:
            v: (*, d) -> (*, N)
        """
        check_vector(v, "cleanup", "v")
        if v.shape[-1] != self.d:
            raise HRRError(f"cleanup: query has shape {tuple(v.shape)}, vocabulary has d={self.d}")
        if not self._symbols:
            raise HRRError("cleanup: the vocabulary is empty; add symbols first")
        if self._unit is None:
            self._unit = _normalize(self._vectors)
        unit = self._unit if v.dtype == self.dtype else self._unit.to(v.dtype)
        return _normalize(v) @ unit.mT

    def cleanup(self, v: torch.Tensor, k: int = 1, *, threshold: float | None = None) -> Cleanup:
        """The `k` nearest symbols of each query, their scores and the best-vs-second margin.

        Queries whose best score is below `threshold` are marked not accepted (abstained);
        nothing raises and nothing synchronises with the host.

        Shapes:
            v: (*, d), e.g. (B, d) or (B, R, d) -> Cleanup with indices/scores (*, k)
        """
        if k < 1:
            raise HRRError(f"cleanup: k must be >= 1, got {k}")
        sims = self.scores(v)
        top, idx = sims.topk(min(max(k, 2), len(self)), dim=-1)
        margin = top[..., 0] - top[..., 1] if top.shape[-1] > 1 else top[..., 0]
        accepted = (
            torch.ones_like(margin, dtype=torch.bool)
            if threshold is None
            else top[..., 0] >= threshold
        )
        return Cleanup(idx[..., :k], top[..., :k], margin, accepted, self.symbols)
