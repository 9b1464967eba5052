"""The on-disk layout of grid-puzzle data sets, as the TRM/HRM builders write it.

    <out>/identifiers.json                 puzzle-identifier names; index 0 is "<blank>"
    <out>/hartflow.json                    what built it (task, board size, seed, options)
    <out>/{train,test}/dataset.json        metadata (pad_id, ignore_label_id, vocab_size, ...)
    <out>/{train,test}/all__inputs.npy     uint8 (N_examples, seq_len)
    <out>/{train,test}/all__labels.npy     uint8 (N_examples, seq_len)
    <out>/{train,test}/all__puzzle_identifiers.npy   int32 (N_puzzles,)
    <out>/{train,test}/all__puzzle_indices.npy       int32 (N_puzzles + 1,) offsets into examples
    <out>/{train,test}/all__group_indices.npy        int32 (N_groups + 1,) offsets into puzzles

A group is one original puzzle with all its augmented copies; a puzzle has one or more examples
(ARC: its demonstration or test pairs). The whole folder is written to a temporary name and
renamed, so a reader never sees half a data set.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hartflow.errors import DataError

SET = "all"
ARRAYS = ("inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices")


@dataclass
class Split:
    """One split in memory, in the on-disk shapes."""

    inputs: np.ndarray  # (N, L) uint8
    labels: np.ndarray  # (N, L) uint8
    puzzle_identifiers: np.ndarray  # (P,) int32
    puzzle_indices: np.ndarray  # (P + 1,) int32
    group_indices: np.ndarray  # (G + 1,) int32

    @property
    def n_examples(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def n_puzzles(self) -> int:
        return int(self.puzzle_identifiers.shape[0])

    @property
    def n_groups(self) -> int:
        return int(self.group_indices.shape[0] - 1)


@dataclass
class SplitBuilder:
    """Collects groups of puzzles of examples, then `finish()`es into a `Split`."""

    seq_len: int
    _inputs: list[np.ndarray] = field(default_factory=list)
    _labels: list[np.ndarray] = field(default_factory=list)
    _ids: list[int] = field(default_factory=list)
    _puzzle_indices: list[int] = field(default_factory=lambda: [0])
    _group_indices: list[int] = field(default_factory=lambda: [0])

    def add_puzzle(self, identifier: int, inputs: np.ndarray, labels: np.ndarray) -> None:
        """One puzzle: its examples as (E, seq_len) inputs and labels (or one (seq_len,) pair)."""
        inputs, labels = np.atleast_2d(inputs), np.atleast_2d(labels)
        if inputs.shape != labels.shape or inputs.shape[1] != self.seq_len:
            raise DataError(
                f"puzzle examples must be (E, {self.seq_len}) inputs and labels, "
                f"got {inputs.shape} and {labels.shape}"
            )
        self._inputs.append(inputs.astype(np.uint8))
        self._labels.append(labels.astype(np.uint8))
        self._ids.append(identifier)
        self._puzzle_indices.append(self._puzzle_indices[-1] + inputs.shape[0])

    def end_group(self) -> None:
        """Close the current group (the puzzles added since the last call)."""
        if len(self._ids) > self._group_indices[-1]:
            self._group_indices.append(len(self._ids))

    def finish(self) -> Split:
        self.end_group()
        empty = np.zeros((0, self.seq_len), np.uint8)
        return Split(
            np.concatenate(self._inputs) if self._inputs else empty,
            np.concatenate(self._labels) if self._labels else empty,
            np.asarray(self._ids, np.int32),
            np.asarray(self._puzzle_indices, np.int32),
            np.asarray(self._group_indices, np.int32),
        )


def metadata(
    split: Split,
    *,
    vocab_size: int,
    num_puzzle_identifiers: int,
    pad_id: int = 0,
    ignore_label_id: int | None = 0,
    blank_identifier_id: int = 0,
) -> dict[str, Any]:
    """The reference `dataset.json` fields for one split."""
    return {
        "pad_id": pad_id,
        "ignore_label_id": ignore_label_id,
        "blank_identifier_id": blank_identifier_id,
        "vocab_size": vocab_size,
        "seq_len": int(split.inputs.shape[1]),
        "num_puzzle_identifiers": num_puzzle_identifiers,
        "total_groups": split.n_groups,
        "mean_puzzle_examples": split.n_examples / max(split.n_puzzles, 1),
        "total_puzzles": split.n_puzzles,
        "sets": [SET],
    }


def write_dataset(
    out: str | Path,
    splits: dict[str, Split],
    *,
    vocab_size: int,
    identifiers: list[str],
    info: dict[str, Any],
    extra_files: dict[str, Any] | None = None,
) -> Path:
    """Write splits, metadata and identifiers to `out` atomically (a temp folder, then rename)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, split in splits.items():
            folder = tmp / name
            folder.mkdir()
            for array in ARRAYS:
                np.save(folder / f"{SET}__{array}.npy", getattr(split, array))
            meta = metadata(split, vocab_size=vocab_size, num_puzzle_identifiers=len(identifiers))
            (folder / "dataset.json").write_text(json.dumps(meta, indent=2))
        (tmp / "identifiers.json").write_text(json.dumps(identifiers))
        (tmp / "hartflow.json").write_text(json.dumps(info, indent=2))
        for fname, obj in (extra_files or {}).items():
            (tmp / fname).write_text(json.dumps(obj))
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_split(folder: str | Path) -> tuple[Split, dict[str, Any]]:
    """One split folder (`train` or `test`) and its metadata."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "dataset.json").read_text())
        arrays = {a: np.load(folder / f"{SET}__{a}.npy", allow_pickle=False) for a in ARRAYS}
    except (OSError, ValueError) as e:
        raise DataError(
            f"not a grid data set split ({e}); build one with hartflow grid build"
        ) from None
    return Split(**arrays), meta


def read_info(out: str | Path) -> dict[str, Any]:
    """`hartflow.json` of a built data set (task, board size, options)."""
    path = Path(out) / "hartflow.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise DataError(f"no {path}; build the data set with hartflow grid build") from None
