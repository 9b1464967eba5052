"""File formats: round trips, and every malformed input named by file and line (fuzzed)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hartflow.data import load_examples
from hartflow.data.formats import (
    Example,
    detect_format,
    format_examples,
    parse,
    read_examples,
    write_examples,
)
from hartflow.errors import DataError, HartFlowError

word = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ_0123456789", min_size=1, max_size=8)
phrase = st.lists(word, min_size=1, max_size=6).map(" ".join)
examples = st.lists(st.builds(Example, phrase, phrase), min_size=1, max_size=20)


class TestRoundTrip:
    @given(examples)
    def test_scan_format(self, exs):
        assert parse(format_examples(exs, "scan"), "scan") == exs

    @given(st.lists(st.builds(Example, phrase, phrase, word), min_size=1, max_size=20))
    def test_tsv_with_categories(self, exs):
        assert parse(format_examples(exs, "tsv"), "tsv") == exs

    def test_files_and_extension_detection(self, tmp_path):
        exs = [Example("look twice", "LOOK LOOK"), Example("a", "B")]
        write_examples(tmp_path / "t.txt", exs, "scan")
        assert read_examples(tmp_path / "t.txt") == exs
        write_examples(tmp_path / "t.tsv", exs, "tsv")
        assert read_examples(tmp_path / "t.tsv") == exs
        assert detect_format(tmp_path / "x.data", "tsv") == "tsv"

    def test_crlf_and_blank_lines(self):
        assert parse("IN: a OUT: B\r\n\r\n\nIN: c OUT: D\r\n", "scan") == [
            Example("a", "B"),
            Example("c", "D"),
        ]


class TestBadInput:
    @pytest.mark.parametrize(("fmt", "path"), [("scan", "f.txt"), ("tsv", "f.tsv")])
    @given(text=st.text(max_size=80))
    def test_fuzzed_lines_parse_or_name_the_file_and_line(self, fmt, path, text):
        try:
            out = parse(text, fmt, path=path)
        except DataError as e:
            assert str(e).startswith(f"{path}:") and e.path == path
        else:
            assert all(e.input and "\n" not in e.input for e in out)

    def test_malformed_line_names_file_line_and_expectation(self, tmp_path):
        f = tmp_path / "train.txt"
        f.write_text("IN: jump OUT: I_JUMP\nIN: walk I_WALK\n")
        with pytest.raises(
            DataError, match=r"train\.txt:2: expected 'IN: <command> OUT: <actions>'"
        ):
            read_examples(f)

    def test_tsv_column_count(self, tmp_path):
        f = tmp_path / "d.tsv"
        f.write_text("a\tb\nonly one column\n")
        with pytest.raises(DataError, match=r"d\.tsv:2: .*2 or 3 columns"):
            read_examples(f)

    def test_missing_file_names_the_path(self, tmp_path):
        with pytest.raises(DataError, match=r"file not found: .*nope\.txt"):
            read_examples(tmp_path / "nope.txt")

    def test_empty_file(self, tmp_path):
        (tmp_path / "e.txt").write_text("\n\n")
        with pytest.raises(DataError, match="no examples"):
            read_examples(tmp_path / "e.txt")

    def test_wrong_encoding(self, tmp_path):
        (tmp_path / "l.txt").write_bytes(b"IN: a OUT: B\nIN: caf\xe9 OUT: C\n")
        with pytest.raises(DataError, match=r"l\.txt:2: not UTF-8"):
            read_examples(tmp_path / "l.txt")

    @pytest.mark.parametrize(
        ("text", "match"),
        [
            ("IN: OUT: X", "the command after 'IN:' is empty"),
            ("IN: jump OUT:", "actions after 'OUT:' are empty"),
            ("IN: a OUT: b OUT: c", "expected 'IN: <command> OUT: <actions>'"),
        ],
    )
    def test_scan_edge_cases(self, text, match):
        with pytest.raises(DataError, match=match):
            parse(text, "scan", path="f.txt")

    def test_empty_tsv_output(self):
        with pytest.raises(DataError, match=r"f\.tsv:1: the output column is empty"):
            parse("a b\t", "tsv", path="f.tsv")

    def test_byte_order_mark_is_accepted(self, tmp_path):
        (tmp_path / "b.txt").write_bytes("\ufeffIN: jump OUT: I_JUMP\n".encode())
        assert read_examples(tmp_path / "b.txt") == [Example("jump", "I_JUMP")]

    def test_directory_instead_of_file(self, tmp_path):
        with pytest.raises(HartFlowError, match="is a directory"):
            write_examples(tmp_path, [Example("a", "B")], "scan")

    def test_written_files_get_ordinary_permissions(self, tmp_path):
        path = write_examples(tmp_path / "x.txt", [Example("a", "B")], "scan")
        mask = os.umask(0)
        os.umask(mask)
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask

    def test_format_without_files(self):
        with pytest.raises(DataError, match="--format applies"):
            load_examples("scan", "simple", fmt="csv")

    def test_unknown_extension(self, tmp_path):
        with pytest.raises(DataError, match="--format"):
            read_examples(tmp_path / "x.json")

    def test_user_files_need_both(self, tmp_path):
        with pytest.raises(DataError, match="both --train FILE and --test FILE"):
            load_examples(train=tmp_path / "a.txt")


def test_user_files_load_as_a_task(tmp_path):
    (tmp_path / "tr.tsv").write_text("dax twice\tDAX DAX\ndax\tDAX\n")
    (tmp_path / "te.tsv").write_text("wif\tWIF\n")
    parts = load_examples(train=tmp_path / "tr.tsv", test=tmp_path / "te.tsv")
    assert [e.output for e in parts["train"]] == ["DAX DAX", "DAX"]
    from hartflow.data import unseen_output_tokens

    assert unseen_output_tokens(parts) == {"WIF": 1}
