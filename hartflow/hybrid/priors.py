"""What the training graphs show, read once and saved with a structure checkpoint: the priors the
decoder and the ensemble's vote hold a predicted graph to (`StructureVocab` carries them).

Each is induced from the training pairs (and their graphs), never named: how often a word is a
node with a predicate or a constant (`word_presence`), which kinds of node a word makes
(`word_kinds`) and which kind decisions follow a word (`left_kinds`), which kinds of node are
always some edge's target (`attached_kinds`), the frames a relational predicate takes
(`predicate_frames`), and whether one constant ever stands on two nodes (`single_constants`).
The crossing prior lives with the slots (`hartflow.data.slots.crossing_types`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hartflow.data.logical_form import Graph, Node

Tokens = tuple[str, ...]

__all__ = ["attached_kinds", "frames_of", "left_kinds", "node_kind", "predicate_frames",
           "single_constants", "word_kinds", "word_presence"]  # fmt: skip


def word_presence(pairs: Sequence[tuple[Tokens, Tokens]],
                  graphs: Sequence[Graph | None]) -> dict[str, list[int]]:  # fmt: skip
    """Per input word, how often its node has [no predicate, a predicate, no constant, a
    constant] over the graphs (None graphs skipped)."""
    counts: dict[str, list[int]] = {}
    for (command, _), g in zip(pairs, graphs, strict=True):
        if g is None:
            continue
        for w, node in zip(command, g.nodes, strict=False):  # then lambda variables
            row = counts.setdefault(w, [0, 0, 0, 0])
            row[node.pred is not None] += 1
            row[2 + (node.constant is not None)] += 1
    return counts


def node_kind(node: Node) -> int:
    """A node's kind as a code: 4 · has a predicate + 2 · has a constant + stands alone (a unary
    conjunct or a definite marker)."""
    return 4 * (node.pred is not None) + 2 * (node.constant is not None) + (
        node.unary or node.definite)


def word_kinds(pairs: Sequence[tuple[Tokens, Tokens]],
               graphs: Sequence[Graph | None]) -> dict[str, list[int]]:  # fmt: skip
    """Per input word, the kinds of node (`node_kind`) the graphs make of it (None graphs
    skipped): the word prior of the ensemble's vote (`StructureVocab.unseen_kinds`)."""
    found: dict[str, set[int]] = {}
    for (command, _), g in zip(pairs, graphs, strict=True):
        if g is not None:
            for w, node in zip(command, g.nodes, strict=False):  # then lambda variables
                found.setdefault(w, set()).add(node_kind(node))
    return {w: sorted(k) for w, k in found.items()}


def left_kinds(graphs: Iterable[Graph | None]) -> dict[str, list[int]]:
    """Per word, the kind decisions (unary + 2 · definite) the graphs show for the nodes with a
    predicate right after it (None graphs skipped): the decoder's left-word prior
    (`decode_graph`; a determiner decides between a unary conjunct and a definite marker)."""
    found: dict[str, set[int]] = {}
    for g in graphs:
        if g is None:
            continue
        for i in range(1, len(g.words)):
            node = g.nodes[i]
            if node.pred is not None:
                kind = int(node.unary) + 2 * int(node.definite)
                found.setdefault(g.words[i - 1], set()).add(kind)
    return {w: sorted(k) for w, k in found.items()}


def attached_kinds(graphs: Iterable[Graph | None]) -> list[int]:
    """The kinds of node (`node_kind`, 0 excluded) that the graphs with edges show always as the
    target of an edge, never unattached (a constant is always some predicate's argument where
    a graph has any edge; a lone word's graph, a primitive's meaning, has none): the decoder's
    attachment prior (`decode_graph`)."""
    attached, loose = set(), set()
    for g in graphs:
        if g is None or not g.edges:
            continue
        targets = {e.target for e in g.edges}
        for i, node in enumerate(g.nodes[: len(g.words)]):
            kind = node_kind(node)
            if kind:
                (attached if i in targets else loose).add(kind)
    return sorted(attached - loose)


def frames_of(graph: Graph) -> list[tuple[str, tuple[str, ...]]]:
    """(predicate, frame) of every node with a predicate: its frame is the sorted roles of its
    outgoing edges (role paths joined by " . ", a role repeated where it has two such edges), the
    same whichever side each target stands on."""
    roles: dict[int, list[str]] = {}
    for e in graph.edges:
        roles.setdefault(e.head, []).append(" . ".join(e.role))
    return [(node.pred, tuple(sorted(roles.get(i, ()))))
            for i, node in enumerate(graph.nodes) if node.pred is not None]  # fmt: skip


def predicate_frames(graphs: Iterable[Graph | None]) -> dict[str, list[list[str]]]:
    """Per relational predicate, the frames (`frames_of`) the graphs show it with (None graphs
    skipped): the frame prior, read from the training pairs. A predicate is relational where
    the graphs show it only through its roles, never with a unary conjunct or a definite marker
    (a verb): its roles are its meaning, so a frame it never takes is suspect. A predicate that
    does stand alone (a noun) takes its modifiers freely and has no entry."""
    found: dict[str, set[tuple[str, ...]]] = {}
    alone: set[str] = set()
    for g in graphs:
        if g is not None:
            for pred, frame in frames_of(g):
                found.setdefault(pred, set()).add(frame)
            alone.update(n.pred for n in g.nodes if n.pred is not None and (n.unary or n.definite))
    return {p: [list(f) for f in sorted(fs)] for p, fs in found.items() if p not in alone}


def single_constants(graphs: Iterable[Graph | None]) -> bool:
    """Whether no graph (None skipped) puts one constant on two of its nodes: then a predicted
    graph that does is repaired (`decode_graph`)."""
    for g in graphs:
        if g is not None:
            found = [n.constant for n in g.nodes if n.constant is not None]
            if len(found) != len(set(found)):
                return False
    return True
