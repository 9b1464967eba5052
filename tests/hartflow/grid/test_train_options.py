"""`hartflow grid train` options of issue 20: --compile/--no-compile and --tensorboard."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import cli
from hartflow.grid.training import TrainResult

runner = CliRunner()


@pytest.fixture
def captured(monkeypatch):
    """Replace the trainer by one that records its config (the options' plumbing only)."""
    seen = {}

    def fake_train(cfg, **kwargs):
        seen["cfg"] = cfg
        return TrainResult(steps=0, seconds=0.0, out=cfg.out)

    monkeypatch.setattr("hartflow.grid.training.train", fake_train)
    return seen


def grid_train(tmp_path, *extra):
    args = ["grid", "train", "--preset", "tiny", "--data", str(tmp_path), "--out",
            str(tmp_path / "run"), "--quiet", *extra]  # fmt: skip
    return runner.invoke(cli.app, args)


@pytest.mark.parametrize(("flag", "want"), [([], False), (["--compile"], True),
                                            (["--no-compile"], False)])  # fmt: skip
def test_compile_flag_sets_the_config(captured, tmp_path, flag, want):
    result = grid_train(tmp_path, *flag)
    assert result.exit_code == 0, result.output
    assert captured["cfg"].compile is want
