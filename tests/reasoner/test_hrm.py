"""HRM: two modules (z_high, z_low), the 1-step gradient, Q-learning halting."""

from __future__ import annotations

import torch

from reasoner import HRM, act_loss

from .conftest import L, V
from .test_trm import count_graph_nodes


def record(module, calls, tag):
    module.register_forward_hook(
        lambda m, i, o: calls.append((tag, torch.is_grad_enabled(), o.requires_grad))
    )


class TestHRM:
    def test_shapes_and_state_names(self, hrm_cfg, batch):
        model = HRM(hrm_cfg())
        assert model.config.puzzle_emb_len == 1  # ceil(16 / 16)
        carry, out = model(model.initial_carry(batch), batch)
        assert set(carry.state) == {"z_high", "z_low"}
        assert carry.state["z_high"].shape == (4, 1 + L, 16)
        assert out.logits.shape == (4, L, V) and out.target_q_continue is not None

    def test_one_step_gradient(self, hrm_cfg, batch):
        """N=2, T=2: low, low, high, low, low, high; only the final low and high get gradient."""
        model = HRM(hrm_cfg())
        calls = []
        record(model.low, calls, "low")
        record(model.high, calls, "high")
        model.train()
        _, out = model(model.initial_carry(batch), batch)
        first = calls[:6]  # the second (bootstrap) forward follows, all without gradient
        assert [t for t, _, _ in first] == ["low", "low", "high", "low", "low", "high"]
        assert [g for _, g, _ in first] == [False] * 4 + [True] * 2
        assert all(not g for _, g, _ in calls[6:]) and len(calls) == 12
        assert count_graph_nodes(out.logits, "Silu") == 2 * 2  # 2 layers each, 1 call each

    def test_matches_an_explicit_loop(self, hrm_cfg, batch):
        """N × (T × z_low = f_low(z_low, z_high + x); z_high = f_high(z_high, z_low))."""
        model = HRM(hrm_cfg()).eval()
        _, out = model(model.initial_carry(batch), batch)
        x = model.embed(batch["inputs"], batch["puzzle_identifiers"])
        high, low, rot = (
            model.z_high_init.expand_as(x),
            model.z_low_init.expand_as(x),
            model.rotary(),
        )
        with torch.no_grad():
            for _ in range(2):
                for _ in range(2):
                    low = model.low(low, high + x, rot)
                high = model.high(high, low, rot)
            assert torch.allclose(out.logits, model.lm_head(high[:, 1:]), atol=1e-5)
            assert torch.allclose(out.q_halt_logits, model.q_head(high[:, 0])[:, 0], atol=1e-5)
            assert torch.allclose(out.q_continue_logits, model.q_head(high[:, 0])[:, 1], atol=1e-5)

    def test_separate_modules_get_gradient(self, hrm_cfg, batch):
        model = HRM(hrm_cfg())
        carry, out = model(model.initial_carry(batch), batch)
        act_loss(out, carry)[0].backward()
        for mod in (model.high, model.low, model.q_head, model.lm_head):
            assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in mod.parameters())
        assert model.embed.puzzle.weight.grad.is_sparse

    def test_halts_when_q_halt_beats_q_continue(self, hrm_cfg, batch):
        model = HRM(hrm_cfg(halt_exploration_prob=0.0))
        with torch.no_grad():
            model.q_head.bias.copy_(torch.tensor([-4.0, -6.0]))  # both negative, halt > continue
        carry, _ = model(model.initial_carry(batch), batch)
        assert carry.halted.all()

    def test_bf16_autocast(self, hrm_cfg, batch):
        model = HRM(hrm_cfg())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            carry, out = model(model.initial_carry(batch), batch)
            loss, _ = act_loss(out, carry)
        loss.backward()
        assert carry.state["z_low"].dtype == torch.bfloat16
        assert torch.isfinite(out.logits).all() and out.target_q_continue.dtype == torch.float32
        assert torch.isfinite(model.low.blocks[0].attn.qkv.weight.grad).all()
