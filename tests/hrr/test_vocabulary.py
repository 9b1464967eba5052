"""Item memory: deterministic symbols, batched cleanup with top-k, margin and abstention."""

from __future__ import annotations

import pytest
import torch

import hrr
from hrr import HRRError, Vocabulary


@pytest.fixture
def vocab() -> Vocabulary:
    return Vocabulary(512, [f"s{i}" for i in range(50)], seed=3)


class TestSymbols:
    def test_vectors_are_seeded_by_name(self, vocab):
        other = Vocabulary(512, ["s7", "s1"], seed=3)
        assert torch.equal(other["s1"], vocab["s1"])
        assert not torch.equal(Vocabulary(512, ["s1"], seed=4)["s1"], vocab["s1"])

    def test_lookup_index_and_batch(self, vocab):
        assert vocab.index("s4") == 4
        assert vocab[["s2", "s9"]].shape == (2, 512)
        assert len(vocab) == 50 and "s49" in vocab and "zz" not in vocab

    def test_unitary_vocabulary(self):
        roles = Vocabulary(256, ["a", "b"], unitary=True)
        assert hrr.is_unitary(roles.vectors).all()

    def test_unknown_symbol_is_named_with_nearest(self, vocab):
        with pytest.raises(HRRError, match=r"unknown symbol 's51'.*nearest: s5"):
            vocab["s51"]

    def test_non_string_symbol(self, vocab):
        with pytest.raises(HRRError, match="symbols are strings"):
            vocab[5]

    def test_returned_vectors_are_copies(self, vocab):
        x = vocab["s1"]
        x.mul_(0)
        assert vocab["s1"].abs().sum() > 0

    def test_non_strict_creates_on_lookup(self):
        v = Vocabulary(64, strict=False)
        x = v["new"]
        assert "new" in v and torch.equal(x, Vocabulary(64, ["new"])["new"])

    def test_remove_and_add_vectors(self, vocab):
        kept = vocab["s10"].clone()
        vocab.remove("s3", "s4")
        assert len(vocab) == 48 and "s3" not in vocab
        assert torch.equal(vocab["s10"], kept)
        vocab.add_vectors(["mine"], torch.ones(1, 512))
        assert vocab.cleanup(torch.ones(512)).symbols == "mine"
        with pytest.raises(HRRError, match="already present"):
            vocab.add_vectors(["mine"], torch.ones(1, 512))


class TestCleanup:
    def test_batch_of_noisy_vectors(self, vocab, gen):
        ids = torch.randint(50, (8,), generator=gen)
        noisy = vocab.vectors[ids] + 0.5 * hrr.random(8, 512, generator=gen)
        c = vocab.cleanup(noisy)
        assert torch.equal(c.indices[:, 0], ids)
        assert c.symbols == [f"s{i}" for i in ids.tolist()]

    def test_three_dimensional_batch_and_topk(self, vocab, gen):
        q = vocab.vectors[:12].reshape(3, 4, 512)
        c = vocab.cleanup(q, k=3)
        assert c.indices.shape == (3, 4, 3) and c.scores.shape == (3, 4, 3)
        assert torch.equal(c.indices[..., 0], torch.arange(12).reshape(3, 4))
        assert (c.scores[..., 0] >= c.scores[..., 1]).all()
        assert len(c.topk_symbols[2][3]) == 3

    def test_margin_is_best_minus_second(self, vocab):
        c = vocab.cleanup(vocab.vectors[:5], k=2)
        assert torch.allclose(c.margin, c.scores[:, 0] - c.scores[:, 1])

    def test_abstains_below_threshold_without_raising(self, vocab, gen):
        noise = hrr.random(4, 512, generator=gen)
        c = vocab.cleanup(torch.cat([noise, vocab.vectors[:2]]), threshold=0.3)
        assert c.accepted.tolist() == [False] * 4 + [True] * 2
        assert c.symbols == [None] * 4 + ["s0", "s1"]

    def test_errors(self, vocab):
        with pytest.raises(HRRError, match="d=512"):
            vocab.cleanup(torch.zeros(3, 256))
        with pytest.raises(HRRError, match="empty"):
            Vocabulary(8).cleanup(torch.ones(8))
        with pytest.raises(HRRError, match="k must be"):
            vocab.cleanup(torch.ones(512), k=0)

    def test_compiles_without_graph_breaks(self, vocab):
        # cleanup scoring is sync-free: one GEMM and a topk, no .item()
        compiled = torch.compile(lambda v: vocab.scores(v).topk(2, dim=-1), fullgraph=True)
        _, i = compiled(vocab.vectors[:3])
        assert torch.equal(i[:, 0], torch.arange(3))
