"""Composition rules as output forms, and the precedence parse that applies them.

A function word with a rule combines the interpretations of its arguments by a *form*: any
sequence, of any length, of references to its arguments (indices) and of the word's own output
tokens (strings):

    prefix   w x     form over (x,)      (0, 0, 0): [x] [x] [x]
    postfix  x w     form over (x,)      ("LTURN", 0): LTURN [x]
    infix    x w y   form over (x, y)    (0, 1, 0): [x] [y] [x];  (1, 0): [y] [x]

so concatenation, swap, repetition and a word's own token are special cases. A word may also
translate to nothing (fixity "empty": it is a leaf whose output is empty). Every rule word has a
level: lower levels bind more loosely. A span splits at its loosest rule word that fits (a prefix
word must be the span's first word, a postfix word its last, an infix word neither); at one level
an infix word splits at its last occurrence (left associative, or the first with `right=True`), a
prefix word at its first and a postfix word at its last. A span with no fitting rule word is a
leaf, answered by memory. The parse is iterative: a command of any length parses without
recursion. Rules are data: nothing here names a word of any data set.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Tokens = tuple[str, ...]
Form = tuple[int | str, ...]  # argument indices and the word's own tokens
FIXITIES = ("prefix", "postfix", "infix")
EMPTY = "empty"  # the fixity of a word that translates to nothing


@dataclass(frozen=True)
class Rule:
    """`word` combines its arguments' outputs by `form` (indices into (x,) or (x, y), and the
    word's own tokens); fixity "empty": the word is a leaf that outputs nothing."""

    word: str
    fixity: str  # "prefix", "postfix", "infix" or "empty"
    form: Form
    support: int = 0  # training pairs whose whole parse uses this rule and reproduces them
    level: int = 0  # precedence: lower levels bind more loosely and are split first

    @property
    def arity(self) -> int:
        return {"infix": 2, EMPTY: 0}.get(self.fixity, 1)

    def combine(self, args: Sequence[Tokens]) -> Tokens:
        """The output from the arguments' outputs: the form read left to right."""
        out: list[str] = []
        for i in self.form:
            if isinstance(i, int):
                out.extend(args[i])
            else:
                out.append(i)
        return tuple(out)

    def shape(self, word: str = "w") -> str:
        """The rule as a pattern, e.g. 'x w y -> [x] [y] [x]' or 'x w -> LTURN [x]'."""
        if self.fixity == EMPTY:
            return f"{word} -> (nothing)"
        names = "xy" if self.arity == 2 else "x"
        lhs = {"prefix": f"{word} x", "postfix": f"x {word}", "infix": f"x {word} y"}
        rhs = (f"[{names[i]}]" if isinstance(i, int) else i for i in self.form)
        return f"{lhs[self.fixity]} -> " + " ".join(rhs)

    def describe(self) -> str:
        where = f"(support {self.support}, level {self.level})"
        return f"'{self.word}': {self.shape(self.word)}  {where}"

    def own(self) -> bool:
        """Whether the form holds the word's own tokens."""
        return any(isinstance(i, str) for i in self.form)

    def cost(self) -> int:
        """Description length: references and tokens, plus one for an argument never used."""
        refs = {i for i in self.form if isinstance(i, int)}
        return len(self.form) + (self.arity - len(refs))

    def key(self) -> tuple:
        """A sort key: simplest first, then most supported (forms mix ints and strings)."""
        form = tuple((0, i, "") if isinstance(i, int) else (1, 0, i) for i in self.form)
        return self.cost(), -self.support, self.fixity, form


@dataclass
class Node:
    """One constituent of a parse: the span [lo, hi) and the rule that splits it (None: leaf)."""

    lo: int
    hi: int
    rule: Rule | None = None
    children: tuple[int, ...] = ()  # node ids


class Parser:
    """The precedence parse of commands under one set of rules.

    Args:
        rules: {word: rule}; a rule's `level` orders the words (lower: looser).
        right: infix words of one level associate to the right (default: to the left).
    """

    def __init__(self, rules: dict[str, Rule], *, right: bool = False) -> None:
        self.rules = rules
        self.right = right
        self.levels = sorted({r.level for r in rules.values()})
        self.empty = {w for w, r in rules.items() if r.fixity == EMPTY}  # leaves with no output

    def parse(self, command: Sequence[str]) -> list[Node]:
        """The parse tree as nodes, root first; every node's children come after it."""
        at: dict[int, list[int]] = {lv: [] for lv in self.levels}  # infix positions per level
        for p, w in enumerate(command):
            r = self.rules.get(w)
            if r is not None and r.fixity == "infix":
                at[r.level].append(p)
        nodes = [Node(0, len(command))]
        todo = [0]
        while todo:
            node = nodes[todo.pop()]
            split = self._split(command, node.lo, node.hi, at)
            if split is None:
                continue
            p, rule = split
            parts = [(node.lo, p), (p + 1, node.hi)]
            if rule.fixity != "infix":
                parts = [parts[1] if rule.fixity == "prefix" else parts[0]]
            node.rule = rule
            node.children = tuple(range(len(nodes), len(nodes) + len(parts)))
            for lo, hi in parts:
                todo.append(len(nodes))
                nodes.append(Node(lo, hi))
        return nodes

    def _split(self, command, lo: int, hi: int, at: dict[int, list[int]]):
        """(position, rule) of the loosest fitting word in [lo, hi); at one level a prefix word
        before a postfix word before an infix word, the last infix (or first); None: a leaf."""
        if hi - lo < 2:
            return None
        first, last = self.rules.get(command[lo]), self.rules.get(command[hi - 1])
        for lv in self.levels:
            if first is not None and first.level == lv and first.fixity == "prefix":
                return lo, first
            if last is not None and last.level == lv and last.fixity == "postfix":
                return hi - 1, last
            ps = at[lv]
            if self.right:
                i = bisect_left(ps, lo + 1)
                if i < len(ps) and ps[i] < hi - 1:
                    return ps[i], self.rules[command[ps[i]]]
            else:
                i = bisect_left(ps, hi - 1) - 1
                if i >= 0 and ps[i] > lo:
                    return ps[i], self.rules[command[ps[i]]]
        return None

    def interpret(
        self,
        command: Sequence[str],
        lookup: Callable[[Tokens], Tokens | None],
        *,
        leaves_only: bool = False,
    ) -> tuple[Tokens | None, list[Rule], list[Tokens]]:
        """(output, rules used, the parts looked up) of the whole parse; on failure (None, [],
        [the part that failed]).

        Every constituent below the root is first looked up (`lookup(span)`, None when it is
        not known); only when that fails is it split further. With `leaves_only`, only the
        leaves are looked up (the grammar alone computes the rest). A word that translates to
        nothing is an empty leaf. Output None when a leaf fails.
        """
        command = tuple(command)
        nodes = self.parse(command)
        if nodes[0].rule is None:
            return None, [], [command]
        value: dict[int, Tokens] = {}
        parts: list[Tokens] = []
        order = [0]  # expanded nodes, parents before children
        todo = list(nodes[0].children)
        while todo:
            i = todo.pop()
            node = nodes[i]
            span = command[node.lo : node.hi]
            if len(span) == 1 and span[0] in self.empty:
                found = ()
            else:
                found = None if leaves_only and node.rule else lookup(span)
            if found is not None:
                value[i] = found
                parts.append(span)
            elif node.rule is None:
                return None, [], [span]
            else:
                order.append(i)
                todo.extend(node.children)
        used: dict[Rule, None] = {}
        for i in reversed(order):
            node = nodes[i]
            value[i] = node.rule.combine([value[c] for c in node.children])
            used[node.rule] = None
        return value[0], list(used), parts
