"""Cross-entropies (stablemax in float64, softmax) with valid masks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from reasoner.losses import log_stablemax, softmax_cross_entropy, stablemax_cross_entropy


def scalar_stablemax_logp(row: list[float], i: int) -> float:
    s = [x + 1 if x >= 0 else 1 / (1 - x) for x in row]
    return math.log(s[i] / sum(s))


class TestStablemax:
    def test_matches_scalar_definition(self, gen):
        logits = torch.randn(2, 3, 5, generator=gen) * 4
        labels = torch.randint(0, 5, (2, 3), generator=gen)
        loss = stablemax_cross_entropy(logits, labels)
        assert loss.dtype == torch.float64 and loss.shape == (2, 3)
        for b in range(2):
            for t in range(3):
                ref = -scalar_stablemax_logp(logits[b, t].tolist(), int(labels[b, t]))
                assert loss[b, t].item() == pytest.approx(ref, rel=1e-6)

    def test_probabilities_sum_to_one_and_no_overflow(self):
        logits = torch.tensor([[1e4, -1e4, 0.0, 3.0]])
        p = log_stablemax(logits).exp()
        assert torch.allclose(p.sum(-1), torch.ones(1, dtype=torch.float64))
        assert torch.isfinite(p).all()

    def test_gradients_finite_at_extremes(self):
        logits = torch.tensor([[[1e6, -1e6, 0.0, 1.0]]], requires_grad=True)
        stablemax_cross_entropy(logits, torch.tensor([[1]])).sum().backward()
        assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("ce", [stablemax_cross_entropy, softmax_cross_entropy])
class TestMasking:
    def test_ignore_index_and_valid_mask(self, gen, ce):
        logits = torch.randn(2, 4, 6, generator=gen)
        labels = torch.randint(0, 6, (2, 4), generator=gen)
        labels[0, 1] = -100
        loss = ce(logits, labels)
        assert loss[0, 1] == 0 and (loss[labels != -100] > 0).all()
        mask = torch.ones(2, 4, dtype=torch.bool)
        mask[1, 2] = False
        masked = ce(logits, labels.clamp_min(0), valid_mask=mask)
        assert masked[1, 2] == 0 and masked[0, 1] > 0

    def test_gradient_skips_masked(self, gen, ce):
        logits = torch.randn(1, 3, 4, generator=gen, requires_grad=True)
        labels = torch.tensor([[1, -100, 2]])
        ce(logits, labels).sum().backward()
        assert logits.grad[0, 1].abs().sum() == 0 and logits.grad[0, 0].abs().sum() > 0


class TestSoftmax:
    def test_matches_torch(self, gen):
        logits = torch.randn(3, 5, 7, generator=gen)
        labels = torch.randint(0, 7, (3, 5), generator=gen)
        ref = F.cross_entropy(logits.reshape(-1, 7), labels.reshape(-1), reduction="none")
        assert torch.allclose(softmax_cross_entropy(logits, labels), ref.view(3, 5), atol=1e-6)
