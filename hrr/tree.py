"""Trees by recursive binding: `enc(node) = label + Σ_i r_i ⊛ Π(enc(child_i))`.

`r_i` are unitary child roles and `Π` a fixed random permutation. Both are orthogonal maps, so
every node's label lands in the trace through an exactly invertible path map; and because `Π` is
not a cyclic shift it does not commute with binding, so the path (0, 1) differs from (1, 0)
(with roles alone, `r_0 ⊛ r_1 == r_1 ⊛ r_0` and such paths would collide).

Decoding reads the node on the frontier with the clearest cleanup, subtracts its label from the
trace (explaining it away), opens its child slots, and stops when no slot clears the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hrr.algebra import bind, check_vector, permute, random_permutation, random_unitary, unbind
from hrr.capacity import abstain_threshold, check_load
from hrr.errors import HRRError
from hrr.vocabulary import Vocabulary, name_seed

__all__ = ["Tree", "TreeCodec"]


@dataclass(frozen=True)
class Tree:
    """A labelled ordered tree."""

    label: str
    children: tuple[Tree, ...] = ()

    @classmethod
    def from_nested(cls, x: str | tuple | list) -> Tree:
        """Build from `"leaf"` or `(label, [child, ...])`."""
        if isinstance(x, str):
            return cls(x)
        if isinstance(x, (tuple, list)) and len(x) == 2 and isinstance(x[0], str):
            return cls(x[0], tuple(cls.from_nested(c) for c in x[1]))
        raise HRRError(f"Tree.from_nested: expected 'label' or (label, [children]), got {x!r}")

    def __len__(self) -> int:
        return 1 + sum(len(c) for c in self.children)

    @property
    def depth(self) -> int:
        return 1 + max((c.depth for c in self.children), default=0)

    def labels(self) -> list[str]:
        return [self.label, *(lab for c in self.children for lab in c.labels())]


class TreeCodec:
    """Encoder/decoder for trees of arity <= `max_arity` in dimension `d`.

    Args:
        d: dimension.
        max_arity: number of child roles.
        seed: fixes the roles and the permutation.
    """

    def __init__(
        self,
        d: int,
        *,
        max_arity: int = 2,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        if max_arity < 1 or d < 2:
            raise HRRError(f"TreeCodec: need max_arity >= 1 and d >= 2, got {max_arity}, {d}")
        self.d, self.max_arity = d, max_arity
        s = name_seed("<tree>", seed)
        self.roles = random_unitary(max_arity, d, seed=s, dtype=dtype, device=device)  # (A, d)
        self.perm = random_permutation(d, seed=s).to(device)
        self.inv_perm = torch.argsort(self.perm)

    def _down(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """The child-slot map T_i(x) = r_i ⊛ Π(x)."""
        return bind(self.roles[i], permute(x, perm=self.perm))

    def _up(self, y: torch.Tensor, i: int) -> torch.Tensor:
        """Its exact inverse T_i⁻¹(y) = Π⁻¹(r_i⁻¹ ⊛ y)."""
        return permute(unbind(y, self.roles[i]), perm=self.inv_perm)

    def _path_term(self, label: torch.Tensor, path: tuple[int, ...]) -> torch.Tensor:
        for i in reversed(path):
            label = self._down(label, i)
        return label

    def encode(self, tree: Tree, labels: Vocabulary, *, p_err: float | None = 0.01) -> torch.Tensor:
        """The vector of `tree`; labels come from `labels`.

        Shapes:
            -> (d,)
        """
        if labels.d != self.d:
            raise HRRError(f"TreeCodec.encode: labels have d={labels.d}, codec d={self.d}")
        check_load(len(tree), self.d, len(labels), p_err, what="TreeCodec.encode")
        return self._encode(tree, labels)

    def _encode(self, tree: Tree, labels: Vocabulary) -> torch.Tensor:
        if len(tree.children) > self.max_arity:
            raise HRRError(
                f"TreeCodec: node {tree.label!r} has {len(tree.children)} children, "
                f"max_arity is {self.max_arity}"
            )
        v = labels[tree.label]
        for i, child in enumerate(tree.children):
            v = v + self._down(self._encode(child, labels), i)
        return v

    def decode(
        self,
        v: torch.Tensor,
        labels: Vocabulary,
        *,
        max_depth: int = 8,
        threshold: float | None = None,
    ) -> Tree | None:
        """Read a tree back from `v`; None if not even the root clears the threshold.

        Args:
            v: the tree vector (d,).
            labels: the label vocabulary used to encode.
            max_depth: deepest level to look at (the root is depth 1).
            threshold: abstain below this cosine; default `abstain_threshold(d, len(labels))`.
        """
        check_vector(v, "TreeCodec.decode", "v")
        if v.shape != (self.d,):
            raise HRRError(f"TreeCodec.decode: v must have shape ({self.d},), got {tuple(v.shape)}")
        if threshold is None:
            threshold = abstain_threshold(self.d, len(labels))
        residual = v
        frontier: list[tuple[int, ...]] = [()]
        found: dict[tuple[int, ...], str] = {}
        floor = 1e-4 * float(torch.linalg.vector_norm(v))  # below it, everything is explained
        while frontier and float(torch.linalg.vector_norm(residual)) > floor:
            queries = torch.stack([self._read(residual, path) for path in frontier])  # (F, d)
            c = labels.cleanup(queries)
            live = c.scores[:, 0] >= threshold
            if not bool(live.any()):
                break
            best = int(c.margin.masked_fill(~live, -torch.inf).argmax())
            path = frontier.pop(best)
            found[path] = labels.symbols[int(c.indices[best, 0])]
            residual = residual - self._path_term(labels[found[path]], path)
            if len(path) + 1 < max_depth:
                frontier.extend((*path, i) for i in range(self.max_arity))
        return _assemble(found, (), self.max_arity) if () in found else None

    def _read(self, residual: torch.Tensor, path: tuple[int, ...]) -> torch.Tensor:
        for i in path:
            residual = self._up(residual, i)
        return residual


def _assemble(found: dict[tuple[int, ...], str], path: tuple[int, ...], arity: int) -> Tree:
    kids = tuple(_assemble(found, (*path, i), arity) for i in range(arity) if (*path, i) in found)
    return Tree(found[path], kids)
