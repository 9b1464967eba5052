"""Sudoku: solver, generator, CSV reader, augmentation and builder.

Uniqueness and validity are checked against an independent exact-cover solver (Knuth's
Algorithm X on dicts of sets) and an independent set-based validity check written here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from hartflow.errors import DataError
from hartflow.grid.layout import read_info, read_split
from hartflow.grid.sudoku import (
    Puzzle,
    Transform,
    apply_transform,
    augment,
    build,
    count_solutions,
    decode_grid,
    encode_grid,
    generate,
    invert_transform,
    is_valid_solution,
    random_transform,
    rating,
    read_csv,
    solve,
    write_csv,
)
from hartflow.grid.sudoku_rater import HAVE_NUMBA
from hartflow.grid.sudoku_solver import rating as solver_backtracks

BOX = {4: (2, 2), 6: (2, 3), 9: (3, 3)}
# A well-known 9×9 puzzle with a unique solution (Project Euler 96, grid 01).
EULER = "003020600900305001001806400008102900700000008006708200002609500800203009005010300"
EULER_SOLUTION = "483921657967345821251876493548132976729564138136798245372689514814253769695417382"


def board(s: str) -> np.ndarray:
    return np.array([0 if ch == "." else int(ch) for ch in s], np.int8)


# ------------------------------------------------------------------------ independent references
def exact_cover_solutions(grid: np.ndarray, n: int, limit: int = 2) -> list[list[int]]:
    """Up to `limit` solutions by Algorithm X (a different algorithm from the module's search)."""
    br, bc = BOX[n]
    rows = {}
    for r in range(n):
        for c in range(n):
            for d in range(1, n + 1):
                b = (r // br) * (n // bc) + c // bc
                rows[(r, c, d)] = [("cell", r, c), ("row", r, d), ("col", c, d), ("box", b, d)]
    cols: dict[tuple, set] = {}
    for key, constraints in rows.items():
        for j in constraints:
            cols.setdefault(j, set()).add(key)

    def select(key):
        removed = []
        for j in rows[key]:
            for other in cols[j]:
                for k in rows[other]:
                    if k != j:
                        cols[k].discard(other)
            removed.append(cols.pop(j))
        return removed

    def deselect(key, removed):
        for j in reversed(rows[key]):
            cols[j] = removed.pop()
            for other in cols[j]:
                for k in rows[other]:
                    if k != j:
                        cols[k].add(other)

    chosen, found = [], []
    for i, d in enumerate(np.asarray(grid).tolist()):
        if d:
            key = (i // n, i % n, d)
            if any(j not in cols for j in rows[key]):
                return []  # clashing givens
            select(key)
            chosen.append(key)

    def search():
        if not cols:
            sol = [0] * (n * n)
            for r, c, d in chosen:
                sol[r * n + c] = d
            found.append(sol)
            return len(found) >= limit
        j = min(cols, key=lambda j: len(cols[j]))
        for key in sorted(cols[j]):
            removed = select(key)
            chosen.append(key)
            if search():
                return True
            chosen.pop()
            deselect(key, removed)
        return False

    search()
    return found


def naive_rating(grid: np.ndarray, n: int) -> int:
    """The rating rule spelled out with sets: fewest candidates (lowest index), digits increasing,
    count the guesses (cells with >= 2 candidates) undone before the first solution."""
    br, bc = BOX[n]
    g = np.asarray(grid).tolist()
    peers = [
        {
            j
            for j in range(n * n)
            if j != i
            and (
                j // n == i // n
                or j % n == i % n
                or (j // n // br, j % n // bc) == (i // n // br, i % n // bc)
            )
        }
        for i in range(n * n)
    ]
    undone = 0

    def search() -> bool:
        nonlocal undone
        blanks = [i for i in range(n * n) if g[i] == 0]
        if not blanks:
            return True
        options = {i: sorted(set(range(1, n + 1)) - {g[j] for j in peers[i]}) for i in blanks}
        cell = min(blanks, key=lambda i: (len(options[i]), i))
        for d in options[cell]:
            g[cell] = d
            if search():
                return True
            g[cell] = 0
            undone += len(options[cell]) > 1
        return False

    assert search(), "naive_rating needs a solvable board"
    return undone


def valid_by_sets(grid: np.ndarray, n: int) -> bool:
    br, bc = BOX[n]
    g = np.asarray(grid).reshape(n, n).tolist()
    units = [row for row in g] + [[g[r][c] for r in range(n)] for c in range(n)]
    units += [
        [g[r][c] for r in range(r0, r0 + br) for c in range(c0, c0 + bc)]
        for r0 in range(0, n, br)
        for c0 in range(0, n, bc)
    ]
    return all(set(u) == set(range(1, n + 1)) for u in units)


@pytest.fixture(scope="module")
def puzzles() -> dict[int, list[Puzzle]]:
    return {4: generate(30, 4, seed=3), 6: generate(15, 6, seed=3), 9: generate(8, 9, seed=3)}


# ---------------------------------------------------------------------------------------- solver
class TestSolve:
    def test_known_puzzle(self):
        result = solve(board(EULER), 9)
        assert result.n_solutions == 1
        assert result.solution.tolist() == board(EULER_SOLUTION).tolist()
        assert exact_cover_solutions(board(EULER), 9) == [board(EULER_SOLUTION).tolist()]

    def test_rating_follows_the_stated_heuristic(self, puzzles):
        assert solver_backtracks(board(EULER), 9) == naive_rating(board(EULER), 9)
        ratings = []
        for p in puzzles[9]:
            ratings.append(solver_backtracks(p.question, 9))
            assert ratings[-1] == naive_rating(p.question, 9)
        assert max(ratings) > 0  # the check is not vacuous

    def test_full_board_has_rating_zero(self):
        full = board(EULER_SOLUTION)
        assert solve(full, 9).n_solutions == 1 and solver_backtracks(full, 9) == 0
        one_blank = full.copy()
        one_blank[40] = 0
        assert solver_backtracks(one_blank, 9) == 0 and solve(one_blank, 9).nodes == 1

    def test_empty_4x4_has_288_solutions(self):
        assert count_solutions(np.zeros(16, np.int8), 4, limit=1000) == 288
        assert len(exact_cover_solutions(np.zeros(16, np.int8), 4, limit=1000)) == 288

    @pytest.mark.parametrize("size", [4, 6])
    def test_counts_agree_with_exact_cover(self, size):
        rng = np.random.default_rng(7)
        full = generate(1, size, seed=11)[0].answer
        for _ in range(30):
            partial = full.copy()
            partial[rng.random(size * size) < rng.uniform(0.4, 0.9)] = 0
            if rng.random() < 0.3:  # sometimes an inconsistent or wrong given
                partial[rng.integers(size * size)] = rng.integers(1, size + 1)
            ours = solve(partial, size, limit=5)
            theirs = exact_cover_solutions(partial, size, limit=5)
            assert ours.n_solutions == len(theirs)
            if 0 < len(theirs) < 5:  # all found: ours is one of them
                assert ours.solution.tolist() in theirs
            elif theirs:  # more than 5: ours is a solution anyway
                given = partial > 0
                assert valid_by_sets(ours.solution, size)
                assert (ours.solution[given] == partial[given]).all()

    def test_clashing_givens_have_no_solution(self):
        g = np.zeros(81, np.int8)
        g[0] = g[1] = 5
        assert solve(g, 9).n_solutions == 0 and solve(g, 9).solution is None

    def test_deterministic(self):
        q = board(EULER)
        q[np.flatnonzero(q)[:10]] = 0  # several solutions: the search runs to the limit
        a, b = solve(q, 9, limit=2), solve(q, 9, limit=2)
        assert (a.n_solutions, a.backtracks, a.nodes) == (b.n_solutions, b.backtracks, b.nodes)

    @pytest.mark.parametrize(
        ("grid", "size", "match"),
        [
            (np.zeros(80, np.int8), 9, "81 cells"),
            (np.full(16, 5), 4, "digits 1..4"),
            (np.zeros(16), 4, "int array"),
            (np.zeros(25, np.int8), 5, "one of"),
        ],
    )
    def test_bad_boards(self, grid, size, match):
        with pytest.raises(DataError, match=match):
            solve(grid, size)

    def test_bad_limit(self):
        with pytest.raises(DataError, match="limit"):
            solve(np.zeros(16, np.int8), 4, limit=0)


class TestIsValidSolution:
    @pytest.mark.parametrize("size", [4, 6, 9])
    def test_agrees_with_sets(self, size, puzzles):
        rng = np.random.default_rng(size)
        for p in puzzles[size]:
            assert is_valid_solution(p.answer, size) and valid_by_sets(p.answer, size)
            broken = p.answer.copy()
            i, j = rng.choice(size * size, 2, replace=False)
            broken[i], broken[j] = broken[j], broken[i]
            assert is_valid_solution(broken, size) == valid_by_sets(broken, size)
            assert not is_valid_solution(p.question, size)

    def test_rejects_wrong_shapes_and_wrapping_values(self):
        full = board(EULER_SOLUTION)
        assert not is_valid_solution(full[:80], 9)
        assert not is_valid_solution(full.astype(float), 9)
        assert not is_valid_solution(full.astype(np.int64) + np.where(full == 1, 256, 0), 9)


# ------------------------------------------------------------------------------------ generation
class TestGenerate:
    @pytest.mark.parametrize("size", [4, 6, 9])
    def test_unique_valid_and_minimal(self, size, puzzles):
        for p in puzzles[size]:
            assert p.question.shape == p.answer.shape == (size * size,)
            assert valid_by_sets(p.answer, size)
            given = p.question > 0
            assert (p.question[given] == p.answer[given]).all()
            assert exact_cover_solutions(p.question, size) == [p.answer.tolist()]
            assert p.rating == rating(p.question, size)
        p = puzzles[size][0]
        for i in np.flatnonzero(p.question):  # minimal: every given is needed
            fewer = p.question.copy()
            fewer[i] = 0
            assert len(exact_cover_solutions(fewer, size)) == 2

    def test_reproducible_and_prefix_stable(self, puzzles):
        again = generate(6, 6, seed=3)
        assert [p.question.tolist() for p in again] == [p.question.tolist() for p in puzzles[6][:6]]
        assert [p.rating for p in again] == [p.rating for p in puzzles[6][:6]]
        other = generate(6, 6, seed=4)
        assert [p.question.tolist() for p in other] != [p.question.tolist() for p in again]

    def test_distinct(self, puzzles):
        assert len({p.question.tobytes() for p in puzzles[4]}) == len(puzzles[4])

    @pytest.mark.skipif(not HAVE_NUMBA, reason="annealing in pure Python takes minutes")
    def test_min_rating(self):
        progress = []
        hard = generate(2, 9, min_rating=20, seed=5, progress=lambda i, n: progress.append((i, n)))
        assert all(p.rating >= 20 and p.rating == rating(p.question, 9) for p in hard)
        assert progress == [(1, 2), (2, 2)]

    def test_unreachable_rating_names_the_fix(self):
        with pytest.raises(DataError, match="lower min_rating"):
            generate(1, 4, min_rating=50, max_attempts=3, steps=20)

    @pytest.mark.parametrize("kwargs", [{"count": -1}, {"min_rating": -2}, {"max_attempts": 0}])
    def test_bad_arguments(self, kwargs):
        with pytest.raises(DataError):
            generate(**{"count": 1, "size": 4, **kwargs})


# ------------------------------------------------------------------------------------------- CSV
HEADER = "source,question,answer,rating\n"
GOOD_ROW = f"src,{EULER.replace('0', '.')},{EULER_SOLUTION},3\n"


class TestReadCsv:
    def test_round_trip(self, tmp_path, puzzles):
        for size in (4, 6, 9):
            write_csv(puzzles[size], tmp_path / f"{size}.csv")
            back = read_csv(tmp_path / f"{size}.csv", size=size)
            assert [p.question.tolist() for p in back] == [
                p.question.tolist() for p in puzzles[size]
            ]
            assert [p.answer.tolist() for p in back] == [p.answer.tolist() for p in puzzles[size]]
            assert [p.rating for p in back] == [p.rating for p in puzzles[size]]

    def test_reference_format(self, tmp_path):
        path = tmp_path / "train.csv"
        path.write_text(HEADER + GOOD_ROW + "\n" + GOOD_ROW.replace(",3\n", ",17\n"))
        got = read_csv(path)
        assert len(got) == 2 and [p.rating for p in got] == [3, 17]
        assert (
            got[0].question.dtype == np.int8 and got[0].question.tolist() == board(EULER).tolist()
        )

    def test_missing_file_names_the_path(self, tmp_path):
        with pytest.raises(DataError, match=str(tmp_path / "nope.csv")):
            read_csv(tmp_path / "nope.csv")

    @pytest.mark.parametrize(
        ("row", "match"),
        [
            ("src,1,2\n", "expected 4 fields"),
            (GOOD_ROW.replace(",3\n", ",3,x\n"), "expected 4 fields"),
            (GOOD_ROW.replace(",.", ",", 1), "question must be 81 characters"),
            (GOOD_ROW.replace(".", "x", 1), "question must be 81"),
            (GOOD_ROW.replace(",483", ",.83"), "answer must be 81 digits"),
            (GOOD_ROW.replace(",3\n", ",three\n"), "rating must be an integer"),
            (GOOD_ROW.replace(",3\n", ",-1\n"), "rating must be an integer"),
            (GOOD_ROW.replace(",..3", ",1.3"), "a given differs from the answer"),
            (GOOD_ROW.replace(",483921", ",843921"), "not a valid board"),
        ],
    )
    def test_malformed_row_names_file_and_line(self, tmp_path, row, match):
        path = tmp_path / "bad.csv"
        path.write_text(HEADER + GOOD_ROW + row + GOOD_ROW)
        with pytest.raises(DataError, match=match) as info:
            read_csv(path)
        assert str(info.value).startswith(f"{path}:3: ") and info.value.line == 3

    def test_bad_header(self, tmp_path):
        path = tmp_path / "bad.csv"
        path.write_text("id,clues,solution,source\n" + GOOD_ROW)
        with pytest.raises(DataError, match=f"{path}:1: expected the header"):
            read_csv(path)

    def test_fuzz_broken_rows(self, tmp_path):
        rng = np.random.default_rng(0)
        edits = [
            lambda s, i: s[:i] + s[i + 1 :],  # drop a character
            lambda s, i: s[:i] + "x" + s[i:],  # insert a stray one
            lambda s, i: s[:i] + "," + s[i:],  # split a field
            lambda s, i: s[:i] + str(rng.integers(10)) + s[i + 1 :],  # change a character
        ]
        for trial in range(60):
            lines = [GOOD_ROW] * 6
            k = int(rng.integers(len(lines)))
            row = lines[k].rstrip("\n")
            i = int(rng.integers(4, len(row)))  # leave the source field alone
            lines[k] = edits[trial % len(edits)](row, i) + "\n"
            path = tmp_path / f"fuzz{trial}.csv"
            path.write_text(HEADER + "".join(lines))
            try:
                got = read_csv(path)
            except DataError as e:
                assert e.line == k + 2 and str(e).startswith(f"{path}:{k + 2}: ")
            else:  # the edit kept the row well formed (e.g. a blank given filled correctly)
                assert len(got) == 6 and all(is_valid_solution(p.answer, 9) for p in got)


# ---------------------------------------------------------------------------------- augmentation
class TestTransforms:
    @pytest.mark.parametrize("size", [4, 6, 9])
    def test_round_trips(self, size, puzzles):
        rng = np.random.default_rng(size)
        for p in puzzles[size]:
            for _ in range(25):
                t = random_transform(size, rng)
                for grid in (p.question, p.answer):
                    there = apply_transform(grid, t, size)
                    assert invert_transform(there, t, size).tolist() == grid.tolist()
                    assert apply_transform(invert_transform(grid, t, size), t, size).tolist() == (
                        grid.tolist()
                    )

    @pytest.mark.parametrize("size", [4, 6, 9])
    def test_augmented_puzzles_stay_valid_and_unique(self, size, puzzles):
        rng = np.random.default_rng(100 + size)
        for p in puzzles[size][:4]:
            q, a = augment(p.question, p.answer, size, rng)
            assert (q > 0).sum() == (p.question > 0).sum()
            assert valid_by_sets(a, size) and ((q == 0) | (q == a)).all()
            assert exact_cover_solutions(q, size) == [a.tolist()]

    def test_augment_is_apply_of_random_transform(self, puzzles):
        p = puzzles[9][0]
        q, a = augment(p.question, p.answer, 9, np.random.default_rng(1))
        t = random_transform(9, np.random.default_rng(1))
        assert q.tolist() == apply_transform(p.question, t, 9).tolist()
        assert a.tolist() == apply_transform(p.answer, t, 9).tolist()

    def test_transform_kinds(self):
        rng = np.random.default_rng(0)
        nine = [random_transform(9, rng) for _ in range(200)]
        assert {t.transpose for t in nine} == {False, True}
        assert all(t.digits[0] == 0 for t in nine)
        for t in nine:  # rows move only within their band, bands as a whole; the same for columns
            assert sorted(t.rows.tolist()) == sorted(t.cols.tolist()) == list(range(9))
            assert all(len(set(t.rows[3 * b : 3 * b + 3] // 3)) == 1 for b in range(3))
            assert all(len(set(t.cols[3 * b : 3 * b + 3] // 3)) == 1 for b in range(3))
        six = [random_transform(6, rng) for _ in range(100)]
        assert not any(t.transpose for t in six)
        assert all(len(set(t.cols[:3] // 3)) == 1 and len(set(t.rows[:2] // 2)) == 1 for t in six)

    def test_batches(self, puzzles):
        t = random_transform(4, np.random.default_rng(0))
        grids = np.stack([p.answer for p in puzzles[4][:5]])
        batch = apply_transform(grids, t, 4)
        assert batch.shape == grids.shape
        assert batch[2].tolist() == apply_transform(grids[2], t, 4).tolist()
        assert invert_transform(batch, t, 4).tolist() == grids.tolist()

    def test_bad_transforms(self):
        t = random_transform(6, np.random.default_rng(0))
        transposed = Transform(t.digits, True, t.rows, t.cols)
        with pytest.raises(DataError, match="cannot be transposed"):
            apply_transform(np.zeros(36, np.int8), transposed, 6)
        with pytest.raises(DataError, match="not for a 9×9"):
            apply_transform(np.zeros(81, np.int8), t, 9)


# -------------------------------------------------------------------------------------- building
class TestEncoding:
    def test_round_trip_and_pad(self):
        g = np.array([0, 1, 5, 9], np.int8)
        assert encode_grid(g).tolist() == [1, 2, 6, 10] and encode_grid(g).dtype == np.uint8
        assert decode_grid(encode_grid(g)).tolist() == g.tolist()
        assert decode_grid(np.array([0, 1, 10], np.uint8)).tolist() == [0, 0, 9]


class TestBuild:
    @pytest.mark.parametrize("size", [4, 6, 9])
    def test_layout(self, tmp_path, size, puzzles):
        ps, nn, aug = puzzles[size], size * size, 3
        train, test = ps[:3], ps[3:4]
        out = build(train, test, tmp_path / "ds", size=size, aug=aug, seed=1, source="gen")
        tr, meta = read_split(out / "train")
        te, test_meta = read_split(out / "test")
        assert tr.inputs.shape == tr.labels.shape == (3 * (1 + aug), nn)
        assert tr.inputs.dtype == np.uint8 and tr.puzzle_identifiers.tolist() == [0] * 12
        assert tr.puzzle_indices.tolist() == list(range(13))
        assert tr.group_indices.tolist() == [0, 4, 8, 12]
        assert te.inputs.shape == (1, nn) and te.group_indices.tolist() == [0, 1]
        assert tr.inputs.min() >= 1 and tr.inputs.max() <= size + 1
        assert tr.labels.min() >= 2 and tr.labels.max() <= size + 1
        assert meta["vocab_size"] == size + 2 and meta["seq_len"] == nn
        assert meta["num_puzzle_identifiers"] == 1 and test_meta["total_groups"] == 1
        assert json.loads((out / "identifiers.json").read_text()) == ["<blank>"]
        info = read_info(out)
        assert (info["task"], info["size"], info["aug"], info["source"]) == (
            "sudoku",
            size,
            3,
            "gen",
        )
        assert info["mean_rating_train"] == np.mean([p.rating for p in train])
        for g, p in enumerate(train):  # each group starts with its original
            assert decode_grid(tr.inputs[4 * g]).tolist() == p.question.tolist()
        assert decode_grid(te.inputs[0]).tolist() == test[0].question.tolist()  # never augmented
        assert decode_grid(te.labels[0]).tolist() == test[0].answer.tolist()
        for x, y in zip(tr.inputs, tr.labels, strict=True):
            q, a = decode_grid(x), decode_grid(y)
            assert valid_by_sets(a, size) and ((q == 0) | (q == a)).all()
        if size < 9:  # augmented copies keep their unique solution
            assert exact_cover_solutions(decode_grid(tr.inputs[1]), size) == [
                decode_grid(tr.labels[1]).tolist()
            ]

    def test_subsample_is_seeded(self, tmp_path, puzzles):
        ps = puzzles[4]

        def firsts(seed):
            out = build(ps, ps[:1], tmp_path / f"s{seed}", size=4, subsample=5, seed=seed)
            return read_split(out / "train")[0].inputs.tolist()

        assert len(firsts(0)) == 5 and firsts(0) == firsts(0) and firsts(0) != firsts(1)

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [({"aug": -1}, "aug must be"), ({"subsample": 99}, "subsample must be")],
    )
    def test_bad_options(self, tmp_path, puzzles, kwargs, match):
        with pytest.raises(DataError, match=match):
            build(puzzles[4], [], tmp_path / "x", size=4, **kwargs)

    def test_rejects_inconsistent_puzzles(self, tmp_path, puzzles):
        p = puzzles[4][0]
        wrong = Puzzle(p.question, np.roll(p.answer, 1), 0)
        with pytest.raises(DataError, match="train puzzle 1"):
            build([p, wrong], [], tmp_path / "x", size=4)
        with pytest.raises(DataError, match="81 cells"):
            build([p], [], tmp_path / "x", size=9)
