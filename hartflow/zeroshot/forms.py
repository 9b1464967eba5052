"""Reading a rule's form off training pairs by alignment, and solving a parse for one part.

A form is read, not enumerated: given the outputs of a word's arguments and the pair's output,
every way to cover the output left to right by copies of the arguments' outputs and the word's
own token is a form that reproduces the pair (`matching_forms`); the other pairs keep the forms
that reproduce them too (`read_forms`). So a form may be of any length. Where the word is nested
in a pair, the pair is first solved for the word's part: the parse is evaluated with that part
unknown, and since every other part is known, the unknown's length and value follow from the
output (`solve`).
"""

from __future__ import annotations

from collections.abc import Sequence

from hartflow.zeroshot.rules import EMPTY, Form, Parser, Rule, Tokens

MAX_ALIGNMENTS = 4096  # a pair with more alignments than this does not propose forms
_X = object()  # the unknown part in a solved parse


def matching_forms(
    args: Sequence[Tokens], out: Tokens, own: frozenset[str] | set[str] = frozenset()
) -> set[Form] | None:
    """Every form (argument references and `own` tokens) whose reading on `args` is exactly
    `out`, read by aligning `out` left to right; None if there are more than MAX_ALIGNMENTS.
    An empty argument is never referenced (where it would go is not determined)."""
    found: set[Form] = set()
    todo: list[tuple[int, Form]] = [(0, ())]
    while todo:
        j, form = todo.pop()
        if j == len(out):
            if form:
                found.add(form)
                if len(found) > MAX_ALIGNMENTS:
                    return None
            continue
        if out[j] in own:
            todo.append((j + 1, (*form, out[j])))
        for i, a in enumerate(args):
            if a and out[j : j + len(a)] == a:
                todo.append((j + len(a), (*form, i)))
    return found


def read_forms(
    evidence: Sequence[tuple[Sequence[Tokens], Tokens]], own: frozenset[str] = frozenset()
) -> set[Form] | None:
    """The forms that reproduce every (arguments, output) of `evidence`: read off the most
    telling one (no empty argument, arguments that differ, shortest output), checked on the rest.
    None when no pair can propose forms."""
    best = None
    ranked = sorted(
        (e for e in evidence if all(e[0])),
        key=lambda e: (len(set(e[0])) < len(e[0]), len(e[1])),
    )
    for args, out in ranked:
        best = matching_forms(args, out, own)
        if best is not None:
            break
    if best is None:
        return None
    return {f for f in best if all(Rule("", "", f).combine(a) == o for a, o in evidence)}


def evaluate(nodes, inp: Tokens, rules: dict[str, Rule], known, unknown: int = -1):
    """{node: output} of a parse (as `Parser.parse` gives it) under `rules`, only the leaves
    looked up (None when one is unknown); node `unknown` stands for an unknown output (_X)."""
    value: dict[int, tuple] = {}
    for i in reversed(range(len(nodes))):  # children come after their parent
        node = nodes[i]
        if i == unknown:
            value[i] = (_X,)
        elif node.rule is not None:
            value[i] = rules[node.rule.word].combine([value[c] for c in node.children])
        else:
            span = inp[node.lo : node.hi]
            rule = rules.get(span[0]) if len(span) == 1 else None
            value[i] = () if rule is not None and rule.fixity == EMPTY else known(span)
            if value[i] is None:
                return None
    return value


def solve(parser: Parser, w: str, inp: Tokens, out: Tokens, known):
    """(w's arguments' outputs, w's output) in this pair's parse, when `w` splits it once and
    everything else is known; None when it cannot be told; False when no output of w fits."""
    nodes = parser.parse(inp)
    at = [i for i, n in enumerate(nodes) if n.rule is not None and n.rule.word == w]
    value = evaluate(nodes, inp, parser.rules, known, at[0]) if len(at) == 1 else None
    if value is None:
        return None
    root = value[0]
    k = sum(t is _X for t in root)
    if k == 0:
        return None
    n, r = divmod(len(out) - (len(root) - k), k)
    if n < 0 or r:
        return False
    part, j = None, 0
    for t in root:
        if t is _X:
            if part is None:
                part = out[j : j + n]
            elif out[j : j + n] != part:
                return False
            j += n
        elif out[j] != t:
            return False
        else:
            j += 1
    return [value[c] for c in nodes[at[0]].children], part
