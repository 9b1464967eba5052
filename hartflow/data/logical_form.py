"""COGS-style logical forms ⇄ graphs over the input's positions, exactly.

A logical form (COGS, SLOG) is a string such as

    * p4 ( x _ 4 ) ; p1 ( x _ 1 ) AND p2 . r1 ( x _ 2 , x _ 1 ) AND p2 . r2 ( x _ 2 , x _ 4 )

`parse_form` reads its syntax into a `Form` (lambda prefix, definite prefix, conjuncts); `to_graph`
turns a form and its sentence into a `Graph` over the sentence's positions: per position its
predicate, whether it has a unary conjunct, the definite marker `*`, and the constant it stands for
(a proper name, a wh-word's `?`); edges `head --role--> target` between positions. `to_form`
and `render_form` go back to the exact string, with the conjunct order given by a `ConjunctOrder`
induced from training pairs.

Only the format's syntax is known here: `LAMBDA v .`, `* … ;`, `AND`, brackets, commas, the `.`
that joins a predicate to its role path, and `x _ N` for "the N-th word". Predicates, roles and
constants are whatever tokens the data holds. A constant is tied to the position of a word that
is the constant itself, or else to the word that `anchors` (a word → constant map the caller
induces from training pairs) translates to it; a line whose constant has no such word, or whose
form does not parse, is a `DataError` with its file and line.

Lambda forms (COGS's primitives, `LAMBDA a . LAMBDA e . p . r ( e , a )`): the variable
that heads the conjuncts is the word's own node; the other variables become extra nodes after
the words (`Graph.variables` names them), so primitives share the graph type.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hartflow.errors import DataError

__all__ = [
    "Conjunct",
    "ConjunctOrder",
    "Edge",
    "Form",
    "Graph",
    "Node",
    "Term",
    "conjunct_set",
    "parse_form",
    "render_form",
    "to_form",
    "to_graph",
]

Where = tuple[str | None, int | None]  # (file, line) for error messages


# ------------------------------------------------------------------------------ syntax level
@dataclass(frozen=True)
class Term:
    """An argument: `x _ N` (index N) or a constant / lambda variable (a single token)."""

    index: int | None = None
    token: str | None = None

    def render(self) -> str:
        return f"x _ {self.index}" if self.index is not None else str(self.token)


@dataclass(frozen=True)
class Conjunct:
    """`p . r1 . r2 ( a [, b] )`: path = (p, r1, r2), one or two arguments."""

    path: tuple[str, ...]
    args: tuple[Term, ...]

    def render(self) -> str:
        return f"{' . '.join(self.path)} ( {' , '.join(a.render() for a in self.args)} )"


@dataclass(frozen=True)
class Form:
    """A parsed logical form; `bare` is a form that is one constant (a proper-name primitive)."""

    lambdas: tuple[str, ...] = ()
    definites: tuple[Conjunct, ...] = ()
    body: tuple[Conjunct, ...] = ()
    bare: str | None = None


def render_form(form: Form) -> str:
    """The exact string of a form (inverse of `parse_form`)."""
    if form.bare is not None:
        return form.bare
    parts = [f"LAMBDA {v} ." for v in form.lambdas]
    parts += [f"* {c.render()} ;" for c in form.definites]
    parts.append(" AND ".join(c.render() for c in form.body))
    return " ".join(p for p in parts if p)


class _Reader:
    """Token cursor with errors that name the file, line and the offending token."""

    def __init__(self, text: str, where: Where):
        self.toks, self.i, self.where, self.text = text.split(), 0, where, text

    def fail(self, expected: str) -> DataError:
        got = self.toks[self.i] if self.i < len(self.toks) else "the end"
        return DataError(
            f"logical form: expected {expected} at token {self.i + 1} ({got!r}) in "
            f"{self.text[:80]!r}",
            path=self.where[0],
            line=self.where[1],
        )

    def peek(self, k: int = 0) -> str | None:
        return self.toks[self.i + k] if self.i + k < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise self.fail(repr(expected) if expected else "a token")
        self.i += 1
        return tok


SYNTAX = {"(", ")", ",", ".", ";", "*", "AND", "LAMBDA", "_"}


def _term(r: _Reader) -> Term:
    if r.peek() == "x" and r.peek(1) == "_":
        r.take(), r.take()
        n = r.take()
        if not n.isdigit():
            raise r.fail("a position number after 'x _'") from None
        return Term(index=int(n))
    tok = r.peek()
    if tok is None or tok in SYNTAX:
        raise r.fail("an argument ('x _ N' or a constant)")
    return Term(token=r.take())


def _conjunct(r: _Reader) -> Conjunct:
    path = []
    while True:
        tok = r.peek()
        if tok is None or tok in SYNTAX:
            raise r.fail("a predicate")
        path.append(r.take())
        if r.peek() != ".":
            break
        r.take(".")
    r.take("(")
    args = [_term(r)]
    while r.peek() == ",":
        r.take(",")
        args.append(_term(r))
    r.take(")")
    if len(args) > 2:
        raise r.fail("at most two arguments")
    return Conjunct(tuple(path), tuple(args))


def parse_form(text: str, *, path: str | None = None, line: int | None = None) -> Form:
    """Read a logical form's syntax; `DataError` (with `path:line:`) where it does not parse."""
    r = _Reader(text, (path, line))
    if not r.toks:
        raise r.fail("a logical form")
    if len(r.toks) == 1 and r.toks[0] not in SYNTAX:
        return Form(bare=r.toks[0])
    lambdas = []
    while r.peek() == "LAMBDA":
        r.take()
        var = r.take()
        if var in SYNTAX:
            raise r.fail("a variable after LAMBDA")
        lambdas.append(var)
        r.take(".")
    definites = []
    while r.peek() == "*":
        r.take("*")
        definites.append(_conjunct(r))
        r.take(";")
    body = []
    if r.peek() is not None:
        body.append(_conjunct(r))
        while r.peek() == "AND":
            r.take("AND")
            body.append(_conjunct(r))
    if r.peek() is not None:
        raise r.fail("'AND' or the end")
    if not body and not definites:
        raise r.fail("a conjunct")
    return Form(tuple(lambdas), tuple(definites), tuple(body))


def conjunct_set(text: str) -> frozenset | None:
    """The form's conjuncts as an unordered set (definites marked), or None where it does not
    parse: the order-insensitive match of SLOG's authors compares these."""
    try:
        form = parse_form(text)
    except DataError:
        return None
    if form.bare is not None:
        return frozenset([form.bare])
    return frozenset(
        [*(f"LAMBDA {v}" for v in form.lambdas), *(f"* {c.render()}" for c in form.definites),
         *(c.render() for c in form.body)]
    )  # fmt: skip


# ------------------------------------------------------------------------------- graph level
@dataclass(frozen=True)
class Node:
    """What one position means: its predicate, unary conjunct, definite marker, constant."""

    pred: str | None = None
    unary: bool = False
    definite: bool = False
    constant: str | None = None


@dataclass(frozen=True)
class Edge:
    """`head --role--> target` (positions; role = the predicate path after the head's predicate)."""

    head: int
    role: tuple[str, ...]
    target: int


@dataclass(frozen=True)
class Graph:
    """A logical form as a graph over the input's positions (plus lambda variables, if any).

    `nodes[i]` for i < len(words) is word i; `variables[i]` names node i in a lambda form (None
    for a position, rendered `x _ i`).
    """

    words: tuple[str, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...] = ()
    lambdas: tuple[str, ...] = ()
    variables: tuple[str | None, ...] = field(default=())

    def term(self, i: int) -> Term:
        node = self.nodes[i]
        if node.constant is not None:
            return Term(token=node.constant)
        if self.variables and self.variables[i] is not None:
            return Term(token=self.variables[i])
        return Term(index=i)


def _anchor(
    token: str, near: int, words: Sequence[str], anchors: Mapping[str, str] | None, where: Where
) -> int:
    """The position a constant stands at: the nearest word that is the constant itself, else the
    nearest word whose induced translation it is."""
    for match in (
        lambda w: w == token,
        lambda w: anchors is not None and anchors.get(w) == token,
    ):
        hits = [i for i, w in enumerate(words) if match(w)]
        if hits:
            return min(hits, key=lambda i: (abs(i - near), i))
    raise DataError(
        f"logical form: constant {token!r} matches no word of the sentence "
        f"{' '.join(words)[:60]!r} (pass anchors induced from training pairs)",
        path=where[0],
        line=where[1],
    )


def to_graph(
    form: Form,
    words: Sequence[str],
    *,
    anchors: Mapping[str, str] | None = None,
    path: str | None = None,
    line: int | None = None,
) -> Graph:
    """The graph of `form` over `words`; `DataError` where it does not fit the sentence."""
    where: Where = (path, line)
    words = tuple(words)
    n = len(words)

    def fail(msg: str) -> DataError:
        return DataError(f"logical form: {msg}", path=path, line=line)

    variables: list[str | None] = [None] * n
    var_node: dict[str, int] = {}
    if form.lambdas:
        if n != 1:
            raise fail(f"a lambda form needs a one-word input, got {n} words")
        head = (form.body or form.definites)[0].args[0].token
        if head not in form.lambdas:
            raise fail(f"the lambda form's first argument {head!r} is not a bound variable")
        var_node[head] = 0
        variables[0] = head
        for v in form.lambdas:
            if v not in var_node:
                var_node[v] = len(variables)
                variables.append(v)
    preds: list[str | None] = [None] * len(variables)
    unary = [False] * len(variables)
    definite = [False] * len(variables)
    constants: list[str | None] = [None] * len(variables)

    def node_of(term: Term, near: int) -> int:
        if term.index is not None:
            if term.index >= n:
                raise fail(f"x _ {term.index} is past the sentence's {n} words")
            return term.index
        if term.token in var_node:
            return var_node[term.token]
        i = _anchor(term.token, near, words, anchors, where)
        if constants[i] not in (None, term.token):
            raise fail(f"word {i} stands for both {constants[i]!r} and {term.token!r}")
        constants[i] = term.token
        return i

    def set_pred(i: int, p: str) -> None:
        if preds[i] not in (None, p):
            raise fail(f"node {i} has two predicates, {preds[i]!r} and {p!r}")
        preds[i] = p

    if form.bare is not None:
        node_of(Term(token=form.bare), 0)
    for c in form.definites:
        if len(c.args) != 1 or len(c.path) != 1:
            raise fail(f"a definite must be 'p ( x )', got {c.render()!r}")
        i = node_of(c.args[0], 0)
        set_pred(i, c.path[0])
        definite[i] = True
    edges = []
    for c in form.body:
        head = node_of(c.args[0], 0)
        set_pred(head, c.path[0])
        if len(c.args) == 1:
            if len(c.path) != 1:
                raise fail(f"a unary conjunct has a role path: {c.render()!r}")
            unary[head] = True
        else:
            if len(c.path) < 2:
                raise fail(f"a binary conjunct needs 'p . role': {c.render()!r}")
            edges.append(Edge(head, c.path[1:], node_of(c.args[1], head)))
    for i in range(len(variables)):
        if constants[i] is not None and (preds[i] is not None or variables[i] is not None):
            raise fail(f"word {i} is both the constant {constants[i]!r} and a node")
    nodes = tuple(
        Node(preds[i], unary[i], definite[i], constants[i]) for i in range(len(variables))
    )
    return Graph(
        words, nodes, tuple(edges), tuple(form.lambdas), tuple(variables) if form.lambdas else ()
    )


def to_form(graph: Graph, order: ConjunctOrder | None = None) -> Form:
    """The form of a graph. Definites by position, then per head (by position) its unary
    conjunct and its edges: in the graph's own edge order when `order` is None (lossless for a
    parsed graph), else arranged by `order` (`ConjunctOrder()` is COGS's positional order).

    Raises `ValueError` for an ill-formed graph (an edge from a node without a predicate, a
    definite without one, an empty graph)."""
    nodes = graph.nodes
    for e in graph.edges:
        if not (0 <= e.head < len(nodes) and 0 <= e.target < len(nodes)):
            raise ValueError(f"edge {e} points outside the graph's {len(nodes)} nodes")
        if nodes[e.head].pred is None:
            raise ValueError(f"edge {e} leaves node {e.head}, which has no predicate")
    definites = []
    for i, node in enumerate(nodes):
        if node.definite:
            if node.pred is None:
                raise ValueError(f"node {i} is definite but has no predicate")
            definites.append(Conjunct((node.pred,), (graph.term(i),)))
    body = []
    for head in sorted({e.head for e in graph.edges} | {i for i, n in enumerate(nodes) if n.unary}):
        node = nodes[head]
        if node.unary:
            if node.pred is None:
                raise ValueError(f"node {head} has a unary conjunct but no predicate")
            body.append(Conjunct((node.pred,), (graph.term(head),)))
        edges = [e for e in graph.edges if e.head == head]
        for e in edges if order is None else order.arrange(graph, edges):
            body.append(Conjunct((node.pred, *e.role), (graph.term(head), graph.term(e.target))))
    if not body and not definites:
        constants = [n.constant for n in nodes if n.constant is not None]
        if len(constants) != 1:
            raise ValueError("the graph has no conjunct and is not one constant")
        return Form(bare=constants[0])
    return Form(graph.lambdas, tuple(definites), tuple(body))


# ------------------------------------------------------------------------------ conjunct order
def _side(e: Edge) -> int:
    return -1 if e.target < e.head else 1


def edge_class(graph: Graph, e: Edge) -> tuple:
    """What the order of a head's edges may depend on: the role, the side of the head the target
    lies on, and whether the target is a constant or a lambda variable."""
    kind = "const" if graph.nodes[e.target].constant is not None else "node"
    if graph.variables and graph.variables[e.target] is not None:
        kind = "var"
    return (e.role, _side(e), kind)


@dataclass
class ConjunctOrder:
    """The order of one head's edges in the string.

    By default (nothing induced) edges follow their targets' positions, as in COGS. `induce` reads
    training pairs and records, for every two edge classes (`edge_class`) seen on one head, which
    one comes first; a pair of classes always seen in the same order keeps that order, any other
    pair falls back to positions. SLOG needs this: a relative clause's verb lists its subject's
    edge first although the extracted object stands earlier in the sentence.
    """

    before: dict[tuple, int] = field(default_factory=dict)  # (class a, class b) -> times a < b

    @classmethod
    def induce(cls, graphs: Iterable[Graph]) -> ConjunctOrder:
        """From graphs whose edges are listed in their string's order (as `to_graph` lists them)."""
        counts: Counter = Counter()
        for g in graphs:
            heads: dict[int, list[Edge]] = {}
            for e in g.edges:
                heads.setdefault(e.head, []).append(e)
            for edges in heads.values():
                for a in range(len(edges)):
                    for b in range(a + 1, len(edges)):
                        ca, cb = edge_class(g, edges[a]), edge_class(g, edges[b])
                        if ca != cb:
                            counts[(ca, cb)] += 1
        return cls(dict(counts))

    def first(self, ca: tuple, cb: tuple) -> bool | None:
        """True / False when training always put class `ca` before / after `cb`; else None."""
        ab, ba = self.before.get((ca, cb), 0), self.before.get((cb, ca), 0)
        if ab and not ba:
            return True
        if ba and not ab:
            return False
        return None

    def arrange(self, graph: Graph, edges: list[Edge]) -> list[Edge]:
        """The edges in string order: by target position, moved where an induced precedence says
        (a stable topological sort that always takes the earliest-positioned free edge)."""
        edges = sorted(edges, key=lambda e: (e.target, e.role))
        if not self.before or len(edges) < 2:
            return edges
        classes = [edge_class(graph, e) for e in edges]
        must = {
            (a, b)
            for a in range(len(edges))
            for b in range(len(edges))
            if a != b and self.first(classes[a], classes[b]) is True
        }
        out, left = [], list(range(len(edges)))
        while left:
            free = [a for a in left if not any((b, a) in must for b in left if b != a)]
            pick = free[0] if free else left[0]  # a cycle (never seen in data): positions decide
            out.append(edges[pick])
            left.remove(pick)
        return out

    def to_json(self) -> list:
        return [[list(_jsonable(a)), list(_jsonable(b)), n] for (a, b), n in self.before.items()]

    @classmethod
    def from_json(cls, rows: list) -> ConjunctOrder:
        return cls({(_tupled(a), _tupled(b)): n for a, b, n in rows})


def _jsonable(cls_: tuple) -> tuple:
    role, side, kind = cls_
    return (list(role), side, kind)


def _tupled(row: list) -> tuple:
    role, side, kind = row
    return (tuple(role), side, kind)
