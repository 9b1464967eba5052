"""Composition rules as argument templates, and the precedence parse that applies them.

A function word with a rule combines the interpretations of its arguments by a *form*, any
sequence of 1..MAX_FORM argument indices:

    prefix   w x     form over (x,)      (0, 0, 0): [x] [x] [x]
    postfix  x w     form over (x,)      (0, 0): [x] [x]
    infix    x w y   form over (x, y)    (0, 1, 0): [x] [y] [x];  (1, 0): [y] [x]

so concatenation, swap and repetition are special cases. Every rule word has a level: lower
levels bind more loosely. A span splits at its loosest rule word that fits (a prefix word must
be the span's first word, a postfix word its last, an infix word neither); at one level an infix
word splits at its last occurrence (left associative, or the first with `right=True`), a prefix
word at its first and a postfix word at its last. A span with no fitting rule word is a leaf,
answered by memory. The parse is iterative: a command of any length parses without recursion.
Rules are data: nothing here names a word of any data set.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Tokens = tuple[str, ...]
MAX_FORM = 4  # longest form (argument references) a rule may have
FIXITIES = ("prefix", "postfix", "infix")


@dataclass(frozen=True)
class Rule:
    """`word` combines its arguments' outputs by `form` (indices into (x,) or (x, y))."""

    word: str
    fixity: str  # "prefix", "postfix" or "infix"
    form: tuple[int, ...]
    support: int = 0  # training pairs whose whole parse uses this rule and reproduces them
    level: int = 0  # precedence: lower levels bind more loosely and are split first

    @property
    def arity(self) -> int:
        return 2 if self.fixity == "infix" else 1

    def combine(self, args: Sequence[Tokens]) -> Tokens:
        """The output from the arguments' outputs: their concatenation in the form's order."""
        return tuple(t for i in self.form for t in args[i])

    def shape(self, word: str = "w") -> str:
        """The rule as a pattern, e.g. 'x w y -> [x] [y] [x]'."""
        names = "xy" if self.arity == 2 else "x"
        lhs = {"prefix": f"{word} x", "postfix": f"x {word}", "infix": f"x {word} y"}
        return f"{lhs[self.fixity]} -> " + " ".join(f"[{names[i]}]" for i in self.form)

    def describe(self) -> str:
        return (
            f"'{self.word}': {self.shape(self.word)}  (support {self.support}, level {self.level})"
        )

    def cost(self) -> int:
        """Description length: references, plus one for an argument the form never uses."""
        return len(self.form) + (self.arity - len(set(self.form)))


def forms(fixity: str, max_form: int = MAX_FORM) -> list[tuple[int, ...]]:
    """Every form of a fixity, shortest first: (0,), (0, 0), … or (0,), (1,), (0, 0), …"""
    arity = 2 if fixity == "infix" else 1
    return [f for n in range(1, max_form + 1) for f in itertools.product(range(arity), repeat=n)]


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

    def parse(self, command: Sequence[str]) -> list[Node]:
        """The parse tree as nodes, root first; every node's children come after it."""
        n = len(command)
        at: dict[int, list[int]] = {lv: [] for lv in self.levels}  # infix positions per level
        for p, w in enumerate(command):
            r = self.rules.get(w)
            if r is not None and r.fixity == "infix":
                at[r.level].append(p)
        nodes = [Node(0, n)]
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
    ) -> tuple[Tokens | None, list[Rule], Tokens]:
        """(output, rules used, the first part that failed) of the whole parse.

        Every constituent below the root is first looked up (`lookup(span)`, None when it is
        not known); only when that fails is it split further. With `leaves_only`, only the
        leaves are looked up (the grammar alone computes the rest). Output None when a leaf
        fails.
        """
        command = tuple(command)
        nodes = self.parse(command)
        if nodes[0].rule is None:
            return None, [], command
        value: dict[int, Tokens] = {}
        order = [0]  # expanded nodes, parents before children
        todo = list(nodes[0].children)
        while todo:
            i = todo.pop()
            node = nodes[i]
            found = None if leaves_only and node.rule else lookup(command[node.lo : node.hi])
            if found is not None:
                value[i] = found
            elif node.rule is None:
                return None, [], command[node.lo : node.hi]
            else:
                order.append(i)
                todo.extend(node.children)
        used: dict[Rule, None] = {}
        for i in reversed(order):
            node = nodes[i]
            value[i] = node.rule.combine([value[c] for c in node.children])
            used[node.rule] = None
        return value[0], list(used), ()
