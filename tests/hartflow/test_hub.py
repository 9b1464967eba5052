"""The hub route: config names, column mapping, and a clear error when offline."""

from __future__ import annotations

import datasets
import pytest

from hartflow.data import load_examples
from hartflow.data.formats import Example
from hartflow.data.hub import from_hub_rows, scan_config
from hartflow.errors import DataError


def test_split_names_map_to_hub_configs():
    assert scan_config("addprim_jump") == "addprim_jump"
    assert scan_config("around_right") == "template_around_right"
    assert scan_config("filler_num2") == "filler_num2"


def test_rows_become_examples():
    rows = {"commands": ["jump twice"], "actions": ["I_JUMP I_JUMP"]}
    assert from_hub_rows(rows) == [Example("jump twice", "I_JUMP I_JUMP")]
    with pytest.raises(DataError, match="commands"):
        from_hub_rows({"text": []})


def test_offline_is_a_data_error_naming_the_local_route(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("could not resolve huggingface.co")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match="drop --hub"):
        load_examples("scan", "length", hub=True)


def test_hub_is_scan_only():
    with pytest.raises(DataError, match="SCAN only"):
        load_examples("cogs", "gen", hub=True)
