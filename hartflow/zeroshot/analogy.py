"""Analogy over skeletons: a span of one form replaced by a span of another, with its template edit.

Some outputs name input positions (a token that stands for "the word at position p"). Those
*position tokens* are induced first: for a lexical word at input position p, the token a fixed
distance after its translation in the output, when that token is (almost) always the same for
the same p and different for different p. Templates then write them as `@p`.

For two stored skeletons that differ only in one span (`α` at position q in one, `β` in the
other), the first template, with the positions and slots after the span shifted, is diffed
against the second. The replaced and deleted pieces, written relative to the span (its slots
`<s0>`, … and positions `@r0`, …), are a *span edit* `α → β`. A skeleton never seen that becomes
a stored one when one of its spans `β` is put back to `α` gets that stored template with the
most supported edit `α → β` applied, if every piece of the edit is found in it.
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence

Tokens = tuple[str, ...]
MAX_SPAN = 2  # span lengths (in skeleton symbols) that an edit may replace
MAX_OFFSET = 8  # how far after a translation a position token is looked for
MAX_INSERT = 3  # longest modifier (in skeleton symbols) an edit may add after a symbol
MIN_SUPPORT = 10  # skeleton pairs that must show an edit before it is used
MAX_DEPTH = 4  # span edits between a skeleton and the stored one it is reached from
MAX_TRIED = 400  # skeletons tried per search
REACH = MAX_DEPTH * max(MAX_SPAN, MAX_INSERT)  # how much MAX_DEPTH edits change a length
AGREE = 0.9  # share of a position's cases that must show its position token


def induce_positions(
    pairs: Sequence[tuple[Tokens, Tokens]],
    lexicon: dict[str, str],
    classes: dict[str, int],
) -> dict[int, str]:
    """{input position: output token that stands for it}; empty when outputs name no positions.

    For each (word class, distance d), the token d after a word's translation is tallied per
    input position of the word; a (class, d) whose every position has one token in at least
    AGREE of its cases, with different positions getting different tokens, names positions.
    The position tokens are those of every such (class, d) that agree with each other.
    """
    seen: dict[tuple[int, int], dict[int, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for inp, out in pairs:
        where: dict[str, list[int]] = defaultdict(list)
        for j, t in enumerate(out):
            where[t].append(j)
        for p, w in enumerate(inp):
            if w not in lexicon:
                continue
            for j in where.get(lexicon[w], ()):
                for d in range(1, min(MAX_OFFSET, len(out) - 1 - j) + 1):
                    seen[classes[w], d][p][out[j + d]] += 1
    found: list[dict[int, str]] = []
    for by_p in seen.values():
        tokens = {}
        for p, c in by_p.items():
            token, n = c.most_common(1)[0]
            if n >= AGREE * sum(c.values()) and sum(c.values()) >= 2:
                tokens[p] = token
        if len(tokens) >= 3 and len(set(tokens.values())) == len(tokens):
            found.append(tokens)
    merged: dict[int, str] = {}
    for tokens in sorted(found, key=len, reverse=True):
        union = {**merged, **tokens}
        agrees = all(merged.get(p, t) == t for p, t in tokens.items())
        if agrees and len(set(union.values())) == len(union):
            merged = union
    return dict(sorted(merged.items()))


def slot_index(token: str) -> int | None:
    """k for a template's slot reference `<k>`, else None."""
    inner = token[1:-1]
    return int(inner) if token[:1] + token[-1:] == "<>" and inner.isdigit() else None


class SpanEdits:
    """Span edits learned from stored skeletons, applied to skeletons never seen.

    Args:
        positions: {input position: position token}.
        is_slot: whether a skeleton symbol is a slot.
    """

    def __init__(self, positions: dict[int, str], is_slot: Callable[[str], bool]) -> None:
        self.token_of = positions
        self.position_of = {t: p for p, t in positions.items()}
        self.is_slot = is_slot
        self.lengths: set[int] = set()
        self.order_tokens: set[str] = set()
        # beta -> (alpha, script, support, kind: 0 replace/delete, 1 insert, 2 add a modifier)
        self.by_beta: dict[Tokens, list[tuple[Tokens, tuple, int, int]]] = defaultdict(list)
        self._starts: dict[str, list[int]] = {}  # set by `learn`: what `_search` tries

    # ---------------------------------------------------------------------------------- learn
    def learn(self, stored: dict[Tokens, Tokens], outputs: Sequence[Tokens] = ()) -> SpanEdits:
        """Read span edits off pairs of stored skeletons; `outputs` (the training outputs) give
        the order that position tokens keep, which an edited template must keep too."""
        self.order_tokens = induce_order_tokens(outputs, self.token_of)
        self.lengths = {len(s) for s in stored}
        if not self.token_of:
            return self
        spans = Counter(
            s[q : q + n]
            for s in stored
            for n in range(1, MAX_SPAN + 1)
            for q in range(len(s) - n + 1)
            if any(self.is_slot(x) for x in s[q : q + n])
        )
        forms = [span for span, c in spans.items() if c >= 2]
        edits: dict[tuple[Tokens, Tokens], Counter] = defaultdict(Counter)
        modifiers: set[tuple[Tokens, Tokens]] = set()  # edits that add a modifier
        for skel, tmpl in stored.items():
            if not tmpl:
                continue
            for q in range(len(skel)):
                for n in range(1, MAX_SPAN + 1):
                    alpha = skel[q : q + n]
                    if len(alpha) < n or alpha not in spans:
                        continue
                    for beta in forms:
                        if beta == alpha:
                            continue
                        other = skel[:q] + beta + skel[q + n :]
                        target = stored.get(other)
                        if target:
                            script = self._diff(skel, tmpl, q, alpha, beta, target)
                            if script is not None:
                                edits[alpha, beta][script] += 1
            for q in range(1, len(skel)):  # a modifier: the symbol before it gains `gamma`
                for m in range(1, MAX_INSERT + 1):
                    gamma = skel[q : q + m]
                    if len(gamma) < m or not any(map(self.is_slot, gamma)):
                        continue
                    shorter = skel[:q] + skel[q + m :]
                    source = stored.get(shorter)
                    if source:
                        alpha, beta = skel[q - 1 : q], skel[q - 1 : q + m]
                        script = self._diff(shorter, source, q - 1, alpha, beta, tmpl)
                        if script is not None:
                            edits[alpha, beta][script] += 1
                            modifiers.add((alpha, beta))
        for (alpha, beta), scripts in edits.items():
            total = sum(scripts.values())
            for script, support in scripts.most_common(3):
                if support >= MIN_SUPPORT and support >= 0.1 * total:
                    inserts = any(old[0] == "+" for old, _ in script)
                    kind = 2 if (alpha, beta) in modifiers else int(inserts)
                    self.by_beta[beta].append((alpha, script, support, kind))
        starts: dict[str, set[int]] = defaultdict(set)  # the beta lengths per first symbol
        for beta, options in self.by_beta.items():
            options.sort(key=lambda x: -x[2])
            starts[beta[0]].add(len(beta))
        self._starts = {x: sorted(ns) for x, ns in starts.items()}
        return self

    def _shift(self, skel: Tokens, tmpl: Tokens, q: int, alpha: Tokens, beta: Tokens) -> list:
        """tmpl with the span's own slots and positions written relative to it (`<s0>`, `@r0`),
        and those after it moved to where they are after α → β (α = β: only the former)."""
        before = sum(self.is_slot(x) for x in skel[:q])
        a_slots = sum(map(self.is_slot, alpha))
        d_slots = sum(map(self.is_slot, beta)) - a_slots
        out = []
        for t in tmpl:
            k, p = slot_index(t), self.position_of.get(t)
            if k is not None:
                out.append(t if k < before else f"<s{k - before}>" if k < before + a_slots
                           else f"<{k + d_slots}>")  # fmt: skip
            elif p is not None:
                out.append(f"@{p}" if p < q else f"@r{p - q}" if p < q + len(alpha)
                           else f"@{p + len(beta) - len(alpha)}")  # fmt: skip
            else:
                out.append(t)
        return out

    def _diff(self, skel, tmpl, q, alpha, beta, target) -> tuple | None:
        old = self._shift(skel, tmpl, q, alpha, beta)
        new = self._shift(skel[:q] + beta + skel[q + len(alpha) :], target, q, beta, beta)
        script = []
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(
            None, old, new, autojunk=False
        ).get_opcodes():
            if tag == "equal":
                continue
            piece, put = tuple(old[i1:i2]), tuple(new[j1:j2])
            if tag == "insert":  # anchored on the token before (or the start)
                anchor = (old[i1 - 1],) if i1 else ("^",)
                piece, put = ("+", *anchor), (anchor if i1 else ()) + put
            if not any(x.startswith(("<s", "@r")) for x in piece + put):
                return None  # an edit must touch the span itself
            script.append((piece, put))
        return tuple(script)

    # ---------------------------------------------------------------------------------- apply
    def apply(
        self, skel: Tokens, lookup: Callable[[Tokens], Tokens | None]
    ) -> tuple[Tokens, str] | None:
        """(template for `skel`, the edits used) from the nearest stored skeleton at most
        MAX_DEPTH span edits away (breadth first, at most MAX_TRIED skeletons tried), or None.
        Edits that only replace and delete are tried first, then those that insert, then those
        that add a modifier."""
        lo, hi = min(self.lengths, default=0), max(self.lengths, default=-1)
        if not lo - REACH <= len(skel) <= hi + REACH:
            return None  # every stored skeleton is more than MAX_DEPTH edits away
        for kinds in (0, 1, 2):  # replace/delete only; also insert; also add modifiers
            found = self._search(skel, lookup, kinds)
            if found is not None:
                return found
        return None

    def _search(self, skel, lookup, kinds) -> tuple[Tokens, str] | None:
        parent: dict[Tokens, tuple | None] = {skel: None}  # source -> the step back to skel
        frontier, budget = [skel], MAX_TRIED
        for _ in range(MAX_DEPTH):
            following = []
            for node in frontier:
                for q, first in enumerate(node):
                    for n in self._starts.get(first, ()):
                        beta = node[q : q + n]
                        if len(beta) < n:
                            break
                        for alpha, script, support, kind in self.by_beta.get(beta, ()):
                            source = node[:q] + alpha + node[q + n :]
                            if kind > kinds or source in parent:
                                continue
                            parent[source] = (node, q, alpha, beta, script, support)
                            tmpl = lookup(source)
                            found = self._replay(source, tmpl, parent) if tmpl else None
                            if found is not None:
                                return found
                            following.append(source)
                            budget -= 1
                            if budget <= 0:
                                return None
            frontier = following
        return None

    def _replay(self, source: Tokens, tmpl: Tokens, parent: dict) -> tuple[Tokens, str] | None:
        """Carry a stored template back along the edits that led to `source`."""
        why = []
        while parent[source] is not None:
            node, q, alpha, beta, script, support = parent[source]
            out = None
            for done in _rewrites(self._shift(source, tmpl, q, alpha, beta), script):
                out = self._absolute(done, node, q)
                if out is not None and not _descents(out, self.position_of) & self.order_tokens:
                    break
                out = None
            if out is None:
                return None
            why.append(
                f"span edit {' '.join(alpha)!r} -> {' '.join(beta)!r} at {q} "
                f"on '{' '.join(source)}' (support {support})"
            )
            source, tmpl = node, out
        return tmpl, "; ".join(why)

    def _absolute(self, tmpl: list[str], skel: Tokens, q: int) -> Tokens | None:
        n_before = sum(self.is_slot(x) for x in skel[:q])
        out = []
        for t in tmpl:
            if t.startswith("<s") and t.endswith(">"):
                t = f"<{n_before + int(t[2:-1])}>"
            elif t.startswith("@r"):
                t = self.token_of.get(q + int(t[2:]))
            elif t.startswith("@") and t[1:].isdigit():
                t = self.token_of.get(int(t[1:]))
            if t is None:
                return None
            out.append(t)
        return tuple(out)


def _rewrites(tokens: list[str], script: tuple, start: int = 0):
    """Every result of applying (old piece -> new piece) replacements in order. A replacement
    takes the first match from where the last one ended; an insertion (old piece "+ anchor")
    may go after any later match of its anchor, so it branches."""
    if not script:
        yield tokens
        return
    (old, new), rest = script[0], script[1:]
    if old == ("+", "^"):
        yield from _rewrites(list(new) + tokens, rest, len(new))
        return
    inserting = old[0] == "+"
    old = old[1:] if inserting else old
    n = len(old)
    for at in range(start, len(tokens) - n + 1):
        if tuple(tokens[at : at + n]) == old:
            yield from _rewrites(tokens[:at] + list(new) + tokens[at + n :], rest, at + len(new))
            if not inserting:
                return


def induce_order_tokens(outputs: Sequence[Tokens], positions: dict[int, str]) -> set[str]:
    """Tokens after which the outputs' position tokens never go down: for such a token, the first
    position token after each of its occurrences is non-decreasing in every training output (an
    edited template must keep that order)."""
    rank = {t: p for p, t in positions.items()}
    seen = {t for out in outputs for t in out if t not in rank}
    return seen.difference(*(_descents(out, rank) for out in outputs))


def _descents(tokens: Sequence[str], rank: dict[str, int]) -> set[str]:
    """The tokens whose next position token (by `rank`) is lower than after an earlier one."""
    last: dict[str, int] = {}
    pending: set[str] = set()
    found = set()
    for t in tokens:
        if t in rank:
            for s in pending:
                if rank[t] < last.get(s, -1):
                    found.add(s)
                last[s] = rank[t]
            pending.clear()
        else:
            pending.add(t)
    return found
