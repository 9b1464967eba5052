"""The error types of `hartflow` (the CLI prints these as one line and exits non-zero)."""

from __future__ import annotations

from pathlib import Path


class HartFlowError(ValueError):
    """Bad input to a HartFlow job; the message says what was wrong and how to fix it."""


class DataError(HartFlowError):
    """A data file is missing or malformed; the message starts with `file:line:` where known."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.path, self.line = (str(path) if path is not None else None), line
        where = f"{path}:{line}: " if path is not None and line is not None else ""
        where = where or (f"{path}: " if path is not None else "")
        super().__init__(where + message)
