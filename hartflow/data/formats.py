"""Example files: SCAN format (`IN: … OUT: …`) and TSV (`input<TAB>output[<TAB>category]`).

Every parse error names the file, the line and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hartflow.atomic import write_bytes
from hartflow.errors import DataError

FORMATS = ("scan", "tsv")
_SUFFIX = {".txt": "scan", ".scan": "scan", ".tsv": "tsv"}


@dataclass(frozen=True)
class Example:
    """One input/output pair; `category` is set where the data has categories (COGS)."""

    input: str
    output: str
    category: str = ""
    line: int = field(default=0, compare=False)  # where it was read (0: not from a file)
    path: str = field(default="", compare=False)


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """`fmt` if given, else from the extension (.txt → scan, .tsv → tsv)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise DataError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX:
        raise DataError(
            f"cannot tell the format from the extension {suffix or '(none)'!r}; "
            f"name it .txt (SCAN) or .tsv, or pass --format scan|tsv",
            path=path,
        )
    return _SUFFIX[suffix]


def read_text(path: str | Path, *, hint: str = "") -> str:
    """The file's UTF-8 text, or a `DataError` naming what is wrong (missing, not UTF-8)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"file not found: {p}" + (f"; {hint}" if hint else ""))
    try:
        return p.read_text(encoding="utf-8-sig")  # -sig: a leading byte-order mark is fine
    except UnicodeDecodeError as e:
        line = p.read_bytes()[: e.start].count(b"\n") + 1
        raise DataError(
            f"not UTF-8 text (byte {e.start}); re-save it as UTF-8", path=p, line=line
        ) from None
    except OSError as e:
        raise DataError(f"cannot read {p}: {e.strerror or e}") from None


def parse_scan_line(line: str, *, path: str | Path = "<text>", lineno: int = 1) -> Example:
    """`IN: <command> OUT: <actions>` → Example."""
    body = line[4:] if line.startswith("IN: ") else None
    parts = re.split(r"(?:^|\s)OUT:(?:\s|$)", body) if body is not None else []
    if len(parts) != 2:
        raise DataError(
            f"expected 'IN: <command> OUT: <actions>', got {line[:60]!r}", path=path, line=lineno
        )
    command, actions = (" ".join(p.split()) for p in parts)
    if not command:
        raise DataError("the command after 'IN:' is empty", path=path, line=lineno)
    if not actions:
        raise DataError("the actions after 'OUT:' are empty", path=path, line=lineno)
    return Example(command, actions)


def parse_tsv_line(line: str, *, path: str | Path = "<text>", lineno: int = 1) -> Example:
    """`input<TAB>output[<TAB>category]` → Example."""
    cols = line.split("\t")
    if len(cols) not in (2, 3) or not cols[0].strip():
        raise DataError(
            f"expected 'input<TAB>output[<TAB>category]' (2 or 3 columns), got {len(cols)} "
            f"column(s): {line[:60]!r}",
            path=path,
            line=lineno,
        )
    if not cols[1].strip():
        raise DataError("the output column is empty", path=path, line=lineno)
    return Example(cols[0].strip(), cols[1].strip(), cols[2].strip() if len(cols) == 3 else "",
                   lineno, str(path))  # fmt: skip


def parse(text: str, fmt: str, *, path: str | Path = "<text>") -> list[Example]:
    """All examples in `text` (blank lines skipped); errors carry `path` and the line number."""
    parser = parse_scan_line if fmt == "scan" else parse_tsv_line
    out = [
        parser(line.rstrip("\r"), path=path, lineno=i)
        for i, line in enumerate(text.split("\n"), start=1)
        if line.strip()
    ]
    if not out:
        raise DataError("the file holds no examples", path=path)
    return out


def read_examples(path: str | Path, fmt: str | None = None, *, hint: str = "") -> list[Example]:
    """Read a SCAN-format or TSV file of examples."""
    fmt = detect_format(path, fmt)
    return parse(read_text(path, hint=hint), fmt, path=path)


def format_examples(examples: Iterable[Example], fmt: str) -> str:
    if fmt == "scan":
        return "".join(f"IN: {e.input} OUT: {e.output}\n" for e in examples)
    return "".join(
        f"{e.input}\t{e.output}" + (f"\t{e.category}" if e.category else "") + "\n"
        for e in examples
    )


def write_examples(path: str | Path, examples: Iterable[Example], fmt: str) -> Path:
    """Write examples atomically in `fmt`."""
    return write_bytes(path, format_examples(examples, fmt).encode())
