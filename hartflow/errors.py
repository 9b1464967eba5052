"""The error type of `hartflow` (the CLI prints these as one line and exits non-zero)."""

from __future__ import annotations


class HartFlowError(ValueError):
    """Bad input to a HartFlow job; the message says what was wrong and how to fix it."""
