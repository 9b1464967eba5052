"""Recombination by typed span substitution: spans, one substitution by hand, sampled pairs that
round-trip through the codec, depth beyond training, and the CLI."""

from __future__ import annotations

import itertools
import random

import pytest

from hartflow.data.logical_form import (
    ConjunctOrder,
    Edge,
    Graph,
    Node,
    parse_form,
    render_form,
    to_form,
    to_graph,
)
from hartflow.data.recombine import recombine, spans, substitute
from tests.conftest import SHARED_DATA
from tests.hartflow.hybrid.test_structure import NOUNS, VERBS, sentence  # an invented language


def graphs_of(pairs):
    return [to_graph(parse_form(f), s.split()) for s, f in pairs]


def subject_pp(sentence: str) -> bool:
    words = sentence.split()
    verb = next(i for i, w in enumerate(words) if w in VERBS)
    return any(w in ("nup", "ko") for w in words[:verb])


def chain_depth(form: str) -> int:
    return form.count(" . nup (") + form.count(" . ko (")


class TestSpans:
    def test_noun_phrases_share_one_type_whatever_they_carry(self):
        words = "the dax blicked a wif nup the lug ."
        g = graphs_of([(words, _form(words))])[0]
        found = {(s.lo, s.hi): s for s in spans(g)}
        # subject "dax" (1..1), object "wif nup the lug" (4..7), PP object "lug" (7..7)
        assert set(found) == {(1, 1), (4, 7), (7, 7)}
        assert found[(1, 1)].type != found[(4, 7)].type  # definite vs indefinite root
        assert found[(7, 7)].type == found[(1, 1)].type  # both definite nouns: one type

    def test_substitution_reindexes_and_reattaches(self):
        a = "the dax blicked a wif ."
        b = "a zup tuffed the lug ko the fep ."
        ga, gb = graphs_of([(a, _form(a)), (b, _form(b))])
        at = next(s for s in spans(ga) if s.root == 1)  # the subject "dax"
        by = next(s for s in spans(gb) if s.root == 4)  # "lug ko the fep"
        new = substitute(ga, at, gb, by)
        assert " ".join(new.words) == "the lug ko the fep blicked a wif ."
        form = render_form(to_form(new, ConjunctOrder()))
        assert "blick . agent ( x _ 5 , x _ 1 )" in form
        assert "LUG . nmod . ko ( x _ 1 , x _ 4 )" in form


def _form(words: str) -> str:
    """The invented language's form of a sentence (agent, theme, nmod chain; see test_structure)."""
    w = words.split()
    nodes, edges, nouns = {}, [], []
    verb = next(i for i, x in enumerate(w) if x in VERBS)
    for i, x in enumerate(w):
        if x in NOUNS:
            nodes[i] = Node(pred=NOUNS[x], unary=w[i - 1] == "a", definite=w[i - 1] == "the")
            nouns.append(i)
        elif x in VERBS:
            nodes[i] = Node(pred=VERBS[x])
    edges += [Edge(verb, ("agent",), nouns[0]), Edge(verb, ("theme",), nouns[1])]
    for a, b in itertools.pairwise(nouns[1:]):
        edges.append(Edge(a, ("nmod", w[b - 2]), b))
    g = Graph(tuple(w), tuple(nodes.get(i, Node()) for i in range(len(w))), tuple(edges))
    return render_form(to_form(g, ConjunctOrder()))


class TestRecombine:
    @pytest.fixture(scope="class")
    @classmethod
    def train(cls):
        rng = random.Random(0)
        return [sentence(rng, rng.choice([0, 0, 1])) for _ in range(300)]

    def test_pairs_round_trip_are_new_and_reach_deeper(self, train):
        made = recombine(graphs_of(train), n=300, max_depth=4, seed=1)
        assert len(made) == 300 and not set(made) & set(train)
        for s, f in made:  # the codec reads every pair back
            g = to_graph(parse_form(f), s.split())
            assert render_form(to_form(g, ConjunctOrder())) == f
        deepest = max(chain_depth(f) for _, f in train)
        assert deepest == 1 and max(chain_depth(f) for _, f in made) >= 3
        # a PP on the subject: never in training (only objects carry PPs there)
        assert not any(subject_pp(s) for s, _ in train)
        assert any(subject_pp(s) for s, _ in made)

    def test_seeded(self, train):
        g = graphs_of(train)
        assert recombine(g, n=50, seed=4) == recombine(g, n=50, seed=4)
        assert recombine(g, n=50, seed=4) != recombine(g, n=50, seed=5)

    def test_bad_depth(self, train):
        with pytest.raises(ValueError, match="max_depth"):
            recombine(graphs_of(train), n=1, max_depth=0)
        with pytest.raises(ValueError, match="pool"):
            recombine(graphs_of(train), n=1, pool=0)

    def test_pool_keeps_what_training_shows_least(self, train):
        """A subject carrying a PP is a node configuration training never shows: kept from a
        pool of 4x the candidates, it is about twice as common as in the draws as they come
        (measured: 51-62 of 200 as drawn, 117-119 pooled, seeds 1-3)."""
        g = graphs_of(train)
        for seed in (1, 2):
            drawn = recombine(g, n=200, seed=seed, pool=1)
            pooled = recombine(g, n=200, seed=seed, pool=4)
            assert len(pooled) == 200 and not set(pooled) & set(train)
            assert sum(map(subject_pp, (s for s, _ in pooled))) > 1.5 * sum(
                map(subject_pp, (s for s, _ in drawn))
            )
        assert recombine(g, n=50, seed=4, pool=3) == recombine(g, n=50, seed=4, pool=3)

    def test_pool_one_keeps_the_first_draws(self, train):
        """pool=1 keeps the draws as they come: the first n of a longer run's draws."""
        g = graphs_of(train)
        assert recombine(g, n=120, seed=7, pool=1)[:40] == recombine(g, n=40, seed=7, pool=1)


@pytest.mark.parametrize("task", ["cogs", "slog"])
def test_real_training_sets_recombine(task):
    folder = SHARED_DATA / task
    if not folder.is_dir():
        pytest.skip(f"{task} data not in {SHARED_DATA}")
    from hartflow.data import load_examples
    from hartflow.hybrid.structure import augment_pairs

    train = [(tuple(e.input.split()), tuple(e.output.split()))
             for e in load_examples(task, "gen", data_dir=folder)["train"]]  # fmt: skip
    made = augment_pairs(train, n=400, max_depth=4, seed=0)
    assert len(made) == 400 and not set(made) & set(train)
    longest = max(len(c) for c, _ in train)
    assert max(len(c) for c, _ in made) > longest  # deeper than any training sentence
