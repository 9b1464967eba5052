"""The command line: tables, JSON, help, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import cli

runner = CliRunner()


class TestEncode:
    def test_table_shows_round_trip(self):
        result = runner.invoke(cli.app, ["encode", "jump around left twice", "--dim", "512"])
        assert result.exit_code == 0, result.output
        for word in ("dim", "512", "norm", "around", "cosine", "exact"):
            assert word in result.output

    def test_json_has_the_same_content(self):
        result = runner.invoke(
            cli.app, ["encode", "a b a c", "--dim", "256", "--seed", "3", "--json"]
        )
        report = json.loads(result.output)
        assert report["dim"] == 256 and report["length"] == 4 and report["exact"] is True
        assert [p["decoded"] for p in report["positions"]] == ["a", "b", "a", "c"]
        assert report["norm"] > 0 and report["capacity"] >= 4

    def test_seed_changes_vectors_not_answers(self):
        a = json.loads(runner.invoke(cli.app, ["encode", "x y", "--json"]).output)
        b = json.loads(runner.invoke(cli.app, ["encode", "x y", "--json", "--seed", "9"]).output)
        assert a["norm"] != b["norm"] and a["exact"] and b["exact"]

    def test_over_capacity_is_reported_not_hidden(self):
        words = " ".join(f"w{i}" for i in range(40))
        result = runner.invoke(
            cli.app, ["encode", words, "--dim", "32", "--distractors", "500", "--json"]
        )
        report = json.loads(result.output)
        assert report["exact"] is False
        assert any(not p["correct"] for p in report["positions"])


class TestErrors:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["encode", ""], "the command is empty"),
            (["encode", "   "], "the command is empty"),
            (["encode", "x", "--bogus"], "No such option: --bogus"),
            (["encode", "x", "--dim", "1"], "--dim"),
            (["encode", "x", "--dim", "many"], "--dim"),
            (["nonsense"], "nonsense"),
        ],
    )
    def test_one_red_line_and_exit_2(self, capsys, args, message):
        assert cli.run(args) == 2
        err = capsys.readouterr().err
        assert message in err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err

    def test_debug_shows_the_traceback(self):
        with pytest.raises(ValueError, match="empty"):
            cli.run(["encode", "", "--debug"])


class TestHelp:
    def test_help_lists_commands_with_one_line_each(self, capsys):
        assert cli.run(["--help"]) == 0
        out = capsys.readouterr().out
        assert "encode" in out and "Encode a command" in out

    def test_no_arguments_prints_help(self, capsys):
        assert cli.run([]) == 0
        assert "encode" in capsys.readouterr().out

    def test_console_script_runs(self):
        proc = subprocess.run(
            [sys.executable, "-m", "cli", "encode", "", "--dim", "64"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 2
        assert proc.stderr.count("\n") == 1 and "error" in proc.stderr


class TestData:
    def test_list_shows_scan_splits_with_sizes(self):
        result = runner.invoke(cli.app, ["data", "list", "--json"])
        rows = {(r["task"], r["split"]): r for r in json.loads(result.output)}
        assert rows[("scan", "addprim_jump")]["train"] == 14670
        assert rows[("scan", "length")]["test"] == 3920
        assert ("cogs", "gen") in rows

    def test_list_table(self):
        result = runner.invoke(cli.app, ["data", "list"])
        assert result.exit_code == 0 and "jump_around_right" in result.output

    def test_show(self):
        result = runner.invoke(
            cli.app, ["data", "show", "scan", "--split", "addprim_jump", "-n", "5"]
        )
        assert result.exit_code == 0 and "I_JUMP" in result.output and "7,706" in result.output

    def test_export_and_grammar(self, tmp_path):
        result = runner.invoke(
            cli.app, ["data", "export", "scan", "--split", "simple", "--out", str(tmp_path)]
        )
        assert result.exit_code == 0
        train = (tmp_path / "train.txt").read_text().splitlines()
        test = (tmp_path / "test.txt").read_text().splitlines()
        assert len(train) + len(test) == 20910 and train[0].startswith("IN: ")
        runner.invoke(cli.app, ["data", "scan-grammar", "--out", str(tmp_path / "all.txt")])
        assert sorted((tmp_path / "all.txt").read_text().splitlines()) == sorted(train + test)

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["data", "show", "scan", "--split", "nope"], "unknown scan split 'nope'"),
            (["data", "show", "sacn", "--split", "simple"], "unknown task 'sacn'"),
            (["data", "show", "cogs", "--split", "gen", "--data-dir", "/nonexistent"], "COGS"),
        ],
    )
    def test_bad_input_is_one_line(self, capsys, args, message):
        assert cli.run(args) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1


def test_data_show_user_files(tmp_path):
    (tmp_path / "tr.txt").write_text("IN: dax OUT: DAX\nIN: dax twice OUT: DAX DAX\n")
    (tmp_path / "te.txt").write_text("IN: wif OUT: WIF\n")
    result = runner.invoke(
        cli.app,
        ["data", "show", "--train", str(tmp_path / "tr.txt"), "--test", str(tmp_path / "te.txt")],
    )
    assert result.exit_code == 0, result.output
    assert "dax twice" in result.output and "WIF (1)" in result.output


def test_data_show_malformed_user_file_names_the_line(tmp_path, capsys):
    (tmp_path / "tr.txt").write_text("IN: dax OUT: DAX\nnot a pair\n")
    (tmp_path / "te.txt").write_text("IN: dax OUT: DAX\n")
    code = cli.run(
        ["data", "show", "--train", str(tmp_path / "tr.txt"), "--test", str(tmp_path / "te.txt")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "tr.txt:2: expected 'IN: <command> OUT: <actions>'" in err


def test_markup_in_user_text_is_shown_verbatim(tmp_path):
    result = runner.invoke(cli.app, ["encode", "[bold]jump [/] x", "--dim", "128"])
    assert result.exit_code == 0 and "[bold]jump" in result.output and "[/]" in result.output
    out = tmp_path / "[v1]" / "g.txt"
    result = runner.invoke(cli.app, ["data", "scan-grammar", "--out", str(out)])
    assert str(out) in result.output.replace("\n", "")


def test_unexpected_errors_are_one_line(capsys, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("can't allocate memory")

    monkeypatch.setattr(cli, "encode_command", boom)
    assert cli.run(["encode", "x"]) == 1
    err = capsys.readouterr().err
    assert "unexpected RuntimeError" in err and len(err.strip().splitlines()) == 1


class TestEvalAndDecode:
    def test_eval_writes_the_json_fields(self, tmp_path):
        out = tmp_path / "r.json"
        result = runner.invoke(
            cli.app,
            ["eval", "--mode", "hrr", "--task", "scan", "--split", "addprim_turn_left",
             "--json", str(out), "--quiet", "--dim", "256"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        r = json.loads(out.read_text())
        assert {"task", "split", "mode", "n", "exact_match", "seconds"} <= set(r)
        assert r["n"] == 1208 and r["exact_match"] == 1.0 and "100.00 %" in result.output

    def test_decode_explains(self):
        result = runner.invoke(
            cli.app,
            ["decode", "jump around left twice", "--task", "scan", "--split", "addprim_jump",
             "--explain", "--dim", "256"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        answer, evidence = result.output.split("score", 1)
        assert answer.split() == ["I_TURN_LEFT", "I_JUMP"] * 8
        assert "around" in evidence and "twice" in evidence and "jump" in evidence  # neighbours
        assert "I_TURN_LEFT" in evidence and "rule" in evidence  # lexicon entries, rules

    def test_decode_unknown_word_names_nearest(self, capsys):
        code = cli.run(["decode", "jmup twice", "--task", "scan", "--split", "addprim_jump"])
        err = capsys.readouterr().err
        assert code == 2 and "'jmup' (nearest: jump" in err and len(err.strip().splitlines()) == 1

    def test_eval_unknown_mode(self, capsys):
        assert cli.run(["eval", "--mode", "magic", "--task", "scan", "--split", "simple"]) == 2
        assert "unknown mode 'magic'" in capsys.readouterr().err
