"""The zero-shot reasoner: induced lexicon and rules, exact SCAN answers, renaming invariance."""

from __future__ import annotations

import random

import pytest

from hartflow.data import load_examples, tokens
from hartflow.errors import HartFlowError
from hartflow.evaluation import evaluate
from hartflow.zeroshot import Parser, ZeroShotReasoner, abstract, induce_grammar, induce_lexicon


def pairs_of(examples):
    return [(tuple(tokens(e.input)), tuple(tokens(e.output))) for e in examples]


@pytest.fixture(scope="module")
def jump():
    parts = load_examples("scan", "addprim_jump")
    return pairs_of(parts["train"]), pairs_of(parts["test"])


def rename(pairs, seed):
    """Replace every input word and output token by a fresh random string (a bijection)."""
    rng = random.Random(seed)
    words = sorted({w for i, o in pairs for w in i + o})
    fresh = {w: f"x{rng.getrandbits(40):010x}" for w in words}
    return [(tuple(fresh[w] for w in i), tuple(fresh[t] for t in o)) for i, o in pairs], fresh


class TestLexicon:
    def test_words_with_one_consistent_token(self):
        pairs = [(("dax",), ("D",)), (("dax", "twice"), ("D", "D")), (("wif", "twice"), ("W", "W"))]
        assert induce_lexicon(pairs) == {"dax": "D", "wif": "W"}

    def test_two_forms_share_a_token_but_a_tag_along_word_explains_nothing(self):
        pairs = [
            (("dax",), ("D",)),
            (("dax", "fep"), ("D",)),  # "fep" is only ever seen beside "dax"
            (("daxed",), ("D", "D")),
            (("wif",), ("W",)),
        ]
        assert induce_lexicon(pairs) == {"dax": "D", "daxed": "D", "wif": "W"}

    def test_induced_from_scan_training_pairs(self, jump):
        lexicon = induce_lexicon(jump[0])
        assert len(lexicon) == 6  # four primitives and two directions
        assert all(len(t) > 1 for t in lexicon.values())


class TestRules:
    def test_precedence_is_induced_in_stages(self):
        text = "a:A b:B a&b:AB b&a:BA a2:AA b2:BB a&b2:ABB b&a2:BAA"
        known = [
            (tuple(i.replace("&", " & ").replace("2", " x2").split()), tuple(o))
            for i, o in (pair.split(":") for pair in text.split())
        ]
        lexicon = {"a": "A", "b": "B"}
        rules = induce_grammar(known, {"&", "x2"}, lexicon).rules
        assert (rules["&"].fixity, rules["&"].form, rules["&"].level) == ("infix", (0, 1), 0)
        assert (rules["x2"].fixity, rules["x2"].form, rules["x2"].level) == ("postfix", (0, 0), 1)


class TestReasoner:
    def test_abstraction_types_slots_by_class(self):
        lexicon = {"dax": "D", "wif": "W", "lug": "L"}
        classes = {"dax": 0, "wif": 0, "lug": 1}
        assert abstract(["dax", "and", "lug", "wif"], lexicon, classes) == (
            ("<c0>", "and", "<c1>", "<c0>"),
            ["dax", "lug", "wif"],
        )

    def test_answers_carry_evidence(self, jump):
        reasoner = ZeroShotReasoner(d=512).fit(jump[0])
        a = reasoner.answer(["jump", "around", "left", "twice"])
        assert " ".join(a.tokens) == " ".join(["I_TURN_LEFT I_JUMP"] * 8)
        assert a.score > 0.999 and a.lexicon["jump"] == "I_JUMP"
        assert a.skeletons[0][0] == "<c0> around <c0> twice"

    def test_unknown_words_are_unanswerable_not_a_crash(self, jump):
        a = ZeroShotReasoner(d=256).fit(jump[0]).answer(["jmup", "twice"])
        assert a.tokens is None and "jmup" in a.reason

    def test_empty_training_set(self):
        with pytest.raises(HartFlowError, match="empty"):
            ZeroShotReasoner().fit([])

    def test_renamed_data_scores_the_same(self, jump):
        train, test = jump
        renamed_train, fresh = rename(train, seed=7)
        renamed_test = [(tuple(fresh[w] for w in i), tuple(fresh[t] for t in o)) for i, o in test]
        scores = []
        for tr, te in ((train, test), (renamed_train, renamed_test)):
            reasoner = ZeroShotReasoner(d=512).fit(tr)
            answers = reasoner.answer_many([i for i, _ in te])
            scores.append(sum(a.tokens == o for a, (_, o) in zip(answers, te, strict=True)))
        assert scores[0] == scores[1] == len(test)


def test_a_scan_split_through_the_grammar_alone(jump):
    # every SCAN function word is a rule (around: 8 references; left: its own token; turn:
    # nothing), and the rules alone, with single words as the only leaves, answer the split
    train, test = jump
    reasoner = ZeroShotReasoner(d=256).fit(train)
    shapes = {w: r.shape(w) for w, r in reasoner.rules.items()}
    assert shapes["around"] == "x around y -> " + " ".join(["[y] [x]"] * 4)
    assert shapes["left"] == "x left -> I_TURN_LEFT [x]" and shapes["turn"] == "turn -> (nothing)"
    parser = Parser(reasoner.rules)
    words = {(w,): (t,) for w, t in reasoner.induced.items()}
    got = [parser.interpret(i, words.get, leaves_only=True)[0] for i, _ in test]
    assert got == [o for _, o in test]
    a = reasoner.answer(("jump", "around", "left", "twice"))
    assert any(r.startswith("'around'") for r in a.rules)


@pytest.mark.parametrize("split", ["simple", "length", "around_right", "addprim_turn_left"])
def test_scan_splits_exact(split):
    result = evaluate("scan", split, d=512)
    assert result["exact_match"] == 1.0 and result["unanswerable"] == 0
    assert set(result) >= {"task", "split", "mode", "n", "exact_match", "seconds"}


def test_user_files(tmp_path):
    (tmp_path / "train.tsv").write_text(
        "dax\tD\nwif\tW\ndax twice\tD D\nwif twice\tW W\ndax and wif\tD W\nwif and dax\tW D\n"
        "lug\tL\nlug and dax\tL D\n"
    )
    (tmp_path / "test.tsv").write_text("lug twice\tL L\nlug twice and wif twice\tL L W W\n")
    result = evaluate(train=tmp_path / "train.tsv", test=tmp_path / "test.tsv", d=256)
    assert result["exact_match"] == 1.0 and result["n"] == 2


def test_lexicon_memory_splits_a_large_lexicon_over_traces():
    from hartflow.zeroshot import LexiconMemory

    lexicon = {f"w{i}": f"T{i}" for i in range(300)}
    memory = LexiconMemory(lexicon, d=512)
    assert memory.traces.shape[0] > 1  # one trace would be far over capacity
    got = memory.translate([*lexicon, "function-word"])
    assert [t for t, _ in got[:-1]] == list(lexicon.values()) and got[-1] == (None, 0.0)
