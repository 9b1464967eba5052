"""Word classes induced from how the lexical words' tokens sit in the outputs.

Two lexical words are in one class when their tokens occur in the same output context: the two
tokens before and the two after (with sentence-boundary markers), taken over every training pair
where the word is in the input and its token in the output. Classes are the connected components
of "shares a context", so a word seen in one construction only still joins its class through
that construction, and a skeleton slot typed by class accepts any word of the class.

A class whose words all give the same token (two spellings of one function) has nothing to
substitute: its words stay literal in skeletons. Classes are numbered in order of first
appearance in the training pairs, so a renamed data set gets the same numbering.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

Pair = tuple[tuple[str, ...], tuple[str, ...]]
EDGE = ("\x00bos", "\x00eos")  # boundary markers; no whitespace-split token can equal them


def induce_classes(pairs: Sequence[Pair], lexicon: dict[str, str]) -> dict[str, int]:
    """{lexical word: class id}; ids count from 0 in order of first appearance.

    >>> lexicon = {"dax": "D", "wif": "W", "lug": "L"}
    >>> induce_classes([(("dax", "x"), ("D", "#")), (("wif",), ("W", "#")), (("lug",), ("L",))],
    ...                lexicon)
    {'dax': 0, 'wif': 0, 'lug': 1}
    """
    producers: dict[str, list[str]] = defaultdict(list)
    for w, t in lexicon.items():
        producers[t].append(w)
    parent: dict[str, str] = {}

    def find(w: str) -> str:
        while parent.setdefault(w, w) != w:
            parent[w] = parent[parent[w]]
            w = parent[w]
        return w

    order: dict[str, int] = {}
    found: set[tuple[str, tuple[str, ...]]] = set()  # (word, context) pairs
    for inp, out in pairs:
        for w in inp:
            if w in lexicon and w not in order:
                order[w] = len(order)
        words = set(inp)
        padded = (EDGE[0], EDGE[0], *out, EDGE[1], EDGE[1])
        for j in range(2, len(padded) - 2):
            ws = producers.get(padded[j])
            if ws:
                context = padded[j - 2 : j] + padded[j + 1 : j + 3]
                found.update((w, context) for w in ws if w in words)
    seen_in: dict[tuple[str, ...], str] = {}  # context -> the first word seen in it
    for w, context in sorted(found, key=lambda x: order[x[0]]):
        a, b = find(w), find(seen_in.setdefault(context, w))
        if a != b:
            parent[max(a, b, key=order.get)] = min(a, b, key=order.get)
    roots = sorted({find(w) for w in lexicon if w in order}, key=order.get)
    number = {r: i for i, r in enumerate(roots)}
    return {
        w: number[find(w)] for w in sorted(lexicon, key=lambda w: order.get(w, -1)) if w in order
    }


def substitutable(lexicon: dict[str, str], classes: dict[str, int]) -> dict[str, str]:
    """The entries whose class has more than one token: the words a skeleton turns into slots."""
    tokens: dict[int, set[str]] = defaultdict(set)
    for w, c in classes.items():
        tokens[c].add(lexicon[w])
    return {w: t for w, t in lexicon.items() if w in classes and len(tokens[classes[w]]) > 1}
