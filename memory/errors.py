"""The one error type of `memory`."""

from __future__ import annotations


class MemoryStoreError(ValueError):
    """Bad input to a similarity memory: the message names the shape, index or file at fault."""
