"""`hartflow grid train` options of issue 20: --compile/--no-compile and --tensorboard."""

from __future__ import annotations

import contextlib
import json
import sys

import pytest
import torch
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


# ----------------------------------------------------------------------------- --tensorboard
def scalars(logdir) -> dict[str, list[float]]:
    """Every scalar tag in the events files under `logdir`, with its values in step order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir))
    acc.Reload()
    return {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.mark.parametrize("command", [["grid", "train", "--preset", "tiny"], ["train"]])
def test_missing_package_is_one_line_with_the_install_hint(monkeypatch, capsys, tmp_path,
                                                           command):  # fmt: skip
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard -> ImportError
    source = "--data" if command[0] == "grid" else "--train"
    code = cli.run([*command, source, str(tmp_path), "--out", str(tmp_path / "run"),
                    "--tensorboard", str(tmp_path / "tb")])  # fmt: skip
    err = capsys.readouterr().err
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert "pip install 'hartflow[tensorboard]'" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_grid_train_writes_the_log_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from hartflow.grid.jobs import build_sudoku

    data = tmp_path / "s4"
    build_sudoku(data, generate=18, size=4, aug=1, test_size=4, seed=1)
    config = tmp_path / "run.json"
    config.write_text(json.dumps(TINY_RUN))
    args = ["grid", "train", "--config", str(config), "--data", str(data), "--out",
            str(tmp_path / "run"), "--tensorboard", str(tmp_path / "tb"), "--quiet"]  # fmt: skip
    with one_thread():
        result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    got = scalars(tmp_path / "tb")
    for tag in ("train/loss", "train/exact", "train/halt_steps", "train/steps_per_s",
                "eval/test/exact"):  # fmt: skip
        assert tag in got, sorted(got)
    logged = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    train = [r for r in logged if r["kind"] == "train"]
    assert got["train/loss"] == pytest.approx([r["loss"] for r in train])  # the same numbers
    assert all(r["steps_per_s"] is None or r["steps_per_s"] > 0 for r in train)


def test_hybrid_train_writes_the_log_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from hartflow.hybrid import TrainConfig, train

    words, times = ("jump", "walk", "run", "look"), (("once", 1), ("twice", 2))
    lines = [f"IN: {w} {m} OUT: {' '.join([w.upper()] * n)}" for w in words for m, n in times]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "test.txt").write_text("\n".join(lines[:2]) + "\n")
    cfg = TrainConfig(task=None, split=None, train_file=str(tmp_path / "train.txt"),
                      test_file=str(tmp_path / "test.txt"), folds=2, hrr_d=256, feature_dim=16,
                      dim=32, n_heads=2, batch_size=4, max_steps=4, warmup_steps=1,
                      ckpt_every=1000, log_every=1, cache_dir=str(tmp_path / "cache"))  # fmt: skip
    with one_thread():
        train(cfg, out=tmp_path / "run", tensorboard=tmp_path / "tb")
    got = scalars(tmp_path / "tb")
    assert {"train/loss", "train/exact", "train/steps_per_s"} <= set(got), sorted(got)
    logged = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert got["train/loss"] == pytest.approx([r["loss"] for r in logged])


TINY_RUN = {"preset": "tiny", "arch": "trm-att", "global_batch": 8, "epochs": 1,
            "eval_interval": 1, "lr_warmup_steps": 2, "validation_groups": 2, "device": "cpu",
            "plot": False,
            "model": {"hidden_size": 16, "n_heads": 2, "max_halt_steps": 2, "n_cycles": 1,
                      "n_latent_steps": 1}}  # fmt: skip


@contextlib.contextmanager
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
