"""Lexicon induction: which input words translate to one output token, from co-occurrence alone.

A word `w` is lexical with translation `t` when, across the training pairs, every example whose
input contains `w` has `t` in its output and every example whose output contains `t` has `w` in
its input (perfect cross-situational agreement). Words with no such token are function words.
Nothing here knows any data set: a renamed copy of the data induces the renamed lexicon.

The lexicon is also stored as an HRR associative memory `Σ w ⊛ t`, read by unbind + cleanup.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch

import hrr

Pair = tuple[tuple[str, ...], tuple[str, ...]]  # (input tokens, output tokens)


def induce_lexicon(pairs: Sequence[Pair]) -> dict[str, str]:
    """{word: token} for words whose examples and the token's examples coincide exactly."""
    with_word: Counter = Counter()
    with_token: Counter = Counter()
    together: Counter = Counter()
    for inp, out in pairs:
        words, tokens = set(inp), set(out)
        with_word.update(words)
        with_token.update(tokens)
        together.update((w, t) for w in words for t in tokens)
    lexicon = {}
    for (w, t), n in together.items():
        if n == with_word[w] == with_token[t]:
            lexicon[w] = t
    taken = Counter(lexicon.values())  # a token explained by two words explains neither
    return {w: t for w, t in lexicon.items() if taken[t] == 1}


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
