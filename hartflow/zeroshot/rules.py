"""Composition rules induced from training pairs: how a function word combines its neighbours.

For every function word `f` at position i of a training command, the command splits into a left
part L = cmd[:i] and a right part R = cmd[i+1:]. Where the answers of the parts are themselves
known training pairs, each candidate combinator is checked against the whole command's output:

    concat        out = ans(L) + ans(R)          (binary; L and R non-empty)
    concat_swap   out = ans(R) + ans(L)          (binary)
    repeat n      out = ans(L) × n               (postfix; R empty), n = 2..4
    repeat_pre n  out = ans(R) × n               (prefix; L empty)

A rule is kept when it is supported by at least `min_support` covering pairs and contradicted by
none. Precedence is induced in stages: stage 0 checks splits of whole commands, so the rules it
keeps are the loosest-binding words (a tighter word would break them); stage 1 checks only the
commands that contain no stage-0 word, and so on. Parsing tries lower stages first.
Rules are data: nothing names a word of any data set.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

Tokens = tuple[str, ...]
MAX_REPEAT = 4


@dataclass(frozen=True)
class Rule:
    """`word` combines its parts by `kind` ("concat", "concat_swap", "repeat", "repeat_pre")."""

    word: str
    kind: str
    times: int = 1
    support: int = 0
    stage: int = 0  # precedence: lower stages bind more loosely and are split first

    def fits(self, left: Tokens, right: Tokens) -> bool:
        """Whether this rule applies to a split with these (possibly empty) parts."""
        if self.kind in ("concat", "concat_swap"):
            return bool(left) and bool(right)
        if self.kind == "repeat":
            return bool(left) and not right
        return bool(right) and not left

    def combine(self, left: Tokens, right: Tokens) -> Tokens:
        """The output from the parts' outputs."""
        if self.kind == "concat":
            return left + right
        if self.kind == "concat_swap":
            return right + left
        return (left if self.kind == "repeat" else right) * self.times

    def describe(self) -> str:
        return {
            "concat": f"'{self.word}': ans(left) + ans(right)",
            "concat_swap": f"'{self.word}': ans(right) + ans(left)",
            "repeat": f"'{self.word}': ans(left) × {self.times}",
            "repeat_pre": f"'{self.word}': ans(right) × {self.times}",
        }[self.kind] + f"  (support {self.support}, stage {self.stage})"


def _candidates(word: str) -> list[Rule]:
    rules = [Rule(word, "concat"), Rule(word, "concat_swap")]
    for n in range(2, MAX_REPEAT + 1):
        rules += [Rule(word, "repeat", n), Rule(word, "repeat_pre", n)]
    return rules


def induce_rules(
    pairs: Sequence[tuple[Tokens, Tokens]],
    function_words: set[str],
    *,
    min_support: int = 2,
    max_stages: int = 4,
) -> dict[str, list[Rule]]:
    """{function word: rules consistent with every training pair they cover}, best first."""
    known = dict(pairs)
    found: dict[str, list[Rule]] = {}
    pool = list(pairs)
    for stage in range(max_stages):
        rules = _consistent(pool, function_words - set(found), known, min_support, stage)
        if not rules:
            break
        found.update(rules)
        pool = [(i, o) for i, o in pool if not set(i) & set(rules)]
    return found


def _consistent(
    pairs: Sequence[tuple[Tokens, Tokens]],
    words: set[str],
    known: dict[Tokens, Tokens],
    min_support: int,
    stage: int,
) -> dict[str, list[Rule]]:
    support: dict[Rule, int] = defaultdict(int)
    broken: set[Rule] = set()
    for inp, out in pairs:
        for i, word in enumerate(inp):
            if word not in words:
                continue
            left, right = inp[:i], inp[i + 1 :]
            ans_l = known.get(left) if left else ()
            ans_r = known.get(right) if right else ()
            if ans_l is None or ans_r is None:
                continue  # a part's answer is unknown: this split says nothing
            for rule in _candidates(word):
                if rule.fits(left, right):
                    if rule.combine(ans_l, ans_r) == out:
                        support[rule] += 1
                    else:
                        broken.add(rule)
    found: dict[str, list[Rule]] = defaultdict(list)
    for rule, n in support.items():
        if rule not in broken and n >= min_support:
            found[rule.word].append(Rule(rule.word, rule.kind, rule.times, n, stage))
    return {w: sorted(rs, key=lambda r: -r.support) for w, rs in found.items()}
