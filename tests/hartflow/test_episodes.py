"""Episode folders: writing, reading, scoring, and `hartflow eval --episodes`."""

from __future__ import annotations

import json

import pytest

from cli import run
from hartflow.episodes import evaluate_episodes, generate, miniscan, read_episodes, write_episodes
from hartflow.errors import DataError, HartFlowError


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_episodes(tmp_path_factory.mktemp("eps"), [miniscan(), generate(7)])


def test_round_trip(folder):
    names = [e.name for e in read_episodes(folder)]
    assert names == ["episode0007", "miniscan"]
    back = {e.name: e for e in read_episodes(folder)}["miniscan"]
    assert back.study == miniscan().study and back.queries == miniscan().queries


def test_evaluate(folder):
    result = evaluate_episodes(folder)
    assert [r["name"] for r in result["episodes"]] == ["episode0007", "miniscan"]
    assert result["mean_exact_match"] == sum(r["exact_match"] for r in result["episodes"]) / 2


def test_errors(tmp_path):
    with pytest.raises(DataError, match=r"no NAME_train\.txt"):
        list(read_episodes(tmp_path))
    with pytest.raises(HartFlowError, match="--mode hrr"):
        evaluate_episodes(tmp_path, mode="hybrid")


def test_cli_eval_episodes(folder, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert run(["eval", "--mode", "hrr", "--episodes", str(folder), "--json", str(out)]) == 0
    assert "miniscan" in capsys.readouterr().out
    assert json.loads(out.read_text())["episodes"][1]["name"] == "miniscan"


def test_cli_decode_scan_without_split(capsys):
    assert run(["decode", "jump twice", "--task", "scan"]) == 2
    err = capsys.readouterr().err
    assert "needs --split" in err and "simple" in err
