"""A tiny invented language (not SCAN): primitives, repetition, conjunction; train/test files."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

PRIMS = {"dax": "D", "wif": "W", "lug": "L", "zup": "Z", "fep": "F"}
MODS = {"": 1, "twice": 2, "thrice": 3}


def phrase(p: str, m: str) -> tuple[str, list[str]]:
    return (f"{p} {m}".strip(), [PRIMS[p]] * MODS[m])


def pairs() -> list[tuple[str, str]]:
    singles = [phrase(p, m) for p in PRIMS for m in MODS]
    out = [(c, " ".join(a)) for c, a in singles]
    for (c1, a1), (c2, a2) in itertools.product(singles, singles):
        out.append((f"{c1} and {c2}", " ".join(a1 + a2)))
    return out


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory) -> tuple[Path, Path]:
    """train.txt (the single phrases, and half of the conjunctions without 'fep') and test.txt
    (40 conjunctions with 'fep'): SCAN format."""
    folder = tmp_path_factory.mktemp("tiny")
    train, test = [], []
    for i, (c, a) in enumerate(pairs()):
        if " and " not in c:
            train.append((c, a))
        elif "fep" in c:
            test.append((c, a))
        elif i % 2:
            train.append((c, a))
    write = lambda p, rows: p.write_text("".join(f"IN: {c} OUT: {a}\n" for c, a in rows))  # noqa: E731
    write(folder / "train.txt", train)
    write(folder / "test.txt", test[:40])
    return folder / "train.txt", folder / "test.txt"
