"""The one error type of `hrr`."""

from __future__ import annotations


class HRRError(ValueError):
    """Bad input to an HRR operation: its message names the shapes, dtype or symbol at fault."""


class CapacityWarning(UserWarning):
    """A trace holds more superposed terms than its cleanup can separate at the requested error."""
