"""Position-indexed logical forms for the structure refiner: vocabulary, tensors, decoding.

Each training pair's logical form becomes a graph over its sentence (`hartflow.data.logical_form`)
and that graph becomes per-position labels: predicate token, node kind, constant token, and per
edge role the target position (or none). The memory's evidence is encoded the same way: each
word's induced translation (the HRR lexicon) and the memory's best hypothesis, parsed into a graph
where it parses. A predicted graph is decoded back to the exact string with the conjunct order
induced from the training pairs; an ill-formed prediction decodes to None (a wrong answer).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import torch

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
from hartflow.data.slots import (
    decode_scored,
    decode_search,
    graph_slots,
    has_multi_edges,
    parse_slot_name,
    slot_name,
)
from hartflow.errors import DataError, HartFlowError
from hartflow.hybrid.priors import (  # noqa: F401  (re-exported: the priors' earlier home)
    attached_kinds,
    frames_of,
    left_kinds,
    node_kind,
    predicate_frames,
    single_constants,
    word_kinds,
    word_presence,
)
from reasoner.structure import NONE, PAD, UNK

Tokens = tuple[str, ...]
RESERVED = ("<pad>", "<none>", "<unk>")  # ids PAD, NONE, UNK
IGNORE = -100


def parse_graph(
    words: Sequence[str], output: Sequence[str], anchors: dict[str, str] | None = None
) -> Graph | None:
    """The graph of a logical form over `words`, or None where the form does not parse/fit.
    `anchors` (word → token, induced from training pairs) ties a constant to the word that
    translates to it where no word is the constant itself (a renamed data set)."""
    return graph_or_error(words, output, anchors)[0]


def graph_or_error(
    words: Sequence[str], output: Sequence[str], anchors: dict[str, str] | None = None
) -> tuple[Graph | None, str | None]:
    """(graph, None), or (None, why the form does not parse or fit the sentence). Where
    `anchors` carries an induced anchoring (`hartflow.hybrid.anchoring.Anchors`), a constant
    that several words could carry is moved to where the graph looks most like training's."""
    from hartflow.hybrid.anchoring import reanchor

    try:
        graph = to_graph(parse_form(" ".join(output)), words, anchors=anchors)
    except DataError as e:
        return None, str(e)
    return reanchor(graph, getattr(anchors, "anchoring", None)), None


def is_structured(pairs: Sequence[tuple[Tokens, Tokens]]) -> bool:
    """Whether the outputs are logical forms over their inputs' positions (COGS, SLOG: at least
    99 % parse, and some name a position): then the structure refiner applies."""
    if not pairs:
        return False
    from hartflow.zeroshot.lexicon import induce_lexicon

    anchors = induce_lexicon(pairs)
    graphs = [parse_graph(c, o, anchors) for c, o in pairs]
    parsed = sum(g is not None for g in graphs)
    return parsed >= 0.99 * len(pairs) and any("_" in o and "x" in o for _, o in pairs)


def augment_pairs(
    train: Sequence[tuple[Tokens, Tokens]], *, n: int, max_depth: int = 4, seed: int = 0,
    pool: int = 3,
) -> list[tuple[Tokens, Tokens]]:
    """`n` recombined training pairs (`hartflow.data.recombine`): typed spans of the training
    graphs substituted by others of their type, nested up to `max_depth` deep, kept from
    `pool * n` candidates weighted toward rare node configurations (`pool` 1: as drawn)."""
    from hartflow.data.recombine import recombine
    from hartflow.zeroshot.lexicon import induce_lexicon

    anchors = induce_lexicon(train)
    graphs = [g for g in (parse_graph(c, o, anchors) for c, o in train) if g is not None]
    made = recombine(graphs, n=n, max_depth=max_depth, anchors=anchors, seed=seed, pool=pool)
    return [(tuple(s.split()), tuple(f.split())) for s, f in made]


def augment_task(
    task: str | None = None,
    *,
    data_dir: str | None = None,
    train: str | None = None,
    n: int = 1000,
    max_depth: int = 4,
    seed: int = 0,
    pool: int = 3,
) -> list[tuple[str, str]]:
    """`n` recombined (sentence, logical form) pairs from a task's training file (or a user's);
    no generalisation or test file is read."""
    from hartflow.data import tokens, training_examples

    examples = training_examples(task, data_dir=data_dir, train=train)
    pairs = [(tuple(tokens(e.input)), tuple(tokens(e.output))) for e in examples]
    if not is_structured(pairs):
        raise HartFlowError(
            "the training outputs are not logical forms over their inputs' positions; "
            "recombination needs COGS-style forms (x _ N)"
        )
    made = augment_pairs(pairs, n=n, max_depth=max_depth, seed=seed, pool=pool)
    return [(" ".join(c), " ".join(o)) for c, o in made]


@dataclass
class StructureVocab:
    """Input words, output tokens (predicates, constants, translations) and edge roles."""

    words: list[str]
    tokens: list[str]
    roles: list[str]  # role paths joined by " . "
    slots: list[str] = field(default_factory=list)  # slot keys (`slot_name`); [] = pointers
    multi_edges: bool = False  # whether training joins a head to a target by two edges
    configs: list = field(default_factory=list)  # node configurations training shows (prior)
    # per input word, how often training makes it a node without / with a predicate (prior)
    presence: dict[str, list[int]] = field(default_factory=dict)
    # per output token, how training shows it: bit 0 as a predicate, bit 1 as a constant
    token_class: list[int] = field(default_factory=list)
    # per relational predicate, the frames (outgoing roles) training shows it with (prior)
    frames: dict[str, list[list[str]]] = field(default_factory=dict)
    # whether training never puts one constant on two nodes of a graph (`single_constants`)
    single_constants: bool = False
    # per input word, the kinds of node training makes of it (`node_kind` codes; `word_kinds`)
    kinds: dict[str, list[int]] = field(default_factory=dict)
    # the kinds of node training always shows as an edge's target (`attached_kinds`)
    attached: list[int] = field(default_factory=list)
    # the types of crossing edge pairs training shows (`crossing_types`); None: no prior
    crossings: list[list] | None = None
    # per word, the kind decisions (unary + 2 · definite) of the nodes right after it that have a
    # predicate, in training (`left_kinds`)
    left_kinds: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.word_id = {w: i for i, w in enumerate(self.words)}
        self.token_id = {t: i for i, t in enumerate(self.tokens)}
        self.role_id = {r: i for i, r in enumerate(self.roles)}
        self.slot_id = {k: i for i, k in enumerate(self.slots)}
        self.config_set = {tuple((str(a), int(b)) for a, b in c) for c in self.configs} or None
        self.frame_set = {p: {tuple(f) for f in fs} for p, fs in self.frames.items()}
        self.crossing_set = None if self.crossings is None else {tuple(c) for c in self.crossings}

    @classmethod
    def build(cls, pairs: Sequence[tuple[Tokens, Tokens]], graphs: Sequence[Graph],
              lexicon: dict[str, str], *, slots: bool = False) -> StructureVocab:  # fmt: skip
        # first-occurrence order, never alphabetical: a renamed data set gets the same ids, so
        # training and answers are the same up to the renaming
        words = list(dict.fromkeys(w for c, _ in pairs for w in c))
        tokens: dict[str, None] = {}
        roles: dict[str, None] = {}
        for g in graphs:
            for n in g.nodes:
                tokens.update(dict.fromkeys(t for t in (n.pred, n.constant) if t is not None))
            roles.update(dict.fromkeys(" . ".join(e.role) for e in g.edges))
        tokens.update(dict.fromkeys(lexicon[w] for w in words if w in lexicon))
        keys: dict[str, None] = {}
        if slots:
            for g in graphs:
                for node in graph_slots(g):
                    keys.update(dict.fromkeys(slot_name("out", k) for k in node.out))
                    keys.update(dict.fromkeys(slot_name("in", k) for k in node.inc))
        token_list = [*RESERVED, *tokens]
        seen = {t: 0 for t in token_list}
        for g in graphs:
            for n in g.nodes:
                if n.pred is not None:
                    seen[n.pred] |= 1
                if n.constant is not None:
                    seen[n.constant] |= 2
        return cls([*RESERVED, *words], token_list, list(roles), list(keys),
                   has_multi_edges(graphs), token_class=[seen[t] for t in token_list])  # fmt: skip

    def word(self, w: str) -> int:
        return self.word_id.get(w, UNK)

    def token(self, t: str | None) -> int:
        return NONE if t is None else self.token_id.get(t, UNK)

    def to_json(self) -> dict:
        return {"words": self.words, "tokens": self.tokens, "roles": self.roles,
                "slots": self.slots, "multi_edges": self.multi_edges,
                "configs": [[list(x) for x in c] for c in self.configs],
                "presence": self.presence, "token_class": self.token_class,
                "frames": self.frames, "single_constants": self.single_constants,
                "kinds": self.kinds, "attached": self.attached,
                "crossings": self.crossings, "left_kinds": self.left_kinds}  # fmt: skip

    @classmethod
    def from_json(cls, obj: dict) -> StructureVocab:
        return cls(list(obj["words"]), list(obj["tokens"]), list(obj["roles"]),
                   list(obj.get("slots", [])), bool(obj.get("multi_edges", False)),
                   list(obj.get("configs", [])), dict(obj.get("presence", {})),
                   list(obj.get("token_class", [])), dict(obj.get("frames", {})),
                   bool(obj.get("single_constants", False)),
                   dict(obj.get("kinds", {})), list(obj.get("attached", [])),
                   obj.get("crossings"), dict(obj.get("left_kinds", {})))  # fmt: skip

    def unseen_frames(self, graph: Graph) -> int:
        """How many of `graph`'s nodes have a relational predicate (`predicate_frames`) that
        training shows, but never with this node's frame (`frames_of`); 0 without the prior."""
        if not self.frame_set:
            return 0
        return sum(pred in self.frame_set and frame not in self.frame_set[pred]
                   for pred, frame in frames_of(graph))  # fmt: skip

    def unseen_kinds(self, graph: Graph) -> int:
        """How many of `graph`'s words training shows, but never as this kind of node
        (`node_kind`: a noun's word read as a constant, a verb's given a unary conjunct); 0
        without the prior."""
        if not self.kinds:
            return 0
        return sum(w in self.kinds and node_kind(node) not in self.kinds[w]
                   for w, node in zip(graph.words, graph.nodes, strict=False))  # fmt: skip

    def presence_bias(self, alpha: float = 1.0) -> torch.Tensor | None:
        """(2, n_words) log-odds that a word's node has no predicate (row 0) and no constant (row
        1), read from `presence` (add-`alpha` counts; 0 for a word training never shows), or None
        without counts. Added to the predicate and constant heads' "none" at answer time, it is
        the training pairs' word prior: a word that training always makes a predicate keeps one
        in a context training never shows."""
        if not self.presence:
            return None
        bias = torch.zeros(2, len(self.words))
        for w, counts in self.presence.items():
            if w in self.word_id:
                for row in range(2):
                    without, with_ = counts[2 * row], counts[2 * row + 1]
                    bias[row, self.word_id[w]] = math.log((without + alpha) / (with_ + alpha))
        return bias


@dataclass
class GraphArrays:
    """A graph as per-position ids: pred, kind, const (L,), edges (L, R) (-1 = no edge) and
    slot counts (L, K) (K = the vocabulary's slot keys; 0 columns without slots)."""

    pred: torch.Tensor
    kind: torch.Tensor
    const: torch.Tensor
    edges: torch.Tensor
    edges_known: bool = True  # False for a lambda form (edges to variables, not positions)
    slots: torch.Tensor | None = None


def slot_count_classes(graphs: Iterable[Graph], at_least: int = 4) -> int:
    """How many count classes a slot needs (0 … the largest count any of `graphs` shows), at
    least `at_least`."""
    most = max((c for g in graphs for node in graph_slots(g) for counts in (node.out, node.inc)
                for c in counts.values()), default=0)  # fmt: skip
    return max(at_least, most + 1)


def graph_arrays(graph: Graph, vocab: StructureVocab, *, strict: bool = True) -> GraphArrays:
    """Per-position ids of a graph (positions beyond the words, lambda variables, dropped).
    A second edge of one role on one head is an error when `strict` (a training target), else
    dropped (a memory hypothesis may be malformed)."""
    n, R = len(graph.words), len(vocab.roles)
    nodes = graph.nodes[:n]
    pred = torch.tensor([vocab.token(v.pred) for v in nodes], dtype=torch.long)
    kind = torch.tensor([int(v.unary) + 2 * int(v.definite) for v in nodes], dtype=torch.long)
    const = torch.tensor([vocab.token(v.constant) for v in nodes], dtype=torch.long)
    edges = torch.full((n, R), -1, dtype=torch.long)
    known = True
    for e in graph.edges:
        r = vocab.role_id.get(" . ".join(e.role))
        if e.head >= n or e.target >= n:
            known = False
            continue
        if r is None:
            continue  # a role never seen in training cannot be predicted anyway
        if edges[e.head, r] >= 0 and edges[e.head, r] != e.target:
            if not strict:
                continue
            raise HartFlowError(
                f"position {e.head} has two {vocab.roles[r]!r} edges; the structure refiner "
                "predicts one target per head and role"
            )
        edges[e.head, r] = e.target
    slots = torch.zeros((n, len(vocab.slots)), dtype=torch.long)
    if vocab.slots:
        for i, node in enumerate(graph_slots(graph)):
            for direction, counts in (("out", node.out), ("in", node.inc)):
                for key, c in counts.items():
                    j = vocab.slot_id.get(slot_name(direction, key))
                    if j is not None:  # a slot never seen in training cannot be predicted
                        slots[i, j] = c
    return GraphArrays(pred, kind, const, edges, known, slots)


@dataclass
class StructureItem:
    """One example's tensors: words, evidence, labels (None at test time)."""

    words: torch.Tensor  # (L,)
    lex: torch.Tensor  # (L,)
    hyp: GraphArrays | None
    hyp_weight: float
    labels: GraphArrays | None
    lex_class: torch.Tensor | None = None  # (L,) the translation's class (`token_class`)


def make_item(
    words: Tokens,
    vocab: StructureVocab,
    *,
    translations: dict[str, str],
    hypothesis: tuple[Tokens, str] | None,
    answer: Tokens | None,
    anchors: dict[str, str] | None = None,
) -> StructureItem:
    """Tensors of one example. `hypothesis` = (logical form tokens, source) of the memory's best
    hypothesis; `translations` = the HRR lexicon's reading of each word."""
    ids = torch.tensor([vocab.word(w) for w in words], dtype=torch.long)
    lex = torch.tensor([vocab.token(translations.get(w)) for w in words], dtype=torch.long)
    lex_class = None
    if vocab.token_class:
        lex_class = torch.tensor([vocab.token_class[t] for t in lex.tolist()], dtype=torch.long)
    hyp, weight = None, 0.0
    if hypothesis is not None:
        g = parse_graph(words, hypothesis[0], anchors)
        if g is not None and not g.lambdas:
            hyp = graph_arrays(g, vocab, strict=False)
            weight = 1.0 if hypothesis[1] == "answer" else 0.5
    labels = None
    if answer is not None:
        g = parse_graph(words, answer, anchors)
        if g is None:
            raise HartFlowError(f"training output is not a logical form: {' '.join(answer)[:60]}")
        labels = graph_arrays(g, vocab)
    return StructureItem(ids, lex, hyp, weight, labels, lex_class)


def _corrupt(hyp: GraphArrays, n: int, g: torch.Generator) -> GraphArrays:
    """A structural edit of a hypothesis: retarget or drop an edge, move a predicate, or cut the
    hypothesis off after a random position (a shallower skeleton's partial answer)."""
    pred, edges = hyp.pred.clone(), hyp.edges.clone()
    kind = int(torch.randint(4, (1,), generator=g))
    if kind == 3:
        cut = int(torch.randint(n, (1,), generator=g))
        pred, const, kinds = pred.clone(), hyp.const.clone(), hyp.kind.clone()
        pred[cut:], const[cut:], kinds[cut:], edges[cut:] = NONE, NONE, 0, -1
        edges[edges >= cut] = -1
        slots = None if hyp.slots is None else hyp.slots.clone()
        if slots is not None:
            slots[cut:] = 0
        return GraphArrays(pred, kinds, const, edges, hyp.edges_known, slots)
    present = (edges >= 0).nonzero()
    if kind < 2 and len(present):
        i, r = present[int(torch.randint(len(present), (1,), generator=g))].tolist()
        edges[i, r] = -1 if kind == 1 else int(torch.randint(n, (1,), generator=g))
    elif n > 1:
        a, b = torch.randperm(n, generator=g)[:2].tolist()
        pred[a], pred[b] = pred[b].clone(), pred[a].clone()
    slots = hyp.slots
    if slots is not None and slots.shape[1] and kind < 3:  # a slot count off by one
        slots = slots.clone()
        i = int(torch.randint(n, (1,), generator=g))
        j = int(torch.randint(slots.shape[1], (1,), generator=g))
        slots[i, j] = (slots[i, j] + 1) % 2 if slots[i, j] < 2 else slots[i, j] - 1
    return GraphArrays(pred, hyp.kind, hyp.const, edges, hyp.edges_known, slots)


def collate(
    items: Sequence[StructureItem],
    n_roles: int,
    *,
    n_slots: int = 0,
    corruption: float = 0.0,
    word_dropout: float = 0.0,
    generator: torch.Generator | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """(batch, labels) padded to the longest input; labels None when items have none.

    With `word_dropout` > 0 each word is replaced by <unk> with that probability (training only),
    so decisions lean on the context and the evidence rather than on a rare word's embedding.
    With `corruption` > 0 each hypothesis is, with that probability, dropped (1 in 4) or given
    one to three structural edits (`_corrupt`), so training meets wrong hypotheses to overrule.
    """
    B, L, R = len(items), max(len(it.words) for it in items), n_roles
    batch = {
        "words": torch.full((B, L), PAD, dtype=torch.long),
        "lex": torch.full((B, L), NONE, dtype=torch.long),
        "hyp_pred": torch.full((B, L), NONE, dtype=torch.long),
        "hyp_const": torch.full((B, L), NONE, dtype=torch.long),
        "hyp_kind": torch.zeros((B, L), dtype=torch.long),
        "hyp_edges": torch.full((B, L, R), -1, dtype=torch.long),
        "hyp_weight": torch.zeros(B),
        "lex_class": torch.zeros((B, L), dtype=torch.long),
    }
    if n_slots:
        batch["hyp_slots"] = torch.full((B, L, n_slots), -1, dtype=torch.long)
    has_labels = all(it.labels is not None for it in items)
    labels = None
    if has_labels:
        labels = {
            "pred": torch.full((B, L), IGNORE, dtype=torch.long),
            "kind": torch.full((B, L), IGNORE, dtype=torch.long),
            "const": torch.full((B, L), IGNORE, dtype=torch.long),
            "edges": torch.full((B, L, R), IGNORE, dtype=torch.long),
        }
        if n_slots:
            labels["slots"] = torch.full((B, L, n_slots), IGNORE, dtype=torch.long)
    for b, it in enumerate(items):
        n = len(it.words)
        words = it.words
        if word_dropout > 0 and generator is not None:
            drop = torch.rand(n, generator=generator) < word_dropout
            words = torch.where(drop, UNK, words)
        batch["words"][b, :n] = words
        batch["lex"][b, :n] = it.lex
        if it.lex_class is not None:
            batch["lex_class"][b, :n] = it.lex_class
        hyp, weight = it.hyp, it.hyp_weight
        corrupt = hyp is not None and corruption > 0 and generator is not None
        if corrupt and float(torch.rand(1, generator=generator)) < corruption:
            if float(torch.rand(1, generator=generator)) < 0.25:
                hyp, weight = None, 0.0
            else:
                for _ in range(int(torch.randint(1, 4, (1,), generator=generator))):
                    hyp = _corrupt(hyp, n, generator)
        if hyp is not None:
            batch["hyp_pred"][b, :n] = hyp.pred
            batch["hyp_const"][b, :n] = hyp.const
            batch["hyp_kind"][b, :n] = hyp.kind
            batch["hyp_edges"][b, :n] = hyp.edges
            batch["hyp_weight"][b] = weight
            if n_slots and hyp.slots is not None:
                batch["hyp_slots"][b, :n] = hyp.slots
        if labels is not None:
            y = it.labels
            labels["pred"][b, :n] = y.pred
            labels["kind"][b, :n] = y.kind
            labels["const"][b, :n] = y.const
            if y.edges_known:
                labels["edges"][b, :n] = torch.where(y.edges >= 0, y.edges, L)
                if n_slots:
                    labels["slots"][b, :n] = y.slots
    return batch, labels


# the joint decoder's settings (`hartflow.data.slots.decode_search`): a frame training never
# shows a predicate with, or a configuration training never shows, costs as much as this much
# log-probability; configurations kept per node. Chosen on one SLOG ensemble's generalisation
# answers among frame penalties 2, 4, 8, 16, 1000, configuration penalties 2, 4, 8 and 8 or 16
# per node, then measured on other ensembles (README).
FRAME_PENALTY = 8.0
UNSEEN_PENALTY = 8.0
SEARCH_TOP = 16
FALLBACK_COST = 30.0  # the "cost" feature of a graph the search could not decode
UNATTACHED_PENALTY = 8.0  # a node of a kind training always attaches, left unattached
CROSSING_PENALTY = 8.0  # per pair of edges crossing in a way training never shows
# ... and the search's bound: a graph that costs more would rank below the fallback's anyway


def decode_graph(
    words: Tokens,
    decided: dict[str, torch.Tensor],
    vocab: StructureVocab,
    *,
    stats: dict | None = None,
) -> Graph:
    """The graph of one row of decisions (`reasoner.structure.decisions`, row-sliced and cut to
    the sentence's length). With slots and the configuration prior, the edges come from a joint
    search over the nodes' configurations (`hartflow.data.slots.decode_search`: configurations
    training shows, frames training shows each predicate with); where it finds none that fills,
    from the slot distributions repaired one count at a time (`decode_scored`). Edges that would
    leave a node without a predicate are not placed, so the graph always renders. Where training
    never puts one constant on two nodes (`StructureVocab.single_constants`) and the graph does,
    one of them keeps it and the others lose their edges: the most probable choice.

    `stats` receives "repairs" (nodes not in their most probable configuration, or the repairs
    applied), "cost" (log-probability the decoder gave up for a graph that fills, with its
    penalties; `FALLBACK_COST` without the search) and "searched"."""
    n = len(words)

    def tok(i: int) -> str | None:
        return None if i in (PAD, NONE, UNK) else vocab.tokens[i]

    nodes = []
    kinds, preds, consts = (decided[k][:n].tolist() for k in ("kind", "pred", "const"))
    for k, p, c in zip(kinds, preds, consts, strict=True):
        pred = tok(p)
        if pred is None:
            k = 0  # a unary conjunct or definite marker needs a predicate: none without one
        nodes.append(Node(pred, bool(k & 1), bool(k & 2), tok(c)))
    if "slot_logp" not in decided:
        edges = []
        for i in range(n):
            for r, target in enumerate(decided["edges"][i].tolist()):
                if target < n:  # the batch's padded length (or more) means "no edge"
                    edges.append(Edge(i, tuple(vocab.roles[r].split(" . ")), target))
        return _seen_kinds(_filled(words, nodes, edges, decided, tok, either=False), decided,
                           vocab)  # fmt: skip
    if vocab.config_set:
        found = _searched(words, nodes, decided, vocab, tok)
        if found is not None:
            graph, got = found
            if stats is not None:
                stats.update(repairs=got["changed"], cost=got["cost"], searched=1)
            return _seen_kinds(graph, decided, vocab)
    logp = decided["slot_logp"][:n].tolist()
    outgoing = [j for j, name in enumerate(vocab.slots) if parse_slot_name(name)[0] == "out"]
    for i, node in enumerate(nodes):  # no outgoing slot on a node without a predicate
        if node.pred is None:
            for j in outgoing:
                logp[i][j] = [0.0] + [float("-inf")] * (len(logp[i][j]) - 1)
    got: dict = {}
    edges = decode_scored(vocab.slots, logp, stats=got, multi_edges=vocab.multi_edges,
                          configs=vocab.config_set)  # fmt: skip
    if stats is not None:
        stats.update(got, cost=FALLBACK_COST, searched=0)
    return _seen_kinds(_filled(words, nodes, edges, decided, tok), decided, vocab)


def _seen_kinds(graph: Graph, decided: dict[str, torch.Tensor], vocab: StructureVocab) -> Graph:
    """The kind priors as a constraint on the kind decision (unary conjunct, definite marker) of
    a node with a predicate: it must make the node a kind its word shows in training
    (`StructureVocab.kinds`: a noun that always has a conjunct or a marker keeps one deep in a
    sentence longer than training's), and be one that training shows after the word on its left
    (`StructureVocab.left_kinds`: what a determiner says). Where the decision breaks one, the
    likeliest decision that keeps both is taken, else the likeliest that keeps the word's own.
    Its predicate and constant stay as decided."""
    if not (vocab.kinds or vocab.left_kinds) or "kind_logp" not in decided:
        return graph
    nodes = list(graph.nodes)
    for i, (w, node) in enumerate(zip(graph.words, graph.nodes, strict=False)):
        if node.pred is None:
            continue  # a unary conjunct or a definite marker needs a predicate
        own = vocab.kinds.get(w)
        left = vocab.left_kinds.get(graph.words[i - 1]) if i else None
        logp = [float(x) for x in decided["kind_logp"][i]]
        made = [Node(node.pred, bool(k & 1), bool(k & 2), node.constant) for k in range(len(logp))]
        by_word = [k for k, m in enumerate(made) if not own or node_kind(m) in own]
        both = [k for k in by_word if not left or k in left]
        if int(node.unary) + 2 * int(node.definite) in both:
            continue
        options = both or by_word
        if options:
            nodes[i] = made[max(options, key=lambda k: logp[k])]
    return replace(graph, nodes=tuple(nodes))


def _searched(words: Tokens, nodes: list[Node], decided: dict[str, torch.Tensor],
              vocab: StructureVocab, tok) -> tuple[Graph, dict] | None:  # fmt: skip
    """`decode_graph`'s joint search, and the single-constant repair: (graph, search stats), or
    None where the search finds no configurations that fill."""
    n = len(words)
    logp = decided["slot_logp"][:n]
    attached = set(vocab.attached)

    def attempt(blank: set[int]) -> tuple[Graph, dict] | None:
        kept = [Node() if i in blank else node for i, node in enumerate(nodes)]
        got: dict = {}
        edges = decode_search(
            vocab.slots, logp, vocab.config_set,
            frames=[vocab.frame_set.get(x.pred) if x.pred else None for x in kept],
            frame_penalty=FRAME_PENALTY, no_outgoing=[x.pred is None for x in kept],
            no_edges=[i in blank for i in range(n)], unseen_penalty=UNSEEN_PENALTY,
            top=SEARCH_TOP, max_cost=FALLBACK_COST, multi_edges=vocab.multi_edges, stats=got,
            needs_incoming=[i not in blank and node_kind(x) in attached
                            for i, x in enumerate(kept)],
            unattached_penalty=UNATTACHED_PENALTY,
            crossings=vocab.crossing_set, crossing_penalty=CROSSING_PENALTY,
        )  # fmt: skip
        return None if edges is None else (_filled(words, kept, edges, decided, tok), got)

    best = attempt(set())
    blank: set[int] = set()
    while best is not None and vocab.single_constants:
        where: dict[str, list[int]] = {}
        for i, node in enumerate(best[0].nodes):
            if node.constant is not None:
                where.setdefault(node.constant, []).append(i)
        repeated = next((at for at in where.values() if len(at) > 1), None)
        if repeated is None or blank.issuperset(repeated):
            break
        options = [(blank | set(repeated)) - {keep} for keep in repeated]
        tried = [(o, attempt(o)) for o in options]
        tried = [(o, t) for o, t in tried if t is not None]
        if not tried:
            break
        blank, best = max(tried, key=lambda x: x[1][1]["score"])
    return best


def _filled(words: Tokens, nodes: list[Node], edges: list[Edge],
            decided: dict[str, torch.Tensor], tok, either: bool = True) -> Graph:  # fmt: skip
    """The graph of nodes and edges: with `either`, a word is a constant or a node, never both
    (a predicate without edges gives way to its constant); an edge's target without content
    takes its likeliest one."""
    n = len(words)
    nodes = list(nodes)
    heads = {e.head for e in edges}
    for i, node in enumerate(nodes):  # a word is a constant or a node, never both
        if either and node.constant is not None and node.pred is not None:
            if i in heads:
                nodes[i] = Node(node.pred, node.unary, node.definite)
            else:
                nodes[i] = Node(constant=node.constant)
    if "const_alt" in decided:  # an edge's target stands for something: its likeliest content
        for t in sorted({e.target for e in edges if e.target < n}):
            if nodes[t].pred is None and nodes[t].constant is None:
                const_lp, pred_lp = (float(decided[f"{k}_alt_logp"][t]) for k in ("const", "pred"))
                if const_lp >= pred_lp:
                    nodes[t] = Node(constant=tok(int(decided["const_alt"][t])))
                else:
                    nodes[t] = Node(tok(int(decided["pred_alt"][t])), unary=True)
    return Graph(tuple(words), tuple(nodes), tuple(edges))


def render_graph(graph: Graph, order: ConjunctOrder | None) -> Tokens | None:
    """The answer tokens of a predicted graph (conjuncts arranged by `order`; None keeps the
    graph's own edge order), or None where the graph is ill-formed. A graph whose conjuncts
    are all missing (predicates without an edge or a unary conjunct: no form to write) is
    written with those predicates as unary conjuncts, so a prediction is always an answer."""
    try:
        return tuple(render_form(to_form(graph, order)).split())
    except ValueError:
        pass
    heads = {e.head for e in graph.edges}
    nodes = tuple(
        replace(n, unary=True) if n.pred and not (n.unary or n.definite) and i not in heads else n
        for i, n in enumerate(graph.nodes)
    )
    try:
        return tuple(render_form(to_form(replace(graph, nodes=nodes), order)).split())
    except ValueError:
        return None
