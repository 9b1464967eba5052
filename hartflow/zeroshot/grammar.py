"""Grammar induction: rule forms and precedence chosen together, by whole-parse consistency.

1. Fixity. A function word that starts some command cannot be postfix or infix; one that ends
   some command cannot be prefix or infix. Each word's candidates are every form of each fixity
   left (`rules.forms`).
2. Local evidence. A training pair with one occurrence of one candidate word must split there;
   where both parts are known (`lookup`: a stored pair, a skeleton template, a lexical word), a
   form survives only if it reproduces the pair. Words left with no form are not rule words;
   that makes more pairs single-word ones, so this repeats until nothing changes.
3. Whole parses. The remaining words' forms and their order (loosest first) are searched
   together: every training pair whose output tokens its own words' lexicon entries explain is
   parsed in full (only the leaves, the parts no rule splits, are looked up; the grammar
   computes the rest, stored or not). A hypothesis must contradict no pair; among those, the
   one reproducing most pairs wins, then the simplest (shortest forms), then the one with unary
   words binding tighter than binary ones. Others that reproduce as many pairs are kept as
   alternatives (shown by `decode --explain`). A word that shares no pair with another takes
   its simplest form and a conventional place (binary loosest, unary tightest).
Pairs are grouped by which candidate words they hold, so each group is parsed once per ordering
of its own words; the search samples at most `max_pairs` pairs per group, and the winner is
then checked against every pair (a failure moves on to the next hypothesis). If no hypothesis
fits, the word whose removal fits most pairs is left out, and rules reproducing fewer than
`min_support` pairs are dropped. Nothing here names a word of any data set.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hartflow.zeroshot.rules import FIXITIES, MAX_FORM, Parser, Rule, Tokens, forms

Pair = tuple[Tokens, Tokens]
MAX_PERMUTE = 6  # up to this many rule words every order is tried; beyond it, local search
MAX_HYPOTHESES = 200_000  # form choices tried in one search, over all orders


@dataclass
class Grammar:
    """The induced rules (with levels and support) and other grammars that fit as well."""

    rules: dict[str, Rule] = field(default_factory=dict)
    alternatives: list[dict[str, Rule]] = field(default_factory=list)
    reproduced: int = 0  # training pairs whose whole parse uses a rule and reproduces them

    def parser(self) -> Parser:
        return Parser(self.rules)


def matching_forms(args: Sequence[Tokens], out: Tokens, max_form: int = MAX_FORM) -> set:
    """Every form whose concatenation of `args` is exactly `out`."""
    found: set[tuple[int, ...]] = set()
    todo: list[tuple[int, tuple[int, ...]]] = [(0, ())]
    while todo:
        j, form = todo.pop()
        if j == len(out) and form:
            found.add(form)
        if len(form) == max_form:
            continue
        for i, a in enumerate(args):
            if a and out[j : j + len(a)] == a:
                todo.append((j + len(a), (*form, i)))
    return found


def induce_grammar(
    pairs: Sequence[Pair],
    function_words: set[str],
    lookup: Callable[[Tokens], Tokens | None],
    lexicon: dict[str, str],
    *,
    min_support: int = 2,
    max_pairs: int = 32,
) -> Grammar:
    """The grammar (rules and levels) that reproduces most training pairs by whole parses.

    Args:
        pairs: (command, output) training pairs.
        function_words: the words that may carry rules.
        lookup: the known output of a part (None when unknown); it must not use rules.
        lexicon: {word: token}; a pair is parsed in full only if these explain its tokens.
        min_support: pairs a rule must reproduce to be kept.
        max_pairs: pairs per group sampled during the search.
    """
    cache: dict[Tokens, Tokens | None] = {}

    def known(span: Tokens) -> Tokens | None:
        if span not in cache:
            cache[span] = lookup(span)
        return cache[span]

    candidates = _local(pairs, function_words, known)
    explained = [(i, o) for i, o in pairs if set(o) <= {lexicon[w] for w in i if w in lexicon}]
    while True:
        grammar = _search(explained, candidates, known, max_pairs)
        if candidates and not grammar.rules:  # nothing fits: leave out the least useful word
            trials = {
                w: _search(explained, {x: c for x, c in candidates.items() if x != w}, known,
                           max_pairs)
                for w in candidates
            }  # fmt: skip
            del candidates[max(trials, key=lambda w: trials[w].reproduced)]
            continue
        weak = [w for w, r in grammar.rules.items() if r.support < min_support]
        if not weak:
            return grammar
        for w in weak:
            del candidates[w]


def _fixities(pairs: Sequence[Pair], words: set[str]) -> dict[str, list[str]]:
    first = {i[0] for i, _ in pairs if i}
    last = {i[-1] for i, _ in pairs if i}
    out = {}
    for w in dict.fromkeys(w for i, _ in pairs for w in i if w in words):  # first seen first
        banned = ({"postfix", "infix"} if w in first else set()) | (
            {"prefix", "infix"} if w in last else set()
        )
        out[w] = [f for f in FIXITIES if f not in banned]
    return out


def _local(pairs, function_words, known) -> dict[str, list[Rule]]:
    """{word: candidate rules} after the local evidence (step 2), simplest first."""
    present = {w for i, _ in pairs for w in i} & function_words
    candidates = {
        w: {(f, form) for f in fixes for form in forms(f)}
        for w, fixes in _fixities(pairs, present).items()
        if fixes
    }
    support: dict[tuple[str, str, tuple], int] = defaultdict(int)
    done: set[int] = set()
    changed = True
    while changed:
        changed = False
        for n, (inp, out) in enumerate(pairs):
            if n in done:
                continue
            hits = [p for p, w in enumerate(inp) if w in candidates]
            if len(hits) != 1:
                continue
            done.add(n)
            p, w = hits[0], inp[hits[0]]
            left, right = inp[:p], inp[p + 1 :]
            fixity = "prefix" if not left else "postfix" if not right else "infix"
            parts = [left, right] if fixity == "infix" else [left or right]
            args = [known(x) for x in parts]
            if any(a is None for a in args):
                continue  # a part is unknown: this pair says nothing
            ok = {(fixity, f) for f in matching_forms(args, out)}
            for c in ok & candidates[w]:
                support[(w, *c)] += 1
            candidates[w] &= ok
            if not candidates[w]:
                del candidates[w]
                changed = True
    return {
        w: sorted(
            (Rule(w, f, form, support[w, f, form]) for f, form in cs),
            key=lambda r: (r.cost(), -r.support, r.fixity, r.form),
        )
        for w, cs in candidates.items()
    }


@dataclass
class _Hypothesis:
    rules: dict[str, Rule]
    reproduced: int
    cost: int
    penalty: int  # binary words binding tighter than unary ones

    def key(self) -> tuple:
        return (-self.reproduced, self.cost, self.penalty)


def _search(pairs, candidates, known, max_pairs) -> Grammar:
    """Step 3: the best hypothesis over orders and forms, checked against every pair."""
    words = [w for w in candidates if candidates[w]]
    groups: dict[tuple[str, ...], list[Pair]] = defaultdict(list)
    for inp, out in pairs:
        held = [w for w in inp if w in candidates]
        if len(held) >= 2:
            groups[tuple(sorted(set(held)))].append((inp, out))
    memo: dict[tuple, tuple[int, int]] = {}

    def score(group: tuple[str, ...], rules: dict[str, Rule]) -> tuple[int, int]:
        """(reproduced, contradicted) over the group's sampled pairs."""
        order = tuple(sorted(group, key=lambda w: rules[w].level))
        key = (group, tuple((rules[w].fixity, rules[w].form) for w in group), order)
        if key not in memo:
            parser = Parser({w: rules[w] for w in group})
            good = bad = 0
            for inp, out in groups[group][:max_pairs]:
                got = parser.interpret(inp, known, leaves_only=True)[0]
                good += got == out
                bad += got is not None and got != out
            memo[key] = good, bad
        return memo[key]

    # a word in no group interacts with no other: its simplest form, and a default place
    # (binary words loosest, unary tightest: what the data leave open, a usual convention)
    grouped = {w for g in groups for w in g}
    free = {w: candidates[w][0] for w in words if w not in grouped}
    loose = [w for w in free if free[w].arity == 2]
    tight = [w for w in free if free[w].arity == 1]
    words = [w for w in words if w in grouped]
    found: list[_Hypothesis] = []
    budget = [MAX_HYPOTHESES]
    for order in _orders(words, candidates, groups, score, budget):
        found.extend(_assign(order, candidates, groups, score, budget))
    for h in found:
        full = [*loose, *sorted(h.rules, key=lambda w: h.rules[w].level), *tight]
        h.rules = {
            w: Rule(w, r.fixity, r.form, r.support, full.index(w))
            for w, r in (*h.rules.items(), *free.items())
        }
        h.reproduced += sum(r.support for r in free.values())
        h.cost += sum(r.cost() for r in free.values())
    found.sort(key=_Hypothesis.key)
    for i, h in enumerate(found):
        verified = _verify(h.rules, pairs, groups, known)
        if verified is None:
            continue
        alternatives = [
            a.rules for a in found[i + 1 :] if a.reproduced == h.reproduced and _differs(a, h)
        ]
        return Grammar(verified, _distinct(alternatives)[:3], h.reproduced)
    return Grammar()


def _orders(words, candidates, groups, score, budget):
    """Orders (loosest first) to try: all of them for a few words, else a local search."""
    if len(words) <= MAX_PERMUTE:
        yield from itertools.permutations(words)
        return
    unary_first = sorted(words, key=lambda w: candidates[w][0].arity, reverse=True)
    order = list(unary_first)  # binary words loosest to start with

    def best(o):
        hs = _assign(tuple(o), candidates, groups, score, budget)
        return min((h.key() for h in hs), default=(1,))

    current = best(order)
    improved = True
    while improved:
        improved = False
        for w in list(order):
            rest = [x for x in order if x != w]
            for p in range(len(order)):
                trial = [*rest[:p], w, *rest[p:]]
                k = best(trial)
                if k < current:
                    order, current, improved = trial, k, True
    yield tuple(order)


def _assign(order, candidates, groups, score, budget: list[int]) -> list[_Hypothesis]:
    """Consistent choices of one form per word under this order (backtracking, simplest forms
    first), while `budget[0]` (form choices left to try, shared by all orders) lasts."""
    level = {w: i for i, w in enumerate(order)}
    words = sorted(order, key=lambda w: len(candidates[w]))
    closes: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for g in groups:
        closes[max(g, key=words.index)].append(g)
    out: list[_Hypothesis] = []
    chosen: dict[str, Rule] = {}

    def extend(k: int, reproduced: int) -> None:
        if k == len(words):
            total = reproduced + sum(r.support for r in chosen.values())
            cost = sum(r.cost() for r in chosen.values())
            penalty = sum(
                1
                for u, v in itertools.combinations(order, 2)
                if chosen[u].arity == 1 and chosen[v].arity == 2
            )
            out.append(_Hypothesis(dict(chosen), total, cost, penalty))
            return
        w = words[k]
        for r in candidates[w]:
            if budget[0] <= 0:
                break
            budget[0] -= 1
            chosen[w] = Rule(w, r.fixity, r.form, r.support, level[w])
            gain, ok = 0, True
            for g in closes[w]:
                good, bad = score(g, chosen)
                if bad:
                    ok = False
                    break
                gain += good
            if ok:
                extend(k + 1, reproduced + gain)
        chosen.pop(w, None)

    extend(0, 0)
    return out


def _verify(rules, pairs, groups, known) -> dict[str, Rule] | None:
    """The rules with their support counted over every pair, or None if one contradicts them."""
    parser = Parser(rules)
    support: dict[str, int] = {w: r.support for w, r in rules.items()}
    for group in groups:
        for inp, out in groups[group]:
            got, used, _ = parser.interpret(inp, known, leaves_only=True)
            if got is not None and got != out:
                return None
            if got == out:
                for r in used:
                    support[r.word] += 1
    return {w: Rule(w, r.fixity, r.form, support[w], r.level) for w, r in rules.items()}


def _differs(a: _Hypothesis, b: _Hypothesis) -> bool:
    return any(a.rules[w].form != b.rules[w].form for w in a.rules) or _relative(a) != _relative(b)


def _relative(h: _Hypothesis) -> tuple:
    return tuple(sorted(h.rules, key=lambda w: h.rules[w].level))


def _distinct(grammars: list[dict[str, Rule]]) -> list[dict[str, Rule]]:
    seen, out = set(), []
    for g in grammars:
        key = tuple(sorted((w, r.fixity, r.form, r.level) for w, r in g.items()))
        if key not in seen:
            seen.add(key)
            out.append(g)
    return out
