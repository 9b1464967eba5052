"""New training pairs by recombining training pairs: typed span substitution over their graphs.

Every node of a training graph has a **span**: the node, every node it reaches by edges, and the
words between them; when the span's first node is not the node itself (a clause whose subject
precedes its verb), the function words before that first node belong to the span too (`that`
before an embedded clause). A span is **substitutable** when it is contiguous (every node inside
belongs to it) and closed (the only edges between inside and outside enter its root). Its
**type** is induced from the graph alone, never named: the root's node signature (has a
predicate, unary conjunct, definite marker, constant) and the span's first word when that word
is not the root (so `that`-clauses are one type, and a noun phrase with or without modifiers is
another). Replacing a span by another span of its type from any training pair gives a new
sentence and graph: positions re-indexed, the edges that entered the old root now enter the new
one, and the form rendered by the codec with the conjunct order induced from training.

`recombine` samples pairs uniformly over depth (1..max_depth successive substitutions, each one
inside the span the previous one inserted, so modifiers and clauses nest deeper) and over the
places a type occurs (recipient span, then donor span of its type, uniformly). Sampled that way,
the pairs repeat what the training graphs already show most: a type that occurs in many places
(a phrase without a head above it) yields many pairs whose nodes all look like training's, and
the new combinations (a modifier on a node whose role training never gives a modifier) stay
rare. So by default (`pool` > 1) it draws `pool` times as many candidates and keeps `n` of them
weighted toward what training shows least: a candidate's weight is one over one plus the number
of training graphs that show its rarest node configuration (the node's incoming and outgoing
edges by role and side, `hartflow.data.slots.configuration`), so a candidate with a combination
training never shows is kept far more often than one made only of common ones (Yao & Koller
2024: recombinations spread over structures beat ones sampled like the training set). Every
returned pair round-trips through the codec (`to_graph(parse_form(form), words)` gives the same
graph). Only training pairs are read.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
from hartflow.data.slots import configuration, graph_slots
from hartflow.errors import DataError

__all__ = ["Span", "recombine", "spans", "substitute"]


@dataclass(frozen=True)
class Span:
    """Positions lo..hi (inclusive) of a graph, rooted at `root`, with its induced `type`."""

    lo: int
    hi: int
    root: int
    type: tuple


def _is_node(graph: Graph, i: int, touched: set[int]) -> bool:
    return graph.nodes[i] != Node() or i in touched


def spans(graph: Graph) -> list[Span]:
    """The substitutable spans of a graph (see the module docstring); none for lambda forms.
    A span without incoming edges (the whole sentence's root) is left out."""
    if graph.lambdas:
        return []
    n = len(graph.words)
    touched = {e.head for e in graph.edges} | {e.target for e in graph.edges}
    is_node = [_is_node(graph, i, touched) for i in range(n)]
    out: dict[int, list[int]] = defaultdict(list)
    has_in = set()
    for e in graph.edges:
        out[e.head].append(e.target)
        has_in.add(e.target)
    found = []
    for v in range(n):
        if not is_node[v] or v not in has_in:
            continue
        inside, todo = {v}, [v]
        while todo:
            for t in out[todo.pop()]:
                if t not in inside:
                    inside.add(t)
                    todo.append(t)
        closed = all(
            (e.head in inside) == (e.target in inside) or (e.target == v and e.head not in inside)
            for e in graph.edges
        )
        first, hi = min(inside), max(inside)
        if not closed or any(is_node[i] and i not in inside for i in range(first, hi + 1)):
            continue
        lo = first
        if first != v:  # the function words before a span's first node belong to the span
            while lo > 0 and not is_node[lo - 1]:
                lo -= 1
        node = graph.nodes[v]
        signature = (node.pred is not None, node.unary, node.definite, node.constant is not None)
        found.append(Span(lo, hi, v, (signature, graph.words[lo] if lo != v else None)))
    return found


def substitute(recipient: Graph, at: Span, donor: Graph, by: Span) -> Graph:
    """`recipient` with the span `at` replaced by the span `by` of `donor` (same type)."""
    delta = (by.hi - by.lo) - (at.hi - at.lo)

    def rmap(p: int) -> int:
        return p if p < at.lo else p + delta

    def dmap(q: int) -> int:
        return at.lo + (q - by.lo)

    words = (*recipient.words[: at.lo], *donor.words[by.lo : by.hi + 1],
             *recipient.words[at.hi + 1 :])  # fmt: skip
    nodes = (*recipient.nodes[: at.lo], *donor.nodes[by.lo : by.hi + 1],
             *recipient.nodes[at.hi + 1 : len(recipient.words)])  # fmt: skip
    inside = range(at.lo, at.hi + 1)
    edges = []
    for e in recipient.edges:
        if e.head in inside and e.target in inside:
            continue
        target = dmap(by.root) if e.target == at.root else rmap(e.target)
        edges.append(Edge(rmap(e.head), e.role, target))
    d_inside = range(by.lo, by.hi + 1)
    edges += [Edge(dmap(e.head), e.role, dmap(e.target)) for e in donor.edges
              if e.head in d_inside and e.target in d_inside]  # fmt: skip
    return Graph(tuple(words), tuple(nodes), tuple(edges))


def _round_trips(graph: Graph, form: str, anchors: Mapping[str, str] | None) -> bool:
    try:
        back = to_graph(parse_form(form), graph.words, anchors=anchors)
    except DataError:
        return False
    return back.nodes == graph.nodes and sorted(back.edges, key=_key) == sorted(
        graph.edges, key=_key
    )


def _key(e: Edge) -> tuple:
    return (e.head, e.role, e.target)


def recombine(
    graphs: Sequence[Graph],
    *,
    n: int,
    max_depth: int = 4,
    order: ConjunctOrder | None = None,
    anchors: Mapping[str, str] | None = None,
    max_len: int | None = None,
    seed: int = 0,
    pool: int = 3,
) -> list[tuple[str, str]]:
    """`n` new (sentence, logical form) pairs from training graphs by typed span substitution.

    Args:
        graphs: the training pairs' graphs (`to_graph`), their edges in string order.
        n: how many pairs to make (fewer if the graphs hold no substitutable span).
        max_depth: substitutions per pair, drawn uniformly from 1..max_depth; each after the
            first replaces a span inside the one inserted before it.
        order: the conjunct order for rendering (default: induced from `graphs`).
        anchors: word -> constant ties for the round-trip check (as for `to_graph`).
        max_len: longest sentence made (default: twice the longest training sentence).
        seed: the sampler's seed.
        pool: draw `pool * n` candidates and keep `n`, weighted toward the rarest node
            configurations (see the module docstring); 1 = keep the draws as they come.

    Returns:
        (sentence, form) pairs, each round-tripping through the codec, none a training pair.
    """
    if max_depth < 1:
        raise ValueError(f"max_depth must be >= 1, got {max_depth}")
    if pool < 1:
        raise ValueError(f"pool must be >= 1, got {pool}")
    rng = random.Random(seed)
    order = ConjunctOrder.induce(graphs) if order is None else order
    graphs = [g for g in graphs if not g.lambdas]
    places = [spans(g) for g in graphs]
    # donors by type, then by how many spans nest inside them: a donor is drawn uniformly over
    # those levels first, so structure-bearing spans are as likely as the many bare ones
    donors: dict[tuple, dict[int, list[tuple[int, Span]]]] = defaultdict(lambda: defaultdict(list))
    for gi, found in enumerate(places):
        for s in found:
            level = sum(t.lo >= s.lo and t.hi <= s.hi and t != s for t in found)
            donors[s.type][level].append((gi, s))
    types = list(donors)  # first-occurrence order: a renamed data set samples the same pairs
    if not types:
        return []
    places_of = {t: [p for level in donors[t].values() for p in level] for t in types}
    max_len = max_len or 2 * max(len(g.words) for g in graphs)
    seen = {g.words for g in graphs}
    made: list[tuple[str, str, Graph]] = []
    wanted = pool * n
    for _ in range(20 * wanted):
        if len(made) >= wanted:
            break
        depth = rng.randint(1, max_depth)
        # a place: a type uniformly, then one of its occurrences (any level) uniformly
        gi, at = rng.choice(places_of[rng.choice(types)])
        graph, region = graphs[gi], None
        for step in range(depth):
            if step:
                options = [s for s in spans(graph) if s.type in donors and region[0] <= s.lo
                           and s.hi <= region[1] and (s.lo, s.hi) != region]  # fmt: skip
                if not options:
                    break
                at = rng.choice(options)
            levels = donors[at.type]
            di, by = rng.choice(levels[rng.choice(sorted(levels))])
            new = substitute(graph, at, graphs[di], by)
            if len(new.words) > max_len:
                break
            graph, region = new, (at.lo, at.lo + by.hi - by.lo)
        if graph.words in seen:
            continue
        try:
            form = render_form(to_form(graph, order))
        except ValueError:
            continue
        if not _round_trips(graph, form, anchors):
            continue
        seen.add(graph.words)
        made.append((" ".join(graph.words), form, graph))
    if pool > 1:
        made = _rarest_first(made, graphs, n, rng)
    return [(sentence, form) for sentence, form, _ in made]


def _node_configurations(graph: Graph) -> set[tuple]:
    return {c for c in map(configuration, graph_slots(graph)) if c}


def _rarest_first(made: list, graphs: Sequence[Graph], n: int, rng: random.Random) -> list:
    """`n` of the candidates `made` (sentence, form, graph), drawn without replacement with
    weight 1 / (1 + how many of `graphs` show the candidate's rarest node configuration), in
    their drawn order."""
    if len(made) <= n:
        return made
    counts: Counter = Counter()
    for g in graphs:
        counts.update(_node_configurations(g))
    configs = [_node_configurations(g) for _, _, g in made]
    rarest = [1 + min((counts[c] for c in cs), default=max(counts.values(), default=0))
              for cs in configs]  # fmt: skip
    # weighted sampling without replacement (Efraimidis & Spirakis): the n largest u ** (1 / w),
    # here w = 1 / rarest, compared as logarithms (u ** rarest underflows)
    keys = [math.log(1.0 - rng.random()) * r for r in rarest]
    keep = sorted(sorted(range(len(made)), key=keys.__getitem__, reverse=True)[:n])
    return [made[i] for i in keep]
