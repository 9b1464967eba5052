"""ARC: canvas encoding, variants and their inverses, the builder's splits, voting and pass@k."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hartflow.errors import DataError
from hartflow.grid import arc
from hartflow.grid.dihedral import dihedral, inverse_dihedral
from hartflow.grid.layout import read_split
from tests.conftest import SHARED_DATA

rng = np.random.default_rng(0)


def random_grid(h=None, w=None):
    h = h or int(rng.integers(1, 31))
    w = w or int(rng.integers(1, 31))
    return rng.integers(0, 10, size=(h, w))


def write_task(folder, name, n_train=3, n_test=1):
    pairs = lambda n: [  # noqa: E731
        {"input": random_grid(3, 4).tolist(), "output": random_grid(4, 2).tolist()}
        for _ in range(n)
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(
        json.dumps({"train": pairs(n_train), "test": pairs(n_test)})
    )


@pytest.fixture
def tiny_arc(tmp_path):
    for name in ("a1", "a2"):
        write_task(tmp_path / "arc" / "training", name)
    write_task(tmp_path / "arc" / "evaluation", "e1", n_test=2)
    write_task(tmp_path / "arc" / "evaluation", "e2")
    train, ev = arc.read_arc(tmp_path / "arc")
    out = arc.build(train, ev, tmp_path / "built", aug=5, seed=1)
    test, _ = read_split(out / "test")
    ids = json.loads((out / "identifiers.json").read_text())
    tests = json.loads((out / "test_puzzles.json").read_text())
    return out, test, ids, tests


class TestEncoding:
    @pytest.mark.parametrize("shape", [(1, 1), (3, 7), (30, 30), (30, 5), (5, 30), (29, 29)])
    def test_canvas_crop_round_trip(self, shape):
        g = random_grid(*shape)
        tokens = arc.to_canvas(g)
        assert tokens.shape == (900,) and np.array_equal(arc.crop(tokens), g)

    def test_eos_border(self):
        canvas = arc.to_canvas(np.zeros((2, 3), int), offset=(1, 1)).reshape(30, 30)
        assert (canvas[1:3, 1:4] == 2).all() and (canvas[3, 1:5] == 1).all()
        assert (canvas[1:3, 4] == 1).all() and canvas.sum() == 2 * 6 + 4 + 2

    @pytest.mark.parametrize("t", range(8))
    def test_variants_invert(self, t):
        g = random_grid(4, 7)
        assert np.array_equal(inverse_dihedral(dihedral(g, t), t), g)
        v = arc.Variant(t, (0, *(rng.permutation(9) + 1).tolist()))
        assert np.array_equal(v.invert(v.apply(g)), g)
        assert arc.Variant.parse(v.name("abc")) == ("abc", v)

    def test_symmetric_task_has_only_the_identity(self):
        blank = np.zeros((3, 3), int)
        task = arc.Task("blank", [(blank, blank)], [(blank, blank)])
        assert arc.variants(task, 50, np.random.default_rng(0)) == [arc.IDENTITY]


class TestBuild:
    def test_splits(self, tiny_arc):
        out, test, ids, tests = tiny_arc
        train, meta = read_split(out / "train")
        assert set(tests) == {"e1", "e2"}
        # train: every pair of a1, a2 (4 each) and the demos of e1, e2 (3 each), for 6 variants
        assert train.n_examples == 6 * (4 + 4 + 3 + 3) and train.n_groups == 4
        # test: the eval test pairs only (2 + 1), for 6 variants each, always top-left
        assert test.n_examples == 6 * 3 and test.n_groups == 2
        assert all(arc.crop(x) is not None for x in test.inputs)
        translated = [not (x.reshape(30, 30)[0, 0] >= 2) for x in train.inputs]
        assert any(translated) and not all(translated)
        assert meta["vocab_size"] == 12 and meta["num_puzzle_identifiers"] == len(ids)

    def test_true_labels_score_everything(self, tiny_arc):
        _, test, ids, tests = tiny_arc
        result = arc.score(arc.collect_votes(test, ids, test.labels), tests)
        assert all(v == 1.0 for v in result.values())

    def test_votes_rank_by_count_then_halting_score(self, tiny_arc):
        _, test, ids, tests = tiny_arc
        wrong = test.labels.copy()
        # e2 has one test pair; spoil 4 of its 6 variant answers in the same way
        e2 = [p for p, pid in enumerate(test.puzzle_identifiers) if ids[pid].startswith("e2|||")]
        for p in e2[:4]:
            ex = test.puzzle_indices[p]
            wrong[ex] = arc.to_canvas(np.zeros((1, 1), int))
        votes = arc.collect_votes(test, ids, wrong)
        result = arc.score(votes, tests)
        assert result["pass@1"] == pytest.approx(0.5) and result["pass@2"] == 1.0
        # a 3 / 3 tie is broken by the mean halting score
        q = np.zeros(len(wrong))
        for p in e2[4:]:
            q[test.puzzle_indices[p]] = 1.0
        for p in e2[3:4]:
            wrong[test.puzzle_indices[p]] = test.labels[test.puzzle_indices[p]]
        assert arc.score(arc.collect_votes(test, ids, wrong, q), tests)["pass@1"] == 1.0

    def test_votes_merge_like_one_collection(self):
        answers = [(f"t{i % 3}", i % 2, np.full((2, 2), i % 4), 0.1 * i) for i in range(40)]
        whole, first, second = arc.Votes.empty(), arc.Votes.empty(), arc.Votes.empty()
        for i, a in enumerate(answers):
            whole.add(*a)
            (first if i % 2 else second).add(*a)
        merged = first.merge(second)
        assert merged.table.keys() == whole.table.keys()
        for key, table in whole.table.items():
            assert table.keys() == merged.table[key].keys()
            for answer, (n, q) in table.items():
                assert merged.table[key][answer][0] == n
                assert merged.table[key][answer][1] == pytest.approx(q)

    def test_bad_task_file(self, tmp_path):
        (tmp_path / "bad.json").write_text('{"train": [{"input": [[1, 12]], "output": [[0]]}]}')
        with pytest.raises(DataError, match=r"bad\.json: not an ARC task"):
            arc.read_folder(tmp_path)
        with pytest.raises(DataError, match="no ARC task JSON"):
            arc.read_folder(tmp_path / "empty")


@pytest.mark.skipif(
    not (SHARED_DATA / "arc-agi-1" / "training").is_dir(),
    reason=f"ARC-AGI files not found at {SHARED_DATA} (github.com/fchollet/ARC-AGI)",
)
def test_official_folders():
    train, ev = arc.read_arc(SHARED_DATA / "arc-agi-1")
    assert (len(train), len(ev)) == (400, 400)
    train2, ev2 = arc.read_arc(SHARED_DATA, version=2)
    assert (len(train2), len(ev2)) == (1000, 120)


def _gather_worker(rank: int, world: int, init: str, queue) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    votes = arc.Votes.empty()
    votes.add("t", 0, np.full((2, 2), rank), 1.0)
    votes.add("t", 0, np.full((2, 2), 9), 0.5)
    merged = arc.gather_votes(votes)
    queue.put((rank, {k: {a: tuple(v) for a, v in t.items()} for k, t in merged.table.items()}))
    dist.destroy_process_group()


def test_gather_votes_across_two_processes(tmp_path):
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    init = f"file://{tmp_path / 'rendezvous'}"
    procs = [ctx.Process(target=_gather_worker, args=(r, 2, init, queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert results[0] == results[1]
    table = results[0][("t", 0)]
    nine = ((2, 2), np.full((2, 2), 9, np.uint8).tobytes())
    assert table[nine] == (2, 1.0) and len(table) == 3


def test_votes_accumulate_only_when_asked(tiny_arc):
    _, test, ids, _ = tiny_arc
    once = arc.collect_votes(test, ids, test.labels)
    again = arc.collect_votes(test, ids, test.labels)
    assert once.table == again.table  # a fresh call never sees earlier votes
    both = arc.collect_votes(test, ids, test.labels, into=arc.collect_votes(test, ids, test.labels))
    key = next(iter(both.table))
    assert [n for n, _ in both.table[key].values()] == [2 * n for n, _ in once.table[key].values()]
