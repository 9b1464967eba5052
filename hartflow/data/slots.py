"""Local slots of a graph over positions, and the constrained decoder that rebuilds its edges.

A node's **slots** say which edges it takes part in without saying where the other end is: per
role, how many outgoing edges go to targets on its left and on its right (`out`), and how many
incoming edges arrive from heads on its left and on its right (`inc`). Slots are local decisions:
a noun that is a subject and carries a PP has an incoming agent slot from the right and an
outgoing PP slot to the right, each seen in training even where the combination is new, and the
same slots recur at any depth of recursion.

`decode_edges` turns slots back into edges by a constrained search: every edge joins a free
outgoing slot `(role, side)` of its head to a free incoming slot `(role, -side)` of its target,
and a head joins a target once at most (no training graph has two edges between one pair);
among the joinable pairs the shortest attachment that crosses no edge already placed is taken
first (crossing edges only where no non-crossing one is left), until no slot pair can be joined.
Given a graph's own slots it rebuilds the graph's edges (tested on every training graph).

Only the graph structure is read here (positions, roles as opaque tuples): no vocabulary.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hartflow.data.logical_form import Edge, Graph

__all__ = [
    "NodeSlots",
    "SlotKey",
    "configuration",
    "configurations",
    "decode_edges",
    "decode_scored",
    "graph_slots",
    "has_multi_edges",
    "parse_slot_name",
    "same_edges",
    "side",
    "slot_name",
    "to_digraph",
]

SlotKey = tuple[tuple[str, ...], int]  # (role, side): side -1 = left of the node, +1 = right


def side(frm: int, to: int) -> int:
    """-1 where `to` lies left of `frm`, else +1."""
    return -1 if to < frm else 1


@dataclass
class NodeSlots:
    """One node's slots: outgoing and incoming edge counts per (role, side of the other end)."""

    out: Counter = field(default_factory=Counter)
    inc: Counter = field(default_factory=Counter)

    def key(self) -> tuple:
        """A hashable summary (the node's configuration)."""
        return (tuple(sorted(self.out.items())), tuple(sorted(self.inc.items())))


def graph_slots(graph: Graph) -> list[NodeSlots]:
    """The slots of every word position of `graph` (edges to lambda variables are left out)."""
    n = len(graph.words)
    slots = [NodeSlots() for _ in range(n)]
    for e in graph.edges:
        if e.head >= n or e.target >= n:
            continue
        slots[e.head].out[(e.role, side(e.head, e.target))] += 1
        slots[e.target].inc[(e.role, side(e.target, e.head))] += 1
    return slots


def decode_edges(
    slots: Sequence[NodeSlots], *, allow_crossing: bool = True, multi_edges: bool = False
) -> tuple[list[Edge], int]:
    """Edges that fill the slots: shortest non-crossing attachments first.

    Args:
        slots: per position its wanted slots (not modified).
        allow_crossing: once no non-crossing pair is left, join crossing ones (shortest first).
        multi_edges: whether a head may join one target by two edges (`has_multi_edges` of the
            training graphs says; never in COGS or SLOG).

    Returns:
        (edges in the order placed, the number of slots left unfilled, outgoing and incoming).
    """
    placed, free_out, free_in = _fill(slots, allow_crossing, multi_edges)
    return placed, sum(c for f in (*free_out, *free_in) for c in f.values() if c > 0)


def has_multi_edges(graphs: Iterable[Graph]) -> bool:
    """Whether any graph joins one head to one target by two edges."""
    return any(len({(e.head, e.target) for e in g.edges}) < len(g.edges) for g in graphs)


def _fill(
    slots: Sequence[NodeSlots], allow_crossing: bool, multi_edges: bool = False
) -> tuple[list[Edge], list[Counter], list[Counter]]:
    n = len(slots)
    free_out = [Counter(s.out) for s in slots]
    free_in = [Counter(s.inc) for s in slots]
    placed: list[Edge] = []
    spans: list[tuple[int, int]] = []  # the placed edges' (left, right) positions
    joined: set[tuple] = set()
    waiting: dict[SlotKey, list[int]] = {}  # incoming slot key -> positions with one free, sorted
    for t, free in enumerate(free_in):
        for key, c in free.items():
            if c > 0:
                waiting.setdefault(key, []).append(t)
    while True:
        best = None  # (crossing, distance, head, target, role)
        for h in range(n):
            for (role, sd), count in free_out[h].items():
                if count <= 0:
                    continue
                at = waiting.get((role, -sd), [])  # the targets with a matching free slot
                if sd < 0:
                    targets = at[bisect_left(at, h) - 1 :: -1] if bisect_left(at, h) else []
                else:
                    targets = at[bisect_right(at, h) :]
                for t in targets:  # nearest first
                    dist = abs(t - h)
                    if best is not None and not best[0] and dist > best[1]:
                        break  # it, and every farther target, loses to a shorter uncrossed edge
                    pair = (h, t, role) if multi_edges else (h, t, 0)
                    if pair in joined:
                        continue  # one edge at most between a head and a target (one per role)
                    lo, hi = (h, t) if h < t else (t, h)
                    crossing = any(lo < a < hi < b or a < lo < b < hi for a, b in spans)
                    cand = (crossing, dist, h, t, role)
                    if best is None or cand[:4] < best[:4]:
                        best = cand
                    if not crossing:
                        break  # farther targets on this side are longer
        if best is None or (best[0] and not allow_crossing):
            break
        _, _, h, t, role = best
        sd = side(h, t)
        free_out[h][(role, sd)] -= 1
        free_in[t][(role, -sd)] -= 1
        if free_in[t][(role, -sd)] == 0:
            waiting[(role, -sd)].remove(t)
        placed.append(Edge(h, role, t))
        spans.append((min(h, t), max(h, t)))
        joined.update({(h, t, 0), (h, t, role)})
    return placed, free_out, free_in


def slot_name(direction: str, key: SlotKey) -> str:
    """A slot key as one string: `out|agent|-1` (direction, role path joined by ' . ', side)."""
    return f"{direction}|{' . '.join(key[0])}|{key[1]}"


def parse_slot_name(name: str) -> tuple[str, SlotKey]:
    direction, role, sd = name.split("|")
    return direction, (tuple(role.split(" . ")), int(sd))


def configuration(node: NodeSlots) -> tuple:
    """A node's configuration as `decode_scored` compares it: its slot names with counts."""
    items = [(slot_name("out", k), c) for k, c in node.out.items() if c > 0]
    items += [(slot_name("in", k), c) for k, c in node.inc.items() if c > 0]
    return tuple(sorted(items))


def configurations(graphs: Iterable[Graph]) -> set[tuple]:
    """Every node configuration the graphs show (the decoder's prior: `decode_scored`)."""
    return {configuration(s) for g in graphs for s in graph_slots(g)}


def decode_scored(
    names: Sequence[str],
    logp,
    *,
    max_repairs: int | None = None,
    stats: dict | None = None,
    multi_edges: bool = False,
    configs: set[tuple] | None = None,
    config_penalty: float = 4.0,
) -> list[Edge]:
    """Edges from predicted slot distributions: the argmax counts, decoded; while slots are left
    unfilled, the cheapest repair (in lost log-probability) is applied and the slots decoded
    again: drop an unfilled slot (one count less), or give a node on the slot's side a matching
    partner slot (one count more). So a consistent set of slots close to the most probable one
    is decoded. With `configs` (the node configurations training shows), a node in a
    configuration training never shows costs `config_penalty` more: a repair that moves a slot to
    a node where it makes a seen configuration is preferred, and a slot whose node it puts in an
    unseen configuration is dropped where that costs less than the penalty.

    Args:
        names: the slot keys (`slot_name`), one per column of `logp`.
        logp: (n, K, C) log-probabilities of each position's count per slot key (nested lists
            or a tensor).
        max_repairs: repairs tried at most (default 2 · positions + 1).
        stats: if given, receives "repairs" (applied) and "unfilled" (slots left at the end).
        multi_edges: as for `decode_edges`.
        configs: the seen configurations (`configurations` of the training graphs), or None.
        config_penalty: log-probability an unseen configuration costs.

    Returns:
        the edges of the repaired slots.
    """
    logp = (
        logp.tolist()
        if hasattr(logp, "tolist")
        else [[list(map(float, r)) for r in p] for p in logp]
    )
    n, C = len(logp), len(logp[0][0]) if logp and logp[0] else 0
    keys = [parse_slot_name(x) for x in names]
    index = {k: j for j, k in enumerate(keys)}
    counts = [[max(range(C), key=lambda c, r=row: r[c]) for row in pos] for pos in logp]

    def unseen(row: list[int]) -> float:
        """The penalty of a node whose counts are `row`."""
        if configs is None:
            return 0.0
        config = tuple(sorted((names[j], c) for j, c in enumerate(row) if c > 0))
        return 0.0 if config in configs else config_penalty

    def cost(i: int, j: int, change: int) -> float:
        """Lost log-probability (and configuration penalty) of changing one count."""
        c = counts[i][j]
        row = list(counts[i])
        row[j] += change
        return logp[i][j][c] - logp[i][j][c + change] + unseen(row) - unseen(counts[i])

    edges: list[Edge] = []
    repairs, unfilled = 0, 0
    for _ in range(2 * n + 1 if max_repairs is None else max_repairs + 1):
        slots = [NodeSlots() for _ in range(n)]
        for i in range(n):
            for j, c in enumerate(counts[i]):
                if c:
                    direction, key = keys[j]
                    (slots[i].out if direction == "out" else slots[i].inc)[key] += c
        edges, free_out, free_in = _fill(slots, True, multi_edges)
        unfilled = sum(c for f in (*free_out, *free_in) for c in f.values() if c > 0)
        options = []  # (cost, distance, position, column, change)
        for i in range(n):
            for direction, free in (("out", free_out[i]), ("in", free_in[i])):
                for (role, sd), left in free.items():
                    if left <= 0:
                        continue
                    j = index[(direction, (role, sd))]
                    options.append((cost(i, j, -1), 0, i, j, -1))
                    other = index.get(("in" if direction == "out" else "out", (role, -sd)))
                    if other is None:
                        continue
                    for t in range(i - 1, -1, -1) if sd < 0 else range(i + 1, n):
                        if counts[t][other] + 1 < C:
                            options.append((cost(t, other, 1), abs(t - i), t, other, 1))
        if not unfilled and configs is not None:
            # every slot is filled: drop a slot that puts its node in an unseen configuration,
            # where that gains more than it loses (its partner is then re-placed)
            options = [(cost(i, j, -1), 0, i, j, -1) for i in range(n) if unseen(counts[i])
                       for j, c in enumerate(counts[i]) if c > 0]  # fmt: skip
            options = [o for o in options if o[0] < 0]
        if not options:
            break
        _, _, i, j, change = min(options)
        counts[i][j] += change
        repairs += 1
    if stats is not None:
        stats.update(repairs=repairs, unfilled=unfilled)
    return edges


def same_edges(a: Iterable[Edge], b: Iterable[Edge]) -> bool:
    """Whether two edge lists hold the same edges (order aside)."""
    return Counter(a) == Counter(b)


def to_digraph(graph: Graph):
    """The graph as a `networkx.DiGraph`: nodes are positions (attributes `word`, `pred`,
    `unary`, `definite`, `constant`), edges carry `role` (the role path joined by ' . ')."""
    import networkx as nx

    g = nx.DiGraph()
    for i, node in enumerate(graph.nodes):
        word = graph.words[i] if i < len(graph.words) else None
        g.add_node(i, word=word, pred=node.pred, unary=node.unary, definite=node.definite,
                   constant=node.constant)  # fmt: skip
    for e in graph.edges:  # two roles between one pair of nodes: both kept, in `roles`
        role = " . ".join(e.role)
        if g.has_edge(e.head, e.target):
            g.edges[e.head, e.target]["roles"].append(role)
        else:
            g.add_edge(e.head, e.target, role=role, roles=[role])
    return g
