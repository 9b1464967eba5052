"""SLOG loader: official files, the generalisation set read from its zip in place, errors."""

from __future__ import annotations

import zipfile
from collections import Counter

import pytest

from hartflow.data import catalog, load_examples
from hartflow.errors import DataError
from tests.conftest import SHARED_DATA

SLOG_DIR = SHARED_DATA / "slog"
needs_files = pytest.mark.skipif(
    not (SLOG_DIR / "generalization_sets.zip").is_file(),
    reason=f"SLOG files not found at {SLOG_DIR} (github.com/bingzhilee/SLOG)",
)


@needs_files
class TestOfficial:
    def test_gen_split_sizes_and_categories(self):
        parts = load_examples("slog", "gen", data_dir=SLOG_DIR)
        assert len(parts["train"]) == 32755 and len(parts["test"]) == 17000
        cats = Counter(e.category for e in parts["test"])
        assert len(cats) == 17 and set(cats.values()) == {1000}
        assert {"PP_5-12", "CP_5-12", "center_embed_5-12"} <= set(cats)

    def test_in_distribution_splits(self):
        for split in ("test", "dev"):
            parts = load_examples("slog", split, data_dir=SLOG_DIR)
            assert len(parts["test"]) == 4046

    def test_catalog_lists_slog(self):
        rows = [r for r in catalog(slog_dir=SLOG_DIR) if r["task"] == "slog"]
        assert [r["split"] for r in rows] == ["gen", "test", "dev"]
        assert rows[0]["test"] == 17000

    def test_environment_variable(self, monkeypatch):
        monkeypatch.setenv("HARTFLOW_DATA", str(SHARED_DATA))
        assert len(load_examples("slog", "dev")["test"]) == 4046


def test_slog_without_data_dir_says_how_to_get_it(monkeypatch):
    monkeypatch.delenv("HARTFLOW_DATA", raising=False)
    with pytest.raises(DataError, match="bingzhilee/SLOG"):
        load_examples("slog", "gen")


def test_missing_zip_is_named(tmp_path):
    (tmp_path / "train.tsv").write_text("A cat ran .\tcat ( x _ 1 )\n")
    with pytest.raises(DataError, match=r"generalization_sets\.zip"):
        load_examples("slog", "gen", data_dir=tmp_path)


def test_bad_line_in_zip_names_member_and_line(tmp_path):
    (tmp_path / "train.tsv").write_text("A cat ran .\tcat ( x _ 1 )\n")
    with zipfile.ZipFile(tmp_path / "generalization_sets.zip", "w") as z:
        z.writestr("generalization_sets/gen_cogsLF.tsv", "a\tb\tc\nonly one column\n")
    with pytest.raises(DataError, match=r"gen_cogsLF\.tsv:2:"):
        load_examples("slog", "gen", data_dir=tmp_path)
