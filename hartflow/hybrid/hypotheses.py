"""Memory hypotheses for the refiner: the zero-shot reasoner's answer and its neighbours'.

For a command the reasoner gives one answer (or none) and its top-k stored skeletons. Hypothesis 1
is the answer; the others instantiate the neighbour skeletons' templates with the command's own
lexical fillers, so even an unanswerable command gets a near miss to correct. Each hypothesis
carries its score (the answer's score, or the neighbour's cosine).

Training hypotheses must look like test hypotheses, errors included, so they are cross-fitted:
split the training pairs into K folds, build the reasoner on K-1 folds and answer the held-out one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from hartflow.zeroshot import ZeroShotReasoner, abstract

log = logging.getLogger(__name__)
Tokens = tuple[str, ...]
Pair = tuple[Tokens, Tokens]


@dataclass(frozen=True)
class Hypothesis:
    """One candidate answer with the memory's confidence in it."""

    tokens: Tokens
    score: float
    source: str  # "answer" (the reasoner's) or "neighbour" (a neighbour template, instantiated)

    def to_json(self) -> list:
        return [list(self.tokens), self.score, self.source]

    @classmethod
    def from_json(cls, obj: list) -> Hypothesis:
        return cls(tuple(obj[0]), float(obj[1]), str(obj[2]))


def build_reasoner(pairs: Sequence[Pair], *, d: int, k: int, seed: int) -> ZeroShotReasoner:
    """The zero-shot reasoner over `pairs`, retrieving `k` neighbours per command."""
    return ZeroShotReasoner(d=d, k=max(k, 1), seed=seed).fit(pairs)


def hypotheses_for(
    reasoner: ZeroShotReasoner, commands: Sequence[Sequence[str]], *, k: int, chunk: int = 512
) -> list[list[Hypothesis]]:
    """Up to `k` distinct hypotheses per command, best first (empty when there are none)."""
    templates = _templates(reasoner)
    out: list[list[Hypothesis]] = []
    for lo in range(0, len(commands), chunk):
        batch = [tuple(c) for c in commands[lo : lo + chunk]]
        for command, answer in zip(batch, reasoner.answer_many(batch), strict=True):
            found: dict[Tokens, Hypothesis] = {}
            if answer.tokens is not None:
                found[tuple(answer.tokens)] = Hypothesis(
                    tuple(answer.tokens), answer.score, "answer"
                )
            for skeleton, cosine in answer.skeletons:
                if len(found) >= k:
                    break
                tokens = _instantiate(reasoner, templates.get(skeleton), command, answer.lexicon)
                if tokens is not None and tokens not in found:
                    found[tokens] = Hypothesis(tokens, float(cosine), "neighbour")
            out.append(list(found.values())[:k])
    return out


def cross_fit(
    pairs: Sequence[Pair],
    *,
    folds: int = 5,
    k: int = 3,
    d: int = 1024,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[list[Hypothesis]]:
    """Hypotheses for every training pair from a reasoner that never saw that pair.

    Args:
        pairs: (command, answer) training pairs.
        folds: K; each fold is answered by a reasoner built on the other K-1.
        k: hypotheses per command.
        d: HRR dimension of the reasoner.
        seed: fixes the fold assignment and the reasoner's vectors.
        progress: called with (folds done, folds).
    """
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds} (5 is the usual choice)")
    g = torch.Generator().manual_seed(seed)
    fold_of = torch.randperm(len(pairs), generator=g) % folds
    result: list[list[Hypothesis]] = [[] for _ in pairs]
    for f in range(folds):
        held = (fold_of == f).nonzero().flatten().tolist()
        rest = [pairs[i] for i in (fold_of != f).nonzero().flatten().tolist()]
        if not held or not rest:
            continue
        reasoner = build_reasoner(rest, d=d, k=k, seed=seed)
        answers = hypotheses_for(reasoner, [pairs[i][0] for i in held], k=k)
        for i, hyps in zip(held, answers, strict=True):
            result[i] = hyps
        log.info("cross-fit fold %d/%d: %d held-out pairs", f + 1, folds, len(held))
        if progress:
            progress(f + 1, folds)
    return result


def _templates(reasoner: ZeroShotReasoner) -> dict[str, Tokens]:
    """Skeleton string -> stored output template (empty if the reasoner does not expose them)."""
    skeletons = getattr(reasoner, "skeletons", None)
    templates = getattr(reasoner, "templates", None)
    if skeletons is None or templates is None:
        return {}
    return {" ".join(s): tuple(t) for s, t in zip(skeletons, templates, strict=True)}


def _instantiate(
    reasoner: ZeroShotReasoner,
    template: Tokens | None,
    command: Tokens,
    read: dict[str, str],
) -> Tokens | None:
    """Fill a template's slots `<i>` with the command's i-th lexical word's translation."""
    if template is None:
        return None
    lexicon = getattr(reasoner, "lexicon", {})
    _, fillers = abstract(command, lexicon)
    out = []
    for t in template:
        if t.startswith("<") and t.endswith(">") and t[1:-1].isdigit():
            i = int(t[1:-1])
            if i >= len(fillers):
                return None
            out.append(read.get(fillers[i], lexicon[fillers[i]]))
        else:
            out.append(t)
    return tuple(out)


def summary(hyps: Sequence[Sequence[Hypothesis]], answers: Sequence[Tokens]) -> dict[str, float]:
    """How often hypothesis 1 is right, any hypothesis is right, and none exists."""
    n = max(len(answers), 1)
    rows = list(zip(hyps, answers, strict=True))
    return {
        "top1_correct": sum(bool(h) and h[0].tokens == a for h, a in rows) / n,
        "any_correct": sum(any(x.tokens == a for x in h) for h, a in rows) / n,
        "empty": sum(not h for h in hyps) / n,
    }
