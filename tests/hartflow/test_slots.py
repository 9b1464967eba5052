"""Local slots and the constrained decoder: hand-made graphs, repairs, and every training and
generalisation graph of COGS and SLOG rebuilt from its own slots."""

from __future__ import annotations

import math

import pytest

from hartflow.data import load_examples
from hartflow.data.logical_form import Edge, Graph, Node, parse_form, to_graph
from hartflow.data.slots import (
    NodeSlots,
    decode_edges,
    decode_scored,
    graph_slots,
    parse_slot_name,
    same_edges,
    slot_name,
    to_digraph,
)
from tests.conftest import SHARED_DATA

A, T, M = ("a",), ("t",), ("m", "p")


def graph(n: int, edges: list[tuple[int, tuple, int]]) -> Graph:
    words = tuple(f"w{i}" for i in range(n))
    heads = {h for h, _, _ in edges}
    nodes = tuple(Node(pred=f"P{i}" if i in heads else None, unary=i not in heads)
                  for i in range(n))  # fmt: skip
    return Graph(words, nodes, tuple(Edge(h, r, t) for h, r, t in edges))


class TestSlots:
    def test_slots_count_roles_and_sides(self):
        g = graph(5, [(2, A, 0), (2, T, 4), (4, M, 3)])
        s = graph_slots(g)
        assert s[2].out == {(A, -1): 1, (T, 1): 1}
        assert s[0].inc == {(A, 1): 1} and s[4].inc == {(T, -1): 1}
        assert s[4].out == {(M, -1): 1} and s[3].inc == {(M, 1): 1}
        assert s[1].out == {} and s[1].inc == {}

    def test_slot_names_round_trip(self):
        for direction, key in (("out", (A, -1)), ("in", (M, 1))):
            assert parse_slot_name(slot_name(direction, key)) == (direction, key)


class TestDecoder:
    def test_rebuilds_a_pp_chain_at_any_depth(self):
        # 0 <-agent- 1 -theme-> 2 -m-> 4 -m-> 6 -m-> 8 ...: the same local slots at every depth
        for depth in (1, 3, 9):
            edges = [(1, A, 0), (1, T, 2)] + [(2 * k, M, 2 * k + 2) for k in range(1, depth + 1)]
            g = graph(2 * depth + 3, edges)
            got, left = decode_edges(graph_slots(g))
            assert left == 0 and same_edges(got, g.edges)

    def test_prefers_the_shortest_non_crossing_attachment(self):
        # two heads wanting an m-target on their right, two targets: nested, not crossed
        slots = [NodeSlots() for _ in range(4)]
        slots[0].out[(M, 1)] = 1
        slots[1].out[(M, 1)] = 1
        slots[2].inc[(M, -1)] = 1
        slots[3].inc[(M, -1)] = 1
        got, left = decode_edges(slots)
        assert left == 0 and set(got) == {Edge(1, M, 2), Edge(0, M, 3)}

    def test_crossing_only_when_nothing_else_fills(self):
        # 0 -a-> 2 is forced to cross 1 -t-> 3
        g = graph(4, [(0, A, 2), (1, T, 3)])
        got, left = decode_edges(graph_slots(g))
        assert left == 0 and same_edges(got, g.edges)
        got, left = decode_edges(graph_slots(g), allow_crossing=False)
        assert left == 2 and len(got) == 1

    def test_a_node_with_two_incoming_edges_of_one_role(self):
        # control: 0 is the agent of both 1 and 3
        g = graph(4, [(1, A, 0), (1, ("x",), 3), (3, A, 0)])
        got, left = decode_edges(graph_slots(g))
        assert left == 0 and same_edges(got, g.edges)

    def test_unfillable_slots_are_counted_not_invented(self):
        slots = [NodeSlots(), NodeSlots()]
        slots[0].out[(A, 1)] = 1  # nobody takes an incoming a-edge
        got, left = decode_edges(slots)
        assert got == [] and left == 1


def logp(table: list[list[list[float]]]) -> list[list[list[float]]]:
    return [[[math.log(p) for p in row] for row in pos] for pos in table]


class TestScoredDecoding:
    NAMES = (slot_name("out", (A, 1)), slot_name("in", (A, -1)))

    def test_a_missing_partner_is_added_where_it_is_likeliest(self):
        # 0 surely has an outgoing a-edge; 1 and 2 each lean to "no incoming", 2 less so
        table = logp([
            [[0.05, 0.9, 0.05], [0.98, 0.01, 0.01]],
            [[0.98, 0.01, 0.01], [0.9, 0.09, 0.01]],
            [[0.98, 0.01, 0.01], [0.6, 0.39, 0.01]],
        ])  # fmt: skip
        assert decode_scored(self.NAMES, table) == [Edge(0, A, 2)]

    def test_an_unlikely_orphan_slot_is_dropped(self):
        table = logp([
            [[0.4, 0.59, 0.01], [0.98, 0.01, 0.01]],
            [[0.98, 0.01, 0.01], [0.999, 0.0005, 0.0005]],
        ])  # fmt: skip
        assert decode_scored(self.NAMES, table) == []


def test_networkx_view():
    g = graph(3, [(1, A, 0), (1, M, 2)])
    d = to_digraph(g)
    assert set(d.edges) == {(1, 0), (1, 2)} and d.edges[1, 2]["role"] == "m . p"
    assert d.nodes[1]["pred"] == "P1" and d.nodes[0]["word"] == "w0"


@pytest.mark.parametrize("task", ["cogs", "slog"])
def test_every_graph_comes_back_from_its_slots(task):
    """Gold slots + the decoder rebuild every training and generalisation graph exactly, as the
    codec anchors constants and as the induced anchoring moves them (what the refiner learns)."""
    folder = SHARED_DATA / task
    if not folder.is_dir():
        pytest.skip(f"{task} data not in {SHARED_DATA}")
    from hartflow.hybrid.anchoring import induce_anchoring, reanchor
    from hartflow.zeroshot.lexicon import induce_lexicon

    parts = load_examples(task, "gen", data_dir=folder)
    pairs = [(e.input.split(), e.output.split()) for e in parts["train"]]
    anchors = induce_lexicon(pairs)
    graphs = [to_graph(parse_form(e.output), e.input.split(), anchors=anchors)
              for e in [*parts["train"], *parts["test"]]]  # fmt: skip
    anchoring = induce_anchoring(pairs, graphs[: len(pairs)])
    assert bool(anchoring) == (task == "slog")  # SLOG's `?`: the question word or the final `?`
    wrong, moved = [], 0
    for g in graphs:
        if g.lambdas:
            continue
        other = reanchor(g, anchoring)
        moved += other != g
        for h in (g, other) if other != g else (g,):
            got, left = decode_edges(graph_slots(h))
            if left or not same_edges(got, h.edges):
                wrong.append(" ".join(h.words))
    assert wrong == []
    assert (moved > 1000) == (task == "slog")


def test_one_edge_per_pair_unless_training_has_two():
    from hartflow.data.slots import has_multi_edges

    g = graph(3, [(1, A, 0), (1, T, 0)])  # two roles from 1 to 0
    assert has_multi_edges([g]) and not has_multi_edges([graph(2, [(1, A, 0)])])
    got, left = decode_edges(graph_slots(g))
    assert left == 2 and len(got) == 1  # the second role cannot join the same pair
    got, left = decode_edges(graph_slots(g), multi_edges=True)
    assert left == 0 and same_edges(got, g.edges)
