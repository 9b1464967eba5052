"""SCAN: the generated grammar and splits equal the official files (when present)."""

from __future__ import annotations

from collections import Counter

import pytest

from hartflow.data import scan
from hartflow.data.formats import read_examples
from tests.conftest import SHARED_DATA

SCAN_DIR = SHARED_DATA / "scan"
needs_files = pytest.mark.skipif(
    not (SCAN_DIR / "tasks.txt").is_file(),
    reason=f"official SCAN files not found at {SCAN_DIR} (github.com/brendenlake/SCAN)",
)


def official(split: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    parts = scan.load_split(split, data_dir=SCAN_DIR)
    return tuple([(e.input, e.output) for e in parts[p]] for p in ("train", "test"))


class TestGrammar:
    def test_all_commands(self):
        pairs = scan.generate()
        assert len(pairs) == 20910 == len({c for c, _ in pairs})

    @pytest.mark.parametrize(
        ("command", "actions"),
        [
            ("jump", "I_JUMP"),
            ("turn left twice", "I_TURN_LEFT I_TURN_LEFT"),
            ("walk opposite right", "I_TURN_RIGHT I_TURN_RIGHT I_WALK"),
            ("look around left", " ".join(["I_TURN_LEFT I_LOOK"] * 4)),
            ("turn around right", " ".join(["I_TURN_RIGHT"] * 4)),
            ("run after jump left", "I_TURN_LEFT I_JUMP I_RUN"),
            ("jump thrice and walk", "I_JUMP I_JUMP I_JUMP I_WALK"),
        ],
    )
    def test_meaning(self, command, actions):
        assert scan.interpret(command) == actions
        assert (command, actions) in set(scan.generate())

    @needs_files
    def test_equals_official_tasks_file(self):
        pairs = read_examples(SCAN_DIR / "tasks.txt")
        assert {(e.input, e.output) for e in pairs} == set(scan.generate())


class TestSplits:
    def test_simple_is_a_seeded_partition(self):
        train, test = scan.generate_split("simple", seed=1)
        assert len(test) == round(0.2 * 20910) and not set(train) & set(test)
        assert scan.generate_split("simple", seed=1) == (train, test)
        assert scan.generate_split("simple", seed=2)[1] != test

    def test_length_split_rule(self):
        train, test = scan.generate_split("length")
        assert max(len(a.split()) for _, a in train) <= 22 < min(len(a.split()) for _, a in test)

    @needs_files
    @pytest.mark.parametrize(
        "split",
        ["length", "addprim_jump", "addprim_turn_left", "around_right", "jump_around_right",
         "opposite_right", "right", "filler_num0", "filler_num1", "filler_num2", "filler_num3"],
    )  # fmt: skip
    def test_generated_equals_official(self, split):
        gen_train, gen_test = scan.generate_split(split)
        off_train, off_test = official(split)
        assert Counter(gen_train) == Counter(off_train)  # repeats of the primitive included
        assert Counter(gen_test) == Counter(off_test)

    @needs_files
    def test_simple_official_covers_the_grammar(self):
        train, test = official("simple")
        assert set(train) | set(test) == set(scan.generate())

    def test_addprim_repeats_the_primitive(self):
        train, test = scan.generate_split("addprim_jump")
        assert Counter(c for c, _ in train)["jump"] == 1467
        assert all("jump" in c.split() for c, _ in test)
