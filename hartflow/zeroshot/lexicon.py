"""Lexicon induction: which input words translate to one output token, from co-occurrence alone.

For a word `w`, the tokens it *implies* are those present in every output whose input has `w`.
For a token `t`, its *producers* are the words that imply it. `w → t` is a lexicon entry when
the producers of `t` jointly explain it (every output containing `t` has a producer in its
input) and `w` is a necessary producer (some example contains `t` with `w` as its only
producer). Several forms may share a token (a verb's past tense and participle both give its
lemma); a word that only ever appears beside another producer (a modifier seen with one
direction only) explains nothing. Among a word's candidate tokens the most exclusive one wins:
fewest producers, then rarest, then first in the word's first output. Words with no entry are
function words. Nothing here knows any data set: a renamed copy induces the renamed lexicon.

The lexicon is also stored as an HRR associative memory `Σ w ⊛ t`, read by unbind + cleanup.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import torch

import hrr

Pair = tuple[tuple[str, ...], tuple[str, ...]]  # (input tokens, output tokens)


def induce_lexicon(pairs: Sequence[Pair]) -> dict[str, str]:
    """{word: token}: each word's most exclusive token among those it necessarily produces.

    >>> induce_lexicon([(("dax",), ("D",)), (("dax", "bis"), ("D", "D")),
    ...                 (("wif", "bis"), ("W", "W")), (("wifs",), ("W",))])
    {'dax': 'D', 'wif': 'W', 'wifs': 'W'}
    """
    with_token: Counter = Counter()
    implied: dict[str, set[str]] = {}
    first: dict[str, tuple[str, ...]] = {}
    for inp, out in pairs:
        tokens = set(out)
        with_token.update(tokens)
        for w in dict.fromkeys(inp):
            if w in implied:
                implied[w] &= tokens
            else:
                implied[w], first[w] = set(tokens), out
    producers: dict[str, set[str]] = defaultdict(set)
    for w, ts in implied.items():
        for t in ts:
            producers[t].add(w)
    explained: Counter = Counter()
    necessary: set[tuple[str, str]] = set()
    for inp, out in pairs:
        words = set(inp)
        for t in set(out):
            present = producers[t] & words if t in producers else ()
            if present:
                explained[t] += 1
                if len(present) == 1:
                    necessary.add((next(iter(present)), t))
    lexicon = {}
    for w in dict.fromkeys(w for inp, _ in pairs for w in inp):
        ok = [t for t in implied[w] if explained[t] == with_token[t] and (w, t) in necessary]
        if ok:
            lexicon[w] = min(
                ok, key=lambda t: (len(producers[t]), with_token[t], first[w].index(t))
            )
    return lexicon


class LexiconMemory:
    """The lexicon as HRR associative memory: traces `Σ w ⊛ t`, read by unbind + cleanup.

    One trace holds at most `hrr.capacity(d, n_tokens, p_err)` pairs; a larger lexicon is split
    over several traces (the load tracking the capacity planner exists for), and a word is read
    from the trace that holds it.

    Args:
        lexicon: {word: token}.
        d: dimension.
        seed: fixes the word and token vectors.
        p_err: per-lookup error budget that sizes the traces.
    """

    def __init__(
        self, lexicon: dict[str, str], *, d: int = 1024, seed: int = 0, p_err: float = 1e-4
    ) -> None:
        self.lexicon = dict(lexicon)
        words = sorted(lexicon)
        self.words = hrr.Vocabulary(d, words, seed=seed, unitary=True)
        self.tokens = hrr.Vocabulary(d, sorted(set(lexicon.values())), seed=seed + 1)
        per_trace = max(1, hrr.capacity(d, max(len(self.tokens), 1), p_err))
        self.trace_of = {w: i // per_trace for i, w in enumerate(words)}
        n_traces = -(-len(words) // per_trace) if words else 0
        self.traces = torch.zeros(n_traces, d)
        if words:
            pairs = hrr.bind(self.words[words], self.tokens[[lexicon[w] for w in words]])
            self.traces.index_add_(0, torch.tensor([self.trace_of[w] for w in words]), pairs)

    def translate(self, words: Sequence[str]) -> list[tuple[str | None, float]]:
        """(token, cosine) per word by unbind + cleanup; (None, 0.0) for function words."""
        known = [w for w in words if w in self.trace_of]
        found = {}
        if known:
            traces = self.traces[[self.trace_of[w] for w in known]]
            c = self.tokens.cleanup(hrr.unbind(traces, self.words[known]))
            hits = zip(c.symbols, c.scores[:, 0].tolist(), strict=True)
            found = dict(zip(known, hits, strict=True))
        return [found.get(w, (None, 0.0)) for w in words]
