"""A real learning check: tiny models fit a small batch of a task that needs token mixing."""

from __future__ import annotations

import pytest
import torch

from reasoner import HRM, TRM, AdamATan2, SignSGD, act_loss

from .conftest import tiny_hrm, tiny_trm


class TestOverfit:
    @pytest.mark.parametrize("arch", ["trm-att", "trm-mlp", "hrm"])
    def test_loss_drops_on_reversal(self, gen, arch):
        """Reverse the grid: every output cell depends on another position's input."""
        B = 8
        inputs = torch.randint(1, 6, (B, 8), generator=gen)
        batch = {
            "inputs": inputs,
            "labels": inputs.flip(-1),
            "puzzle_identifiers": torch.randint(0, 3, (B,), generator=gen),
        }
        if arch == "hrm":
            model = HRM(tiny_hrm(max_halt_steps=1, hidden_size=32))
        else:
            mixer = {"mixer": "mlp", "pos_encoding": "none"} if arch == "trm-mlp" else {}
            model = TRM(tiny_trm(max_halt_steps=1, hidden_size=32, n_cycles=2, **mixer))
        dense = AdamATan2(model.dense_parameters(), lr=3e-3)
        sparse = SignSGD(model.puzzle_parameters(), lr=1e-3)
        carry, losses = model.initial_carry(batch), []
        for _ in range(40):
            carry, out = model(carry, batch)
            loss, metrics = act_loss(out, carry)
            dense.zero_grad()
            sparse.zero_grad()
            (loss / B).backward()
            dense.step()
            sparse.step()
            losses.append(metrics["lm_loss"].item() / B)
        assert losses[0] > 1.5  # about log(5) per cell at the start
        assert losses[-1] < 0.5 * losses[0], losses
        assert model.embed.puzzle.weight.abs().sum() > 0  # sign-SGD moved the used rows
