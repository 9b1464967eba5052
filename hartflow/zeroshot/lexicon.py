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
    """The lexicon as one HRR trace `Σ w ⊛ t`; `translate(w)` unbinds and cleans up.

    Args:
        lexicon: {word: token}.
        d: dimension (the trace holds len(lexicon) pairs; see `hrr.capacity`).
        seed: fixes the word and token vectors.
    """

    def __init__(self, lexicon: dict[str, str], *, d: int = 1024, seed: int = 0) -> None:
        self.lexicon = dict(lexicon)
        self.words = hrr.Vocabulary(d, sorted(lexicon), seed=seed, unitary=True)
        self.tokens = hrr.Vocabulary(d, sorted(set(lexicon.values())), seed=seed + 1)
        if lexicon:
            pairs = hrr.bind(self.words[list(lexicon)], self.tokens[list(lexicon.values())])
            self.trace = pairs.sum(dim=0)
        else:
            self.trace = torch.zeros(d)

    def translate(self, words: Sequence[str]) -> list[tuple[str | None, float]]:
        """(token, cosine) per word; (None, 0.0) for function words."""
        known = [w for w in words if w in self.words]
        found = {}
        if known:
            c = self.tokens.cleanup(hrr.unbind(self.trace, self.words[known]))
            found = dict(
                zip(known, zip(c.symbols, c.scores[:, 0].tolist(), strict=True), strict=True)
            )
        return [found.get(w, (None, 0.0)) for w in words]
