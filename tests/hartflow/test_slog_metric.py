"""SLOG's official metric on hand-checked lines (the reformatting of the SLOG repository's
`reorder_reindex_eval.py`, quirks included) and its use in evaluation results."""

from __future__ import annotations

import pytest

from hartflow.data.slog_metric import official_form, official_match
from hartflow.predictions import Prediction, official_scores, write_predictions

GOLD = ("* cat ( x _ 1 ) ; * dog ( x _ 4 ) ; see . agent ( x _ 2 , x _ 1 ) AND "
        "see . theme ( x _ 2 , x _ 4 )")  # fmt: skip


class TestOfficialForm:
    def test_drops_variables_sorts_and_renumbers(self):
        # conjuncts sorted as strings, then numbers renamed by first appearance: 1->1, 4->2, 2->3
        assert official_form(GOLD) == (
            "* cat ( 1 ) ; * dog ( 2 ) ; see . agent ( 3 , 1 ) AND see . theme ( 3 , 2 )"
        )

    def test_body_conjuncts_are_sorted_as_strings(self):
        lf = "b . theme ( x _ 3 , x _ 1 ) AND a ( x _ 1 ) AND b . agent ( x _ 3 , Emma )"
        assert official_form(lf) == "a ( 1 ) AND b . agent ( 2 , Emma ) AND b . theme ( 2 , 1 )"

    def test_one_definite_and_one_body_conjunct_stay_as_they_are(self):
        lf = "* dog ( x _ 3 ) ; sleep . agent ( x _ 1 , x _ 3 )"  # two parts, no AND: untouched
        assert official_form(lf) == "* dog ( 1 ) ; sleep . agent ( 2 , 1 )"

    def test_definites_without_and_keep_a_trailing_separator(self):
        # three ' ; '-parts and no ' AND ': every part counts as a definite; a ' ; ' is appended
        lf = "* dog ( x _ 4 ) ; * cat ( x _ 1 ) ; see . agent ( x _ 2 , x _ 1 )"
        assert official_form(lf) == "* cat ( 1 ) ; * dog ( 2 ) ; see . agent ( 3 , 1 ) ;"

    def test_a_lambda_form_and_a_constant_are_unchanged(self):
        lf = "LAMBDA a . LAMBDA e . eat . agent ( e , a )"
        assert official_form(lf) == lf
        assert official_form("Emma") == "Emma"


class TestOfficialMatch:
    def test_other_conjunct_order_and_shifted_indices_match(self):
        other = ("* dog ( x _ 5 ) ; * cat ( x _ 1 ) ; see . theme ( x _ 2 , x _ 5 ) AND "
                 "see . agent ( x _ 2 , x _ 1 )")  # fmt: skip
        assert official_match(other, GOLD)

    def test_another_structure_does_not(self):
        swapped = GOLD.replace("agent ( x _ 2 , x _ 1 )", "agent ( x _ 2 , x _ 4 )")
        assert not official_match(swapped, GOLD)
        assert not official_match(None, GOLD)

    def test_every_gold_line_matches_itself_reformatted(self):
        assert official_match(GOLD, GOLD)


def test_scores_and_predictions_file(tmp_path):
    rows = [
        Prediction("a dog saw the cat", GOLD, GOLD, "x", True),
        Prediction("s2", GOLD, GOLD.replace("x _ 4", "x _ 7"), "x", False),  # official: right
        Prediction("s3", GOLD, None, "y", False),
    ]
    scores = official_scores(rows)
    assert scores["official_match"] == pytest.approx(2 / 3)
    assert scores["per_category_official"] == {"x": 1.0, "y": 0.0}
    path = write_predictions(tmp_path / "p.tsv", rows)
    lines = path.read_text().splitlines()
    assert lines[0] == "input\tgold\tanswer\tcategory\tcorrect"
    assert lines[3].split("\t") == ["s3", GOLD, "", "y", "false"] and len(lines) == 4
