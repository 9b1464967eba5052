"""The library side of `hartflow encode`, and atomic writes."""

from __future__ import annotations

import json

import pytest

from hartflow import HartFlowError
from hartflow.atomic import write_json
from hartflow.encoding import encode_command


def test_report_fields():
    r = encode_command("look left look", dim=256, seed=1)
    assert r["vocabulary_size"] == 2 and r["length"] == 3 and r["exact"]
    assert 0 < r["predicted_token_accuracy"] <= 1
    assert all(-1 <= p["score"] <= 1 for p in r["positions"])


def test_distractors_enlarge_the_vocabulary():
    r = encode_command("a b", dim=128, distractors=50)
    assert r["vocabulary_size"] == 52


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"command": ""}, "empty"),
        ({"command": "a", "dim": 1}, "--dim"),
        ({"command": "a", "distractors": -1}, "--distractors"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(HartFlowError, match=match):
        encode_command(**kwargs)


def test_write_json_is_atomic(tmp_path):
    path = write_json(tmp_path / "sub" / "r.json", {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temp files left


def test_failed_write_keeps_the_old_file(tmp_path):
    path = write_json(tmp_path / "r.json", {"a": 1})
    with pytest.raises(TypeError):
        write_json(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert len(list(tmp_path.iterdir())) == 1
