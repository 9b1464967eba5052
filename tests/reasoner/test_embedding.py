"""The grid input embedding: √D-scaled tokens, puzzle prefix slots, learned positions."""

from __future__ import annotations

import math

import pytest
import torch

from reasoner.embedding import GridEmbedding


def build(gen, **kw):
    args = dict(
        puzzle_emb_len=3, puzzle_dim=8, num_puzzle_identifiers=5, pos_encoding="none", generator=gen
    )
    return GridEmbedding(7, 8, 4, **{**args, **kw})


class TestGridEmbedding:
    def test_shapes_and_scale(self, gen):
        emb = build(gen)
        inputs = torch.randint(0, 7, (2, 4), generator=gen)
        x = emb(inputs, torch.tensor([0, 3]))
        assert x.shape == (2, 3 + 4, 8) and x.dtype == torch.float32
        assert torch.allclose(x[:, 3:], math.sqrt(8) * emb.tokens.weight[inputs])

    def test_puzzle_table_zero_init_and_only_slot_zero(self, gen):
        emb = build(gen)
        assert emb.puzzle.weight.eq(0).all()
        with torch.no_grad():
            emb.puzzle.weight.copy_(torch.randn(5, 8, generator=gen))
        x = emb(torch.zeros(2, 4, dtype=torch.long), torch.tensor([1, 4]))
        assert torch.allclose(x[:, 0], math.sqrt(8) * emb.puzzle.weight[[1, 4]])
        assert x[:, 1:3].eq(0).all()  # register slots hold zeros

    def test_wide_puzzle_vector_spans_slots(self, gen):
        emb = build(gen, puzzle_dim=12)
        with torch.no_grad():
            emb.puzzle.weight.fill_(1.0)
        x = emb(torch.zeros(1, 4, dtype=torch.long), torch.tensor([2]))
        assert x[0, 0].ne(0).all() and x[0, 1, :4].ne(0).all() and x[0, 1, 4:].eq(0).all()

    def test_sparse_gradient(self, gen):
        emb = build(gen)
        emb(torch.zeros(2, 4, dtype=torch.long), torch.tensor([1, 1])).sum().backward()
        grad = emb.puzzle.weight.grad
        assert grad.is_sparse
        assert set(grad.coalesce().indices()[0].tolist()) == {1}

    def test_learned_positions(self, gen):
        emb = build(gen, pos_encoding="learned")
        inputs = torch.randint(0, 7, (1, 4), generator=gen)
        x = emb(inputs, torch.tensor([0]))
        ref = math.sqrt(8) * 0.707106781 * (emb.tokens.weight[inputs[0]] + emb.positions[3:])
        assert torch.allclose(x[0, 3:], ref, atol=1e-6)

    def test_prefix_too_small(self, gen):
        with pytest.raises(ValueError, match="puzzle_emb_len"):
            build(gen, puzzle_emb_len=1, puzzle_dim=12)
