"""SCAN (Lake & Baroni 2018): the published grammar, its meaning, and the rule-defined splits.

This module (with the other data loaders) is the only place SCAN's words live: the learners get
pairs of token lists and induce everything else.

Grammar (all 20,910 commands):
    C → S and S | S after S | S
    S → V twice | V thrice | V
    V → D opposite left|right | D around left|right | D | U     (D here: U or "turn")
    D → U left | U right | turn left | turn right
    U → walk | look | run | jump
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

from hartflow.data.formats import Example, read_examples
from hartflow.errors import DataError

Pair = tuple[str, str]  # (command, actions), both space-separated

PRIMITIVES = {"walk": "I_WALK", "look": "I_LOOK", "run": "I_RUN", "jump": "I_JUMP"}
TURNS = {"left": "I_TURN_LEFT", "right": "I_TURN_RIGHT"}
REPEATS = {"twice": 2, "thrice": 3}


def _verb_phrases() -> Iterator[tuple[str, list[str]]]:
    """Every V with its meaning, in grammar order."""
    for u, action in PRIMITIVES.items():
        yield u, [action]
    for u in [*PRIMITIVES, "turn"]:
        base = [] if u == "turn" else [PRIMITIVES[u]]
        for direction, turn in TURNS.items():
            yield f"{u} {direction}", [turn, *base]
            yield f"{u} opposite {direction}", [turn, turn, *base]
            yield f"{u} around {direction}", [turn, *base] * 4


def _sentences() -> list[tuple[str, list[str]]]:
    """Every S: V, V twice, V thrice."""
    out = []
    for v, meaning in _verb_phrases():
        out.append((v, meaning))
        for word, n in REPEATS.items():
            out.append((f"{v} {word}", meaning * n))
    return out


def interpret(command: str) -> str:
    """The action sequence of a SCAN command (raises KeyError on a command outside the grammar)."""
    table = _sentence_table()
    for conj in (" and ", " after "):
        if conj in command:
            left, right = command.split(conj, 1)
            first, second = (table[left], table[right])
            if conj == " after ":
                first, second = second, first
            return " ".join(first + second)
    return " ".join(table[command])


_SENTENCE_TABLE: dict[str, list[str]] = {}


def _sentence_table() -> dict[str, list[str]]:
    if not _SENTENCE_TABLE:
        _SENTENCE_TABLE.update(_sentences())
    return _SENTENCE_TABLE


def generate() -> list[Pair]:
    """All 20,910 SCAN commands with their action sequences."""
    sentences = _sentences()
    pairs = [(s, " ".join(m)) for s, m in sentences]
    for s1, m1 in sentences:
        for s2, m2 in sentences:
            pairs.append((f"{s1} and {s2}", " ".join(m1 + m2)))
            pairs.append((f"{s1} after {s2}", " ".join(m2 + m1)))
    return pairs


def split_simple(pairs: list[Pair], *, seed: int = 0, test_fraction: float = 0.2) -> tuple:
    """Random train/test split (the official one is random 80/20 too)."""
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    n_test = round(len(pairs) * test_fraction)
    test = {*order[:n_test]}
    return [p for i, p in enumerate(pairs) if i not in test], [pairs[i] for i in sorted(test)]


# ------------------------------------------------------------------------------------------ splits
# name -> (folder, file suffix) of the official files: <folder>/tasks_{train,test}_<suffix>.txt
SPLITS: dict[str, tuple[str, str]] = {
    "simple": ("simple_split", "simple"),
    "length": ("length_split", "length"),
    "addprim_jump": ("add_prim_split", "addprim_jump"),
    "addprim_turn_left": ("add_prim_split", "addprim_turn_left"),
    "around_right": ("template_split", "template_around_right"),
    "jump_around_right": ("template_split", "template_jump_around_right"),
    "opposite_right": ("template_split", "template_opposite_right"),
    "right": ("template_split", "template_right"),
    **{f"filler_num{k}": ("filler_split", f"filler_num{k}") for k in range(4)},
}
HOW_TO_GET = (
    "the official files are at github.com/brendenlake/SCAN (pass its folder as --data-dir, "
    "or --scan-dir for data list); without it SCAN is generated"
)
MAX_TRAIN_ACTIONS = 22  # length split: train on action sequences of at most 22 tokens


def _verbs(command: str) -> list[str]:
    """The verb phrase of each conjunct: 'jump around right twice and walk' → ['jump around right',
    'walk']."""
    words = command.replace(" and ", " | ").replace(" after ", " | ").split(" | ")
    return [" ".join(w for w in part.split() if w not in REPEATS) for part in words]


def _template(template: str, test_fillers: set[str], train_fillers: set[str] = frozenset()):
    """A template split (Loula et al. 2018) over verb phrases 'x <template>'. Commands using it
    with a test filler are test; commands using it only with train fillers (or not at all) are
    train; any command with 'turn <template>' is in neither (the official files leave it out)."""

    def side(command: str) -> str | None:
        uses = {v.split()[0] for v in _verbs(command) if v.split()[1:] == template.split()}
        if not uses:
            return "train"
        if "turn" in uses:
            return None
        if uses <= train_fillers:
            return "train"
        return "test" if uses & test_fillers else None

    return side


def _repeated_primitive(phrase: str) -> Callable[[list[Pair]], tuple[list[Pair], list[Pair]]]:
    """The add-primitive split: `phrase` is seen only alone in training, repeated so that it is
    10 % of the training set (as in the official files); every other use of it is test."""

    def split(pairs: list[Pair]) -> tuple[list[Pair], list[Pair]]:
        alone = [p for p in pairs if p[0] == phrase]
        uses = [p for p in pairs if f" {phrase} " in f" {p[0]} " and p[0] != phrase]
        rest = [p for p in pairs if f" {phrase} " not in f" {p[0]} "]
        return rest + alone * round(len(rest) / 9), uses

    return split


def _by_side(side: Callable[[str], str | None]):
    def split(pairs: list[Pair]) -> tuple[list[Pair], list[Pair]]:
        sides = [side(p[0]) for p in pairs]
        train = [p for p, s in zip(pairs, sides, strict=True) if s == "train"]
        return train, [p for p, s in zip(pairs, sides, strict=True) if s == "test"]

    return split


_FILLER_ORDER = ["look", "walk", "run"]  # the order the official filler splits add them in
GENERATED: dict[str, Callable[[list[Pair]], tuple[list[Pair], list[Pair]]]] = {
    "length": _by_side(
        lambda c: "train" if len(interpret(c).split()) <= MAX_TRAIN_ACTIONS else "test"
    ),
    "addprim_jump": _repeated_primitive("jump"),
    "addprim_turn_left": _repeated_primitive("turn left"),
    "around_right": _by_side(_template("around right", set(PRIMITIVES))),
    "opposite_right": _by_side(_template("opposite right", set(PRIMITIVES))),
    "right": _by_side(_template("right", set(PRIMITIVES))),
    "jump_around_right": _by_side(_template("around right", {"jump"}, set(PRIMITIVES) - {"jump"})),
    **{
        f"filler_num{k}": _by_side(_template("around right", {"jump"}, set(_FILLER_ORDER[:k])))
        for k in range(4)
    },
}


def generate_split(split: str, *, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """(train, test) pairs of a split, built from the grammar."""
    pairs = generate()
    if split == "simple":
        return split_simple(pairs, seed=seed)
    return GENERATED[split](pairs)


def load_split(
    split: str, *, data_dir: str | Path | None = None, seed: int = 0
) -> dict[str, list[Example]]:
    """{'train', 'test'} examples: the official files under `data_dir`, else generated."""
    if split not in SPLITS:
        raise DataError(f"unknown SCAN split {split!r}; choose one of {', '.join(SPLITS)}")
    if data_dir is None:
        train, test = generate_split(split, seed=seed)
        return {"train": [Example(*p) for p in train], "test": [Example(*p) for p in test]}
    folder, suffix = SPLITS[split]
    root = Path(data_dir)
    base = root / folder if (root / folder).is_dir() else root
    return {
        part: read_examples(base / f"tasks_{part}_{suffix}.txt", "scan", hint=HOW_TO_GET)
        for part in ("train", "test")
    }
