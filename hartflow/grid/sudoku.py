"""Sudoku: generator, Sudoku-Extreme CSV reader, equivalence augmentation, and the TRM/HRM builder.

Boards are flat row-major int8 arrays of n·n cells for n ∈ {4, 6, 9}; 0 = blank, 1..n = digit
(geometry and solver: `hartflow.grid.sudoku_solver`). A puzzle's `rating` is the number of
guesses of the tdoku-style rater (`hartflow.grid.sudoku_rater`: naked and hidden singles,
most-constrained cell first), the kind of count Sudoku-Extreme's `rating` column holds.

Builder (as TRM/HRM build Sudoku-Extreme): token = digit + 1, so PAD 0, blank 1, digit d → d + 1,
vocab n + 2, seq_len n·n; labels are the answer tokens, every cell supervised; every puzzle has
identifier 0 ("<blank>"). Train: an optional seeded subsample, then each puzzle is a group of the
original and `aug` random equivalent copies. Test: never augmented, each puzzle its own group.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np

from hartflow.atomic import write_bytes
from hartflow.errors import DataError
from hartflow.grid.layout import SplitBuilder, write_dataset
from hartflow.grid.sudoku_generator import generate as _generate
from hartflow.grid.sudoku_rater import rating
from hartflow.grid.sudoku_solver import (
    SIZES,
    check_board,
    count_solutions,
    geometry,
    is_valid_solution,
    solve,
    valid_solutions,
)
from hartflow.grid.sudoku_transform import (
    Puzzle,
    Transform,
    apply_transform,
    augment,
    invert_transform,
    random_transform,
)

__all__ = [
    # boards and solving
    "SIZES", "Puzzle", "solve", "count_solutions", "rating", "is_valid_solution",
    # generation and files
    "generate", "read_csv", "write_csv",
    # augmentation
    "Transform", "random_transform", "apply_transform", "invert_transform", "augment",
    # the on-disk layout
    "encode_grid", "decode_grid", "build",
]  # fmt: skip

HEADER = ["source", "question", "answer", "rating"]
PAD, BLANK = 0, 1  # token of digit d is d + 1


# ----------------------------------------------------------------------------------- generating
def generate(count: int, size: int, **options) -> list[Puzzle]:
    """`count` distinct unique-solution puzzles rated >= `min_rating` (default 0).

    See `hartflow.grid.sudoku_generator.generate` for the options (min_rating, seed, progress,
    max_attempts, n_views, workers) and how hard puzzles are made.
    """
    return _generate(count, size, **options)


# -------------------------------------------------------------------------------- reading files
def read_csv(path: str | Path, *, size: int = 9) -> list[Puzzle]:
    """Puzzles of a Sudoku-Extreme CSV: header `source,question,answer,rating`, then one row each.

    question: n·n characters, '.' blank or a digit; answer: n·n digits; rating: an int >= 0.
    Empty lines are skipped.

    Raises:
        DataError: `file:line:` and what was expected, for a missing file or a malformed row
            (wrong field count, bad characters or length, a given that differs from the answer,
            an answer that is not a valid board).
    """
    path, nn = Path(path), geometry(size).size ** 2
    pattern = {"q": re.compile(f"[.1-{size}]{{{nn}}}"), "a": re.compile(f"[1-{size}]{{{nn}}}")}
    questions, answers, ratings, lines = [], [], [], []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header != HEADER:
                raise DataError(
                    f"expected the header {','.join(HEADER)}, got {header}", path=path, line=1
                )
            for row in reader:
                if not row:
                    continue
                try:
                    q, a, r = _parse_row(row, pattern, size)
                except ValueError as e:
                    raise DataError(str(e), path=path, line=reader.line_num) from None
                questions.append(q)
                answers.append(a)
                ratings.append(r)
                lines.append(reader.line_num)
    except OSError as e:
        raise DataError(f"cannot read the Sudoku CSV: {e.strerror or e}", path=path) from None
    except (csv.Error, UnicodeDecodeError) as e:
        raise DataError(f"not a Sudoku CSV ({e})", path=path) from None
    q, a = _digits(questions, nn), _digits(answers, nn)
    clash = ((q != 0) & (q != a)).any(1)
    bad = np.flatnonzero(clash | ~valid_solutions(a, size))
    if bad.size:
        k = int(bad[0])
        why = "a given differs from the answer" if clash[k] else "the answer is not a valid board"
        raise DataError(f"{why} ({bad.size} such rows in the file)", path=path, line=lines[k])
    return [Puzzle(q[i], a[i], r) for i, r in enumerate(ratings)]


def _parse_row(row: list[str], pattern: dict[str, re.Pattern], size: int) -> tuple[str, str, int]:
    """(question, answer, rating) of one CSV row, or a ValueError saying what was expected."""
    if len(row) != 4:
        raise ValueError(f"expected 4 fields ({','.join(HEADER)}), got {len(row)}")
    _, q, a, r = row
    nn = size * size
    if not pattern["q"].fullmatch(q):
        raise ValueError(f"question must be {nn} characters '.' or 1-{size}, got {q[:90]!r}")
    if not pattern["a"].fullmatch(a):
        raise ValueError(f"answer must be {nn} digits 1-{size}, got {a[:90]!r}")
    if not re.fullmatch(r"\s*[0-9]+\s*", r):
        raise ValueError(f"rating must be an integer >= 0, got {r[:20]!r}")
    return q, a, int(r)


def _digits(rows: list[str], nn: int) -> np.ndarray:
    """(N, nn) int8 from strings of '.' and digits (checked by the caller)."""
    raw = np.frombuffer("".join(rows).encode("ascii"), np.uint8).reshape(len(rows), nn)
    return np.where(raw == ord("."), 0, raw - ord("0")).astype(np.int8)


def write_csv(puzzles: list[Puzzle], path: str | Path, *, source: str = "hartflow") -> Path:
    """Write puzzles in the Sudoku-Extreme CSV format (atomically); `read_csv` reads it back."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    for p in puzzles:
        q = "".join("." if d == 0 else str(d) for d in p.question.tolist())
        writer.writerow([source, q, "".join(map(str, p.answer.tolist())), p.rating])
    return write_bytes(path, buf.getvalue().encode())


# ------------------------------------------------------------------------------------- building
def encode_grid(grid: np.ndarray) -> np.ndarray:
    """Digits (0 = blank) → tokens (blank 1, digit d → d + 1), as uint8."""
    return (np.asarray(grid).astype(np.int16) + BLANK).astype(np.uint8)


def decode_grid(tokens: np.ndarray) -> np.ndarray:
    """Tokens → digits (int8): d + 1 → d; blank (1) and PAD (0) → 0 (blank). Shapes: any."""
    return np.maximum(np.asarray(tokens).astype(np.int16) - BLANK, PAD).astype(np.int8)


def build(
    train: list[Puzzle],
    test: list[Puzzle],
    out: str | Path,
    *,
    size: int,
    aug: int = 0,
    subsample: int | None = None,
    seed: int = 0,
    source: str | None = None,
) -> Path:
    """Write a Sudoku data set in the TRM/HRM layout to `out` (see the module docstring).

    The subsample and the augmentations draw from generators seeded by `seed`; `source` (e.g. the
    CSV it came from) is recorded in `hartflow.json`.

    Raises:
        DataError: a puzzle that is not an n×n board consistent with a valid answer, aug < 0, or a
            subsample larger than the training set.
    """
    n = geometry(size).size
    if aug < 0:
        raise DataError(f"aug must be >= 0, got {aug} (TRM uses 1000 for Sudoku-Extreme-1k)")
    if subsample is not None:
        if not 0 <= subsample <= len(train):
            raise DataError(f"subsample must be 0..{len(train)} (the train size), got {subsample}")
        pick = np.random.default_rng([seed, 0]).choice(len(train), subsample, replace=False)
        train = [train[i] for i in np.sort(pick)]
    for name, puzzles in (("train", train), ("test", test)):
        _check_puzzles(puzzles, size, name)
    rng = np.random.default_rng([seed, 1])
    splits = {}
    for name, puzzles in (("train", train), ("test", test)):
        builder = SplitBuilder(seq_len=n * n)
        for p in puzzles:
            builder.add_puzzle(0, encode_grid(p.question), encode_grid(p.answer))
            for _ in range(aug if name == "train" else 0):
                q, a = augment(p.question, p.answer, size, rng)
                builder.add_puzzle(0, encode_grid(q), encode_grid(a))
            builder.end_group()
        splits[name] = builder.finish()
    info = {
        "task": "sudoku",
        "size": n,
        "aug": aug,
        "seed": seed,
        "source": source,
        "subsample": subsample,
        "mean_rating_train": _mean_rating(train),
        "mean_rating_test": _mean_rating(test),
    }
    return write_dataset(out, splits, vocab_size=n + 2, identifiers=["<blank>"], info=info)


def _check_puzzles(puzzles: list[Puzzle], size: int, name: str) -> None:
    """DataError unless every puzzle is an n×n board whose givens agree with a valid answer."""
    for k, p in enumerate(puzzles):
        check_board(p.question, size, name=f"{name} puzzle {k} question")
        check_board(p.answer, size, name=f"{name} puzzle {k} answer")
    if not puzzles:
        return
    q = np.stack([p.question for p in puzzles])
    a = np.stack([p.answer for p in puzzles])
    bad = np.flatnonzero(((q != 0) & (q != a)).any(1) | ~valid_solutions(a, size))
    if bad.size:
        raise DataError(
            f"{name} puzzle {bad[0]} (and {bad.size - 1} more): the answer is not a valid "
            f"{size}×{size} board agreeing with the givens"
        )


def _mean_rating(puzzles: list[Puzzle]) -> float | None:
    return float(np.mean([p.rating for p in puzzles])) if puzzles else None
