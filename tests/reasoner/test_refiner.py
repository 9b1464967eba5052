"""The sequence refiner: shapes, the no-grad cycles, long answers, learning to copy."""

from __future__ import annotations

import pytest
import torch

from reasoner.refiner import Refiner, RefinerConfig, count_parameters

V_IN, V_OUT = 12, 16
END, NONE = 1, 2


def _batch(B=3, Lc=5, La=7, K=2, *, g=None, feature_dim=0):
    g = g or torch.Generator().manual_seed(0)
    w = torch.rand(B, K, generator=g)
    batch = {
        "command": torch.randint(2, V_IN, (B, Lc), generator=g),
        "hypotheses": torch.randint(4, V_OUT, (B, K, La), generator=g),
        "hypothesis_weights": w / w.sum(-1, keepdim=True),
    }
    if feature_dim:
        batch["features"] = torch.randn(B, feature_dim, generator=g)
    return batch


def _model(**kw) -> Refiner:
    cfg = RefinerConfig(vocab_in=V_IN, vocab_out=V_OUT, dim=32, n_heads=2, **kw)
    return Refiner(cfg, generator=torch.Generator().manual_seed(0))


class TestConfig:
    @pytest.mark.parametrize(
        "field,value", [("n_cycles", 0), ("n_latent_steps", 0), ("vocab_out", 3), ("mixer", "x")]
    )
    def test_rejects_bad_values(self, field, value):
        with pytest.raises(ValueError, match=field if field != "mixer" else "mixer"):
            RefinerConfig(**{field: value})

    def test_mlp_needs_seq_len(self):
        with pytest.raises(ValueError, match="seq_len"):
            RefinerConfig(mixer="mlp")

    def test_default_size_is_under_7m(self):
        cfg = RefinerConfig(vocab_in=1000, vocab_out=1000, feature_dim=67)  # COGS-sized vocab
        assert 100_000 < count_parameters(Refiner(cfg)) <= 7_000_000


class TestShapes:
    @pytest.mark.parametrize("feature_dim", [0, 6])
    def test_logits_and_halting(self, feature_dim):
        model = _model(feature_dim=feature_dim)
        state, out = model(_batch(feature_dim=feature_dim))
        assert out.logits.shape == (3, 7, V_OUT) and out.logits.dtype == torch.float32
        assert out.q_halt_logits.shape == (3,)
        assert state.y.shape == state.z.shape == (3, 1 + 5 + 7, 32)
        assert not state.y.requires_grad  # the carried state is detached

    def test_fresh_model_does_not_halt(self):
        _, out = _model()(_batch())
        assert torch.allclose(out.q_halt_logits, torch.full((3,), -5.0))

    def test_mlp_mixer_fixed_length(self):
        model = _model(mixer="mlp", seq_len=1 + 5 + 7)
        _, out = model(_batch())
        assert out.logits.shape == (3, 7, V_OUT)
        with pytest.raises(ValueError, match="seq_len"):
            model(_batch(La=8))

    def test_too_long_raises(self):
        with pytest.raises(ValueError, match="max_len"):
            _model(max_len=10)(_batch())

    def test_trace_has_one_row_per_cycle(self):
        _, out = _model(n_cycles=3)(_batch(), trace=True)
        assert len(out.trace) == 3
        ids, p = out.trace[-1]
        assert ids.shape == (3, 7) and torch.all((p > 0) & (p < 1))


class TestRecursion:
    def test_first_cycles_run_without_gradient(self):
        model = _model(n_cycles=3, n_latent_steps=2)
        grad_modes = []
        model.net.register_forward_hook(lambda *_: grad_modes.append(torch.is_grad_enabled()))
        model(_batch())
        # (T-1)(n+1) calls without gradient, then n+1 with
        assert grad_modes == [False] * 6 + [True] * 3

    def test_no_gradient_reaches_the_state_through_no_grad_cycles(self):
        batch = _batch()
        model = _model(n_cycles=2)
        y0 = model.initial_state(batch)
        y = y0.y.detach().requires_grad_(True)
        _, out = model(batch, type(y0)(y, y0.z))
        out.logits.sum().backward()
        assert y.grad is None  # the first cycle (no_grad) cut the path
        one = _model(n_cycles=1)
        y1 = y0.y.detach().requires_grad_(True)
        _, out = one(batch, type(y0)(y1, y0.z))
        out.logits.sum().backward()
        assert y1.grad is not None and y1.grad.abs().sum() > 0

    def test_state_carries_over(self):
        model, batch = _model(), _batch()
        s1, o1 = model(batch)
        _, o2 = model(batch, s1)
        assert not torch.allclose(o1.logits, o2.logits)


def _copy_batch(B, La, g):
    lengths = torch.randint(1, La + 1, (B,), generator=g)
    hyp = torch.randint(4, V_OUT, (B, 1, La + 3), generator=g)
    labels = hyp[:, 0].clone()
    for b, n in enumerate(lengths.tolist()):
        hyp[b, 0, n:] = END
        labels[b, n:] = END
    batch = {
        "command": torch.randint(2, V_IN, (B, 4), generator=g),
        "hypotheses": hyp,
        "hypothesis_weights": torch.ones(B, 1),
    }
    return batch, labels


class TestLearning:
    def test_learns_to_copy_and_copies_longer_answers(self):
        """Trained on answers of <= 6 tokens, it copies 24-token hypotheses (rotary positions).

        Residual branches start random and the copy gate is off, so copying has to be learned."""
        model = _model(n_cycles=1, n_latent_steps=1, zero_init_residual=False, copy_gate=False)
        batch, labels = _copy_batch(64, 6, torch.Generator().manual_seed(2))
        _, out = model(batch)
        assert (out.logits.argmax(-1) == labels).all(-1).float().mean() < 0.5  # not by luck
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        g = torch.Generator().manual_seed(1)
        for _ in range(80):
            batch, labels = _copy_batch(32, 6, g)
            _, out = model(batch)
            loss = torch.nn.functional.cross_entropy(out.logits.transpose(1, 2), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for La in (6, 24):
                batch, labels = _copy_batch(64, La, torch.Generator().manual_seed(2))
                _, out = model(batch)
                exact = (out.logits.argmax(-1) == labels).all(-1).float().mean()
                assert exact > 0.95, (La, float(exact))


class TestCopyGate:
    def test_fresh_model_copies_the_weighted_hypothesis(self):
        batch, labels = _copy_batch(16, 20, torch.Generator().manual_seed(3))
        _, out = _model()(batch)
        assert torch.equal(out.logits.argmax(-1), labels)

    def test_none_is_never_copied(self):
        batch = _batch(K=1)
        batch["hypotheses"].fill_(NONE)
        _, out = _model(zero_init_residual=False)(batch)
        assert not out.logits.argmax(-1).eq(NONE).all()
