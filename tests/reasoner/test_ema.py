"""EMA of weights: the update rule, swap-in for evaluation, state round trip, exclusions."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from reasoner.ema import EMA


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.frozen = nn.Parameter(torch.ones(2), requires_grad=False)
        self.table = nn.Embedding(4, 2, sparse=True)

    def puzzle_parameters(self):
        return [self.table.weight]


class TestEMA:
    @pytest.mark.parametrize("decay", [0.5, 0.999])
    def test_update_rule(self, decay):
        model = Tiny()
        start = model.lin.weight.detach().clone()
        ema = EMA(model, decay=decay)
        with torch.no_grad():
            model.lin.weight.add_(1.0)
        ema.update(model)
        expected = decay * start + (1 - decay) * (start + 1.0)
        assert torch.allclose(ema.shadow["lin.weight"], expected)

    def test_tracks_only_trainable_dense_params(self):
        assert set(EMA(Tiny()).shadow) == {"lin.weight", "lin.bias"}

    def test_swap_restores_live_weights(self):
        model = Tiny()
        ema = EMA(model, decay=0.9)
        with torch.no_grad():
            model.lin.weight.mul_(3.0)
        ema.update(model)
        live = model.lin.weight.detach().clone()
        with ema.swapped_into(model) as swapped:
            assert swapped is model
            assert torch.equal(model.lin.weight, ema.shadow["lin.weight"])
            assert not torch.equal(model.lin.weight, live)
        assert torch.equal(model.lin.weight, live)

    def test_swap_restores_after_error(self):
        model = Tiny()
        ema = EMA(model)
        with torch.no_grad():
            model.lin.bias.add_(2.0)
        live = model.lin.bias.detach().clone()
        with pytest.raises(RuntimeError), ema.swapped_into(model):
            raise RuntimeError("eval failed")
        assert torch.equal(model.lin.bias, live)

    def test_state_dict_round_trip(self):
        model = Tiny()
        ema = EMA(model)
        with torch.no_grad():
            model.lin.weight.add_(1.0)
        ema.update(model)
        other = EMA(Tiny())
        other.load_state_dict(ema.state_dict())
        assert all(torch.equal(other.shadow[k], v) for k, v in ema.shadow.items())
        with pytest.raises(ValueError, match="does not match"):
            other.load_state_dict({"nope": torch.zeros(1)})

    def test_bad_decay(self):
        with pytest.raises(ValueError, match="decay"):
            EMA(Tiny(), decay=1.0)
