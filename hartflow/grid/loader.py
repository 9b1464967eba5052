"""Batches of grid puzzles from the on-disk layout, as the TRM/HRM trainers draw them (seeded).

Train: the groups (an original puzzle and its augmented copies) are shuffled once per epoch; for
each group one random puzzle (one augmentation) contributes all its examples (a random subset if
they overflow the batch) until the global batch is full. The last partial batch of a pass is
dropped. A pass is `epochs_per_pass` epochs drawn as one stream (the reference's
`epochs_per_iter`), so few groups are lost even when groups < batch. Every draw comes from
`numpy.random.default_rng([seed, pass])`, so batch k of pass p is the same in every run, and a
resumed run replays the indices (cheap) to continue exactly where it stopped.

Test / validation: sequential slices over all examples; the last batch is padded with inputs =
pad_id, labels = -100 and puzzle identifier = blank.

Labels equal to the data set's `ignore_label_id` become -100. Each rank of a data-parallel job
takes rows [rank · B/W, (rank + 1) · B/W) of every global batch of B rows.

Validation (model selection without touching test): `validation_groups` whole groups are held
out of train, chosen by a seeded generator, and their originals (the first puzzle of each group,
un-augmented) form the validation split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hartflow.errors import DataError
from hartflow.grid.layout import Split, read_info, read_split

__all__ = ["GridData", "load_grid_data", "train_batches", "eval_batches", "Batch"]

IGNORE = -100
Batch = dict[str, torch.Tensor]


@dataclass
class GridData:
    """A built data set in memory: train (less validation), validation, test and metadata."""

    train: Split
    validation: Split | None
    test: Split
    meta: dict[str, Any]  # train's dataset.json (pad_id, ignore_label_id, vocab_size, seq_len, ...)
    info: dict[str, Any]  # hartflow.json (task, size, ...)
    directory: Path

    @property
    def task(self) -> str:
        return str(self.info.get("task", "unknown"))


def _subset(split: Split, groups: np.ndarray, *, originals_only: bool) -> Split:
    """The puzzles of `groups` (sorted group indices) as a new split."""
    gi, pi = split.group_indices, split.puzzle_indices
    inputs, labels, ids, p_idx, g_idx = [], [], [], [0], [0]
    for g in groups:
        hi = gi[g] + 1 if originals_only else gi[g + 1]
        for p in range(gi[g], hi):
            inputs.append(split.inputs[pi[p] : pi[p + 1]])
            labels.append(split.labels[pi[p] : pi[p + 1]])
            ids.append(split.puzzle_identifiers[p])
            p_idx.append(p_idx[-1] + pi[p + 1] - pi[p])
        g_idx.append(len(ids))
    seq_len = split.inputs.shape[1]
    return Split(
        np.concatenate(inputs) if inputs else np.zeros((0, seq_len), np.uint8),
        np.concatenate(labels) if labels else np.zeros((0, seq_len), np.uint8),
        np.asarray(ids, np.int32),
        np.asarray(p_idx, np.int32),
        np.asarray(g_idx, np.int32),
    )


def load_grid_data(directory: str | Path, *, validation_groups: int = 0, seed: int = 0) -> GridData:
    """Read a data set built by `hartflow grid build` and hold out validation groups.

    Args:
        directory: the data set folder (train/, test/, identifiers.json, hartflow.json).
        validation_groups: train groups held out for model selection (0 = none).
        seed: picks the held-out groups.

    Raises:
        DataError: not a built data set, or too many validation groups.
    """
    directory = Path(directory)
    info = read_info(directory)
    train, meta = read_split(directory / "train")
    test, _ = read_split(directory / "test")
    validation = None
    if validation_groups:
        if not 0 < validation_groups < train.n_groups:
            raise DataError(
                f"validation_groups must be in 1..{train.n_groups - 1} (train has "
                f"{train.n_groups} groups), got {validation_groups}; lower it",
                path=directory,
            )
        held = np.random.default_rng([seed, 7]).choice(
            train.n_groups, validation_groups, replace=False
        )
        keep = np.setdiff1d(np.arange(train.n_groups), held)
        validation = _subset(train, np.sort(held), originals_only=True)
        train = _subset(train, keep, originals_only=False)
    return GridData(train, validation, test, meta, info, directory)


def _example_puzzles(split: Split) -> np.ndarray:
    """The puzzle index of every example. Shapes: (N,)."""
    return np.repeat(np.arange(split.n_puzzles), np.diff(split.puzzle_indices))


def _to_batch(split: Split, rows: np.ndarray, meta: dict[str, Any], puzzles: np.ndarray) -> Batch:
    inputs = torch.from_numpy(split.inputs[rows].astype(np.int64))
    labels = torch.from_numpy(split.labels[rows].astype(np.int64))
    ignore = meta.get("ignore_label_id")
    if ignore is not None:
        labels[labels == ignore] = IGNORE
    ids = torch.from_numpy(split.puzzle_identifiers[puzzles].astype(np.int64))
    return {"inputs": inputs, "labels": labels, "puzzle_identifiers": ids}


def _rank_slice(global_batch: int, rank: int, world_size: int) -> slice:
    if global_batch % world_size:
        raise DataError(
            f"global batch {global_batch} must divide by the world size {world_size}; "
            "change --global-batch or the number of processes"
        )
    local = global_batch // world_size
    return slice(rank * local, (rank + 1) * local)


def pass_indices(
    split: Split, *, global_batch: int, seed: int, pass_index: int, epochs_per_pass: int = 1
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(example rows, their puzzle indices) of every full global batch of one pass.

    Shapes: each entry ((global_batch,), (global_batch,)).
    """
    rng = np.random.default_rng([seed, pass_index])
    order = np.concatenate([rng.permutation(split.n_groups) for _ in range(epochs_per_pass)])
    gi, pi = split.group_indices, split.puzzle_indices
    batches, rows, puzzles, size = [], [], [], 0
    for g in order:
        p = int(rng.integers(gi[g], gi[g + 1]))
        n = int(pi[p + 1] - pi[p])
        take = min(n, global_batch - size)
        picked = rng.choice(n, take, replace=False) if take < n else np.arange(n)
        rows.append(pi[p] + picked)
        puzzles.append(np.full(take, p))
        size += take
        if size == global_batch:
            batches.append((np.concatenate(rows), np.concatenate(puzzles)))
            rows, puzzles, size = [], [], 0
    return batches  # the partial remainder is dropped


def train_batches(
    data: GridData,
    *,
    global_batch: int,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
    epochs_per_pass: int = 1,
    start_pass: int = 0,
    start_batch: int = 0,
) -> Iterator[tuple[int, int, Batch]]:
    """Endless (pass, batch-in-pass, batch) over train; this rank's rows of each global batch.

    Start at (`start_pass`, `start_batch`) to resume. Raises DataError when one pass cannot fill a
    single global batch.

    Shapes: batch["inputs"], batch["labels"]: (B/W, L) long; batch["puzzle_identifiers"]: (B/W,).
    """
    part = _rank_slice(global_batch, rank, world_size)
    pass_index = start_pass
    while True:
        batches = pass_indices(
            data.train, global_batch=global_batch, seed=seed, pass_index=pass_index,
            epochs_per_pass=epochs_per_pass,
        )  # fmt: skip
        if not batches:
            raise DataError(
                f"train has {data.train.n_examples} examples in {data.train.n_groups} groups: "
                f"not enough for one batch of {global_batch}; lower the global batch",
                path=data.directory,
            )
        for k in range(start_batch if pass_index == start_pass else 0, len(batches)):
            rows, puzzles = batches[k]
            yield pass_index, k, _to_batch(data.train, rows[part], data.meta, puzzles[part])
        pass_index += 1


def batches_per_pass(data: GridData, *, global_batch: int, epochs_per_pass: int = 1) -> int:
    """About how many full batches one pass yields (expected examples / batch, rounded down)."""
    mean = data.train.n_examples / max(data.train.n_puzzles, 1)
    return max(int(epochs_per_pass * data.train.n_groups * mean // global_batch), 0)


def eval_batches(
    split: Split,
    meta: dict[str, Any],
    *,
    global_batch: int,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[tuple[np.ndarray, Batch]]:
    """Sequential (example indices, batch) over a split, the last batch padded.

    The indices name this rank's real rows (padding rows are not listed; they come last).

    Shapes: batch tensors (B/W, L) and (B/W,); indices (≤ B/W,).
    """
    part = _rank_slice(global_batch, rank, world_size)
    local = part.stop - part.start
    example_puzzle = _example_puzzles(split)
    pad = int(meta.get("pad_id", 0))
    blank = int(meta.get("blank_identifier_id", 0))
    for start in range(0, split.n_examples, global_batch):
        rows = np.arange(start, min(start + global_batch, split.n_examples))[part]
        batch = _to_batch(split, rows, meta, example_puzzle[rows])
        short = local - len(rows)
        if short:
            seq_len = split.inputs.shape[1]
            batch = {
                "inputs": torch.cat([batch["inputs"], torch.full((short, seq_len), pad)]),
                "labels": torch.cat([batch["labels"], torch.full((short, seq_len), IGNORE)]),
                "puzzle_identifiers": torch.cat(
                    [batch["puzzle_identifiers"], torch.full((short,), blank)]
                ),
            }
        yield rows, batch
