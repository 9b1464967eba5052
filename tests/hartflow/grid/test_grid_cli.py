"""`hartflow grid ...`: build, show and eval-predictions end to end (true labels score 100 %)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import cli
from hartflow.grid.layout import read_split

runner = CliRunner()


def write_arc(root):
    rng = np.random.default_rng(3)
    for part, names in (("training", ["t1", "t2"]), ("evaluation", ["e1"])):
        (root / part).mkdir(parents=True)
        for name in names:
            pair = lambda: {"input": rng.integers(0, 10, (3, 3)).tolist(),  # noqa: E731
                            "output": rng.integers(0, 10, (2, 4)).tolist()}  # fmt: skip
            task = {"train": [pair(), pair()], "test": [pair()]}
            (root / part / f"{name}.json").write_text(json.dumps(task))


def score_labels(out, tmp_path):
    test, _ = read_split(out / "test")
    np.save(tmp_path / "pred.npy", test.labels)
    result = runner.invoke(
        cli.app,
        ["grid", "eval-predictions", str(out), str(tmp_path / "pred.npy"), "--json",
         str(tmp_path / "score.json")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / "score.json").read_text())


def test_arc_build_show_and_score(tmp_path):
    write_arc(tmp_path / "arc")
    out = tmp_path / "built"
    result = runner.invoke(
        cli.app,
        ["grid", "build", "arc", "--version", "1", "--data-dir", str(tmp_path / "arc"), "--out",
         str(out), "--aug", "4"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = runner.invoke(cli.app, ["grid", "show", str(out), "--index", "0"])
    assert shown.exit_code == 0 and "██" in shown.output
    score = score_labels(out, tmp_path)
    assert score["exact"] == score["pass@1"] == score["pass@2"] == 1.0


def test_wrong_prediction_shape_is_one_line(tmp_path, capsys):
    write_arc(tmp_path / "arc")
    out = tmp_path / "built"
    runner.invoke(cli.app, ["grid", "build", "arc", "--data-dir", str(tmp_path / "arc"),
                            "--out", str(out), "--aug", "1"])  # fmt: skip
    np.save(tmp_path / "bad.npy", np.zeros((2, 5), np.uint8))
    assert cli.run(["grid", "eval-predictions", str(out), str(tmp_path / "bad.npy")]) == 2
    err = capsys.readouterr().err
    assert "predictions have shape (2, 5)" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["grid", "show", "nowhere"], "hartflow grid build"),
        (["grid", "build", "arc", "--data-dir", "nowhere", "--out", "x"], "no ARC task JSON"),
    ],
)
def test_bad_input(capsys, args, message):
    assert cli.run(args) == 2
    assert message in capsys.readouterr().err


def test_sudoku_build_show_and_score(tmp_path):
    out = tmp_path / "s4"
    result = runner.invoke(
        cli.app,
        ["grid", "build", "sudoku", "--generate", "12", "--size", "4", "--aug", "2", "--out",
         str(out), "--seed", "5"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    train, _ = read_split(out / "train")
    assert train.n_groups == 12 and train.n_puzzles == 36
    shown = runner.invoke(cli.app, ["grid", "show", str(out), "--index", "0"])
    assert shown.exit_code == 0 and "." in shown.output
    score = score_labels(out, tmp_path)
    assert score["exact"] == score["cell_accuracy"] == 1.0


def test_maze_build_show_and_score(tmp_path):
    out = tmp_path / "m10"
    result = runner.invoke(
        cli.app,
        ["grid", "build", "maze", "--generate", "8", "--size", "10", "--aug", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    train, _ = read_split(out / "train")
    test, _ = read_split(out / "test")
    assert train.n_examples == 8 * 8 and test.n_examples == 1
    shown = runner.invoke(cli.app, ["grid", "show", str(out), "--index", "0"])
    assert shown.exit_code == 0 and "S" in shown.output and "G" in shown.output
    score = score_labels(out, tmp_path)
    assert score["exact"] == score["valid_shortest_path"] == 1.0
