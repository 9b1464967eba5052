"""Data sets: SCAN (generated or official files), COGS and SLOG (official files), user files.

Everything loads into a Hugging Face `datasets.DatasetDict` with `train` and `test` splits and the
columns `input`, `output`, `category` (empty where the data has none), so users can map, filter and
shuffle as they are used to. `datasets` is imported only by `load` and the hub route, so the
plain loaders (`load_examples`, `catalog`, `export`) and the zero-shot pipeline work without it.

    >>> from hartflow.data import load
    >>> dd = load("scan", "addprim_jump")
    >>> dd["train"].num_rows, dd["test"].num_rows
    (14670, 7706)
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from hartflow.data import cogs, scan, slog
from hartflow.data.formats import Example, read_examples, write_examples
from hartflow.data.hub import load_scan as load_scan_from_hub
from hartflow.errors import DataError

if TYPE_CHECKING:
    from datasets import DatasetDict

__all__ = [
    "TASKS",
    "Example",
    "catalog",
    "export",
    "load",
    "load_examples",
    "tokens",
    "training_examples",
    "unseen_output_tokens",
    "vocabulary",
    "write_scan_grammar",
]

TASKS: dict[str, tuple[str, ...]] = {
    "scan": tuple(scan.SPLITS),
    "cogs": tuple(cogs.SPLITS),
    "slog": tuple(slog.SPLITS),
}
FILE_TASKS = {"cogs": cogs, "slog": slog}  # read from files: $HARTFLOW_DATA/<task> by default
COLUMNS = ("input", "output", "category")


def load(task: str | None = None, split: str | None = None, **options) -> DatasetDict:
    """Load a task's split, or a user's `train`/`test` files, as a DatasetDict.

    Takes the arguments of `load_examples`; returns `train` and `test` datasets with the columns
    `input`, `output`, `category`.
    """
    from datasets import Dataset, DatasetDict  # heavy; only where a DatasetDict is built

    parts = load_examples(task, split, **options)
    return DatasetDict(
        {
            name: Dataset.from_dict({col: [getattr(e, col) for e in examples] for col in COLUMNS})
            for name, examples in parts.items()
        }
    )


def load_examples(
    task: str | None = None,
    split: str | None = None,
    *,
    data_dir: str | Path | None = None,
    train: str | Path | None = None,
    test: str | Path | None = None,
    fmt: str | None = None,
    seed: int = 0,
    hub: bool = False,
) -> dict[str, list[Example]]:
    """{'train': [...], 'test': [...]} examples of a task's split or of a user's files.

    Args:
        task: "scan", "cogs" or "slog" (omit when giving `train` and `test`).
        split: the split name (see `TASKS`).
        data_dir: folder of the official files; SCAN is generated from its grammar without one,
            COGS and SLOG fall back to `$HARTFLOW_DATA/cogs` and `$HARTFLOW_DATA/slog`.
        train, test: files in SCAN format (.txt) or TSV (.tsv) instead of a task.
        fmt: "scan" or "tsv" to override the extension.
        seed: for the generated `simple` split.
        hub: download SCAN from the Hugging Face hub (same split names) instead.
    """
    if fmt is not None and train is None and test is None:
        raise DataError("--format applies to --train/--test files only")
    if train is not None or test is not None:
        if train is None or test is None:
            raise DataError("give both --train FILE and --test FILE")
        return {"train": read_examples(train, fmt), "test": read_examples(test, fmt)}
    if task not in TASKS:
        raise DataError(
            f"unknown task {task!r}; choose one of {', '.join(TASKS)} or pass --train/--test files"
        )
    if split is None or split not in TASKS[task]:
        raise DataError(f"unknown {task} split {split!r}; choose one of {', '.join(TASKS[task])}")
    if hub:
        if task != "scan" or data_dir is not None:
            raise DataError("--hub loads SCAN only, and not together with --data-dir")
        return load_scan_from_hub(split)
    if task == "scan":
        return scan.load_split(split, data_dir=data_dir, seed=seed)
    module = FILE_TASKS[task]
    folder = task_dir(task, data_dir)
    if folder is None:
        raise DataError(f"{task.upper()} is read from files; {module.HOW_TO_GET}")
    return module.load_split(split, folder)


def training_examples(
    task: str | None = None,
    *,
    data_dir: str | Path | None = None,
    train: str | Path | None = None,
    fmt: str | None = None,
) -> list[Example]:
    """A task's training examples alone (COGS, SLOG: `train.tsv`; no test or gen file is read),
    or a user's training file."""
    if train is not None:
        return read_examples(train, fmt)
    if task not in FILE_TASKS:
        raise DataError(
            f"task {task!r} has no training file to read here; choose one of "
            f"{', '.join(FILE_TASKS)} or pass --train FILE"
        )
    module = FILE_TASKS[task]
    folder = task_dir(task, data_dir)
    if folder is None:
        raise DataError(f"{task.upper()} is read from files; {module.HOW_TO_GET}")
    train_name = module.SPLITS["gen"][0]
    return read_examples(module.data_folder(folder) / f"{train_name}.tsv", "tsv",
                         hint=module.HOW_TO_GET)  # fmt: skip


def tokens(text: str) -> list[str]:
    """Whitespace tokenisation (SCAN commands and actions, COGS sentences and logical forms)."""
    return text.split()


def vocabulary(examples: list[Example], column: str) -> list[str]:
    """Sorted token types of `column` ("input" or "output"), built from data."""
    return sorted({t for e in examples for t in tokens(getattr(e, column))})


def unseen_output_tokens(parts: dict[str, list[Example]]) -> Counter:
    """Output tokens of the test set never seen in training, with the number of test examples using
    each (reported to the user; such examples cannot be answered by a system trained on train)."""
    seen = set(vocabulary(parts["train"], "output"))
    return Counter(t for e in parts["test"] for t in set(tokens(e.output)) if t not in seen)


def task_dir(task: str, data_dir: str | Path | None) -> Path | None:
    """A file task's folder: `data_dir`, else `$HARTFLOW_DATA/<task>` when that variable is set."""
    if data_dir is not None:
        return Path(data_dir)
    root = os.environ.get("HARTFLOW_DATA")
    return Path(root) / task if root else None


def catalog(
    *,
    scan_dir: str | Path | None = None,
    cogs_dir_: str | Path | None = None,
    slog_dir: str | Path | None = None,
) -> list[dict]:
    """Every task and split with its sizes and where it comes from (for `hartflow data list`)."""
    rows = []
    for split in TASKS["scan"]:
        parts = scan.load_split(split, data_dir=scan_dir)
        source = str(scan_dir) if scan_dir else "generated from the grammar"
        rows.append(_row("scan", split, parts, source))
    for task, given in (("cogs", cogs_dir_), ("slog", slog_dir)):
        folder = task_dir(task, given)
        for split in TASKS[task]:
            try:
                parts = FILE_TASKS[task].load_split(split, folder) if folder else None
            except DataError:
                parts, note = None, f"files not found in {folder}"
            else:
                note = "needs --data-dir (or $HARTFLOW_DATA)" if folder is None else str(folder)
            rows.append(_row(task, split, parts, note))
    return rows


def _row(task: str, split: str, parts: dict | None, source: str) -> dict:
    return {
        "task": task,
        "split": split,
        "train": len(parts["train"]) if parts else None,
        "test": len(parts["test"]) if parts else None,
        "source": source,
    }


def export(
    task: str,
    split: str,
    out: str | Path,
    *,
    data_dir: str | Path | None = None,
    seed: int = 0,
    hub: bool = False,
) -> list[Path]:
    """Write a split as train/test files: SCAN format (.txt) for SCAN, TSV for COGS and SLOG."""
    parts = load_examples(task, split, data_dir=data_dir, seed=seed, hub=hub)
    fmt, ext = ("scan", "txt") if task == "scan" else ("tsv", "tsv")
    return [write_examples(Path(out) / f"{p}.{ext}", parts[p], fmt) for p in ("train", "test")]


def write_scan_grammar(path: str | Path) -> Path:
    """All 20,910 SCAN pairs, in SCAN format."""
    return write_examples(path, [Example(*p) for p in scan.generate()], "scan")
