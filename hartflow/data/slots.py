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

import heapq
import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hartflow.data.logical_form import Edge, Graph

__all__ = [
    "NodeSlots",
    "SlotKey",
    "configuration",
    "configurations",
    "decode_edges",
    "decode_scored",
    "decode_search",
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


def crossing_pairs(edges: Iterable[Edge]) -> set[tuple]:
    """The types of the edge pairs that cross (a < c < b < d for spans (a, b) and (c, d)): per
    pair, (role, side) of the edge that starts first, then of the other; a role path joined by
    " . ", a side +1 where the target is right of its head."""
    spans = [(min(e.head, e.target), max(e.head, e.target), " . ".join(e.role),
              1 if e.target > e.head else -1) for e in edges]  # fmt: skip
    return {(r1, s1, r2, s2) for a, b, r1, s1 in spans for c, d, r2, s2 in spans
            if a < c < b < d}  # fmt: skip


def crossing_types(graphs: Iterable[Graph]) -> set[tuple]:
    """Every type of crossing edge pair the graphs show (`crossing_pairs`; edges to lambda
    variables left out): the decoder's crossing prior (`decode_search`)."""
    found: set[tuple] = set()
    for g in graphs:
        n = len(g.words)
        found |= crossing_pairs(e for e in g.edges if e.head < n and e.target < n)
    return found


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


class _Table:
    """The configurations training shows, as arrays over one slot vocabulary (`decode_search`)."""

    def __init__(self, names: tuple[str, ...], configs: frozenset, n_counts: int) -> None:
        self.keys = [parse_slot_name(x) for x in names]
        col = {x: j for j, x in enumerate(names)}
        flows = sorted({(k[0], k[1] if d == "out" else -k[1]) for d, k in self.keys})
        self.flow_id = {f: j for j, f in enumerate(flows)}
        rows, self.frames = [], []
        for config in sorted(configs):
            if all(name in col and c < n_counts for name, c in config):
                row = np.zeros(len(names), dtype=np.int64)
                for name, c in config:
                    row[col[name]] = c
                rows.append(row)
                self.frames.append(self.frame(row))
        self.counts = np.stack(rows) if rows else np.zeros((0, len(names)), np.int64)
        self.flows = np.stack([self.flow(r) for r in self.counts]) if rows else np.zeros((0, 0))
        self.has_out = np.array([f != () for f in self.frames], dtype=bool)
        self.has_in = np.array([any(self.keys[j][0] == "in" for j in np.nonzero(r)[0])
                                for r in self.counts], dtype=bool)  # fmt: skip
        self.count_rows, self.flow_rows = list(self.counts), list(self.flows)  # fast to index
        self.frame_cost: dict[tuple[int, float], tuple[set, np.ndarray]] = {}

    def frame(self, row: np.ndarray) -> tuple[str, ...]:
        """The sorted outgoing roles of a row of counts (sides ignored), as `frames_of`."""
        return tuple(sorted(" . ".join(self.keys[j][1][0]) for j in np.nonzero(row)[0]
                            if self.keys[j][0] == "out" for _ in range(int(row[j]))))  # fmt: skip

    def flow(self, row: np.ndarray) -> np.ndarray:
        """+count per outgoing (role, side), -count per incoming slot that such an edge fills:
        the slots of a graph sum to zero."""
        v = np.zeros(len(self.flow_id))
        for j in np.nonzero(row)[0]:
            d, (role, sd) = self.keys[j]
            v[self.flow_id[(role, sd if d == "out" else -sd)]] += row[j] if d == "out" else -row[j]
        return v

    def frame_penalty(self, allowed: set, cost: float) -> np.ndarray:
        """Per configuration, `cost` where its frame is not in `allowed` (cached per set)."""
        key = (id(allowed), cost)
        held = self.frame_cost.get(key)
        if held is None or held[0] is not allowed:  # the set is held, so its id stays its own
            vector = np.array([0.0 if f in allowed else cost for f in self.frames])
            self.frame_cost[key] = held = (allowed, vector)
        return held[1]


_TABLES: dict[tuple, _Table] = {}


def decode_search(
    names: Sequence[str],
    logp,
    configs: set[tuple],
    *,
    frames: Sequence[set | None] | None = None,
    frame_penalty: float = 4.0,
    no_outgoing: Sequence[bool] | None = None,
    no_edges: Sequence[bool] | None = None,
    unseen_penalty: float = 4.0,
    top: int = 8,
    budget: int = 3000,
    max_cost: float | None = None,
    multi_edges: bool = False,
    stats: dict | None = None,
    needs_incoming: Sequence[bool] | None = None,
    unattached_penalty: float = 4.0,
    crossings: set[tuple] | None = None,
    crossing_penalty: float = 4.0,
) -> list[Edge] | None:
    """Edges from predicted slot distributions by a joint search over node configurations.

    Each node takes one configuration (its slot counts): one training shows (`configs`), or its own
    argmax counts at `unseen_penalty` where training never shows them. A configuration's score is
    the log-probability of its counts under the node's slot distributions, less `frame_penalty`
    where `frames` gives the node a set of frames (sorted outgoing roles, sides ignored, as
    `hartflow.hybrid.structure.frames_of`) and the configuration's is not among them. A node marked
    in `no_outgoing` takes no outgoing slot, one marked in `no_edges` no slot at all. The `top` best
    configurations per node are kept, and joint assignments are visited from the most probable down
    (each once) until one whose slots all fill (`decode_edges`) is found, or `budget` were visited,
    or the next costs more than `max_cost`: then None (the caller falls back to `decode_scored`). So
    several nodes are repaired at once, e.g. a noun re-roled and its slot moved from one head to
    another, where single repairs pass through states that do not fill.

    Args:
        names, logp: as for `decode_scored`.
        configs: the node configurations training shows (`configurations`).
        frames: per node, the frames its predicate takes in training, or None (no prior).
        frame_penalty: log-probability a frame outside a node's `frames` costs.
        no_outgoing: per node, whether it may not head an edge (no predicate).
        no_edges: per node, whether it may take no edge at all.
        unseen_penalty: log-probability a node's argmax counts cost where training never shows
            them.
        top: configurations kept per node.
        budget: joint assignments visited at most.
        max_cost: the most log-probability and penalties an assignment may lose against every
            node's best configuration (None: no bound); an unsure net's search, where many
            cheap alternatives never fill, stops there instead of at `budget`.
        multi_edges: as for `decode_edges`.
        needs_incoming: per node, whether training always shows its kind of node as an edge's
            target: a configuration without an incoming slot costs it `unattached_penalty`.
        crossings: the types of crossing edge pairs training shows (`crossing_types`), or None
            (no prior): an assignment whose edges cross in a type outside them costs
            `crossing_penalty` per such pair, added when it fills (it is visited again at its
            new cost, after cheaper ones).
        stats: if given, receives "cost" (log-probability and penalties lost against every
            node's best configuration), "changed" (nodes not in their best configuration) and
            "visited", and "score" (the chosen configurations' log-probability less penalties).
    """
    lp = np.asarray(logp.float() if hasattr(logp, "float") else logp, dtype=np.float64)
    n = lp.shape[0]
    if n == 0:
        return []
    n_keys, n_counts = lp.shape[1], lp.shape[2]
    key = (tuple(names), frozenset(configs), n_counts)
    if key not in _TABLES:
        _TABLES[key] = _Table(*key)
    tab = _TABLES[key]
    argmax = lp.argmax(-1)  # (n, K)
    scores = lp[:, np.arange(n_keys)[None, :], tab.counts].sum(-1)  # (n, A)
    for i in range(n):
        if frames is not None and frames[i] is not None:
            scores[i] -= tab.frame_penalty(frames[i], frame_penalty)
        if no_outgoing is not None and no_outgoing[i]:
            scores[i, tab.has_out] = -np.inf
        if needs_incoming is not None and needs_incoming[i]:
            scores[i, ~tab.has_in] -= unattached_penalty
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, :top]
    ranked_scores = np.take_along_axis(scores, ranked, 1).tolist()
    own_seen = (tab.counts[None] == argmax[:, None]).all(-1).any(-1).tolist()
    choices: list[list[tuple[float, np.ndarray, np.ndarray]]] = []  # per node (cost, row, flow)
    base: list[float] = []  # per node, its best configuration's score
    for i in range(n):
        if no_edges is not None and no_edges[i]:
            empty = np.zeros(n_keys, dtype=np.int64)
            choices.append([(0.0, empty, np.zeros(len(tab.flow_id)))])
            base.append(float(lp[i][:, 0].sum()))
            continue
        pairs = zip(ranked[i].tolist(), ranked_scores[i], strict=True)
        cands = [(sc, tab.count_rows[a], tab.flow_rows[a]) for a, sc in pairs if sc > -math.inf]
        if not own_seen[i]:  # the argmax counts, a configuration training never shows
            row = argmax[i]
            frame = tab.frame(row)
            score = float(lp[i][np.arange(n_keys), row].sum()) - unseen_penalty
            if frames is not None and frames[i] is not None and frame not in frames[i]:
                score -= frame_penalty
            if needs_incoming is not None and needs_incoming[i] and not any(
                    tab.keys[j][0] == "in" for j in np.nonzero(row)[0]):  # fmt: skip
                score -= unattached_penalty
            if not (no_outgoing is not None and no_outgoing[i] and frame):
                cands.append((score, row, tab.flow(row)))
                cands.sort(key=lambda x: -x[0])
        if not cands:
            return None
        choices.append([(cands[0][0] - s, r, f) for s, r, f in cands[:top]])
        base.append(cands[0][0])
    # a heap entry holds its parent's flow; its own is the parent's with node `last` moved one
    # choice down (the root's is summed): one vector operation per assignment visited
    costs = [[c for c, _, _ in ch] for ch in choices]
    steps = [[ch[k][2] - ch[k - 1][2] for k in range(1, len(ch))] for ch in choices]
    bound = math.inf if max_cost is None else max_cost
    heap: list = [(0.0, (0,) * n, 0, None, None)]  # (cost, state, last, edges, parent's flow)
    visited = 0
    while heap and visited < budget:
        cost, state, last, held, parent = heapq.heappop(heap)
        visited += 1
        if held is not None:  # a filling assignment, back at its cost with the crossing penalty
            if stats is not None:
                stats.update(cost=cost, changed=sum(k > 0 for k in state), visited=visited,
                             score=sum(base) - cost)  # fmt: skip
            return list(held)
        if parent is None:
            flow = sum(choices[i][0][2] for i in range(n))
        else:
            flow = parent + steps[last][state[last] - 1]
        if not flow.any():
            slots = [NodeSlots() for _ in range(n)]
            for i, k in enumerate(state):
                row = choices[i][k][1]
                for j in np.nonzero(row)[0]:
                    d, slot = tab.keys[j]
                    (slots[i].out if d == "out" else slots[i].inc)[slot] += int(row[j])
            edges, unfilled = decode_edges(slots, multi_edges=multi_edges)
            unseen = 0 if crossings is None else len(crossing_pairs(edges) - crossings)
            if not unfilled and unseen:
                penalized = cost + crossing_penalty * unseen
                if penalized <= bound:
                    heapq.heappush(heap, (penalized, state, last, tuple(edges), None))
            elif not unfilled:
                if stats is not None:
                    stats.update(cost=cost, changed=sum(k > 0 for k in state), visited=visited,
                                 score=sum(base) - cost)  # fmt: skip
                return edges
        for i in range(last, n):  # each assignment is reached once: raise positions >= last
            k = state[i] + 1
            if k < len(costs[i]):
                nxt_cost = cost + (costs[i][k] - costs[i][k - 1])
                if nxt_cost <= bound:  # past `max_cost`: never visited
                    heapq.heappush(heap, (nxt_cost, (*state[:i], k, *state[i + 1 :]), i, None,
                                          flow))  # fmt: skip
    if stats is not None:
        stats.update(visited=visited)
    return None
