"""The sequence-first layout (`seq_first=True`, (L, B, D) tensors) that the compiled train step
runs in: the same function as the reference layout, forward and backward, for every mixer.

It is not bit-exact (a W·X product may sum in another order than Xᵀ·Wᵀ), so it is compared
within float32 rounding; the reference layout stays the eager default (test_bf16.py).
"""

from __future__ import annotations

import pytest
import torch

from reasoner.layers import Block, SwiGLU
from reasoner.presets import build_model, grid_config


def randomize(module: torch.nn.Module, gen: torch.Generator, *, all_weights: bool = True) -> None:
    """Random weights (0.3·N(0, 1)) everywhere, or only where the init left zeros (the q-head,
    the puzzle table): a whole recursion with every weight at 0.3·N(0, 1) amplifies float
    rounding ~10x per step, more than a comparison of two summation orders can allow."""
    with torch.no_grad():
        for p in module.parameters():
            if all_weights or not p.abs().max() > 0:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)


def assert_close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * max(b.abs().max().item(), 1.0))


def test_swiglu_over_first_axis_equals_over_rows():
    gen = torch.Generator().manual_seed(0)
    mlp = SwiGLU(13, 4.0, multiple=16)
    randomize(mlp, gen)
    x = torch.randn(3, 13, 48, generator=gen)  # (B, dim, C): mixes the 13-long axis
    want = mlp.forward_over_rows(x)
    got = mlp.forward_over_first_axis(x.permute(1, 0, 2).contiguous()).permute(1, 0, 2)
    assert_close(got, want)


@pytest.mark.parametrize("mixer", ["mlp", "attention"])
def test_block_seq_first_equals_batch_first(mixer):
    gen = torch.Generator().manual_seed(1)
    B, L, D = 3, 11, 48  # √48 is not exact: a width where summation order shows
    block = Block(D, 4, 4.0, mixer=mixer, seq_len=L, ffn_multiple=16)
    randomize(block, gen)
    h = torch.randn(B, L, D, generator=gen)
    want = block(h)
    got = block(h.transpose(0, 1).contiguous(), seq_first=True).transpose(0, 1)
    assert got.shape == want.shape == (B, L, D)
    assert_close(got, want)


@pytest.mark.parametrize("arch", ["trm-mlp", "trm-att", "hrm"])
def test_inner_seq_first_equals_reference_layout(arch):
    """One supervision step both ways: heads, new state (back in (B, L, D)), every gradient."""
    gen = torch.Generator().manual_seed(2)
    cfg = grid_config(arch, "tiny", hidden_size=48, n_heads=4, seq_len=10, vocab_size=6,
                      num_puzzle_identifiers=3, ffn_multiple=16)  # fmt: skip
    model = build_model(cfg)
    randomize(model, gen, all_weights=False)
    batch = {"inputs": torch.randint(1, 6, (4, 10), generator=gen),
             "puzzle_identifiers": torch.tensor([0, 2, 1, 2])}  # fmt: skip
    state = {n: torch.randn(4, cfg.total_len, 48, generator=gen) for n in model.state_names}
    results = []
    for seq_first in (False, True):
        new_state, logits, q_halt, q_continue = model.inner(state, batch, seq_first=seq_first)
        (logits.square().mean() + q_halt.sum() + q_continue.sum()).backward()
        grads = {n: p.grad.to_dense().clone() for n, p in model.named_parameters()}
        model.zero_grad(set_to_none=True)
        results.append((new_state, logits, q_halt, q_continue, grads))
    (s0, *heads0, g0), (s1, *heads1, g1) = results
    for name in s0:
        assert s1[name].shape == s0[name].shape == (4, cfg.total_len, 48)
        assert_close(s1[name], s0[name])
    for a, b in zip(heads1, heads0, strict=True):
        assert_close(a, b)
    assert g0.keys() == g1.keys()
    for name in g0:
        assert_close(g1[name], g0[name])
