"""The on-disk layout round-trips and is written atomically."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hartflow.errors import DataError
from hartflow.grid.layout import SplitBuilder, read_info, read_split, write_dataset


def small_split():
    b = SplitBuilder(seq_len=4)
    b.add_puzzle(1, np.array([[1, 2, 3, 4], [4, 3, 2, 1]]), np.array([[2, 2, 3, 4], [4, 3, 2, 2]]))
    b.add_puzzle(2, np.array([1, 1, 1, 1]), np.array([2, 2, 2, 2]))
    b.end_group()
    b.add_puzzle(3, np.array([5, 5, 5, 5]), np.array([6, 6, 6, 6]))
    return b.finish()


def test_offsets_and_round_trip(tmp_path):
    split = small_split()
    assert split.puzzle_indices.tolist() == [0, 2, 3, 4]
    assert split.group_indices.tolist() == [0, 2, 3]
    write_dataset(tmp_path / "ds", {"train": split, "test": split}, vocab_size=7,
                  identifiers=["<blank>", "a", "b", "c"], info={"task": "toy"})  # fmt: skip
    back, meta = read_split(tmp_path / "ds" / "train")
    assert np.array_equal(back.inputs, split.inputs) and back.inputs.dtype == np.uint8
    assert meta["total_groups"] == 2 and meta["total_puzzles"] == 3 and meta["seq_len"] == 4
    assert meta["num_puzzle_identifiers"] == 4 and meta["mean_puzzle_examples"] == 4 / 3
    assert read_info(tmp_path / "ds") == {"task": "toy"}
    assert json.loads((tmp_path / "ds" / "identifiers.json").read_text())[0] == "<blank>"


def test_rewrite_replaces_and_leaves_no_debris(tmp_path):
    for _ in range(2):
        write_dataset(tmp_path / "ds", {"train": small_split()}, vocab_size=7,
                      identifiers=["<blank>"], info={})  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_missing_split_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="hartflow grid build"):
        read_split(tmp_path / "nothing")


def test_shape_mismatch(tmp_path):
    with pytest.raises(DataError, match="inputs and labels"):
        SplitBuilder(seq_len=4).add_puzzle(1, np.zeros(4), np.zeros(5))
