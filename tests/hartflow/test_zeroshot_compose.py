"""Zero-shot composition: word classes, template choice, position tokens, span edits, renaming."""

from __future__ import annotations

import random

import pytest

from hartflow.data import load_examples, tokens
from hartflow.errors import DataError
from hartflow.zeroshot import (
    ZeroShotReasoner,
    analogy,
    induce_classes,
    induce_lexicon,
    induce_positions,
    substitutable,
)
from tests.conftest import SHARED_DATA

# A toy language with word positions in its outputs: "the N V" / "a N V" / "NAME V" and "... V NP".
# Intransitive verbs differ (agent or theme); "the" gives a "*" prefix; variables name positions.
NOUNS, NAMES = ["cat", "dog", "cow", "pig"], ["Ann", "Bob", "Cid"]
AGENTIVE, THEMATIC = ["ran", "sat"], ["fell", "broke"]


def _np(words: list[str], at: int) -> tuple[list[str], str, list[str], list[str]]:
    """(words, argument, prefix, body) of one noun phrase starting at position `at`."""
    if words[0] in NAMES:
        return words, words[0], [], []
    n = words[1]
    if words[0] == "the":
        return words, f"v{at + 1}", ["*", n, "(", f"v{at + 1}", ")", ";"], []
    return words, f"v{at + 1}", [], [n, "(", f"v{at + 1}", ")"]


def _sentence(subj: list[str], verb: str, obj: list[str] | None = None, *, so: int = 0):
    """One toy pair; `so` leading words (an "SO" at the end each) move every position."""
    lead = ["so"] * so
    s = _np(subj, len(lead))
    v = len(lead) + len(subj)
    prefix, body = list(s[2]), list(s[3])
    role = "agent" if obj or verb in AGENTIVE else "theme"
    conj = [[verb, role, "(", f"v{v}", s[1], ")"]]
    words = lead + subj + [verb]
    if obj:
        o = _np(obj, v + 1)
        prefix += o[2]
        conj.append([verb, "theme", "(", f"v{v}", o[1], ")"])
        words += obj
        conj += [o[3]] if o[3] else []
    parts = ([body] if body else []) + conj
    out = prefix + [t for i, p in enumerate(parts) for t in ([*(["AND"] if i else []), *p])]
    out += ["SO"] * so
    return tuple(words), tuple(out)


def _nps(rng):
    kind = rng.choice(["the", "a", "name"])
    return [rng.choice(NAMES)] if kind == "name" else [kind, rng.choice(NOUNS)]


@pytest.fixture(scope="module")
def toy():
    rng = random.Random(0)
    train = set()
    for _ in range(600):
        verb = rng.choice(AGENTIVE + THEMATIC)
        subj = _nps(rng)
        if subj[0] in NAMES:
            continue  # names are never subjects in training
        so, obj = rng.choice([0, 0, 1, 2, 3]), _nps(rng)
        if rng.random() < 0.5:
            train.add(_sentence(subj, verb, so=so))
        elif obj[-1] != subj[-1]:  # one noun twice would blur which position it names
            train.add(_sentence(subj, verb, obj, so=so))
    train.add(_sentence(["Ann"], "fell"))  # ... except once, to be known
    return sorted(train)


class TestInduction:
    def test_classes_and_slots(self, toy):
        lexicon = induce_lexicon(toy)
        classes = induce_classes(toy, lexicon)
        assert classes["cat"] == classes["dog"] and classes["ran"] == classes["broke"]
        assert classes["cat"] != classes["ran"] != classes["Ann"]
        slots = substitutable(lexicon, classes)
        assert "the" not in slots  # its class has one token ("*"): it stays literal
        assert {"cat", "ran", "Bob"} <= set(slots)

    def test_position_tokens(self, toy):
        lexicon = induce_lexicon(toy)
        positions = induce_positions(toy, lexicon, induce_classes(toy, lexicon))
        assert all(positions[p] == f"v{p}" for p in range(1, 8))


class TestReasoner:
    def test_intransitive_role_follows_the_verb(self, toy):
        reasoner = ZeroShotReasoner(d=256).fit(toy)
        for verb in AGENTIVE + THEMATIC:
            words, out = _sentence(["a", "pig"], verb)
            assert reasoner.answer(words).tokens == out

    def test_name_in_a_new_position_by_span_edit(self, toy, monkeypatch):
        monkeypatch.setattr(analogy, "MIN_SUPPORT", 2)  # a toy has few skeleton pairs
        reasoner = ZeroShotReasoner(d=256).fit(toy)
        # names were never subjects
        words, out = _sentence(["Bob"], "ran", ["the", "cow"], so=1)
        assert words not in dict(toy)
        a = reasoner.answer(words)
        assert a.tokens == out
        assert any("span edit" in r for r in a.rules)


def _rename(pairs, fresh):
    return [(tuple(fresh[w] for w in i), tuple(fresh[t] for t in o)) for i, o in pairs]


def test_cogs_subset_renamed_scores_the_same():
    try:
        parts = load_examples("cogs", "gen", data_dir=SHARED_DATA / "cogs")
    except (DataError, FileNotFoundError, OSError) as e:
        pytest.skip(f"COGS data not found: {e}")
    pairs = [(tuple(tokens(e.input)), tuple(tokens(e.output))) for e in parts["train"]]
    train = pairs[:6000]
    test = [(tuple(tokens(e.input)), tuple(tokens(e.output))) for e in parts["test"]][::70]
    rng = random.Random(3)
    vocab = sorted({w for i, o in train + test for w in i + o})
    fresh = {w: f"x{rng.getrandbits(40):010x}" for w in vocab}
    scores = []
    for tr, te in ((train, test), (_rename(train, fresh), _rename(test, fresh))):
        reasoner = ZeroShotReasoner(d=512).fit(tr)
        answers = reasoner.answer_many([i for i, _ in te])
        scores.append([a.tokens == o for a, (_, o) in zip(answers, te, strict=True)])
    assert scores[0] == scores[1]
    assert sum(scores[0]) > 0.3 * len(test)
