"""Grammar induction: rule forms read off the pairs by alignment, precedence by whole parses.

1. Candidates. Function words (no lexicon entry), and lexical words never seen alone (a word
   like SCAN's `left` brings its own token and also combines an argument: `x left -> LTURN
   [x]`; such a word stays a candidate where local evidence gives it a form, or where its
   forms can be read in context).
   Fixity: a word that starts some command cannot be postfix or infix; one that ends some
   command cannot be prefix or infix.
2. Local evidence. A training pair with one occurrence of one candidate word must split there;
   where its parts are known (a training pair's output, or a lexical word's token), the
   word's forms are *read* off the pair: every alignment of the output with copies of the parts'
   outputs and the word's own token (`matching_forms`), of any length; the other such pairs
   keep the forms that reproduce them. Words left with no form are not rule words, and a lexical
   word with no evidence counts as a leaf where it is a whole part; that makes more pairs
   single-word ones, so this repeats until nothing changes.
3. Whole parses. The words' forms and their order (loosest first) are searched together. A
   word with no local evidence gets its forms read in context (`forms.py`): under the order and
   the forms already chosen, each training pair that holds it once is parsed, its output solved
   for that word's part (the other parts computed by the grammar), and the part aligned with the
   word's arguments; a function word may also translate to nothing (a leaf with an empty output,
   like SCAN's `turn`). Up to MAX_PERMUTE words every order is tried; beyond that, the order is
   built by inserting the words one at a time (`_orders`). Every training pair whose output
   tokens its own words' lexicon entries explain is parsed in full (only the leaves, the parts
   no rule splits, are looked up). A hypothesis must contradict no pair; among those, the one
   reproducing most pairs wins, then the simplest (shortest forms), then the one where words
   with alike rules (fixity, own token) bind next to each other, then the one with unary words
   binding tighter than binary ones. Others that reproduce as many pairs are kept as
   alternatives (shown by `decode --explain`). A word that shares no pair with another takes
   its simplest form and a conventional place (binary loosest, unary tightest).
Pairs are grouped by which candidate words they hold, so each group is parsed once per ordering
of its own words; the search samples at most MAX_PAIRS pairs per group, and the winner is then
checked against every pair (a failure moves on to the next hypothesis). Rules that reproduce no
pair are dropped. Nothing here names a word of any data set.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from hartflow.zeroshot.forms import evaluate, read_forms, solve
from hartflow.zeroshot.rules import EMPTY, FIXITIES, Form, Parser, Rule, Tokens

Pair = tuple[Tokens, Tokens]
MAX_PERMUTE = 6  # up to this many rule words every order is tried; beyond it, local search
MAX_HYPOTHESES = 200_000  # form choices tried in one search, over all orders
MAX_SOLVED = 8  # pairs solved for a word's part when its forms are read in context
MAX_PAIRS = 32  # pairs per group sampled during the search


@dataclass
class Grammar:
    """The induced rules (with levels and support) and other grammars that fit as well."""

    rules: dict[str, Rule] = field(default_factory=dict)
    alternatives: list[dict[str, Rule]] = field(default_factory=list)


def induce_grammar(
    pairs: Sequence[Pair], function_words: set[str], lexicon: dict[str, str]
) -> Grammar:
    """The grammar (rules and levels) that reproduces most training pairs by whole parses.

    Args:
        pairs: (command, output) training pairs.
        function_words: the words that may carry rules (or translate to nothing) besides
            lexical words never seen alone (step 1); lexicon entries among them are ignored.
        lexicon: {word: token}; a pair is parsed in full only if these explain its tokens.
    """
    train = dict(pairs)

    def known(span: Tokens) -> Tokens | None:
        """A part's output without rules: a training pair's, or a lexical word's token."""
        out = train.get(span)
        if out is None and len(span) == 1 and span[0] in lexicon:
            return (lexicon[span[0]],)
        return out

    alone = {i[0] for i, _ in pairs if len(i) == 1}
    marked = {w for i, _ in pairs for w in i if w in lexicon and w not in alone}
    space = _Space(pairs, function_words - set(lexicon), marked, lexicon, known)
    candidates = space.local()
    explained = [(i, o) for i, o in pairs if set(o) <= {lexicon[w] for w in i if w in lexicon}]
    while True:
        grammar = _search(explained, candidates, space)
        weak = [w for w, r in grammar.rules.items() if not r.support]
        if not weak:
            return grammar
        for w in weak:
            del candidates[w]


class _Space:
    """The hypothesis space: candidate words, their fixities and own tokens, and form reading."""

    def __init__(self, pairs, function_words, marked, lexicon, known) -> None:
        self.pairs, self.known = pairs, known
        words = function_words | marked
        self.words = list(dict.fromkeys(w for i, _ in pairs for w in i if w in words))  # seen first
        self.marked = marked  # lexical words never alone: may use their own token
        self.own = {w: frozenset({lexicon[w]}) if w in lexicon else frozenset() for w in self.words}
        first = {i[0] for i, _ in pairs if i}
        last = {i[-1] for i, _ in pairs if i}
        banned = {"prefix": last, "postfix": first, "infix": first | last}  # the words it bans
        self.fixities = {w: [f for f in FIXITIES if w not in banned[f]] for w in self.words}
        self.memo: dict[tuple, set[Form] | None] = {}

    def local(self) -> dict[str, list[Rule] | None]:
        """{word: rules read off its local evidence, simplest first; None: no evidence}."""
        words = [w for w in self.words if self.fixities[w]]
        leaves: set[str] = set()  # lexical words with no evidence, taken as leaves when alone
        while True:
            evidence: dict[str, list] = defaultdict(list)
            member = set(words) - leaves
            for inp, out in self.pairs:
                hits = [p for p, w in enumerate(inp) if w in member]
                if len(hits) != 1:
                    continue
                p = hits[0]
                left, right = inp[:p], inp[p + 1 :]
                fixity = "prefix" if not left else "postfix" if not right else "infix"
                parts = [left, right] if fixity == "infix" else [left or right]
                if any(len(x) > 1 and leaves.intersection(x) for x in parts):
                    continue  # such a word is a leaf only where it is a whole part
                args = [self.known(x) for x in parts]
                if all(a is not None for a in args):
                    evidence[inp[p]].append((fixity, args, out))
            out: dict[str, list[Rule] | None] = {}
            for w in words:
                fixes = {f for f, _, _ in evidence.get(w, ())}
                if not fixes:
                    out[w] = None
                    continue
                f, n = next(iter(fixes)), len(evidence[w])
                if len(fixes) > 1 or f not in self.fixities[w]:
                    out[w] = []  # no one form fits
                    continue
                forms = read_forms([(a, o) for _, a, o in evidence[w]], self.own[w])
                rules = sorted((Rule(w, f, form, n) for form in forms or ()), key=Rule.key)
                out[w] = None if forms is None else rules
            unread = {w for w, r in out.items() if r is None and w in self.marked}
            gone = {w for w, r in out.items() if r == []}
            if not gone and leaves >= unread:
                return out
            leaves |= unread - gone
            words = [w for w in words if w not in gone]

    def in_context(self, w: str, level: int, chosen: dict[str, Rule], groups) -> list[Rule]:
        """Rules for a word with no local evidence, read off the pairs that hold it once under
        the chosen rules of the other words (step 3), simplest first; it may translate to
        nothing."""
        rules = [Rule(w, EMPTY, ())] if w not in self.marked else []
        read_any = False
        usable = [g for g in groups if w in g and all(x == w or x in chosen for x in g)]
        for f in self.fixities[w]:
            context = frozenset(
                (x, chosen[x].fixity, chosen[x].form, chosen[x].level)
                for g in usable
                for x in g
                if x != w
            )
            key = (w, f, level, context)
            if key not in self.memo:
                parser = Parser({**chosen, w: Rule(w, f, (), level=level)})
                solved = []  # a few pairs propose forms; the search checks them on the rest
                tried, s = (p for g in sorted(usable, key=len) for p in groups[g]), None
                for inp, out in itertools.islice(tried, 8 * MAX_SOLVED):
                    s = solve(parser, w, inp, out, self.known)
                    if s is False:  # no form of w reproduces this pair here
                        solved = []
                        break
                    if s is not None:
                        solved.append(s)
                        if len(solved) == MAX_SOLVED:
                            break
                self.memo[key] = read_forms(solved, self.own[w]) if solved else (
                    set() if s is False else None)  # fmt: skip
            forms = self.memo[key]
            read_any |= forms is not None
            rules += sorted((Rule(w, f, form) for form in forms or ()), key=Rule.key)
        if not read_any:  # nothing tells: its simplest form per fixity
            rules += [Rule(w, f, (0, 1) if f == "infix" else (0,)) for f in self.fixities[w]]
        return rules


@dataclass
class _Hypothesis:
    rules: dict[str, Rule]
    reproduced: int
    cost: int
    runs: int  # neighbours in the order whose rules differ in kind: alike words bind alike
    penalty: int  # binary words binding tighter than unary ones

    def key(self) -> tuple:
        return (-self.reproduced, self.cost, self.runs, self.penalty)


def _search(pairs, candidates, space: _Space) -> Grammar:
    """Step 3: the best hypothesis over orders and forms, checked against every pair."""
    known = space.known
    groups: dict[tuple[str, ...], list[Pair]] = defaultdict(list)
    for inp, out in pairs:
        held = [w for w in inp if w in candidates]
        if len(held) >= 2:
            groups[tuple(sorted(set(held)))].append((inp, out))
    sample = {g: ps[:MAX_PAIRS] for g, ps in groups.items()}
    memo: dict[tuple, tuple[int, int]] = {}
    trees: dict[tuple, list] = {}

    def score(group: tuple[str, ...], rules: dict[str, Rule]) -> tuple[int, int]:
        """(reproduced, contradicted) over the group's sampled pairs."""
        order = tuple(sorted(group, key=lambda w: rules[w].level))
        key = (group, tuple((rules[w].fixity, rules[w].form) for w in group), order)
        if key not in memo:
            shape = (group, tuple(rules[w].fixity for w in group), order)
            if shape not in trees:  # the parses depend on fixities and order, not on forms
                parser = Parser({w: rules[w] for w in group})
                trees[shape] = [parser.parse(inp) for inp, _ in sample[group]]
            good = bad = 0
            for nodes, (inp, out) in zip(trees[shape], sample[group], strict=True):
                value = evaluate(nodes, inp, rules, known) if nodes[0].rule else None
                got = value[0] if value else None
                good += got == out
                bad += got is not None and got != out
            memo[key] = good, bad
        return memo[key]

    # a word in no group interacts with no other: its simplest form, and a default place
    # (binary words loosest, unary tightest: what the data leave open, a usual convention)
    grouped = {w for g in groups for w in g}
    free = {w: c[0] for w, c in candidates.items() if w not in grouped and c}
    loose = [w for w in free if free[w].arity == 2]
    tight = [w for w in free if free[w].arity != 2]
    words = [w for w in candidates if w in grouped]
    found: list[_Hypothesis] = []
    budget = [MAX_HYPOTHESES]

    def assign(order):  # over the groups of the words in `order` (all or a partial order)
        inside = {g: ps for g, ps in sample.items() if set(g) <= set(order)}
        return _assign(order, candidates, inside, score, budget, space)

    for order in _orders(words, candidates, assign):
        found.extend(assign(order))
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
        verified = _verify(h.rules, groups, known)
        if verified is None:
            continue
        alternatives: dict[tuple, dict[str, Rule]] = {}
        for a in found[i + 1 :]:
            if a.reproduced == h.reproduced:
                alternatives.setdefault(_shape(a.rules), a.rules)
        alternatives.pop(_shape(h.rules), None)
        return Grammar(verified, list(alternatives.values())[:3])
    return Grammar()


def _orders(words, candidates, assign) -> list[tuple[str, ...]]:
    """Orders (loosest first) to try: all of them for a few words; else one built by inserting
    the words one at a time (those with local evidence first, most supported first) where they
    fit the pairs of the words placed so far best (the tightest such place on a tie)."""
    if len(words) <= MAX_PERMUTE:
        return list(itertools.permutations(words))
    order: tuple[str, ...] = ()
    for w in sorted(words, key=lambda w: (candidates[w] is None, -max(
            (r.support for r in candidates[w] or ()), default=0))):  # fmt: skip
        order = min(((*order[:p], w, *order[p:]) for p in reversed(range(len(order) + 1))),
                    key=lambda o: min((h.key() for h in assign(o)), default=(1,)))  # fmt: skip
    return [order]


def _assign(order, candidates, groups, score, budget: list[int], space) -> list[_Hypothesis]:
    """Consistent choices of one form per word under this order (backtracking, simplest forms
    first; words with no local evidence last, their forms read in context), while `budget[0]`
    (form choices left to try, shared by all orders) lasts."""
    level = {w: i for i, w in enumerate(order)}
    words = sorted(order, key=lambda w: (candidates[w] is None, len(candidates[w] or ())))
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
            kinds = [(r.fixity, r.arity, r.own()) for r in (chosen[u] for u in order)]
            runs = sum(a != b for a, b in itertools.pairwise(kinds))
            out.append(_Hypothesis(dict(chosen), total, cost, runs, penalty))
            return
        w = words[k]
        options = candidates[w]
        if options is None:
            options = space.in_context(w, level[w], chosen, groups)
        for r in options:
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


def _verify(rules, groups, known) -> dict[str, Rule] | None:
    """The rules with their support counted over every pair, or None if one contradicts them.
    A word that translates to nothing is supported by the reproduced pairs that hold it."""
    parser = Parser(rules)
    support: dict[str, int] = {w: r.support for w, r in rules.items()}
    for group in groups:
        for inp, out in groups[group]:
            got, used, _ = parser.interpret(inp, known, leaves_only=True)
            if got is not None and got != out:
                return None
            if got == out:
                for w in {r.word for r in used} | (set(inp) & parser.empty):
                    support[w] += 1
    return {w: Rule(w, r.fixity, r.form, support[w], r.level) for w, r in rules.items()}


def _shape(rules: dict[str, Rule]) -> tuple:
    """A grammar up to the numbering of its levels: its forms and its binding order."""
    forms = tuple(sorted((w, r.fixity, r.form) for w, r in rules.items()))
    return forms, tuple(sorted(rules, key=lambda w: rules[w].level))
