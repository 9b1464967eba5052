"""The zero-shot reasoner: read the training pairs once, answer by retrieval and substitution.

1. Lexicon (`lexicon.py`): lexical words and their output tokens, induced from co-occurrence;
   word classes (`classes.py`) from the output contexts of those tokens. Words of a class with
   several tokens become slots; the rest stay literal.
2. Abstraction: a command's skeleton replaces each slot word by its class (`<c0>`, `<c1>`, …);
   a training output becomes a template over the slots (`<0>`, `<1>`, … in order). Skeletons
   are HRR sequence vectors in a `memory.Memory`; retrieval is top-k cosine, and an exact
   skeleton (cosine 1, checked symbolically) gives the hypothesis.
3. Substitution: the template's slots are filled with the new command's lexical translations,
   read back from the HRR lexicon traces. Where one skeleton had several templates, the words
   decide (`choice.py`).
4. Composition: a skeleton never seen is reached from stored ones by induced span edits
   (`analogy.py`: the same substitution seen between other stored skeletons, with its template
   edit), or split at a function word with an induced rule (`rules.py`) and answered bottom-up.
No word of any data set is named anywhere: a renamed data set gives the same answers, renamed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch

import hrr
from hartflow.errors import HartFlowError
from hartflow.zeroshot.analogy import SpanEdits, induce_positions
from hartflow.zeroshot.choice import Alternations, TemplateChoice
from hartflow.zeroshot.classes import induce_classes, substitutable
from hartflow.zeroshot.lexicon import LexiconMemory, induce_lexicon
from hartflow.zeroshot.rules import Rule, induce_rules
from memory import Memory

Tokens = tuple[str, ...]
EXACT = 1 - 1e-4  # cosine at which a retrieved skeleton counts as the same skeleton


@dataclass
class Answer:
    """An answer with its evidence; `tokens` is None when the command could not be answered."""

    command: Tokens
    tokens: Tokens | None
    score: float
    skeletons: list[tuple[str, float]] = field(default_factory=list)  # neighbours, best first
    lexicon: dict[str, str] = field(default_factory=dict)
    rules: list[str] = field(default_factory=list)
    reason: str = ""


def abstract(
    command: Sequence[str], lexicon: dict[str, str], classes: dict[str, int] | None = None
) -> tuple[Tokens, list[str]]:
    """(skeleton, fillers): each lexical word becomes a slot typed by its class (`<c0>`, …;
    `<c>` without classes); fillers are the lexical words in order, one per slot."""
    fillers: list[str] = []
    skeleton = []
    for w in command:
        if w in lexicon:
            fillers.append(w)
            skeleton.append(f"<c{classes[w]}>" if classes else "<c>")
        else:
            skeleton.append(w)
    return tuple(skeleton), fillers


def template(output: Sequence[str], fillers: list[str], lexicon: dict[str, str]) -> Tokens:
    """The output with each filler's translation replaced by its slot `<k>` (the first slot
    with that translation when several share it)."""
    slot_of: dict[str, str] = {}
    for k, w in enumerate(fillers):
        slot_of.setdefault(lexicon[w], f"<{k}>")
    return tuple(slot_of.get(t, t) for t in output)


def ambiguous(fillers: list[str], lexicon: dict[str, str]) -> bool:
    """Whether two slots share a translation (the template cannot tell which one a token is)."""
    return len({lexicon[w] for w in fillers}) < len(fillers)


def sharing(fillers: list[str], lexicon: dict[str, str]) -> Tokens:
    """Which slots share a translation: per slot, the first slot with the same translation."""
    first: dict[str, int] = {}
    return tuple(str(first.setdefault(lexicon[w], k)) for k, w in enumerate(fillers))


def slot_positions(skeleton: Tokens, function_words: set[str]) -> list[int]:
    """Where each slot of a skeleton is (its index in the skeleton)."""
    return [p for p, t in enumerate(skeleton) if t not in function_words]


def instantiate(tmpl: Tokens, fillers: list[str], lexicon: dict[str, str]) -> Tokens | None:
    """Fill the slots; None if the template needs a slot the command does not have."""
    out = []
    for t in tmpl:
        if t.startswith("<") and t.endswith(">") and t[1:-1].isdigit():
            i = int(t[1:-1])
            if i >= len(fillers):
                return None
            out.append(lexicon[fillers[i]])
        else:
            out.append(t)
    return tuple(out)


class ZeroShotReasoner:
    """Build from training pairs with `fit`, then `answer` commands.

    Args:
        d: HRR dimension of the skeleton vectors.
        k: neighbours retrieved per command (reported as evidence).
        seed: fixes every vector.
    """

    def __init__(self, *, d: int = 1024, k: int = 3, seed: int = 0) -> None:
        self.d, self.k, self.seed = d, k, seed

    # ----------------------------------------------------------------------------------- fit
    def fit(self, pairs: Iterable[tuple[Sequence[str], Sequence[str]]]) -> ZeroShotReasoner:
        data = [(tuple(i), tuple(o)) for i, o in pairs]
        if not data:
            raise HartFlowError("the training set is empty; the reasoner needs examples to read")
        self.induced = induce_lexicon(data)  # every lexical word, substitutable or not
        self.classes = induce_classes(data, self.induced)
        self.lexicon = substitutable(self.induced, self.classes)  # the words that become slots
        self.lexicon_memory = LexiconMemory(self.lexicon, d=self.d, seed=self.seed)
        self.known_words = {w for i, _ in data for w in i}
        self.function_words = self.known_words - set(self.lexicon)
        self.train = dict(data)

        seen: dict[Tokens, list[tuple[Tokens, list[str]]]] = defaultdict(list)
        unclear: dict[tuple[Tokens, Tokens], Counter] = defaultdict(Counter)
        for inp, out in data:
            skel, fillers = abstract(inp, self.lexicon, self.classes)
            if ambiguous(fillers, self.lexicon):
                unclear[skel, sharing(fillers, self.lexicon)][
                    template(out, fillers, self.lexicon)
                ] += 1
            else:
                seen[skel].append((template(out, fillers, self.lexicon), fillers))
        # a template read from a pair whose slots share a translation is only sure for commands
        # whose slots share translations the same way
        self.unclear = {key: c.most_common(1)[0][0] for key, c in unclear.items()}
        self.choices = {
            skel: TemplateChoice(i, pairs) for i, (skel, pairs) in enumerate(seen.items())
        }
        self.alternations = Alternations()
        for skel, choice in self.choices.items():
            self.alternations.learn(skel, slot_positions(skel, self.function_words), choice)
        self.usages: dict[str, set] = defaultdict(set)
        self.users: dict[tuple, set] = defaultdict(set)
        for choice in self.choices.values():
            for w, usage in choice.usages():
                self.usages[w].add(usage)
                self.users[usage].add(w)
        stored = {skel: choice.templates[0] for skel, choice in self.choices.items()}
        self.positions = induce_positions(data, self.lexicon, self.classes)
        self.span_edits = SpanEdits(self.positions, lambda x: x not in self.function_words)
        self.span_edits.learn(stored, [o for _, o in data])
        self.rules = induce_rules(data, self.function_words)
        derived = self._derive(stored)
        stored.update(derived)
        self.derived = set(derived)
        for (skel, _), tmpl in self.unclear.items():  # a template for the neighbour evidence
            stored.setdefault(skel, tmpl)
        self.skeletons = list(stored)
        self.templates = list(stored.values())

        slots = {t for s in self.skeletons for t in s if t not in self.function_words}
        self.symbols = hrr.Vocabulary(  # non-strict: a test skeleton may need a new slot <i>
            self.d, sorted(self.function_words | slots), seed=self.seed, strict=False
        )
        self.memory = Memory(self.d, metric="cosine")
        self.memory.add(self._encode(self.skeletons), list(range(len(self.skeletons))))
        self._cache: dict[Tokens, Answer] = {}
        return self

    def _derive(self, stored: dict[Tokens, Tokens]) -> dict[Tokens, Tokens]:
        """Skeletons implied by inverting repeat rules: if 'X w' is stored with a template that is
        U repeated n times, w's rule is 'ans(left) × n' and X holds no looser-binding word, then
        X has template U."""
        derived: dict[Tokens, Tokens] = {}
        for skel, tmpl in stored.items():
            for word, part, rest in (
                (skel[-1], skel[:-1], "repeat"),
                (skel[0], skel[1:], "repeat_pre"),
            ):
                for rule in self.rules.get(word, []):
                    n = rule.times
                    if rule.kind != rest or not part or part in stored or len(tmpl) % n:
                        continue
                    if any(r.stage < rule.stage for w in part for r in self.rules.get(w, [])):
                        continue  # a looser word inside: the rule spans only part of `part`
                    unit = tmpl[: len(tmpl) // n]
                    if unit * n == tmpl:
                        derived.setdefault(part, unit)
        return derived

    def _encode(self, skeletons: Sequence[Tokens]) -> torch.Tensor:
        return hrr.encode_sequence([list(s) for s in skeletons], self.symbols, p_err=None).reshape(
            len(skeletons), self.d
        )

    # -------------------------------------------------------------------------------- answer
    def answer_many(self, commands: Sequence[Sequence[str]]) -> list[Answer]:
        """Answer a batch: skeleton retrieval is batched, composition recurses per command."""
        commands = [tuple(c) for c in commands]
        todo = [c for c in dict.fromkeys(commands) if c not in self._cache]
        self._retrieve(todo)
        return [self.answer(c) for c in commands]

    def answer(self, command: Sequence[str]) -> Answer:
        """The answer to one command, with its evidence."""
        command = tuple(command)
        if command not in self._cache:
            self._retrieve([command])
        return self._cache[command]

    def _retrieve(self, commands: list[Tokens]) -> None:
        """Fill the cache for `commands`: skeleton hits first, then composition."""
        ok = [c for c in commands if c and all(w in self.known_words for w in c)]
        for c in commands:
            if c not in ok:
                unknown = [w for w in c if w not in self.known_words]
                reason = f"unknown words: {', '.join(unknown)}" if unknown else "empty command"
                self._cache[c] = Answer(c, None, 0.0, reason=reason)
        if not ok:
            return
        abstracted = [abstract(c, self.lexicon, self.classes) for c in ok]
        words = sorted({w for _, fillers in abstracted for w in fillers})
        read = dict(zip(words, self.lexicon_memory.translate(words), strict=True))  # one batch
        scores, idx = self.memory.search(self._encode([s for s, _ in abstracted]), self.k)
        for c, (skel, fillers), s_row, i_row in zip(
            ok, abstracted, scores.tolist(), idx.tolist(), strict=True
        ):
            neighbours = [
                (" ".join(self.skeletons[i]), s) for s, i in zip(s_row, i_row, strict=True)
            ]
            hit = s_row[0] >= EXACT and self.skeletons[i_row[0]] == skel
            lexicon = {w: read[w][0] for w in fillers}  # read back from the HRR traces
            tokens, why = None, ""
            if hit:
                tmpl, why = self._template(skel, fillers, i_row[0])
                tokens = None if tmpl is None else instantiate(tmpl, fillers, lexicon)
            self._cache[c] = Answer(
                c,
                tokens,
                s_row[0] if tokens is not None else 0.0,
                skeletons=neighbours,
                lexicon=lexicon,
                rules=[f"template choice: {why}"] if why else [],
                reason="" if tokens is not None else "skeleton never seen; composing",
            )
        for c, (skel, fillers) in zip(ok, abstracted, strict=True):
            if self._cache[c].tokens is None:
                self._cache[c] = self._by_analogy(skel, fillers, self._cache[c])
            if self._cache[c].tokens is None:
                self._cache[c] = self._compose(c, self._cache[c])

    def _template(self, skel: Tokens, fillers: list[str], i: int) -> tuple[Tokens | None, str]:
        """The stored template for a command's skeleton and fillers, and why it was chosen."""
        choice = self.choices.get(skel)
        if choice is not None:
            tmpl, why = choice.choose(fillers, self.usages, self.users)
            slot_at = slot_positions(skel, self.function_words)
            tmpl, changed = self.alternations.apply(tmpl, skel, slot_at, fillers)
            return tmpl, "; ".join(x for x in (why, *changed) if x)
        key = (skel, sharing(fillers, self.lexicon))
        if key in self.unclear:
            return self.unclear[key], "slots share translations as in training"
        if skel in self.derived:
            return self.templates[i], "derived by inverting a repeat rule"
        return None, ""

    def _by_analogy(self, skel: Tokens, fillers: list[str], found: Answer) -> Answer:
        """A stored skeleton one span away, its template edited by an induced span edit."""
        got = self.span_edits.apply(skel, self._primary)
        if got is None:
            return found
        tmpl, why = got
        slot_at = slot_positions(skel, self.function_words)
        tmpl, changed = self.alternations.apply(tmpl, skel, slot_at, fillers)
        tokens = instantiate(tmpl, fillers, found.lexicon)
        if tokens is None:
            return found
        score = found.skeletons[0][1] if found.skeletons else 0.0
        rules = [*why.split("; "), *(f"template choice: {c}" for c in changed)]
        return Answer(found.command, tokens, score, found.skeletons, found.lexicon, rules)

    def _primary(self, skel: Tokens) -> Tokens | None:
        choice = self.choices.get(skel)
        return choice.templates[0] if choice else None

    def _compose(self, command: Tokens, found: Answer) -> Answer:
        """Split at a function word with an induced rule and answer the parts recursively."""
        splits = sorted(
            (
                (rule.stage, i, rule)
                for i, w in enumerate(command)
                for rule in self.rules.get(w, [])
            ),
            key=lambda x: (x[0], x[1], -x[2].support),
        )
        for _, i, rule in splits:
            left, right = command[:i], command[i + 1 :]
            if not rule.fits(left, right):
                continue
            parts = [self.answer(p) if p else None for p in (left, right)]
            if any(p is not None and p.tokens is None for p in parts):
                continue
            a_l, a_r = (p.tokens if p else () for p in parts)
            used = [p for p in parts if p is not None]
            return Answer(
                command,
                rule.combine(a_l, a_r),
                min(p.score for p in used),
                skeletons=found.skeletons,
                lexicon={k: v for p in used for k, v in p.lexicon.items()},
                rules=[rule.describe(), *(r for p in used for r in p.rules)],
            )
        found.reason = "no stored skeleton and no induced rule splits this command"
        return found

    def describe_rules(self) -> list[str]:
        return [r.describe() for rules in self.rules.values() for r in rules]

    @property
    def rule_list(self) -> list[Rule]:
        return [r for rules in self.rules.values() for r in rules]
