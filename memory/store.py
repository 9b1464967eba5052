"""`Memory`: keys (vectors) with payloads, and batched exact top-k search.

The default backend scores queries against the keys one chunk at a time (one matrix product per
chunk) and merges the per-chunk top-k, so peak extra memory is `B × chunk_size` scores however
many keys are stored. The `faiss` backend (optional extra `bench`) keeps an exact flat
inner-product index (`IndexFlatIP`) beside the keys and returns the same top-k.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from memory.errors import MemoryStoreError

__all__ = ["Memory"]

BACKENDS = ("torch", "faiss")
METRICS = ("dot", "cosine")


class Memory:
    """A similarity memory over `d`-dimensional keys.

    Args:
        d: key dimension.
        metric: "dot" (inner product, like FAISS `IndexFlatIP`) or "cosine" (keys and queries
            are normalised).
        backend: "torch" (chunked exact search) or "faiss" (exact flat index).
        chunk_size: keys scored per matrix product by the torch backend (bounds memory).
    """

    def __init__(
        self,
        d: int,
        *,
        metric: str = "dot",
        backend: str = "torch",
        chunk_size: int = 65536,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        if d < 1 or chunk_size < 1:
            raise MemoryStoreError(f"need d >= 1 and chunk_size >= 1, got d={d}, {chunk_size}")
        if metric not in METRICS:
            raise MemoryStoreError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        if backend not in BACKENDS:
            raise MemoryStoreError(
                f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}"
            )
        if backend == "faiss":
            _faiss()  # fail now, not at the first search
        self.d, self.metric, self.backend, self.chunk_size = d, metric, backend, chunk_size
        self.keys = torch.empty(0, d, dtype=dtype, device=device)
        self.values: list[Any] = []
        self._index = None  # the faiss index, rebuilt lazily after removals

    def __len__(self) -> int:
        return self.keys.shape[0]

    def __repr__(self) -> str:
        return (
            f"Memory(d={self.d}, n={len(self)}, metric={self.metric!r}, backend={self.backend!r})"
        )

    # ------------------------------------------------------------------------------- contents
    def _prepare(self, x: torch.Tensor, what: str) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise MemoryStoreError(
                f"{what} must be a floating tensor, got {getattr(x, 'dtype', x)}"
            )
        if x.ndim == 1:
            x = x.unsqueeze(0)
        if x.ndim != 2 or x.shape[1] != self.d:
            raise MemoryStoreError(f"{what} must have shape (n, {self.d}), got {tuple(x.shape)}")
        x = x.to(self.keys.dtype).to(self.keys.device)
        if self.metric == "cosine":
            x = x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(1e-30)
        return x

    def add(self, keys: torch.Tensor, values: Sequence[Any] | None = None) -> torch.Tensor:
        """Store keys (n, d) with their payloads (default: None each); returns their indices."""
        keys = self._prepare(keys, "keys")
        values = [None] * keys.shape[0] if values is None else list(values)
        if len(values) != keys.shape[0]:
            raise MemoryStoreError(f"got {keys.shape[0]} keys but {len(values)} values")
        start = len(self)
        self.keys = torch.cat([self.keys, keys])
        self.values.extend(values)
        if self._index is not None:
            self._index.add(keys.float().cpu().numpy())
        return torch.arange(start, len(self))

    def remove(self, indices: Sequence[int] | torch.Tensor) -> None:
        """Forget the given entries; later entries move down to fill the gaps."""
        drop = {int(i) for i in indices}
        if any(i < 0 or i >= len(self) for i in drop):
            raise MemoryStoreError(
                f"indices out of range for a memory of {len(self)}: {sorted(drop)}"
            )
        keep = [i for i in range(len(self)) if i not in drop]
        self.keys = self.keys[keep]
        self.values = [self.values[i] for i in keep]
        self._index = None

    # -------------------------------------------------------------------------------- search
    def search(self, queries: torch.Tensor, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """The `k` best keys per query: (scores, indices), best first.

        Shapes:
            queries: (B, d) or (d,) -> scores (B, k), indices (B, k) long
        """
        if len(self) == 0:
            raise MemoryStoreError("search in an empty memory; add keys first")
        if k < 1:
            raise MemoryStoreError(f"k must be >= 1, got {k}")
        q = self._prepare(queries, "queries")
        k = min(k, len(self))
        if self.backend == "faiss":
            return self._search_faiss(q, k)
        best_s = torch.full((q.shape[0], 0), -torch.inf, dtype=q.dtype, device=q.device)
        best_i = torch.zeros((q.shape[0], 0), dtype=torch.long, device=q.device)
        for start in range(0, len(self), self.chunk_size):
            chunk = self.keys[start : start + self.chunk_size]
            s, i = (q @ chunk.T).topk(min(k, chunk.shape[0]), dim=1)  # (B, k) of this chunk
            best_s, pick = torch.cat([best_s, s], dim=1).topk(
                min(k, best_s.shape[1] + s.shape[1]), dim=1
            )
            best_i = torch.cat([best_i, i + start], dim=1).gather(1, pick)
        return best_s, best_i

    def _search_faiss(self, q: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self._index is None:
            self._index = _faiss().IndexFlatIP(self.d)
            self._index.add(self.keys.float().cpu().numpy())
        scores, ids = self._index.search(q.float().cpu().numpy(), k)
        return (
            torch.from_numpy(scores).to(self.keys.dtype),
            torch.from_numpy(ids).long(),
        )

    def lookup(self, indices: torch.Tensor) -> list:
        """The payloads at `indices`, nested like the tensor."""
        return _nested(indices.tolist(), self.values)

    # --------------------------------------------------------------------------- persistence
    def save(self, directory: str | Path) -> Path:
        """Write keys (safetensors), payloads and config (JSON) into `directory`, atomically."""
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            save_file({"keys": self.keys.contiguous().cpu()}, str(tmp / "keys.safetensors"))
            config = {
                "d": self.d,
                "metric": self.metric,
                "backend": self.backend,
                "chunk_size": self.chunk_size,
                "dtype": str(self.keys.dtype),
                "n": len(self),
            }
            (tmp / "config.json").write_text(json.dumps(config, indent=2))
            try:
                (tmp / "values.json").write_text(json.dumps(self.values))
            except TypeError as e:
                raise MemoryStoreError(f"payloads must be JSON-serialisable to save: {e}") from None
            old = None
            if directory.exists():
                old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
                directory.rename(old)
            tmp.rename(directory)
            if old is not None:
                shutil.rmtree(old)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, backend: str | None = None) -> Memory:
        """Read a memory written by `save` (optionally with another backend)."""
        directory = Path(directory)
        try:
            config = json.loads((directory / "config.json").read_text())
            keys = load_file(str(directory / "keys.safetensors"))["keys"]
            values = json.loads((directory / "values.json").read_text())
        except (OSError, ValueError, KeyError) as e:
            raise MemoryStoreError(f"cannot load a memory from {directory}: {e}") from None
        memory = cls(
            config["d"],
            metric=config["metric"],
            backend=backend or config["backend"],
            chunk_size=config["chunk_size"],
            dtype=keys.dtype,
        )
        memory.keys, memory.values = keys, values
        return memory


def _nested(ids: list | int, values: list) -> Any:
    if isinstance(ids, int):
        return values[ids]
    return [_nested(i, values) for i in ids]


def _faiss():
    try:
        import faiss
    except ImportError:
        raise MemoryStoreError(
            "the faiss backend needs faiss-cpu: pip install -e '.[bench]' or pip install faiss-cpu"
        ) from None
    return faiss
