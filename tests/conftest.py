"""Shared test settings: hypothesis runs derandomized (CI must be reproducible)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "hartflow",
    derandomize=True,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("hartflow")

# The official data sets: $HARTFLOW_DATA if set, else ../shared/data beside the checkout.
SHARED_DATA = Path(
    os.environ.get("HARTFLOW_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)


@pytest.fixture
def gen() -> torch.Generator:
    """An explicit, seeded generator (tests never read the global RNG)."""
    return torch.Generator().manual_seed(1234)
