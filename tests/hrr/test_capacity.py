"""The capacity model, planner and load tracking, checked against simulation."""

from __future__ import annotations

import warnings

import pytest
import torch

import hrr
from hrr import Bundle, CapacityWarning


class TestModel:
    def test_monotone_in_k_and_d(self):
        ps = [hrr.prob_correct(512, k, 100) for k in (1, 8, 16, 32, 64)]
        assert ps == sorted(ps, reverse=True) and ps[0] == 1.0
        assert hrr.prob_correct(2048, 32, 100) > hrr.prob_correct(1024, 32, 100)

    @pytest.mark.parametrize(("d", "k"), [(256, 16), (512, 32), (1024, 48)])
    def test_matches_simulation(self, d, k):
        n_items, traces = 300, 60
        g = torch.Generator().manual_seed(d + k)
        book = hrr.Vocabulary(d, [f"f{i}" for i in range(n_items)])
        roles = hrr.random_unitary((traces, k), d, generator=g)
        picks = torch.randint(n_items, (traces, k), generator=g)
        trace = hrr.bind(roles, book.vectors[picks]).sum(1)
        got = book.cleanup(hrr.unbind(trace[:, None], roles)).indices[..., 0]
        measured = float((got == picks).float().mean())
        assert abs(measured - hrr.prob_correct(d, k, n_items)) < 0.03

    def test_gaussian_roles_hold_less(self):
        assert hrr.capacity(1024, 1000, 0.01, unitary_roles=False) < hrr.capacity(1024, 1000, 0.01)


class TestPlanner:
    def test_capacity_and_required_dim_are_inverse(self):
        k = hrr.capacity(1024, 1000, 0.01)
        assert 1 - hrr.prob_correct(1024, k, 1000) <= 0.01 < 1 - hrr.prob_correct(1024, k + 1, 1000)
        d = hrr.required_dim(k, 1000, 0.01)
        assert d <= 1024 and hrr.capacity(d, 1000, 0.01) >= k
        assert hrr.capacity(d - 1, 1000, 0.01) < k

    def test_plate_rule_is_conservative(self):
        # Plate's rule asks for more dimensions than argmax cleanup needs
        assert hrr.plate_dim(10, 1000, 0.01) > hrr.required_dim(10, 1000, 0.01)

    def test_abstain_threshold_bounds_noise(self):
        d, n = 1024, 100
        t = hrr.abstain_threshold(d, n, p_false=1e-2)
        book = hrr.Vocabulary(d, [f"x{i}" for i in range(n)])
        noise = hrr.random(2000, d, seed=9)
        false_rate = float((book.cleanup(noise).scores[:, 0] >= t).float().mean())
        assert false_rate < 0.03

    def test_bad_arguments(self):
        with pytest.raises(hrr.HRRError):
            hrr.capacity(0, 10, 0.01)
        with pytest.raises(hrr.HRRError, match="p_err"):
            hrr.capacity(64, 10, 1.5)


class TestBundle:
    def test_load_tracking(self):
        b = Bundle(256, n_items=100, p_err=0.01)
        for v in hrr.random(5, 256, seed=0):
            b.add(v)
        assert b.load == 5 and not b.over_budget
        b.add(torch.zeros(256), load=b.capacity)
        assert b.over_budget and b.prob_correct < 0.99

    def test_encoders_warn_over_budget(self):
        vocab = hrr.Vocabulary(64, [f"t{i}" for i in range(50)])
        with pytest.warns(CapacityWarning, match="superposes 40 terms"):
            hrr.encode_sequence([f"t{i}" for i in range(40)], vocab)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            hrr.encode_sequence([f"t{i}" for i in range(40)], vocab, p_err=None)
