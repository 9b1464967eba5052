"""Optimisers: AdamATan2 against a plain-float re-derivation, sign-SGD on sparse rows, schedule."""

from __future__ import annotations

import math

import pytest
import torch

from reasoner.optim import AdamATan2, SignSGD, warmup_constant


def scalar_adam_atan2(p, grads, *, lr, betas, wd):
    """The update rule written out for one scalar weight, in Python floats."""
    b1, b2 = betas
    m = v = 0.0
    for t, g in enumerate(grads, start=1):
        p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        p = p - (lr / bc1) * math.atan2(m, math.sqrt(v) / math.sqrt(bc2))
    return p


class TestAdamATan2:
    @pytest.mark.parametrize(
        ("lr", "wd", "betas"), [(1e-2, 0.0, (0.9, 0.95)), (3e-2, 1.0, (0.8, 0.99))]
    )
    def test_matches_scalar_rederivation(self, gen, lr, wd, betas):
        n, steps = 7, 6
        p0 = torch.randn(n, generator=gen, dtype=torch.float64)
        grads = torch.randn(steps, n, generator=gen, dtype=torch.float64)
        grads[:, 0] = 0.0  # atan2(0, 0) = 0: a zero gradient does not move the weight
        grads[2, 1] = 1e6  # scale invariance: no eps, no blow-up
        p = torch.nn.Parameter(p0.clone())
        opt = AdamATan2([p], lr=lr, betas=betas, weight_decay=wd)
        for g in grads:
            p.grad = g.clone()
            opt.step()
        for i in range(n):
            ref = scalar_adam_atan2(p0[i].item(), grads[:, i].tolist(), lr=lr, betas=betas, wd=wd)
            assert p[i].item() == pytest.approx(ref, rel=1e-12, abs=1e-12)

    def test_first_step_is_signlike(self):
        """Step 1 (kernel form): (lr/bc1)·atan2((1-β1)g, |g|) = lr·atan(0.1)/0.1·sign(g)."""
        p = torch.nn.Parameter(torch.zeros(3))
        opt = AdamATan2([p], lr=0.1)
        p.grad = torch.tensor([5.0, -0.001, 0.0])
        opt.step()
        move = 0.1 * math.atan(0.1) / 0.1
        assert torch.allclose(p.detach(), torch.tensor([-move, move, 0.0]))

    def test_rejects_bad_options(self):
        p = torch.nn.Parameter(torch.zeros(1))
        with pytest.raises(ValueError, match="lr"):
            AdamATan2([p], lr=-1)
        with pytest.raises(ValueError, match="betas"):
            AdamATan2([p], lr=1, betas=(1.0, 0.5))


class TestSignSGD:
    def test_sparse_rows_only(self, gen):
        emb = torch.nn.Embedding(6, 4, sparse=True)
        with torch.no_grad():
            emb.weight.copy_(torch.randn(6, 4, generator=gen))
        before = emb.weight.detach().clone()
        ids = torch.tensor([1, 4, 1])  # id 1 twice: gradients sum before the sign
        target = torch.randn(3, 4, generator=gen)
        ((emb(ids) - target) ** 2).sum().backward()
        assert emb.weight.grad.is_sparse
        opt = SignSGD([emb.weight], lr=0.1, weight_decay=0.5)
        g = emb.weight.grad.to_dense()
        opt.step()
        after = emb.weight.detach()
        for r in range(6):
            if r in (1, 4):
                ref = before[r] * (1 - 0.1 * 0.5) - 0.1 * torch.sign(g[r])
                assert torch.allclose(after[r], ref)
            else:
                assert torch.equal(after[r], before[r])  # no decay on untouched rows

    def test_dense_rows_with_gradient(self):
        w = torch.nn.Parameter(torch.ones(3, 2))
        w.grad = torch.tensor([[0.0, 0.0], [2.0, -3.0], [0.0, 0.0]])
        SignSGD([w], lr=0.5, weight_decay=0.2).step()
        assert torch.allclose(w.detach(), torch.tensor([[1.0, 1.0], [0.4, 1.4], [1.0, 1.0]]))


class TestWarmupConstant:
    def test_linear_then_constant(self):
        assert warmup_constant(0, warmup_steps=2000) == 0.0
        assert warmup_constant(500, warmup_steps=2000) == 0.25
        assert warmup_constant(2000, warmup_steps=2000) == 1.0
        assert warmup_constant(10**6, warmup_steps=2000) == 1.0

    def test_cosine_to_min_ratio(self):
        kw = {"warmup_steps": 10, "total_steps": 110, "min_ratio": 0.1}
        assert warmup_constant(10, **kw) == pytest.approx(1.0)
        assert warmup_constant(60, **kw) == pytest.approx(0.55)
        assert warmup_constant(110, **kw) == pytest.approx(0.1)
        assert warmup_constant(500, **kw) == pytest.approx(0.1)  # stays at the floor

    def test_validation(self):
        with pytest.raises(ValueError, match="total_steps"):
            warmup_constant(5, warmup_steps=1, min_ratio=0.5)
        with pytest.raises(ValueError, match="min_ratio"):
            warmup_constant(5, warmup_steps=1, min_ratio=2.0)
