"""Maze-Hard: generation, the CSV reader, dihedral augmentation, the builder and the evaluator."""

from __future__ import annotations

import csv
import json
import math

import networkx as nx
import numpy as np
import pytest

from hartflow.errors import DataError
from hartflow.grid import maze
from hartflow.grid.layout import read_info, read_split


def board(text: str) -> np.ndarray:
    """A maze string as a (side, side) array of characters."""
    side = math.isqrt(len(text))
    return np.array(list(text)).reshape(side, side)


def text(grid: np.ndarray) -> str:
    return "".join(np.asarray(grid).ravel())


def nx_length(question: str) -> int:
    """Shortest S→G path length by networkx, independent of the module's search."""
    g = board(question)
    graph = nx.grid_2d_graph(*g.shape)
    graph.remove_nodes_from(zip(*np.nonzero(g == "#"), strict=True))
    (s,), (t,) = zip(*np.nonzero(g == "S"), strict=True), zip(*np.nonzero(g == "G"), strict=True)
    return nx.shortest_path_length(graph, s, t)


def tokens(strings: list[str]) -> np.ndarray:
    return np.stack([maze.encode(s) for s in strings])


@pytest.fixture(scope="module")
def mazes10() -> list[maze.Maze]:
    return maze.generate(12, 10, seed=1)


# Two equal shortest paths S→G (4 steps each): along the top and right, or the left and bottom.
RING = "######S  ## # ##  G######"
# S and G are 2 steps apart down the left column; the loop round the right is 10 steps.
DETOUR = "S     ### G    ##########"


class TestTokens:
    def test_charset_order_gives_the_reference_tokens(self):
        assert maze.encode("# SGo").tolist() == [1, 2, 3, 4, 5]
        assert maze.VOCAB_SIZE == 6
        assert maze.decode(maze.encode("#S G o")) == "#S G o"

    @pytest.mark.parametrize("bad", ["#x", "#é", "#."])
    def test_outside_the_charset(self, bad):
        with pytest.raises(ValueError, match="use only"):
            maze.encode(bad)

    def test_pad_has_no_character(self):
        with pytest.raises(ValueError, match="PAD"):
            maze.decode(np.array([1, 0, 2]))


class TestSolve:
    def test_ties_go_up_left_right_down_from_s(self):
        answer, length = maze.solve(RING)
        assert length == 4
        assert answer == "######Soo## #o##  G######"

    @pytest.mark.parametrize(
        ("question", "match"),
        [("#S      #", "one S and one G"), ("S##G", "cannot be reached"), ("S G", "side²")],
    )
    def test_errors(self, question, match):
        with pytest.raises(ValueError, match=match):
            maze.solve(question)


class TestGenerate:
    def test_path_lengths_are_networkx_shortest_paths(self, mazes10):
        for m in mazes10:
            assert m.path_length == nx_length(m.question)
            assert m.path_length > maze.default_min_path(10) >= 10

    def test_wall_fraction_between_30_and_50_percent(self, mazes10):
        for m in mazes10:
            assert 0.3 <= m.question.count("#") / 100 <= 0.5
            assert m.question.count("S") == m.question.count("G") == 1
            assert set(m.question) <= set("# SG")

    def test_answers_mark_one_shortest_path(self, mazes10):
        for m in mazes10:
            assert m.answer == maze.solve(m.question)[0]
            assert m.answer.count("o") == m.path_length - 1
            changed = [(q, a) for q, a in zip(m.question, m.answer, strict=True) if q != a]
            assert set(changed) == {(" ", "o")}
        x, y = tokens([m.question for m in mazes10]), tokens([m.answer for m in mazes10])
        assert maze.score(x, y, y, 10)["valid_shortest_path"] == 1.0

    def test_reproducible_and_a_prefix_of_a_larger_count(self, mazes10):
        assert maze.generate(5, 10, seed=1) == mazes10[:5]
        other = maze.generate(5, 10, seed=2)
        assert {m.question for m in other}.isdisjoint(m.question for m in mazes10)

    def test_layouts_are_distinct(self, mazes10):
        assert len({m.layout_id for m in mazes10}) == len(mazes10)

    def test_explicit_min_path(self):
        mazes = maze.generate(4, 8, min_path=14, seed=0)
        assert all(m.path_length > 14 for m in mazes)
        assert [m.path_length for m in mazes] == [nx_length(m.question) for m in mazes]

    def test_bounds_change_nothing(self, monkeypatch, mazes10):
        """With bounds that never decide, every draw is searched: same mazes."""

        def no_bounds(open_, labels, side, thr):
            return open_.ravel(), np.full((3, open_.size), 10**6)

        fast = maze.generate(4, 9, min_path=15, seed=5)
        monkeypatch.setattr(maze, "_bounds", no_bounds)
        assert maze.generate(2, 10, seed=1) == mazes10[:2]
        assert maze.generate(4, 9, min_path=15, seed=5) == fast

    def test_literal_recipe_equals_default_when_only_side_filters(self):
        # min_path < side: both keep the first draw with >= side steps
        fast = maze.generate(8, 9, min_path=3, seed=4)
        assert maze.generate(8, 9, min_path=3, seed=4, literal_recipe=True) == fast
        assert all(m.path_length >= 9 for m in fast)

    def test_literal_recipe_filters_after_the_first_accepted_draw(self):
        mazes = maze.generate(3, 8, min_path=10, seed=0, literal_recipe=True)
        assert all(m.path_length > 10 and m.path_length == nx_length(m.question) for m in mazes)

    def test_progress(self):
        calls = []
        maze.generate(3, 6, seed=0, progress=lambda i, n: calls.append((i, n)))
        assert calls == [(1, 3), (2, 3), (3, 3)]

    def test_one_30x30_maze(self):
        (m,) = maze.generate(1, seed=0)
        assert len(m.question) == 900 and m.path_length > 110
        assert m.path_length == nx_length(m.question)

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [({"count": -1}, "count >= 0"), ({"side": 1}, "side >= 2"), ({"seed": -1}, "seed >= 0"),
         ({"side": 6, "min_path": 24}, "use at most 23")],
    )  # fmt: skip
    def test_errors(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            maze.generate(**{"count": 1, **kwargs})


class TestMinPath:
    def test_110_at_30_and_scaled_below(self):
        assert maze.default_min_path(30) == 110
        assert [maze.default_min_path(s) for s in (6, 8, 10, 12)] == [16, 23, 29, 37]


class TestSplitDisjoint:
    def test_layouts_never_in_both(self, mazes10):
        train, test = maze.split_disjoint(mazes10, 4, seed=0)
        assert len(test) == 4 and len(train) == 8
        assert {m.layout_id for m in train}.isdisjoint(m.layout_id for m in test)
        assert maze.split_disjoint(mazes10, 4, seed=0) == (train, test)
        assert maze.split_disjoint(mazes10, 4, seed=1) != (train, test)

    def test_a_shared_layout_stays_together(self, mazes10):
        m = mazes10[0]
        g = board(m.question)
        start, goal = g == "S", g == "G"
        g[start], g[goal] = "G", "S"  # same walls, swapped ends
        twin = maze.Maze(text(g), maze.solve(text(g))[0], m.path_length)
        assert twin.layout_id == m.layout_id
        mazes = [*mazes10, twin]
        for seed in range(6):
            train, test = maze.split_disjoint(mazes, 5, seed=seed)
            assert len(test) <= 5 and len(train) + len(test) == len(mazes)
            assert {x.layout_id for x in train}.isdisjoint(x.layout_id for x in test)

    def test_n_test_out_of_range(self, mazes10):
        with pytest.raises(ValueError, match="n_test"):
            maze.split_disjoint(mazes10, 13)


class TestReadCsv:
    def write(self, path, rows, header=("source", "question", "answer", "rating")):
        with path.open("w", newline="") as f:
            csv.writer(f).writerows([header, *rows])
        return path

    def test_round_trip(self, tmp_path, mazes10):
        rows = [("gen", m.question, m.answer, m.path_length) for m in mazes10[:4]]
        path = self.write(tmp_path / "train.csv", rows)
        path.write_text(path.read_text() + "\n")  # a trailing blank line is skipped
        assert maze.read_csv(path) == mazes10[:4]

    def test_missing_file_names_the_path(self, tmp_path):
        with pytest.raises(DataError, match=r"nope\.csv: cannot read.*sapientinc") as e:
            maze.read_csv(tmp_path / "nope.csv")
        assert e.value.path == str(tmp_path / "nope.csv")

    def test_wrong_header(self, tmp_path):
        path = self.write(tmp_path / "a.csv", [], header=("q", "a"))
        with pytest.raises(DataError, match=r"a\.csv:1: expected the header"):
            maze.read_csv(path)

    @pytest.mark.parametrize(
        ("row", "match"),
        [
            (("x", RING, RING), "expected 4 fields"),
            (("x", RING[:-1], RING[:-1], "1"), "side² characters"),
            (("x", RING, RING + "#", "1"), "side² characters"),
            (("x", RING.replace(" ", "."), RING, "1"), r"question holds \['\.'\]"),
            (("x", RING, RING.replace(" ", "x"), "1"), r"answer holds \['x'\]"),
            (("x", RING.replace(" ", "o", 1), RING, "1"), r"question holds \['o'\]"),
            (("x", RING, RING.replace("#", " ", 1), "1"), "differ in their walls"),
            (("x", RING.replace("G", " "), RING, "1"), "one S and one G"),
            (("x", "S##G", "S##G", "1"), "cannot be reached"),
        ],
    )
    def test_malformed_row_names_file_and_line(self, tmp_path, row, match):
        good = ("x", RING, maze.solve(RING)[0], "4")
        path = self.write(tmp_path / "bad.csv", [good, row])
        with pytest.raises(DataError, match=rf"bad\.csv:3: .*{match}") as e:
            maze.read_csv(path)
        assert e.value.line == 3


class TestDihedral:
    @pytest.mark.parametrize("t", range(8))
    @pytest.mark.parametrize("shape", [(4, 4), (3, 5), (2, 3, 3)])
    def test_round_trip(self, t, shape):
        g = np.arange(math.prod(shape)).reshape(shape)
        assert np.array_equal(maze.inverse_dihedral(maze.dihedral(g, t), t), g)
        assert np.array_equal(maze.dihedral(maze.inverse_dihedral(g, t), t), g)

    def test_table(self):
        g = np.arange(9).reshape(3, 3)
        expected = [g, np.rot90(g), np.rot90(g, 2), np.rot90(g, 3), g[:, ::-1], g[::-1], g.T,
                    np.array([[g[2 - j, 2 - i] for j in range(3)] for i in range(3)])]  # fmt: skip
        for t, e in enumerate(expected):
            assert np.array_equal(maze.dihedral(g, t), e), t
        assert maze.DIHEDRAL_INVERSE == (0, 3, 2, 1, 4, 5, 6, 7)

    def test_eight_distinct_images(self):
        g = np.arange(16).reshape(4, 4)
        assert len({maze.dihedral(g, t).tobytes() for t in range(8)}) == 8

    @pytest.mark.parametrize("t", [-1, 8])
    def test_bad_id(self, t):
        with pytest.raises(ValueError, match=r"0\.\.7"):
            maze.dihedral(np.zeros((2, 2)), t)
        with pytest.raises(ValueError, match=r"0\.\.7"):
            maze.inverse_dihedral(np.zeros((2, 2)), t)

    @pytest.mark.parametrize("t", range(8))
    def test_augmented_labels_stay_shortest_paths(self, mazes10, t):
        x = np.stack([maze.dihedral(board(m.question), t) for m in mazes10[:4]])
        y = np.stack([maze.dihedral(board(m.answer), t) for m in mazes10[:4]])
        xt, yt = tokens([text(g) for g in x]), tokens([text(g) for g in y])
        assert maze.score(xt, yt, yt, 10)["valid_shortest_path"] == 1.0
        assert [maze.solve(text(g))[1] for g in x] == [m.path_length for m in mazes10[:4]]


class TestBuild:
    def test_augmented_train_plain_test(self, tmp_path, mazes10):
        train, test = maze.split_disjoint(mazes10, 4, seed=0)
        out = maze.build(train, test, tmp_path / "maze", aug=True, seed=1, source="unit")
        tr, meta = read_split(out / "train")
        assert tr.inputs.shape == tr.labels.shape == (8 * 8, 100)
        assert tr.inputs.dtype == np.uint8
        assert set(np.unique(tr.inputs)) <= {1, 2, 3, 4}  # no 'o' and no PAD in questions
        assert set(np.unique(tr.labels)) <= {1, 2, 3, 4, 5}
        assert tr.puzzle_indices.tolist() == list(range(65))
        assert tr.group_indices.tolist() == list(range(0, 65, 8))
        assert not tr.puzzle_identifiers.any()
        assert meta["vocab_size"] == 6 and meta["seq_len"] == 100
        assert meta["num_puzzle_identifiers"] == 1 and meta["total_groups"] == 8
        for k, m in enumerate(train):  # t = 0..7 in order, each maps back to the original
            for array, original in ((tr.inputs, m.question), (tr.labels, m.answer)):
                group = array[8 * k : 8 * k + 8].reshape(8, 10, 10)
                for t in range(8):
                    back = maze.inverse_dihedral(group[t], t)
                    assert np.array_equal(back, maze.encode(original).reshape(10, 10))
        assert maze.score(tr.inputs, tr.labels, tr.labels, 10)["valid_shortest_path"] == 1.0
        te, _ = read_split(out / "test")
        assert te.inputs.shape == (4, 100)  # never augmented
        assert te.group_indices.tolist() == te.puzzle_indices.tolist() == [0, 1, 2, 3, 4]
        assert [maze.decode(r) for r in te.inputs] == [m.question for m in test]
        assert [maze.decode(r) for r in te.labels] == [m.answer for m in test]
        info = read_info(out)
        assert info["task"] == "maze" and info["side"] == 10 and info["aug"] is True
        assert info["seed"] == 1 and info["source"] == "unit"
        assert info["mean_path_length"] == pytest.approx(np.mean([m.path_length for m in mazes10]))
        assert json.loads((out / "identifiers.json").read_text()) == ["<blank>"]

    def test_without_aug_one_puzzle_per_group(self, tmp_path, mazes10):
        out = maze.build(mazes10[:5], mazes10[5:7], tmp_path / "maze")
        tr, _ = read_split(out / "train")
        assert tr.inputs.shape == (5, 100) and tr.group_indices.tolist() == list(range(6))
        assert read_info(out)["aug"] is False

    def test_one_side_only(self, tmp_path, mazes10):
        with pytest.raises(ValueError, match="one side"):
            maze.build(mazes10[:2], maze.generate(1, 6, seed=0), tmp_path / "x")


class TestScore:
    def test_labels_score_one(self, mazes10):
        x, y = tokens([m.question for m in mazes10]), tokens([m.answer for m in mazes10])
        assert maze.score(x, y, y, 10) == {
            "n": 12, "exact": 1.0, "cell_accuracy": 1.0, "valid_shortest_path": 1.0
        }  # fmt: skip

    def test_alternative_shortest_path_is_valid_not_exact(self):
        label = maze.solve(RING)[0]
        other = "######S  ##o# ##ooG######"
        result = maze.score(tokens([RING]), tokens([label]), tokens([other]), 5)
        assert result["exact"] == 0.0 and result["valid_shortest_path"] == 1.0
        assert result["cell_accuracy"] == pytest.approx(1 - 6 / 25)

    @pytest.mark.parametrize(
        ("question", "prediction"),
        [
            (DETOUR, "Soooo ###oGoooo##########"),  # a longer path
            (RING, "######So ## # ## oG######"),  # right count, not connected
            (RING, "######Soo## #o##o G######"),  # one 'o' too many
            (RING, "######oo ## #o##  G######"),  # S overwritten
            (RING, "######Soo##o#o##  G######"),  # an extra branch
        ],
    )
    def test_not_a_shortest_path(self, question, prediction):
        label = maze.solve(question)[0]
        result = maze.score(tokens([question]), tokens([label]), tokens([prediction]), 5)
        assert result["exact"] == 0.0 and result["valid_shortest_path"] == 0.0

    def test_pad_in_a_prediction_is_invalid(self):
        label = tokens([maze.solve(RING)[0]])
        pred = label.copy()
        pred[0, 6] = 0
        assert maze.score(tokens([RING]), label, pred, 5)["valid_shortest_path"] == 0.0

    def test_fractions_over_a_batch(self, mazes10):
        x, y = tokens([m.question for m in mazes10[:4]]), tokens([m.answer for m in mazes10[:4]])
        p = y.copy()
        p[0] = x[0]  # no path marked
        result = maze.score(x, y, p, 10)
        assert result["exact"] == result["valid_shortest_path"] == 0.75
        assert result["cell_accuracy"] == pytest.approx(1 - (y[0] != x[0]).sum() / 400)

    def test_empty_or_mismatched(self):
        with pytest.raises(ValueError, match="N >= 1"):
            maze.score(np.zeros((0, 4)), np.zeros((0, 4)), np.zeros((0, 4)), 2)
        with pytest.raises(ValueError, match="N >= 1"):
            maze.score(np.zeros((2, 4)), np.zeros((1, 4)), np.zeros((2, 4)), 2)
