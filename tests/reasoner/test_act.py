"""ACT (deep supervision): carry semantics, halting, exploration, evaluation, the ACT loss."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from reasoner import HRM, TRM, act_loss

from .conftest import L, V, make_batch


def set_q_bias(model, halt: float, cont: float) -> None:
    with torch.no_grad():
        model.q_head.bias.copy_(torch.tensor([halt, cont]))


class TestCarry:
    @pytest.mark.parametrize("model_cls", [TRM, HRM])
    def test_halted_rows_reset_others_continue(self, trm_cfg, hrm_cfg, gen, model_cls):
        cfg = (trm_cfg if model_cls is TRM else hrm_cfg)(halt_exploration_prob=0.0)
        model = model_cls(cfg)
        b1, b2 = make_batch(gen), make_batch(gen)
        carry, _ = model(model.initial_carry(b1), b1)
        carry.halted = torch.tensor([False, True, False, True])
        new, out = model(carry, b2)

        _, fresh = model(model.initial_carry(b2), b2)  # rows 1, 3 start over on b2
        keep = SimpleNamespace(**vars(carry))
        keep.halted = torch.zeros(4, dtype=torch.bool)
        _, cont = model(keep, b2)  # rows 0, 2 continue on b1 from their state
        assert torch.allclose(out.logits[[1, 3]], fresh.logits[[1, 3]], atol=1e-5)
        assert torch.allclose(out.logits[[0, 2]], cont.logits[[0, 2]], atol=1e-5)
        assert not torch.allclose(out.logits[[0, 2]], fresh.logits[[0, 2]], atol=1e-3)
        for key in b1:
            assert torch.equal(new.data[key][[1, 3]], b2[key][[1, 3]])
            assert torch.equal(new.data[key][[0, 2]], b1[key][[0, 2]])
        assert new.steps.tolist() == [2, 1, 2, 1]

    def test_batch_must_match_the_carry(self, trm_cfg, batch, gen):
        """A batch of another size is refused (a 1-row batch used to broadcast silently)."""
        model = TRM(trm_cfg())
        carry, _ = model(model.initial_carry(batch), batch)
        for size in (1, 8):
            with pytest.raises(ValueError, match="carry"):
                model(carry, make_batch(gen, batch_size=size))
        with pytest.raises(ValueError, match="puzzle_identifiers"):
            model(carry, {k: v for k, v in batch.items() if k != "puzzle_identifiers"})

    def test_grid_length_must_match_the_config(self, trm_cfg, batch):
        model = TRM(trm_cfg())
        short = {**batch, "inputs": batch["inputs"][:, :-1], "labels": batch["labels"][:, :-1]}
        with pytest.raises(ValueError, match="seq_len"):
            model(model.initial_carry(short), short)

    def test_initial_carry_all_halted(self, trm_cfg, batch):
        carry = TRM(trm_cfg()).initial_carry(batch)
        assert carry.halted.all() and set(carry.data) == set(batch)
        assert carry.state["y"].shape == (4, 2 + L, 16)


class TestHalting:
    def test_train_halts_on_positive_q(self, trm_cfg, batch):
        model = TRM(trm_cfg(halt_exploration_prob=0.0))
        set_q_bias(model, 5.0, 0.0)
        carry, _ = model(model.initial_carry(batch), batch)
        assert carry.halted.all() and carry.steps.eq(1).all()

    def test_train_runs_to_max_on_negative_q(self, trm_cfg, batch):
        model = TRM(trm_cfg(halt_exploration_prob=0.0))  # q_halt = -5 at init
        carry = model.initial_carry(batch)
        for step in range(1, 5):
            carry, _ = model(carry, batch)
            assert carry.halted.all() == (step == 4)

    def test_eval_always_runs_max_steps(self, trm_cfg, batch):
        model = TRM(trm_cfg()).eval()
        set_q_bias(model, 5.0, 0.0)  # would halt at once in training
        carry, n = model.initial_carry(batch), 0
        while True:
            carry, _ = model(carry, batch)
            n += 1
            if carry.halted.all():
                break
        assert n == 4 and carry.steps.eq(4).all()

    def test_exploration_forbids_early_halt(self, trm_cfg, batch):
        model = TRM(trm_cfg(halt_exploration_prob=1.0))
        set_q_bias(model, 5.0, 0.0)
        carry, _ = model(
            model.initial_carry(batch), batch, generator=torch.Generator().manual_seed(0)
        )
        assert not carry.halted.any()  # min steps >= 2

    def test_exploration_is_seeded(self, trm_cfg, gen):
        model = TRM(trm_cfg(halt_exploration_prob=0.5))
        set_q_bias(model, 5.0, 0.0)
        b = make_batch(gen, batch_size=64)
        runs = [
            model(model.initial_carry(b), b, generator=torch.Generator().manual_seed(s))[0].halted
            for s in (7, 7, 8)
        ]
        assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])
        assert 0.2 < runs[0].float().mean() < 0.8  # about half explore

    def test_exploration_never_reads_the_global_rng(self, trm_cfg, batch):
        """Without a generator the draws come from the model's own seeded one, not torch's."""
        runs = []
        for _ in range(2):
            model = TRM(trm_cfg(halt_exploration_prob=0.5))
            set_q_bias(model, 5.0, 0.0)
            state = torch.get_rng_state()
            carry = model.initial_carry(batch)
            halted = []
            for _ in range(3):
                carry, _ = model(carry, batch)
                halted.append(carry.halted.clone())
            assert torch.equal(state, torch.get_rng_state())
            runs.append(torch.stack(halted))
        assert torch.equal(runs[0], runs[1])  # reproducible from construction

    @pytest.mark.parametrize(("halt", "cont", "halts"), [(1.0, 2.0, False), (2.0, 1.0, True)])
    def test_act_continue_compares_q_values(self, trm_cfg, batch, halt, cont, halts):
        model = TRM(trm_cfg(halt_exploration_prob=0.0, act_continue=True))
        set_q_bias(model, halt, cont)
        carry, out = model(model.initial_carry(batch), batch)
        assert carry.halted.all() == halts and carry.halted.any() == halts
        # q_head weight is 0, so the next step's q values are the biases.
        expected = torch.sigmoid(torch.tensor(max(halt, cont)))
        assert torch.allclose(out.target_q_continue, expected.expand(4))

    def test_bootstrap_target_at_last_step_uses_q_halt(self, trm_cfg, batch):
        model = TRM(trm_cfg(halt_exploration_prob=0.0, act_continue=True, max_halt_steps=2))
        set_q_bias(model, -1.0, 3.0)
        carry, out = model(model.initial_carry(batch), batch)
        assert torch.allclose(out.target_q_continue, torch.sigmoid(torch.tensor(3.0)).expand(4))
        carry, out = model(carry, batch)  # step 2 = the last: the target is q_halt alone
        assert carry.halted.all()
        assert torch.allclose(out.target_q_continue, torch.sigmoid(torch.tensor(-1.0)).expand(4))

    def test_no_target_in_eval(self, trm_cfg, batch):
        model = TRM(trm_cfg(act_continue=True)).eval()
        carry, out = model(model.initial_carry(batch), batch)
        assert out.target_q_continue is None
        _, metrics = act_loss(out, carry)  # q_continue=None: added only when present
        assert "q_continue_loss" not in metrics


def fake_step(logits, labels, halted, q_halt, steps):
    out = SimpleNamespace(
        logits=logits, q_halt_logits=q_halt, q_continue_logits=None, target_q_continue=None
    )
    carry = SimpleNamespace(data={"labels": labels}, halted=halted, steps=steps)
    return out, carry


class TestACTLoss:
    @pytest.mark.parametrize("arch", ["trm", "hrm"])
    @pytest.mark.parametrize("loss", ["stablemax", "softmax"])
    @pytest.mark.parametrize("q_continue", [False, True])
    def test_every_combination_runs(self, trm_cfg, hrm_cfg, batch, arch, loss, q_continue):
        cfg = (trm_cfg if arch == "trm" else hrm_cfg)(act_continue=q_continue)
        model = (TRM if arch == "trm" else HRM)(cfg)
        carry = model.initial_carry(batch)
        for _ in range(2):
            model.zero_grad()
            carry, out = model(carry, batch)
            total, metrics = act_loss(out, carry, loss=loss, q_continue=q_continue)
            total.backward()
            assert torch.isfinite(total) and total > 0
            assert ("q_continue_loss" in metrics) == q_continue
            assert model.q_head.weight.grad.abs().sum() > 0
            expected = metrics["lm_loss"] + 0.5 * metrics["q_halt_loss"]
            if q_continue:
                expected = expected + 0.5 * metrics["q_continue_loss"]
            assert torch.allclose(total.detach().double(), expected.double())

    def test_q_continue_without_target_raises(self, trm_cfg, batch):
        model = TRM(trm_cfg())
        carry, out = model(model.initial_carry(batch), batch)
        with pytest.raises(ValueError, match="act_continue=True"):
            act_loss(out, carry, q_continue=True)
        with pytest.raises(ValueError, match="loss"):
            act_loss(out, carry, loss="hinge")

    def test_q_continue_error_names_max_halt_steps(self, hrm_cfg, batch):
        """With one supervision step there is no next step, hence no bootstrapped target."""
        model = HRM(hrm_cfg(max_halt_steps=1))
        carry, out = model(model.initial_carry(batch), batch)
        with pytest.raises(ValueError, match="max_halt_steps > 1"):
            act_loss(out, carry, q_continue=True)

    def test_lm_loss_is_per_sequence_mean_summed(self, gen):
        logits = torch.randn(2, 3, V, generator=gen)
        labels = torch.tensor([[1, 2, -100], [3, 4, 5]])
        out, carry = fake_step(
            logits, labels, torch.ones(2, dtype=torch.bool), torch.zeros(2), torch.ones(2)
        )
        _, metrics = act_loss(out, carry, loss="softmax")
        ce = torch.nn.functional.cross_entropy
        ref = ce(logits[0, :2], labels[0, :2]) + ce(logits[1], labels[1])
        assert torch.allclose(metrics["lm_loss"].float(), ref, atol=1e-5)

    def test_metrics_count_only_halted_rows(self):
        labels = torch.tensor([[1, 2], [3, 4], [1, 1], [2, 2]])
        logits = torch.full((4, 2, V), -1.0)
        right = labels.clone()
        right[1, 1] = 0  # row 1: one of two cells wrong
        right[3] = 0  # row 3: both wrong
        logits.scatter_(-1, right.unsqueeze(-1), 5.0)
        halted = torch.tensor([True, True, False, True])
        q_halt = torch.tensor([3.0, 3.0, 3.0, -3.0])  # right about rows 0 and 3
        steps = torch.tensor([2, 5, 7, 1])
        out, carry = fake_step(logits, labels, halted, q_halt, steps)
        _, m = act_loss(out, carry)
        assert m["count"] == 3 and m["exact_accuracy"] == 1
        assert m["accuracy"].item() == pytest.approx(1.0 + 0.5 + 0.0)
        assert m["q_halt_accuracy"] == 2 and m["steps"] == 2 + 5 + 1
        # q_halt BCE covers every row (halted or not) against exact correctness.
        target = torch.tensor([1.0, 0.0, 1.0, 0.0])
        ref = torch.nn.functional.binary_cross_entropy_with_logits(q_halt, target, reduction="sum")
        assert torch.allclose(m["q_halt_loss"], ref)
