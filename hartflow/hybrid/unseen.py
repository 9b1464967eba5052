"""Words no training pair shows, answered through a stand-in.

A test sentence may hold a word that training never shows (COGS's generalisation set has two
such nouns, in 22 sentences). Nothing learned knows its token, and the refiner reads it as
"unknown". But the training lexicon (`translations`: word → the token it produces) shows how
many words' tokens relate to their spelling: a word is *copied* when its token is its spelling
or its spelling in lower case (`COPIES`). Copied words fall into classes by the kinds of node
training makes of them (`StructureVocab.kinds`: with a predicate, as a constant, ...) and by the
copy; an unseen word most likely belongs to the largest such class of words spelled like it
(capitalised or not): an open class.

So the unseen word is answered as a stand-in, the most frequent training word of that class
that the sentence does not already hold, and the stand-in's token in the answer is renamed to
the unseen word's own spelling under the class's copy (`StandIns.rename`). Where training shows
no open class of copied words (a renamed data set whose tokens are not spelled like its words),
nothing changes: the word stays unknown.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hartflow.hybrid.data import K_CACHE
from hartflow.hybrid.hypotheses import build_reasoner, hypotheses_for
from hartflow.zeroshot.lexicon import induce_lexicon

Tokens = tuple[str, ...]
log = logging.getLogger(__name__)
COPIES = {"same": lambda w: w, "lower": str.lower}  # how a copied word's token is spelled
OPEN_CLASS = 10  # the fewest copied words a class needs for an unseen word to join it


def copy_of(word: str, token: str | None) -> str | None:
    """The name of the first copy (`COPIES`) that spells `word` as `token`, or None."""
    return next((name for name, f in COPIES.items() if token is not None and f(word) == token),
                None)  # fmt: skip


def _shape(word: str) -> bool:
    return word[:1].isupper()


@dataclass
class StandIns:
    """Per shape of spelling (capitalised or not), the open class's copy and its words, most
    frequent in training first (`build`)."""

    known: frozenset[str]
    translations: Mapping[str, str]
    classes: dict[bool, tuple[str, list[str]]]  # shape -> (copy name, words)

    @classmethod
    def build(cls, train: Sequence[tuple[Tokens, Tokens]], translations: Mapping[str, str],
              kinds: Mapping[str, Sequence[int]]) -> StandIns:  # fmt: skip
        """From the training pairs, the training lexicon and the words' node kinds."""
        counts = Counter(w for command, _ in train for w in command)
        groups: dict[tuple, list[str]] = {}
        for w in counts:  # first-occurrence order breaks ties
            copy = copy_of(w, translations.get(w))
            if copy is not None and w in kinds:
                groups.setdefault((_shape(w), tuple(kinds[w]), copy), []).append(w)
        classes: dict[bool, tuple[str, list[str]]] = {}
        for (shape, _, copy), words in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            if shape not in classes and len(words) >= OPEN_CLASS:
                classes[shape] = (copy, sorted(words, key=lambda w: -counts[w]))
        return cls(frozenset(counts), translations, classes)

    def substitute(self, command: Tokens) -> tuple[Tokens, dict[str, str]]:
        """`command` with each unseen word replaced by a stand-in, and the renaming of the
        stand-ins' tokens into the unseen words' ({} where nothing was replaced). A stand-in is
        never a word of the sentence, nor shares a token with one."""
        taken = set(command) | {self.translations.get(w) for w in command}
        out, renames = list(command), {}
        for i, w in enumerate(command):
            if w in self.known or _shape(w) not in self.classes:
                continue
            copy, words = self.classes[_shape(w)]
            stand_in = next((s for s in words if s not in taken
                             and self.translations[s] not in taken), None)  # fmt: skip
            if stand_in is None:
                continue
            token = self.translations[stand_in]
            taken |= {stand_in, token}
            out[i], renames[token] = stand_in, COPIES[copy](w)
        return tuple(out), renames

    @staticmethod
    def rename(answer: Tokens | None, renames: Mapping[str, str]) -> Tokens | None:
        """An answer to a substituted command, its stand-ins' tokens renamed back."""
        if answer is None or not renames:
            return answer
        return tuple(renames.get(t, t) for t in answer)


def stand_in_commands(config: dict, data, commands: list[Tokens], run_cfg
                      ) -> tuple[list[Tokens], list | None, list[dict[str, str]]]:  # fmt: skip
    """The test commands with their unseen words replaced by stand-ins (`hartflow.hybrid.unseen`),
    the memory's hypotheses for them (recomputed where a word was replaced) and each command's
    renaming of the stand-ins' tokens back into the unseen words' (`run_cfg`: the run's
    `TrainConfig`). The stand-ins are read from the
    training pairs alone (the induced lexicon, not a member's HRR reading of it), so an
    ensemble's members choose the same ones."""
    known = {w for c, _ in data.train for w in c}
    if all(w in known for c in commands for w in c):
        return list(commands), data.test_hyps, [{} for _ in commands]
    stand = StandIns.build(data.train, induce_lexicon(data.train),
                           config["vocab"].get("kinds", {}))  # fmt: skip
    substituted = [stand.substitute(c) for c in commands]
    new = [c for c, _ in substituted]
    renames = [r for _, r in substituted]
    hyps = data.test_hyps
    changed = [i for i, r in enumerate(renames) if r]
    if changed:
        log.info("%d test commands hold words training never shows: answered through stand-ins",
                 len(changed))  # fmt: skip
    if changed and hyps is not None:
        reasoner = build_reasoner(data.train, d=run_cfg.hrr_d, k=K_CACHE, seed=run_cfg.seed)
        fresh = hypotheses_for(reasoner, [new[i] for i in changed], k=K_CACHE)
        hyps = list(hyps)
        for i, h in zip(changed, fresh, strict=True):
            hyps[i] = h
    return new, hyps, renames


def renamed_trace(traced: dict, original: Tokens, substituted: Tokens,
                  renames: dict[str, str]) -> dict:  # fmt: skip
    """A structure trace of a command whose unseen words were answered through stand-ins
    (`hartflow.hybrid.unseen`): its answers and graphs renamed back to the command's own words
    and tokens, with "stand_ins" ({unseen word: its stand-in}) and, for an ensemble's product
    decoding, the substituted command beside the kept decisions."""

    def text(t: str | None) -> str | None:
        if t is None or t.startswith("("):
            return t
        return " ".join(StandIns.rename(tuple(t.split()), renames))

    def graph(rows: list[dict]) -> list[dict]:
        return [{**r, "word": original[r["position"]], "pred": renames.get(r["pred"], r["pred"]),
                 "constant": renames.get(r["constant"], r["constant"])} for r in rows]  # fmt: skip

    stand_ins = {w: s for w, s in zip(original, substituted, strict=True) if w != s}
    out = {**traced, "graph": graph(traced["graph"]), "stand_ins": stand_ins,
           "trace": [{**s, "graph": graph(s["graph"]), "answer": text(s["answer"])}
                     for s in traced["trace"]]}  # fmt: skip
    for key in ("refiner_answer", "memory_answer", "answer"):
        out[key] = text(traced[key])
    if "_product" in traced:
        out["_product"] = (*traced["_product"], substituted, renames)
    return out
