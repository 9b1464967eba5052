"""grid_cpu's --set parser: model/run field overrides for experiments."""

from __future__ import annotations

import pytest

from benchmarks.grid_cpu import overrides


def test_values_parse_as_json_else_text():
    got = overrides(["model.hidden_size=64", "run.lr=2e-3", "run.device=cpu", "model.x=[1, 2]"])
    assert got == {"model": {"hidden_size": 64, "x": [1, 2]}, "run": {"lr": 2e-3, "device": "cpu"}}


@pytest.mark.parametrize("bad", ["hidden_size=64", "optim.lr=1", "model.lr"])
def test_bad_pairs_name_the_form(bad):
    with pytest.raises(SystemExit, match=r"model\.FIELD=VALUE"):
        overrides([bad])
