"""TRM: shapes for every variant, where gradients flow, no-grad cycles, heads and init."""

from __future__ import annotations

import pytest
import torch

from reasoner import TRM, act_loss
from reasoner.layers import ReasoningModule

from .conftest import L, V

VARIANTS = [
    {},
    {"mixer": "mlp", "pos_encoding": "none"},
    {"pos_encoding": "learned"},
    {"single_z": True},
    {"separate_nets": True},
    {"one_step_grad": True},
    {"act_continue": True},
    {"puzzle_emb_ndim": 0},
]


def record_net_calls(model):
    """Hook every ReasoningModule; returns a list of (grad enabled, output requires grad)."""
    calls = []
    for mod in model.modules():
        if isinstance(mod, ReasoningModule):
            mod.register_forward_hook(
                lambda m, i, o: calls.append((torch.is_grad_enabled(), o.requires_grad))
            )
    return calls


def count_graph_nodes(t: torch.Tensor, name: str) -> int:
    """Autograd nodes whose class name contains `name`, reachable from t.grad_fn."""
    seen, stack, n = set(), [t.grad_fn], 0
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        n += name in type(fn).__name__
        stack.extend(f for f, _ in fn.next_functions)
    return n


class TestTRMShapes:
    @pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(v) or "default")
    def test_outputs_and_carry(self, trm_cfg, batch, variant):
        model = TRM(trm_cfg(**variant))
        carry = model.initial_carry(batch)
        assert carry.halted.all() and carry.steps.eq(0).all()
        carry, out = model(carry, batch)
        assert out.logits.shape == (4, L, V) and out.logits.dtype == torch.float32
        assert out.q_halt_logits.shape == (4,)
        with_continue = bool(variant.get("act_continue"))
        assert (out.target_q_continue is not None) == with_continue
        assert (out.q_continue_logits is not None) == with_continue
        if with_continue:
            assert out.q_continue_logits.shape == (4,)
        assert carry.steps.eq(1).all()
        assert all(not t.requires_grad for t in carry.state.values())
        assert set(carry.state) == ({"z"} if variant.get("single_z") else {"y", "z"})
        assert torch.equal(carry.data["inputs"], batch["inputs"])

    def test_init_is_seeded_and_avoids_global_rng(self, trm_cfg):
        state = torch.get_rng_state()
        a = TRM(trm_cfg(), generator=torch.Generator().manual_seed(3))
        b = TRM(trm_cfg(), generator=torch.Generator().manual_seed(3))
        c = TRM(trm_cfg(), generator=torch.Generator().manual_seed(4))
        assert torch.equal(state, torch.get_rng_state())
        sa, sb = a.state_dict(), b.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
        assert not torch.equal(a.net.blocks[0].mlp.down.weight, c.net.blocks[0].mlp.down.weight)


class TestTRMHeads:
    def test_q_head_init_and_lm_head_no_bias(self, trm_cfg, batch):
        model = TRM(trm_cfg())
        assert model.q_head.weight.eq(0).all() and model.q_head.bias.eq(-5).all()
        assert model.lm_head.bias is None
        _, out = model(model.initial_carry(batch), batch)
        assert torch.allclose(out.q_halt_logits, torch.full((4,), -5.0))

    def test_initial_states_are_fixed_buffers(self, trm_cfg):
        model = TRM(trm_cfg())
        names = {n for n, _ in model.named_parameters()}
        assert "y_init" in dict(model.named_buffers()) and "y_init" not in names
        assert "y_init" in model.state_dict()  # persistent: saved with the checkpoint
        assert abs(model.z_init.std().item() - 1) < 0.5

    def test_heads_read_y_at_prefix_zero(self, trm_cfg, batch):
        """q reads y[:, 0]; logits read y[:, P:] (the puzzle prefix is cut off)."""
        model = TRM(trm_cfg())
        with torch.no_grad():
            model.q_head.weight.normal_(generator=torch.Generator().manual_seed(0))
        state, logits, q_halt, _ = model.inner(model.initial_state(4, torch.device("cpu")), batch)
        y = state["y"]
        assert torch.allclose(q_halt, model.q_head(y[:, 0])[:, 0], atol=1e-5)
        assert torch.allclose(logits, model.lm_head(y[:, 2:]), atol=1e-5)


class TestTRMRecursion:
    @pytest.mark.parametrize("variant", [{}, {"single_z": True}, {"separate_nets": True}])
    def test_matches_an_explicit_loop(self, trm_cfg, batch, variant):
        """One step = T × (n × z = f(z, y + x); y = f(y, z)), heads on y, from the fixed inits."""
        model = TRM(trm_cfg(**variant)).eval()
        _, out = model(model.initial_carry(batch), batch)
        x = model.embed(batch["inputs"], batch["puzzle_identifiers"])
        y = model.y_init.expand_as(x) if not variant.get("single_z") else None
        z = model.z_init.expand_as(x)
        f, f_y, rot = model.net, model.net_y or model.net, model.rotary()
        with torch.no_grad():
            for _ in range(3):
                for _ in range(2):
                    z = f(z, x if y is None else y + x, rot)
                if y is None:
                    z = f_y(z, None, rot)
                else:
                    y = f_y(y, z, rot)
            read = z if y is None else y
            assert torch.allclose(out.logits, model.lm_head(read[:, 2:]), atol=1e-5)
            assert torch.allclose(out.q_halt_logits, model.q_head(read[:, 0])[:, 0], atol=1e-5)


class TestTRMGradients:
    @pytest.mark.parametrize(
        ("variant", "grad_calls"),
        [
            ({}, 3),
            ({"one_step_grad": True}, 2),
            ({"separate_nets": True}, 3),
            ({"single_z": True}, 3),
        ],
    )
    def test_only_the_last_cycle_builds_a_graph(self, trm_cfg, batch, variant, grad_calls):
        """T=3, n=2: 9 applications of f; only the last n+1 (1-step: 2) run with gradient."""
        model = TRM(trm_cfg(**variant))
        calls = record_net_calls(model)
        _, out = model(model.initial_carry(batch), batch)
        assert len(calls) == 3 * (2 + 1)
        assert calls[: 9 - grad_calls] == [(False, False)] * (9 - grad_calls)
        assert calls[9 - grad_calls :] == [(True, True)] * grad_calls
        # The autograd graph holds exactly the grad-enabled applications: one SiLU per block.
        assert count_graph_nodes(out.logits, "Silu") == grad_calls * 2

    def test_mlp_mixer_graph(self, trm_cfg, batch):
        model = TRM(trm_cfg(mixer="mlp", pos_encoding="none"))
        _, out = model(model.initial_carry(batch), batch)
        assert count_graph_nodes(out.logits, "Silu") == 3 * 2 * 2  # token + channel MLP

    def test_gradients_reach_every_trained_tensor(self, trm_cfg, batch):
        model = TRM(trm_cfg())
        carry, out = model(model.initial_carry(batch), batch)
        loss, _ = act_loss(out, carry)
        loss.backward()
        for name, p in model.named_parameters():
            assert p.grad is not None, name
        assert model.q_head.weight.grad.abs().sum() > 0 and model.q_head.bias.grad.abs().sum() > 0
        grad = model.embed.puzzle.weight.grad
        assert grad.is_sparse
        assert set(grad.coalesce().indices()[0].tolist()) == set(
            batch["puzzle_identifiers"].tolist()
        )
        assert grad.coalesce().values().abs().sum() > 0

    def test_carry_blocks_gradient_between_steps(self, trm_cfg, batch):
        """The second step's loss does not reach back into the first step's graph."""
        model = TRM(trm_cfg())
        carry, _ = model(model.initial_carry(batch), batch)
        carry.halted.zero_()
        calls = record_net_calls(model)
        carry, out = model(carry, batch)
        assert sum(g for g, _ in calls) == 3
        assert count_graph_nodes(out.logits, "Silu") == 3 * 2

    def test_parameter_groups_partition(self, trm_cfg):
        model = TRM(trm_cfg())
        dense, sparse = model.dense_parameters(), model.puzzle_parameters()
        assert len(sparse) == 1 and sparse[0] is model.embed.puzzle.weight
        assert {id(p) for p in dense} | {id(p) for p in sparse} == {
            id(p) for p in model.parameters()
        }
        assert not {id(p) for p in dense} & {id(p) for p in sparse}


class TestTRMAutocast:
    @pytest.mark.parametrize("mixer", ["attention", "mlp"])
    def test_bf16_forward_and_backward(self, trm_cfg, batch, mixer):
        model = TRM(trm_cfg(mixer=mixer))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            carry, out = model(model.initial_carry(batch), batch)
            loss, _ = act_loss(out, carry)
        loss.backward()
        assert carry.state["y"].dtype == torch.bfloat16
        assert out.logits.dtype == torch.float32 and torch.isfinite(out.logits).all()
        assert model.net.blocks[0].mlp.down.weight.dtype == torch.float32  # fp32 master weights
        assert torch.isfinite(model.net.blocks[0].mlp.down.weight.grad).all()
        carry, out = model(carry, batch)  # a bf16 carry is reused outside autocast
        assert out.logits.dtype == torch.float32
