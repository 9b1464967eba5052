"""Induced anchoring: a constant that another word could carry stands where the graph looks like
the training graphs without such a choice. Invented words only (no SLOG vocabulary)."""

from __future__ import annotations

import json
import random

import pytest

from hartflow.data.logical_form import render_form, to_form
from hartflow.hybrid.anchoring import (
    Anchoring,
    Anchors,
    induce_anchoring,
    load_anchors,
    reanchor,
)
from hartflow.hybrid.structure import parse_graph

NAMES = ["Ann", "Bo", "Cy", "Di", "Ed"]
VERBS = {"daxed": "dax", "wugged": "wug", "fepped": "fep"}


def declarative(rng: random.Random) -> tuple[str, str]:
    a, b = rng.sample(NAMES, 2)
    w, v = rng.choice(list(VERBS.items()))
    return f"{a} {w} {b} .", f"{v} . agent ( x _ 1 , {a} ) AND {v} . theme ( x _ 1 , {b} )"


def subject_question(rng: random.Random) -> tuple[str, str]:
    """`Q verb name ?`: the asked-for agent (the codec ties `?` to the final `?`)."""
    b = rng.choice(NAMES)
    w, v = rng.choice(list(VERBS.items()))
    return f"Zor {w} {b} ?", f"{v} . agent ( x _ 1 , ? ) AND {v} . theme ( x _ 1 , {b} )"


def object_question(rng: random.Random) -> tuple[str, str]:
    """`Q do name verb ?`: the asked-for theme, in place at the end."""
    a = rng.choice(NAMES)
    w, v = rng.choice(list(VERBS.items()))
    return f"Zor mek {a} {w} ?", f"{v} . agent ( x _ 3 , {a} ) AND {v} . theme ( x _ 3 , ? )"


@pytest.fixture(scope="module")
def pairs():
    rng = random.Random(0)
    made = [f(rng) for f in (declarative, subject_question, object_question) for _ in range(30)]
    return [(tuple(s.split()), tuple(o.split())) for s, o in made]


@pytest.fixture(scope="module")
def anchoring(pairs):
    return induce_anchoring(pairs, [parse_graph(c, o) for c, o in pairs])


def test_the_words_always_seen_with_a_constant_may_carry_it(anchoring):
    # the question words always come with `?` and are never a node; names and verbs are nodes
    assert anchoring.alternatives == {"?": ["Zor", "mek"]}
    assert anchoring.table  # configurations of the graphs without a choice (the declaratives)


def test_too_rare_a_word_is_no_alternative(pairs):
    few = pairs[:30] + pairs[30:35]  # five questions: below min_count
    assert not induce_anchoring(few, [parse_graph(c, o) for c, o in few])


def test_a_subject_question_moves_its_constant_an_object_question_keeps_it(anchoring):
    subject = parse_graph(
        ["Zor", "daxed", "Bo", "?"],
        parse_form_tokens("dax . agent ( x _ 1 , ? ) AND dax . theme ( x _ 1 , Bo )"),
    )
    assert subject.nodes[3].constant == "?"  # the codec: the final `?`
    moved = reanchor(subject, anchoring)
    assert moved.nodes[0].constant == "?" and moved.nodes[3].constant is None
    assert {(e.head, e.target) for e in moved.edges} == {(1, 0), (1, 2)}  # agent on the left
    obj = parse_graph(
        ["Zor", "mek", "Ann", "daxed", "?"],
        parse_form_tokens("dax . agent ( x _ 3 , Ann ) AND dax . theme ( x _ 3 , ? )"),
    )
    assert reanchor(obj, anchoring) == obj  # theme on the right, as in the declaratives


def test_the_form_does_not_depend_on_where_the_constant_stands(pairs, anchoring):
    for c, o in pairs:
        g = parse_graph(c, o)
        moved = reanchor(g, anchoring)
        assert render_form(to_form(moved)) == " ".join(o)


def test_parse_graph_applies_the_anchoring_it_carries(anchoring):
    words = ["Zor", "wugged", "Cy", "?"]
    form = parse_form_tokens("wug . agent ( x _ 1 , ? ) AND wug . theme ( x _ 1 , Cy )")
    assert parse_graph(words, form).nodes[3].constant == "?"
    assert parse_graph(words, form, Anchors({}, anchoring)).nodes[0].constant == "?"
    assert parse_graph(words, form, Anchors({}, None)).nodes[3].constant == "?"


def test_json_round_trip_and_old_configs(anchoring):
    back = Anchoring.from_json(json.loads(json.dumps(anchoring.to_json())))
    assert back.alternatives == anchoring.alternatives and back.table == anchoring.table
    loaded = load_anchors({"anchors": {"x": "y"}, "anchoring": anchoring.to_json()})
    assert dict(loaded) == {"x": "y"} and loaded.anchoring.table == anchoring.table
    old = load_anchors({"anchors": {"x": "y"}})  # saved before the anchoring existed
    assert old.anchoring is None and reanchor(None, old.anchoring) is None


def test_renamed_words_anchor_alike(pairs, anchoring):
    rename = {"Zor": "Pim", "mek": "tov", "?": "!"}

    def swap(tokens):
        return tuple(rename.get(t, t) for t in tokens)

    renamed = [(swap(c), swap(o)) for c, o in pairs]
    other = induce_anchoring(renamed, [parse_graph(c, o) for c, o in renamed])
    assert other.alternatives == {"!": ["Pim", "tov"]}
    for (c, o), (rc, ro) in zip(pairs, renamed, strict=True):
        a, b = reanchor(parse_graph(c, o), anchoring), reanchor(parse_graph(rc, ro), other)
        assert [n.constant is not None for n in a.nodes] == [
            n.constant is not None for n in b.nodes
        ]


def parse_form_tokens(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@pytest.mark.parametrize("on", [True, False])
def test_a_run_saves_its_anchoring_and_answers_with_it(pairs, tmp_path, on):
    from hartflow.checkpoint import latest_checkpoint, read_config
    from hartflow.hybrid import TrainConfig, evaluate_refiner, train

    lines = "".join(f"{' '.join(c)}\t{' '.join(o)}\n" for c, o in pairs)
    (tmp_path / "train.tsv").write_text(lines)
    (tmp_path / "test.tsv").write_text(lines[: lines.index("\n") + 1] * 3)
    cfg = TrainConfig(
        task=None, split=None, train_file=str(tmp_path / "train.tsv"),
        test_file=str(tmp_path / "test.tsv"), refiner_kind="structure", folds=2, hrr_d=256,
        feature_dim=16, dim=32, n_heads=2, batch_size=8, max_steps=2, warmup_steps=1,
        ckpt_every=1000, log_every=1, reanchor=on,
    )  # fmt: skip
    train(cfg, out=tmp_path / "run")
    saved = read_config(latest_checkpoint(tmp_path / "run"))
    assert (saved["anchoring"] is not None) == on
    if on:
        assert saved["anchoring"]["alternatives"] == {"?": ["Zor", "mek"]}
    assert evaluate_refiner(tmp_path / "run")["n"] == 3  # the saved anchoring loads
