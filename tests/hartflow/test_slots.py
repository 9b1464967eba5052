"""Local slots and the constrained decoder: hand-made graphs, repairs, and every training and
generalisation graph of COGS and SLOG rebuilt from its own slots."""

from __future__ import annotations

import math

import pytest

from hartflow.data import load_examples
from hartflow.data.logical_form import Edge, Graph, Node, parse_form, to_graph
from hartflow.data.slots import (
    NodeSlots,
    configuration,
    configurations,
    crossing_pairs,
    crossing_types,
    decode_edges,
    decode_scored,
    decode_search,
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


R = ("r",)


def one_hot(names: list[str], slots: list[NodeSlots], counts: int = 3) -> list:
    """Log-probabilities that put (almost) all mass on each node's own slot counts."""
    table = []
    for s in slots:
        row = []
        for name in names:
            direction, key = parse_slot_name(name)
            c = (s.out if direction == "out" else s.inc)[key]
            row.append([math.log(0.97 if k == c else 0.01) for k in range(counts)])
        table.append(row)
    return table


class TestSearchDecoding:
    """`decode_search`: configurations training shows, searched jointly, most probable first."""

    NAMES = tuple(slot_name(d, (role, sd)) for role in (A, T, R)
                  for d, sd in (("out", 1), ("in", -1)))  # fmt: skip

    def table(self, rows: dict[int, dict[str, list[float]]], n: int) -> list:
        """Per node, the given slots' count distributions; every other slot surely 0."""
        return logp([[rows.get(i, {}).get(name, [0.98, 0.01, 0.01]) for name in self.NAMES]
                     for i in range(n)])  # fmt: skip

    def test_a_graphs_own_slots_give_it_back(self):
        g = graph(6, [(1, A, 0), (1, T, 2), (2, M, 4), (4, M, 5)])
        names = sorted({slot_name(d, k) for s in graph_slots(g)
                        for d, c in (("out", s.out), ("in", s.inc)) for k in c})  # fmt: skip
        got = decode_search(names, one_hot(names, graph_slots(g)), configurations([g]))
        assert got is not None and same_edges(got, g.edges)

    def test_the_frame_prior_re_roles_two_nodes_at_once(self):
        # 0 -?-> 1, 2 -?-> 3: the argmax gives 0 a t-edge to 1 and 2 a t-edge to 3; 0's frames
        # are {r, t} and 2's are none at all, so 0 takes 1 as r and 3 as t, and 2 drops its edge
        out_t, out_r = slot_name("out", (T, 1)), slot_name("out", (R, 1))
        in_t, in_r = slot_name("in", (T, -1)), slot_name("in", (R, -1))
        rows = {0: {out_t: [0.01, 0.98, 0.01], out_r: [0.55, 0.44, 0.01]},
                1: {in_t: [0.44, 0.55, 0.01], in_r: [0.55, 0.44, 0.01]},
                2: {out_t: [0.39, 0.6, 0.01]},
                3: {in_t: [0.01, 0.98, 0.01]}}  # fmt: skip
        table = self.table(rows, 4)
        configs = {((out_r, 1), (out_t, 1)), ((out_t, 1),), ((in_t, 1),), ((in_r, 1),), ()}
        plain = decode_search(self.NAMES, table, configs)
        assert plain is not None and same_edges(plain, [Edge(0, T, 1), Edge(2, T, 3)])
        frames = [{("r", "t")}, None, {()}, None]
        stats: dict = {}
        got = decode_search(self.NAMES, table, configs, frames=frames, stats=stats)
        assert got is not None and same_edges(got, [Edge(0, R, 1), Edge(0, T, 3)])
        assert stats["changed"] == 1 and 0 < stats["cost"] < 1  # 1 re-roled; 0, 2 by their frames
        # a bound below that cost: the search stops before it (None: the caller falls back)
        bounded: dict = {}
        assert decode_search(self.NAMES, table, configs, frames=frames, max_cost=stats["cost"],
                             stats=bounded) is not None  # fmt: skip
        assert decode_search(self.NAMES, table, configs, frames=frames,
                             max_cost=stats["cost"] - 1e-6, stats=bounded) is None  # fmt: skip
        assert bounded["visited"] < stats["visited"]
        # where re-roling costs more than the frames' penalty, the argmax stands
        assert same_edges(decode_search(self.NAMES, table, configs, frames=frames,
                                        frame_penalty=0.1), plain)  # fmt: skip

    def test_an_unseen_configuration_is_kept_only_where_nothing_seen_is_likelier(self):
        out_a, in_a = slot_name("out", (A, 1)), slot_name("in", (A, -1))
        table = self.table({0: {out_a: [0.01, 0.01, 0.98]}, 1: {in_a: [0.01, 0.98, 0.01]},
                            2: {in_a: [0.01, 0.98, 0.01]}}, 3)  # fmt: skip
        seen = {((out_a, 1),), ((in_a, 1),), ()}
        got = decode_search(self.NAMES, table, seen)  # two a-edges from 0: unseen but surest
        assert got is not None and same_edges(got, [Edge(0, A, 1), Edge(0, A, 2)])
        assert configuration(graph_slots(graph(3, [(0, A, 1), (0, A, 2)]))[0]) not in seen
        got = decode_search(self.NAMES, table, seen, unseen_penalty=20.0)
        assert got is not None and len(got) == 1  # costlier than dropping a target's slot

    def test_nodes_that_may_not_take_edges(self):
        out_a, in_a = slot_name("out", (A, 1)), slot_name("in", (A, -1))
        table = self.table({0: {out_a: [0.1, 0.9, 0.0 + 1e-9]}, 1: {in_a: [0.1, 0.9, 1e-9]}}, 2)
        configs = {((out_a, 1),), ((in_a, 1),), ()}
        assert decode_search(self.NAMES, table, configs) == [Edge(0, A, 1)]
        assert decode_search(self.NAMES, table, configs, no_outgoing=[True, False]) == []
        assert decode_search(self.NAMES, table, configs, no_edges=[False, True]) == []
        # nothing that fills within the budget: None (the caller falls back)
        assert decode_search(self.NAMES, table, {((out_a, 1),)}, no_edges=[False, True]) is None

    def test_a_crossing_training_never_shows_costs_its_penalty(self):
        # 0 -a-> 2 and 3 -b-> 1 cross (spans 0..2 and 1..3): the argmax; 3 -b-> 0 instead nests
        b = ("b",)
        names = (slot_name("out", (A, 1)), slot_name("in", (A, -1)),
                 slot_name("out", (b, -1)), slot_name("in", (b, 1)))  # fmt: skip
        sure, zero = [0.01, 0.98, 0.01], [0.98, 0.01, 0.01]
        table = logp([[sure, zero, zero, [0.6, 0.4, 1e-9]], [zero, zero, zero, [0.4, 0.6, 1e-9]],
                      [zero, sure, zero, zero], [zero, zero, sure, zero]])  # fmt: skip
        configs = {((names[0], 1),), ((names[0], 1), (names[3], 1)), (), ((names[3], 1),),
                   ((names[1], 1),), ((names[2], 1),)}  # fmt: skip
        crossed = [Edge(0, A, 2), Edge(3, b, 1)]
        assert crossing_pairs(crossed) == {("a", 1, "b", -1)}
        assert crossing_types([graph(4, [(0, A, 2), (3, b, 1)])]) == {("a", 1, "b", -1)}
        assert same_edges(decode_search(names, table, configs), crossed)  # no prior
        stats: dict = {}
        got = decode_search(names, table, configs, crossings=set(), crossing_penalty=8.0,
                            stats=stats)  # fmt: skip
        assert same_edges(got, [Edge(0, A, 2), Edge(3, b, 0)])
        assert stats["cost"] == pytest.approx(2 * math.log(0.6 / 0.4), abs=1e-3)
        assert same_edges(decode_search(names, table, configs, crossings={("a", 1, "b", -1)}),
                          crossed)  # fmt: skip
        got = decode_search(names, table, configs, crossings=set(), crossing_penalty=0.1,
                            stats=stats)  # fmt: skip
        assert same_edges(got, crossed) and stats["cost"] == pytest.approx(0.1)


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
