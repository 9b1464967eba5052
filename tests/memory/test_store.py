"""Memory: exact top-k (checked against brute force and FAISS), removal, persistence, errors."""

from __future__ import annotations

import pytest
import torch

import hrr
from memory import Memory, MemoryStoreError


def brute_force(keys, queries, k):
    return (queries @ keys.T).topk(k, dim=1)


@pytest.fixture
def data():
    keys = hrr.random(1000, 64, seed=0)
    queries = hrr.random(17, 64, seed=1)
    return keys, queries


class TestSearch:
    @pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000, 5000])
    def test_chunked_search_is_exact(self, data, chunk_size):
        keys, queries = data
        m = Memory(64, chunk_size=chunk_size)
        m.add(keys)
        scores, idx = m.search(queries, k=5)
        ref_s, ref_i = brute_force(keys, queries, 5)
        assert torch.equal(idx, ref_i) and torch.allclose(scores, ref_s)

    def test_cosine_metric_finds_scaled_copies(self, data):
        keys, _ = data
        m = Memory(64, metric="cosine")
        m.add(keys * torch.rand(1000, 1, generator=torch.Generator().manual_seed(0)) * 10)
        _, idx = m.search(keys[[3, 500]] * 0.01, k=1)
        assert idx[:, 0].tolist() == [3, 500]

    def test_single_query_and_k_larger_than_store(self):
        m = Memory(8)
        m.add(torch.eye(8)[:3], ["x", "y", "z"])
        _, idx = m.search(torch.eye(8)[1], k=10)
        assert idx.shape == (1, 3) and idx[0, 0] == 1
        assert m.lookup(idx[:, :1]) == [["y"]]

    def test_faiss_backend_returns_the_same_top_k(self, data):
        pytest.importorskip("faiss", reason="faiss-cpu (the bench extra) is not installed")
        keys, queries = data
        ours, theirs = Memory(64), Memory(64, backend="faiss")
        for m in (ours, theirs):
            m.add(keys[:600])
            m.add(keys[600:])
        s1, i1 = ours.search(queries, k=8)
        s2, i2 = theirs.search(queries, k=8)
        assert torch.equal(i1, i2) and torch.allclose(s1, s2, atol=1e-5)
        theirs.remove([0, 1, 2])
        ours.remove([0, 1, 2])
        assert torch.equal(ours.search(queries, k=8)[1], theirs.search(queries, k=8)[1])


class TestContents:
    def test_remove_shifts_indices_and_payloads(self):
        m = Memory(4)
        m.add(torch.eye(4), ["a", "b", "c", "d"])
        m.remove([1])
        assert len(m) == 3 and m.values == ["a", "c", "d"]
        _, idx = m.search(torch.eye(4)[2], k=1)
        assert m.lookup(idx) == [["c"]]

    def test_save_and_load_round_trip(self, tmp_path, data):
        keys, queries = data
        m = Memory(64, metric="cosine", chunk_size=100)
        m.add(keys, [{"id": i, "tokens": [i, i + 1]} for i in range(1000)])
        m.save(tmp_path / "mem")
        m.save(tmp_path / "mem")  # overwriting an existing store works and leaves no debris
        loaded = Memory.load(tmp_path / "mem")
        assert [p.name for p in tmp_path.iterdir()] == ["mem"]
        assert loaded.values == m.values and torch.equal(loaded.keys, m.keys)
        assert torch.equal(loaded.search(queries, 3)[1], m.search(queries, 3)[1])
        assert (tmp_path / "mem" / "keys.safetensors").is_file()

    def test_unserialisable_payload_keeps_the_old_store(self, tmp_path):
        m = Memory(2)
        m.add(torch.eye(2), ["a", "b"])
        m.save(tmp_path / "mem")
        m.add(torch.ones(1, 2), [object()])
        with pytest.raises(MemoryStoreError, match="JSON"):
            m.save(tmp_path / "mem")
        assert Memory.load(tmp_path / "mem").values == ["a", "b"]
        assert [p.name for p in tmp_path.iterdir()] == ["mem"]


class TestErrors:
    @pytest.mark.parametrize(
        ("call", "match"),
        [
            (lambda m: m.add(torch.zeros(3, 5)), r"\(n, 4\).*\(3, 5\)"),
            (lambda m: m.add(torch.zeros(3, 4, dtype=torch.long)), "floating"),
            (lambda m: m.add(torch.zeros(2, 4), ["only one"]), "2 keys but 1 values"),
            (lambda m: m.search(torch.zeros(4)), "empty memory"),
            (lambda m: m.remove([7]), "out of range"),
        ],
    )
    def test_bad_input(self, call, match):
        with pytest.raises(MemoryStoreError, match=match):
            call(Memory(4))

    def test_bad_config_and_missing_store(self, tmp_path):
        with pytest.raises(MemoryStoreError, match="unknown metric"):
            Memory(4, metric="l2")
        with pytest.raises(MemoryStoreError, match="cannot load"):
            Memory.load(tmp_path / "nothing")
