"""Fixtures for the grid-model tests: tiny configs and seeded batches."""

from __future__ import annotations

import pytest
import torch

from reasoner import HRMConfig, TRMConfig

V, L = 6, 8  # tiny vocabulary and grid length


def tiny_trm(**overrides) -> TRMConfig:
    base = dict(
        vocab_size=V,
        seq_len=L,
        num_puzzle_identifiers=3,
        hidden_size=16,
        n_heads=2,
        expansion=2,
        puzzle_emb_len=2,
        n_cycles=3,
        n_latent_steps=2,
        max_halt_steps=4,
    )
    return TRMConfig(**{**base, **overrides})


def tiny_hrm(**overrides) -> HRMConfig:
    base = dict(
        vocab_size=V,
        seq_len=L,
        num_puzzle_identifiers=3,
        hidden_size=16,
        n_heads=2,
        expansion=2,
        high_layers=2,
        low_layers=2,
        max_halt_steps=4,
    )
    return HRMConfig(**{**base, **overrides})


def make_batch(gen: torch.Generator, batch_size: int = 4) -> dict[str, torch.Tensor]:
    inputs = torch.randint(1, V, (batch_size, L), generator=gen)
    labels = torch.randint(1, V, (batch_size, L), generator=gen)
    labels[0, :2] = -100  # some ignored cells
    return {
        "inputs": inputs,
        "labels": labels,
        "puzzle_identifiers": torch.randint(0, 3, (batch_size,), generator=gen),
    }


@pytest.fixture
def trm_cfg():
    """Factory: a tiny TRMConfig with overrides."""
    return tiny_trm


@pytest.fixture
def hrm_cfg():
    """Factory: a tiny HRMConfig with overrides."""
    return tiny_hrm


@pytest.fixture
def batch(gen):
    """A seeded batch of 4 rows for the tiny configs."""
    return make_batch(gen)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core machine OpenMP
    spin-waiting makes them ~50x slower; run each test single-threaded and restore after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
