"""Choosing among a skeleton's templates when its training pairs disagree.

Typed slots accept any word of a class, but words of one class can still behave differently in
one skeleton (two words whose outputs give the same neighbouring slot different roles). Such a
skeleton keeps every template it was seen with, and the words that filled each slot under each
one. A *deciding* slot is one whose words each went with a single template. For a new command:

1. the word in a deciding slot was seen there: its template (direct evidence);
2. otherwise the template whose words share most usages with this word elsewhere: a usage is a
   (skeleton, slot, template) triple, so a word seen only as "X <w> ." with one template sides
   with the words that had that same template there;
3. otherwise the most frequent template.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

Tokens = tuple[str, ...]
Usage = tuple[int, int, int]  # (skeleton id, slot, template id within that skeleton)


class TemplateChoice:
    """The templates of one skeleton with the fillers seen under each.

    Args:
        skeleton: the skeleton's id (for usages).
        seen: (template, fillers) for every training pair of the skeleton.
    """

    def __init__(self, skeleton: int, seen: Sequence[tuple[Tokens, Sequence[str]]]) -> None:
        self.skeleton = skeleton
        counts = Counter(t for t, _ in seen)
        self.templates = [t for t, _ in counts.most_common()]
        self.counts = [counts[t] for t in self.templates]
        index = {t: i for i, t in enumerate(self.templates)}
        n_slots = max((len(f) for _, f in seen), default=0)
        self.by_slot: list[dict[str, Counter]] = [defaultdict(Counter) for _ in range(n_slots)]
        for t, fillers in seen:
            for k, w in enumerate(fillers):
                self.by_slot[k][w][index[t]] += 1
        self.deciding = sorted(
            (k for k, words in enumerate(self.by_slot) if self._decides(words)),
            key=lambda k: -len(self.by_slot[k]),
        )

    def _decides(self, words: dict[str, Counter]) -> bool:
        return (
            len(self.templates) > 1
            and all(len(c) == 1 for c in words.values())
            and (len({next(iter(c)) for c in words.values()}) > 1)
        )

    def usages(self) -> list[tuple[str, Usage]]:
        """(word, usage) for every word seen in this skeleton."""
        return [
            (w, (self.skeleton, k, i))
            for k, words in enumerate(self.by_slot)
            for w, c in words.items()
            for i in c
        ]

    def choose(
        self, fillers: Sequence[str], usages: dict[str, set[Usage]], users: dict[Usage, set[str]]
    ) -> tuple[Tokens, str]:
        """(template, why) for a command with these fillers."""
        if len(self.templates) == 1:
            return self.templates[0], ""
        for k in self.deciding:
            if k < len(fillers) and fillers[k] in self.by_slot[k]:
                i = next(iter(self.by_slot[k][fillers[k]]))
                return self.templates[i], f"slot {k} word {fillers[k]!r} seen with this template"
        for k in self.deciding:
            if k >= len(fillers):
                continue
            groups: dict[int, set[str]] = defaultdict(set)
            for w, c in self.by_slot[k].items():
                groups[next(iter(c))].add(w)
            score = Counter()
            for usage in usages.get(fillers[k], ()):
                for i, words in groups.items():
                    score[i] += len(users[usage] & words) / len(words)
            if score:
                i, s = max(score.items(), key=lambda x: (x[1], -x[0]))
                return self.templates[i], (
                    f"slot {k} word {fillers[k]!r} shares usages with this template's words "
                    f"({s:.2f})"
                )
        return self.templates[0], f"most frequent of {len(self.templates)} templates"


class Alternations:
    """Word-conditioned tokens: where one skeleton's templates differ only by a token near a
    deciding slot (the role a slot's word gives its neighbour), the word in that slot picks it.

    A context is (slot symbol, the skeleton symbol after the slot, distance from the slot's
    reference in the template to the differing token); each word remembers which token it took
    in each context. Any template later filled with that word in that context gets the word's
    token, so a word seen in one skeleton carries its choice into skeletons it was never in.
    """

    def __init__(self) -> None:
        self.tokens: dict[tuple, set[str]] = defaultdict(set)  # context -> alternatives
        self.taken: dict[tuple, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))

    @staticmethod
    def context(skeleton: Tokens, slot_at: list[int], k: int) -> tuple[str, str]:
        p = slot_at[k]
        return skeleton[p], skeleton[p + 1] if p + 1 < len(skeleton) else ""

    def learn(self, skeleton: Tokens, slot_at: list[int], choice: TemplateChoice) -> None:
        """Read the alternations of one skeleton with several templates."""
        if not choice.deciding or len({len(t) for t in choice.templates}) != 1:
            return
        k = choice.deciding[0]
        ref = f"<{k}>"
        key = self.context(skeleton, slot_at, k)
        templates = choice.templates
        diff = [p for p in range(len(templates[0])) if len({t[p] for t in templates}) > 1]
        for p in diff:
            dist = next((d for d in range(1, 4) if p - d >= 0 and templates[0][p - d] == ref), 0)
            if not dist:
                continue
            self.tokens[(*key, dist)].update(t[p] for t in templates)
            for w, c in choice.by_slot[k].items():
                for i, n in c.items():
                    self.taken[(*key, dist)][w][templates[i][p]] += n

    def apply(
        self, tmpl: Tokens, skeleton: Tokens, slot_at: list[int], fillers: Sequence[str]
    ) -> tuple[Tokens, list[str]]:
        """The template with each alternating token set by its slot's word; what changed."""
        out, why = list(tmpl), []
        for k, w in enumerate(fillers):
            ref, key = f"<{k}>", self.context(skeleton, slot_at, k)
            for dist in range(1, 4):
                alts = self.tokens.get((*key, dist))
                pref = alts and self.taken[(*key, dist)].get(w)
                if not pref:
                    continue
                token = pref.most_common(1)[0][0]
                for p in range(dist, len(out)):
                    if out[p - dist] == ref and out[p] in alts and out[p] != token:
                        out[p] = token
                        why.append(f"{w!r} takes {token!r} after {key[0]} before {key[1]!r}")
        return tuple(out), why
