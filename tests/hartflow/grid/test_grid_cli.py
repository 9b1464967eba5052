"""`hartflow grid ...`: build, show and eval-predictions end to end (true labels score 100 %)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import cli
from hartflow.grid.layout import read_info, read_split
from hartflow.grid.sudoku_rater import HAVE_NUMBA

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


# --------------------------------------------------------------- train / eval / params / ablate
TINY_RUN = {"preset": "tiny", "arch": "trm-att", "global_batch": 8, "epochs": 1,
            "eval_interval": 1, "lr_warmup_steps": 2, "validation_groups": 2, "device": "cpu",
            "plot": False,
            "model": {"hidden_size": 16, "n_heads": 2, "max_halt_steps": 2, "n_cycles": 1,
                      "n_latent_steps": 1}}  # fmt: skip


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def s4(tmp_path_factory):
    from hartflow.grid.jobs import build_sudoku

    out = tmp_path_factory.mktemp("cli") / "s4"
    build_sudoku(out, generate=18, size=4, aug=1, test_size=4, seed=1)
    return out


def test_params_prints_the_paper_count():
    from reasoner.presets import build_model, count_parameters, grid_config

    result = runner.invoke(cli.app, ["grid", "params", "--arch", "trm-mlp", "--preset", "sudoku"])
    assert result.exit_code == 0, result.output
    count = int(result.output.split(":")[1].split()[0].replace(",", ""))
    assert count == count_parameters(build_model(grid_config("trm-mlp", "sudoku")))
    assert abs(count - 5.03e6) / 5.03e6 < 0.005


def test_train_then_eval(s4, tmp_path, one_thread):
    config = tmp_path / "run.json"
    config.write_text(json.dumps(TINY_RUN))
    run = tmp_path / "run"
    args = ["grid", "train", "--config", str(config), "--data", str(s4), "--out", str(run)]
    result = runner.invoke(cli.app, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "exact" in result.output and "best on validation" in result.output
    score_file = tmp_path / "score.json"
    result = runner.invoke(cli.app, ["grid", "eval", "--checkpoint", str(run), "--data", str(s4),
                                     "--json", str(score_file)])  # fmt: skip
    assert result.exit_code == 0, result.output
    score = json.loads(score_file.read_text())
    assert score["weights"] == "ema" and score["n"] == 4 and 0 <= score["exact"] <= 1
    logged = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    best = json.loads((run / "best.json").read_text())
    at_best = next(r for r in logged if r["kind"] == "eval" and r["step"] == best["step"])
    assert score["exact"] == at_best["test"]["exact"]  # eval picks the validation-best checkpoint
    # resuming a finished run trains nothing more and says so in one table
    again = runner.invoke(cli.app, [*args, "--resume", "--quiet"])
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "tiny", "--config", "c.json"], "exactly one of --preset"),
        (["--preset", "chess"], "unknown preset"),
        (["--preset", "tiny", "--arch", "rnn"], "arch must be one of"),
    ],
)
def test_train_bad_input_is_one_line(capsys, tmp_path, args, message):
    code = cli.run(["grid", "train", "--data", str(tmp_path), "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_train_missing_data_is_one_line(capsys, tmp_path):
    code = cli.run(["grid", "train", "--preset", "tiny", "--data", str(tmp_path / "none"),
                    "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "hartflow grid build" in err and len(err.strip().splitlines()) == 1


def test_eval_missing_checkpoint_is_one_line(capsys, tmp_path):
    code = cli.run(["grid", "eval", "--checkpoint", str(tmp_path), "--data", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "no checkpoint" in err and len(err.strip().splitlines()) == 1


def test_ablate_writes_table(s4, tmp_path, one_thread):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({**TINY_RUN, "arch": "trm-mlp"}))
    out = tmp_path / "abl"
    result = runner.invoke(cli.app, ["grid", "ablate", "--config", str(config), "--data", str(s4),
                                     "--out", str(out), "--variants", "base,one-step-grad",
                                     "--max-steps", "2", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "ablation.json").read_text())
    assert [r["variant"] for r in report["rows"]] == ["base", "one-step-grad"]
    assert all(r["steps"] == 2 for r in report["rows"])
    assert report["rows"][1]["model"]["one_step_grad"] is True
    assert "| one-step-grad |" in (out / "ablation.md").read_text()
    assert "one-step-grad" in result.output


@pytest.mark.skipif(not HAVE_NUMBA, reason="annealing in pure Python takes minutes")
def test_hard_sudoku_build_and_show_rating(tmp_path):
    out = tmp_path / "s9"
    result = runner.invoke(
        cli.app,
        ["grid", "build", "sudoku", "--generate", "2", "--min-rating", "10", "--out", str(out),
         "--seed", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert read_info(out)["mean_rating_train"] >= 10
    shown = runner.invoke(cli.app, ["grid", "show", str(out), "--index", "0", "--split", "train"])
    assert shown.exit_code == 0 and "rating" in shown.output
    rated = int(shown.output.split("rating ")[1].split()[0])
    assert rated >= 10
