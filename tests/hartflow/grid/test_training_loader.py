"""The grid loader: seeded per-group sampling, padding, ignore labels, sharding, validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hartflow.errors import DataError
from hartflow.grid.layout import SplitBuilder, write_dataset
from hartflow.grid.loader import IGNORE, eval_batches, load_grid_data, pass_indices, train_batches


@pytest.fixture
def built(tmp_path):
    """10 groups; group g has 3 puzzles (an original + 2 copies) of g % 2 + 1 examples each.

    Inputs encode (group, puzzle, example) so a test can read back where a row came from; label 0
    (the ignore id) appears in column 0.
    """
    seq = 4
    train = SplitBuilder(seq_len=seq)
    for g in range(10):
        for p in range(3):
            n = g % 2 + 1
            x = np.array([[g, p, e, 9] for e in range(n)])
            y = np.array([[0, g + 1, p + 1, e + 1] for e in range(n)])
            train.add_puzzle(g * 3 + p + 1, x, y)
        train.end_group()
    test = SplitBuilder(seq_len=seq)
    for k in range(5):
        test.add_puzzle(0, np.array([[k, 1, 1, 1]]), np.array([[0, 2, 2, 2]]))
        test.end_group()
    ids = ["<blank>"] + [f"p{i}" for i in range(30)]
    write_dataset(tmp_path / "d", {"train": train.finish(), "test": test.finish()},
                  vocab_size=12, identifiers=ids, info={"task": "toy"})  # fmt: skip
    return tmp_path / "d"


class TestTrainBatches:
    def test_one_augmentation_per_group_all_examples(self, built):
        data = load_grid_data(built)
        for rows, puzzles in pass_indices(data.train, global_batch=5, seed=0, pass_index=0):
            assert len(rows) == len(puzzles) == 5
            x = data.train.inputs[rows]
            groups = x[:, 0]
            for g in np.unique(groups):
                # one puzzle (augmentation) per group per batch ...
                assert len(np.unique(x[groups == g, 1])) == 1
        # ... and a group's examples come together unless the batch is full
        rows, _ = pass_indices(data.train, global_batch=15, seed=0, pass_index=0)[0]
        x = data.train.inputs[rows]
        last = x[-1, 0]
        full = [g for g in np.unique(x[:, 0]) if g != last]
        assert all((x[:, 0] == g).sum() == g % 2 + 1 for g in full)

    def test_drops_partial_and_is_seeded(self, built):
        data = load_grid_data(built)
        a = pass_indices(data.train, global_batch=4, seed=3, pass_index=0)
        b = pass_indices(data.train, global_batch=4, seed=3, pass_index=0)
        c = pass_indices(data.train, global_batch=4, seed=3, pass_index=1)
        assert len(a) == 15 // 4  # 15 examples per epoch; the partial fourth batch is dropped
        assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b, strict=True))
        assert not all(np.array_equal(x[0], y[0]) for x, y in zip(a, c, strict=True))

    def test_labels_ignore_and_identifiers(self, built):
        data = load_grid_data(built)
        _, _, batch = next(train_batches(data, global_batch=4, seed=0))
        assert batch["inputs"].dtype == torch.long
        assert (batch["labels"][:, 0] == IGNORE).all() and (batch["labels"][:, 1:] > 0).all()
        x = batch["inputs"]
        assert torch.equal(batch["puzzle_identifiers"], x[:, 0] * 3 + x[:, 1] + 1)

    def test_ranks_split_the_global_batch(self, built):
        data = load_grid_data(built)
        whole = next(train_batches(data, global_batch=6, seed=1))[2]
        parts = [next(train_batches(data, global_batch=6, seed=1, rank=r, world_size=2))[2]
                 for r in range(2)]  # fmt: skip
        assert torch.equal(torch.cat([p["inputs"] for p in parts]), whole["inputs"])
        with pytest.raises(DataError, match="divide"):
            next(train_batches(data, global_batch=5, seed=1, world_size=2))

    def test_resume_position(self, built):
        data = load_grid_data(built)
        stream = train_batches(data, global_batch=4, seed=2)
        seen = [next(stream) for _ in range(7)]
        later = train_batches(data, global_batch=4, seed=2, start_pass=seen[4][0],
                              start_batch=seen[4][1])  # fmt: skip
        for want in seen[4:]:
            got = next(later)
            assert got[:2] == want[:2] and torch.equal(got[2]["inputs"], want[2]["inputs"])

    def test_batch_too_large(self, built):
        data = load_grid_data(built)
        with pytest.raises(DataError, match="lower the global batch"):
            next(train_batches(data, global_batch=64, seed=0))


class TestEvalBatches:
    def test_sequential_and_padded(self, built):
        data = load_grid_data(built)
        got = list(eval_batches(data.test, data.meta, global_batch=4))
        assert [r.tolist() for r, _ in got] == [[0, 1, 2, 3], [4]]
        last = got[1][1]
        assert last["inputs"][0, 0] == 4 and (last["inputs"][1:] == 0).all()
        assert (last["labels"][1:] == IGNORE).all() and (last["puzzle_identifiers"][1:] == 0).all()

    def test_sharded(self, built):
        data = load_grid_data(built)
        r1 = list(eval_batches(data.test, data.meta, global_batch=4, rank=1, world_size=2))
        assert [r.tolist() for r, _ in r1] == [[2, 3], []]
        assert (r1[1][1]["labels"] == IGNORE).all()  # rank 1 has only padding in the last batch


class TestValidation:
    def test_held_out_groups(self, built):
        data = load_grid_data(built, validation_groups=3, seed=0)
        assert data.validation.n_groups == 3 and data.train.n_groups == 7
        held = set(data.validation.inputs[:, 0].tolist())
        assert held.isdisjoint(data.train.inputs[:, 0].tolist())
        assert (data.validation.inputs[:, 1] == 0).all()  # originals only, not augmentations
        assert data.test.n_examples == 5  # test untouched

    def test_too_many(self, built):
        with pytest.raises(DataError, match="validation_groups"):
            load_grid_data(built, validation_groups=10)
