"""Similarity memory over HRR vectors: stores keys with payloads; top-k search proposes hypotheses.

>>> import torch
>>> from memory import Memory
>>> m = Memory(4)
>>> _ = m.add(torch.eye(4), ["a", "b", "c", "d"])
>>> scores, idx = m.search(torch.tensor([[0.0, 0.9, 0.1, 0.0]]), k=2)
>>> m.lookup(idx)
[['b', 'c']]
"""

from memory.errors import MemoryStoreError
from memory.store import Memory

__all__ = ["Memory", "MemoryStoreError"]
