"""COGS loader: official files, categories, tokenisation, unseen tokens."""

from __future__ import annotations

from collections import Counter

import pytest

from hartflow.data import load, load_examples, tokens, unseen_output_tokens, vocabulary
from hartflow.errors import DataError
from tests.conftest import SHARED_DATA

COGS_DIR = SHARED_DATA / "cogs"
needs_files = pytest.mark.skipif(
    not (COGS_DIR / "data" / "train.tsv").is_file(),
    reason=f"COGS files not found at {COGS_DIR} (github.com/najoungkim/COGS)",
)


@needs_files
class TestOfficial:
    def test_gen_split_sizes_and_categories(self):
        parts = load_examples("cogs", "gen", data_dir=COGS_DIR)
        assert len(parts["train"]) == 24155 and len(parts["test"]) == 21000
        cats = Counter(e.category for e in parts["test"])
        assert len(cats) == 21 and set(cats.values()) == {1000}
        assert {"cp_recursion", "pp_recursion", "obj_pp_to_subj_pp"} <= set(cats)

    def test_data_folder_or_its_parent(self):
        a = load_examples("cogs", "test", data_dir=COGS_DIR)
        b = load_examples("cogs", "test", data_dir=COGS_DIR / "data")
        assert a == b and len(a["test"]) == 3000

    def test_dataset_dict_and_tokens(self):
        dd = load("cogs", "dev", data_dir=COGS_DIR)
        assert dd["test"].column_names == ["input", "output", "category"]
        row = dd["train"][0]
        assert tokens(row["output"]) == row["output"].split() and len(tokens(row["input"])) > 1
        assert "x" in vocabulary(load_examples("cogs", "dev", data_dir=COGS_DIR)["train"], "output")

    def test_gen_has_output_tokens_unseen_in_training(self):
        # lexical generalisation cases use words whose logical-form tokens train never shows
        # in that role; the report counts test examples per unseen token and does not crash
        unseen = unseen_output_tokens(load_examples("cogs", "gen", data_dir=COGS_DIR))
        assert unseen and all(n > 0 for n in unseen.values())

    def test_train_100_missing_is_explained(self):
        with pytest.raises(DataError, match=r"train_100\.tsv"):
            load_examples("cogs", "gen_100", data_dir=COGS_DIR)


def test_cogs_without_data_dir_says_how_to_get_it(monkeypatch):
    monkeypatch.delenv("HARTFLOW_DATA", raising=False)
    with pytest.raises(DataError, match="najoungkim/COGS"):
        load_examples("cogs", "gen")


def test_unknown_split_lists_the_choices():
    with pytest.raises(DataError, match="choose one of gen, test, dev"):
        load_examples("cogs", "nope", data_dir=".")
