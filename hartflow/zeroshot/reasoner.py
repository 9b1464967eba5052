"""The zero-shot reasoner: read the training pairs once; answer by rules, retrieval, substitution.

1. Lexicon (`lexicon.py`): lexical words and their output tokens, induced from co-occurrence;
   word classes (`classes.py`) from the output contexts of those tokens. Words of a class with
   several tokens become slots; the rest stay literal.
2. Grammar (`grammar.py`, `forms.py`, `rules.py`): function words (and lexical words never seen
   alone) get rules whose forms are read off the pairs by alignment, with a binding order. A
   command the rules compute from single words (every other word a rule) is answered so.
3. Memory: otherwise a command's skeleton replaces each slot word by its class (`<c0>`, …);
   a training output becomes a template over the slots (`<0>`, `<1>`, … in order). Skeletons
   are HRR sequence vectors in a `memory.Memory`; retrieval is top-k cosine, and an exact
   skeleton (cosine 1, checked symbolically) gives the template, its slots filled with the
   command's translations read back from the HRR lexicon traces, and tokens that alternate by
   word set by the word (`choice.py`).
4. Analogy and composition: a skeleton never seen is reached from stored ones by induced span
   edits (`analogy.py`), or parsed with the grammar, each part taken from memory where it is
   known. The parse is iterative, so a command of any length can be answered.
No word of any data set is named anywhere: a renamed data set gives the same answers, renamed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import torch

import hrr
from hartflow.errors import HartFlowError
from hartflow.zeroshot.analogy import REACH, SpanEdits, induce_positions, slot_index
from hartflow.zeroshot.choice import Alternations
from hartflow.zeroshot.classes import induce_classes, substitutable
from hartflow.zeroshot.grammar import Grammar, induce_grammar
from hartflow.zeroshot.lexicon import LexiconMemory, induce_lexicon
from hartflow.zeroshot.rules import Parser, Rule
from memory import Memory

Tokens = tuple[str, ...]
EXACT = 1 - 1e-4  # cosine at which a retrieved skeleton counts as the same skeleton
NEVER_SEEN = "skeleton never seen; composing"
MAX_EXPLAINED = 64  # commands up to this long are also answered by the alternative grammars


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


def sharing(fillers: list[str], lexicon: dict[str, str]) -> tuple[int, ...]:
    """Which slots share a translation: per slot, the first slot with the same translation."""
    first: dict[str, int] = {}
    return tuple(first.setdefault(lexicon[w], k) for k, w in enumerate(fillers))


def instantiate(tmpl: Tokens, fillers: list[str], lexicon: dict[str, str]) -> Tokens | None:
    """Fill the slots; None if the template needs a slot the command does not have."""
    out = []
    for t in tmpl:
        i = slot_index(t)
        if i is not None and i >= len(fillers):
            return None
        out.append(t if i is None else lexicon[fillers[i]])
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

        seen: dict[Tokens, list[tuple[Tokens, list[str]]]] = defaultdict(list)
        unclear: dict[tuple[Tokens, tuple[int, ...]], Counter] = defaultdict(Counter)
        for inp, out in data:
            skel, fillers = abstract(inp, self.lexicon, self.classes)
            tmpl, share = template(out, fillers, self.lexicon), sharing(fillers, self.lexicon)
            if share != tuple(range(len(fillers))):  # two slots share a translation
                unclear[skel, share][tmpl] += 1
            else:
                seen[skel].append((tmpl, fillers))
        # a template read from a pair whose slots share a translation is only sure for commands
        # whose slots share translations the same way
        self.unclear = {key: c.most_common(1)[0][0] for key, c in unclear.items()}
        self.alternations = Alternations(lambda x: x not in self.function_words)
        for skel, s in seen.items():
            self.alternations.learn(skel, s)
        # each skeleton's most frequent template (what span edits start from)
        self._primary = {
            skel: Counter(t for t, _ in s).most_common(1)[0][0] for skel, s in seen.items()
        }
        stored = dict(self._primary)
        self.positions = induce_positions(data, self.lexicon, self.classes)
        self.span_edits = SpanEdits(self.positions, lambda x: x not in self.function_words)
        self.span_edits.learn(stored, [o for _, o in data])
        self.grammar: Grammar = induce_grammar(data, self.function_words, self.induced)
        self.rules: dict[str, Rule] = self.grammar.rules
        self.parser = Parser(self.rules)
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
        reach = REACH if self.span_edits.by_beta else 0  # see SpanEdits.apply
        self.max_lookup = max(map(len, self.skeletons), default=0) + reach  # longer: never known
        self._cache: dict[Tokens, Answer] = {}
        self._looked: dict[Tokens, Answer] = {}  # memory and analogy only, no composition
        self._edited: dict[Tokens, tuple[Tokens, str] | None] = {}  # span edits per skeleton
        self._searched: dict[Tokens, tuple[list, list]] = {}  # skeleton -> (scores, indices)
        self._read: dict[str, tuple[str | None, float]] = {}  # word -> (token, cosine)
        return self

    def _encode(self, skeletons: Sequence[Tokens]) -> torch.Tensor:  # (n, d)
        seqs = [list(s) for s in skeletons]
        return hrr.encode_sequence(seqs, self.symbols, p_err=None).reshape(len(seqs), self.d)

    # -------------------------------------------------------------------------------- answer
    def answer_many(self, commands: Sequence[Sequence[str]]) -> list[Answer]:
        """Answer a batch: skeleton retrieval is batched, then each unanswered command is
        parsed with the induced grammar."""
        commands = [tuple(c) for c in commands]
        self._retrieve([c for c in dict.fromkeys(commands) if c not in self._cache])
        return [self._cache[c] for c in commands]

    def answer(self, command: Sequence[str]) -> Answer:
        """The answer to one command, with its evidence."""
        return self.answer_many([command])[0]

    def _retrieve(self, commands: list[Tokens]) -> None:
        """Fill the cache for `commands`: the grammar where it computes the whole command from
        single words; else memory and analogy; else the grammar over parts from memory."""
        self._lookup([c for c in commands if c not in self._looked])
        for c in commands:
            found = self._looked[c]
            if self.rules and all(w in self.rules or w in self.induced for w in c):
                found = self._by_rules(c, found, leaves_only=True) or found
            if found.tokens is None and found.reason == NEVER_SEEN:
                found = self._by_rules(c, found, leaves_only=False) or replace(
                    found, reason="no stored skeleton, and no induced rule splits this command"
                )
            self._cache[c] = found

    def _by_rules(self, command: Tokens, found: Answer, *, leaves_only: bool) -> Answer | None:
        """The answer of the grammar's parse (None if no rule splits the command). With
        `leaves_only` every part is computed from single lexical words; else each part is taken
        from memory where it is known (all looked up in one batch), else split further."""
        nodes = self.parser.parse(command)
        if nodes[0].rule is None:
            return None
        lookup = self._word
        if not leaves_only:
            spans = {command[n.lo : n.hi] for n in nodes[1:] if n.hi - n.lo <= self.max_lookup}
            self._lookup([x for x in spans if x not in self._looked])
            lookup = self._known_or_looked
        tokens, used, parts = self.parser.interpret(command, lookup, leaves_only=leaves_only)
        if tokens is None:
            why = f"the part {' '.join(parts[0])!r} is neither known nor split by a rule"
            return None if leaves_only else replace(found, reason=why)
        empty = [self.rules[w] for w in dict.fromkeys(command) if w in self.parser.empty]
        rules = [r.describe() for r in sorted((*used, *empty), key=lambda r: r.level)]
        looked = [self._looked[p] for p in parts if p in self._looked and not leaves_only]
        rules += dict.fromkeys(r for a in looked for r in a.rules)
        lexicon = {w: self.induced[w] for w in command if w in self.induced}
        return Answer(command, tokens, min((a.score for a in looked), default=1.0),
                      skeletons=found.skeletons, lexicon={**lexicon, **found.lexicon},
                      rules=rules + self._alternatives(command, tokens))  # fmt: skip

    def _word(self, span: Tokens) -> Tokens | None:
        return (self.induced[span[0]],) if len(span) == 1 and span[0] in self.induced else None

    def _lookup(self, commands: list[Tokens]) -> None:
        """Fill `_looked` for `commands` from memory (skeleton hits) and span edits alone."""
        ok = [c for c in commands if c and all(w in self.known_words for w in c)]
        for c in commands:
            if c not in ok:
                unknown = [w for w in c if w not in self.known_words]
                reason = f"unknown words: {', '.join(unknown)}" if unknown else "empty command"
                self._looked[c] = Answer(c, None, 0.0, reason=reason)
        if not ok:
            return
        abstracted = [abstract(c, self.lexicon, self.classes) for c in ok]
        read = self._read  # each word and each skeleton is read from HRR memory once, batched
        words = sorted({w for _, fillers in abstracted for w in fillers} - set(read))
        read.update(zip(words, self.lexicon_memory.translate(words), strict=True))
        new = list(dict.fromkeys(s for s, _ in abstracted if s not in self._searched))
        if new:
            scores, idx = self.memory.search(self._encode(new), self.k)
            for skel, s_row, i_row in zip(new, scores.tolist(), idx.tolist(), strict=True):
                self._searched[skel] = s_row, i_row
        for c, (skel, fillers) in zip(ok, abstracted, strict=True):
            s_row, i_row = self._searched[skel]
            neighbours = [
                (" ".join(self.skeletons[i]), s) for s, i in zip(s_row, i_row, strict=True)
            ]
            lexicon = {w: read[w][0] for w in fillers}  # read back from the HRR traces
            found = Answer(c, None, 0.0, neighbours, lexicon, reason=NEVER_SEEN)
            tmpl, why = None, ""
            if s_row[0] >= EXACT and self.skeletons[i_row[0]] == skel:  # a stored skeleton
                tmpl, why = self._template(skel, fillers)
            tokens = None if tmpl is None else instantiate(tmpl, fillers, lexicon)
            if tokens is None:
                found = self._by_analogy(skel, fillers, found)
            else:
                why = [f"template choice: {why}"] if why else []
                found = replace(found, tokens=tokens, score=s_row[0], rules=why, reason="")
            self._looked[c] = found

    def _template(self, skel: Tokens, fillers: list[str]) -> tuple[Tokens | None, str]:
        """The stored template for a command's skeleton and fillers (its most frequent one, with
        the fillers' alternations), and why."""
        tmpl = self._primary.get(skel)
        if tmpl is not None:
            tmpl, changed = self.alternations.apply(tmpl, skel, fillers)
            return tmpl, "; ".join(changed)
        key = (skel, sharing(fillers, self.lexicon))
        if key in self.unclear:
            return self.unclear[key], "slots share translations as in training"
        return None, ""

    def _by_analogy(self, skel: Tokens, fillers: list[str], found: Answer) -> Answer:
        """A stored skeleton one span away, its template edited by an induced span edit."""
        if skel not in self._edited:  # the edit depends on the skeleton alone
            self._edited[skel] = self.span_edits.apply(skel, self._primary.get)
        got = self._edited[skel]
        if got is None:
            return found
        tmpl, changed = self.alternations.apply(got[0], skel, fillers)
        tokens = instantiate(tmpl, fillers, found.lexicon)
        if tokens is None:
            return found
        score = found.skeletons[0][1] if found.skeletons else 0.0
        rules = [*got[1].split("; "), *(f"template choice: {c}" for c in changed)]
        return Answer(found.command, tokens, score, found.skeletons, found.lexicon, rules)

    def _alternatives(self, command: Tokens, tokens: Tokens) -> list[str]:
        """Other grammars that fit the training pairs as well, where they answer differently."""
        if len(command) > MAX_EXPLAINED:
            return []
        here = set(command)
        out = []
        for alt in self.grammar.alternatives:
            if not _differ_on(alt, self.rules, here):
                continue
            got = Parser(alt).interpret(command, self._known_or_looked)[0]
            if got is not None and got != tokens:
                used = sorted((r for w, r in alt.items() if w in here), key=lambda r: r.level)
                rules = "; ".join(r.describe() for r in used)
                out.append(f"also fits the training pairs: {rules} -> {' '.join(got)}")
        return out

    def _known_or_looked(self, span: Tokens) -> Tokens | None:
        if len(span) > self.max_lookup:
            return None
        if span not in self._looked:
            self._lookup([span])
        return self._looked[span].tokens

    def describe_rules(self) -> list[str]:
        """The induced rules, loosest first."""
        return [r.describe() for r in sorted(self.rules.values(), key=lambda r: r.level)]


def _differ_on(a: dict[str, Rule], b: dict[str, Rule], words: set[str]) -> bool:
    """Whether two grammars differ on these words: a form, or their relative order."""
    ws = sorted(w for w in words if w in a and w in b)
    if any(a[w].form != b[w].form for w in ws):
        return True
    return sorted(ws, key=lambda w: a[w].level) != sorted(ws, key=lambda w: b[w].level)
