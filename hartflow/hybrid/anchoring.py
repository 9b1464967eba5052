"""Where a constant stands when more than one word could carry it, induced from training pairs.

The codec ties a constant to a word that is the constant itself (a name; SLOG's `?` to the
sentence's final `?`). Some constants have another word that training always shows with them (a
question's first word comes with `?`): the constant could stand at either, and which one decides
how local the graph is. `induce_anchoring` finds those words, generically: a word that occurs
in at least `min_count` training sentences, every one of whose forms holds the constant, and that
no training graph ever makes a node. `reanchor` then moves a constant node to whichever of its
candidate positions gives the graph the node configurations (`hartflow.data.slots`) seen most in
the training graphs that have no such choice: the choice is made so that the graph looks like the
unambiguous ones. A graph's rendered form does not depend on where a constant stands, so every
round trip still holds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from hartflow.data.logical_form import Edge, Graph, Node
from hartflow.data.slots import configuration, graph_slots

__all__ = ["Anchoring", "Anchors", "induce_anchoring", "load_anchors", "reanchor"]


class Anchors(dict):
    """The word → constant ties the codec uses (the HRR lexicon's, a plain dict), carrying the
    induced `Anchoring` that `parse_graph` applies after the codec (None: the codec's
    positions)."""

    def __init__(self, ties=(), anchoring: Anchoring | None = None):
        super().__init__(ties)
        self.anchoring = anchoring


def load_anchors(config: dict) -> Anchors:
    """A checkpoint config's ties and anchoring (one saved before the anchoring has none)."""
    return Anchors(config.get("anchors") or {}, Anchoring.from_json(config.get("anchoring")))


@dataclass
class Anchoring:
    """Per constant, the words that may carry it instead; and the configuration counts of the
    training graphs without a choice (what `reanchor` compares against)."""

    alternatives: dict[str, list[str]] = field(default_factory=dict)
    table: dict[tuple, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "alternatives": self.alternatives,
            "table": [[_config_json(k), v] for k, v in sorted(self.table.items(), key=str)],
        }

    @classmethod
    def from_json(cls, obj: dict | None) -> Anchoring | None:
        if not obj:
            return None
        table = {_config_key(k): int(v) for k, v in obj.get("table", [])}
        return cls({k: list(v) for k, v in obj.get("alternatives", {}).items()}, table)

    def __bool__(self) -> bool:
        return bool(self.alternatives)


def _config_json(config: tuple) -> list:
    return [[name, count] for name, count in config]


def _config_key(obj: list) -> tuple:
    return tuple((str(name), int(count)) for name, count in obj)


def _touched(graph: Graph) -> set[int]:
    """The positions some edge joins."""
    return {e.head for e in graph.edges} | {e.target for e in graph.edges}


def _candidates(graph: Graph, i: int, anchoring: Anchoring) -> list[int]:
    """Positions that could carry the constant of node i (i itself first)."""
    token = graph.nodes[i].constant
    words = {token, *anchoring.alternatives.get(token, ())}
    touched = _touched(graph)
    free = [
        j for j, w in enumerate(graph.words)
        if j != i and w in words and graph.nodes[j] == Node() and j not in touched
    ]  # fmt: skip
    return [i, *free]


def _move(graph: Graph, i: int, j: int) -> Graph:
    """The graph with node i's content and edges moved to position j."""
    nodes = list(graph.nodes)
    nodes[j], nodes[i] = nodes[i], Node()

    def at(p: int) -> int:
        return j if p == i else p

    edges = tuple(Edge(at(e.head), e.role, at(e.target)) for e in graph.edges)
    return replace(graph, nodes=tuple(nodes), edges=edges)


def _score(graph: Graph, table: dict[tuple, int]) -> tuple[int, float]:
    """(unseen configurations, − Σ log counts of the seen ones): lower is more like training."""
    unseen, logs = 0, 0.0
    for s in graph_slots(graph):
        config = configuration(s)
        if not config:
            continue
        count = table.get(config, 0)
        if count:
            logs += math.log(count)
        else:
            unseen += 1
    return unseen, -logs


def reanchor(graph: Graph | None, anchoring: Anchoring | None) -> Graph | None:
    """`graph` with each movable constant at the candidate position that makes its
    configurations most like the training graphs' (the codec's position wins ties)."""
    if graph is None or not anchoring:
        return graph
    for i, node in enumerate(graph.nodes[: len(graph.words)]):
        if node.constant is None or node.constant not in anchoring.alternatives:
            continue
        options = _candidates(graph, i, anchoring)
        if len(options) < 2:
            continue
        moved = [graph if j == i else _move(graph, i, j) for j in options]
        best = min(range(len(moved)), key=lambda k: (_score(moved[k], anchoring.table), k))
        graph = moved[best]
    return graph


def induce_anchoring(
    pairs: Sequence[tuple[Sequence[str], Sequence[str]]],
    graphs: Sequence[Graph | None],
    *,
    min_count: int = 20,
) -> Anchoring:
    """The words that may carry a constant instead of the codec's word, from training pairs and
    their graphs (see the module's docstring); empty where there are none."""
    with_constant: dict[str, Counter] = {}
    word_count: Counter = Counter()
    nodes: set[str] = set()
    constants: set[str] = set()
    for (words, _), g in zip(pairs, graphs, strict=True):
        if g is None:
            continue
        present = set(words)
        word_count.update(present)
        held = {n.constant for n in g.nodes if n.constant is not None}
        constants |= held
        for c in held:
            with_constant.setdefault(c, Counter()).update(present)
        touched = _touched(g)
        nodes.update(g.words[i] for i, n in enumerate(g.nodes[: len(g.words)])
                     if n != Node() or i in touched)  # fmt: skip
    alternatives = {}
    for c in sorted(constants):
        words = sorted(
            w for w, k in with_constant[c].items()
            if k == word_count[w] >= min_count and w not in nodes and w != c
        )  # fmt: skip
        if words:
            alternatives[c] = words
    if not alternatives:
        return Anchoring()
    table: Counter = Counter()
    for g in _unambiguous(graphs, alternatives):
        table.update(configuration(s) for s in graph_slots(g))
    table.pop((), None)
    return Anchoring(alternatives, dict(table))


def _unambiguous(graphs: Iterable[Graph | None], alternatives: dict[str, list[str]]):
    for g in graphs:
        if g is None:
            continue
        if any(n.constant in alternatives for n in g.nodes):
            continue
        yield g
