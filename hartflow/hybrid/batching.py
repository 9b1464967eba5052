"""From (command, answer, hypotheses) to the refiner's tensors: features, corruption, slots.

Training hypotheses are the cross-fitted ones, plus random corruption (token swaps and
replacements, truncation, deletion, duplication, an empty hypothesis) so the refiner learns to
correct as well as to copy. A corrupted hypothesis keeps its tokens' memory but loses some of its
confidence (its score is scaled down), as a wrong guess from a weaker memory would.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

import hrr
from hartflow.hybrid.hypotheses import Hypothesis
from hartflow.hybrid.vocab import END, NONE, Vocab

N_SCALARS = 3  # top score, second score, has-hypothesis
TAU = 0.1  # temperature of the score-weighted mixture


@dataclass(frozen=True)
class Item:
    """One example in ids: command words, answer tokens (None at test), hypotheses (ids, score)."""

    command: tuple[int, ...]
    answer: tuple[int, ...] | None
    hypotheses: tuple[tuple[tuple[int, ...], float], ...]
    features: torch.Tensor  # (hrr_dim,) HRR encoding of the command


def hrr_features(commands: Sequence[Sequence[str]], *, dim: int, seed: int) -> torch.Tensor:
    """The commands as HRR sequence vectors, scaled to unit-variance entries (0 columns if dim=0).

    Shapes:
        -> (N, dim)
    """
    if dim == 0:
        return torch.zeros(len(commands), 0)
    words = sorted({w for c in commands for w in c})
    vocab = hrr.Vocabulary(dim, words, seed=seed, strict=False)
    out = torch.zeros(len(commands), dim)
    nonempty = [i for i, c in enumerate(commands) if c]
    if nonempty:
        enc = hrr.encode_sequence([list(commands[i]) for i in nonempty], vocab, p_err=None)
        enc = enc.reshape(len(nonempty), dim)
        out[nonempty] = enc / enc.norm(dim=-1, keepdim=True).clamp_min(1e-8) * math.sqrt(dim)
    return out


def make_items(
    vocab: Vocab,
    commands: Sequence[Sequence[str]],
    answers: Sequence[Sequence[str]] | None,
    hypotheses: Sequence[Sequence[Hypothesis]] | None,
    *,
    k: int,
    hrr_dim: int,
    seed: int,
) -> list[Item]:
    """Items for `collate`; `hypotheses=None` (TRM-only) gives every item none."""
    feats = hrr_features(commands, dim=hrr_dim, seed=seed)
    items = []
    for i, c in enumerate(commands):
        hyps = () if hypotheses is None else hypotheses[i][:k]
        items.append(
            Item(
                tuple(vocab.encode_command(c)),
                None if answers is None else tuple(vocab.encode_answer(answers[i])),
                tuple((tuple(vocab.encode_answer(h.tokens)), _weight(h)) for h in hyps),
                feats[i],
            )
        )
    return items


def _weight(h: Hypothesis) -> float:
    """The score that weights a hypothesis in the mixture: the reasoner's own answer ranks
    above every neighbour near miss (+1), then by score."""
    return h.score + (1.0 if h.source == "answer" else 0.0)


def corrupt(
    ids: tuple[int, ...], *, vocab_out: int, generator: torch.Generator
) -> tuple[int, ...] | None:
    """One random edit of a hypothesis; None = drop the hypothesis. Specials are never drawn."""

    def r(n: int) -> int:
        return int(torch.randint(n, (1,), generator=generator))

    op = r(6)
    t = list(ids)
    low = NONE + 2  # first ordinary token id (after <pad>, <end>, <none>, <unk>)
    if op == 5 or not t:
        return None
    if op == 0 and len(t) >= 2:  # swap two tokens
        i, j = r(len(t)), r(len(t))
        t[i], t[j] = t[j], t[i]
    elif op == 1 and vocab_out > low:  # replace a token
        t[r(len(t))] = low + r(vocab_out - low)
    elif op == 2:  # truncate
        t = t[: r(len(t))]
    elif op == 3:  # delete a span
        i = r(len(t))
        t = t[:i] + t[i + 1 + r(max(1, len(t) - i)) // 2 :]
    else:  # duplicate a span
        i = r(len(t))
        j = i + 1 + r(min(8, len(t) - i))
        t = t[:j] + t[i:j] + t[j:]
    return tuple(t)


def slots_for(hyp_len: int, *, no_hypothesis_slots: int) -> int:
    """Answer slots for a row: its longest hypothesis plus slack (for insertions), or the fixed
    `no_hypothesis_slots` when it has none."""
    if hyp_len == 0:
        return no_hypothesis_slots
    return hyp_len + max(4, hyp_len // 4)


def collate(
    items: Sequence[Item],
    *,
    k: int,
    no_hypothesis_slots: int,
    vocab_out: int = 0,
    corruption: float = 0.0,
    generator: torch.Generator | None = None,
    fixed_len: int | None = None,
) -> dict[str, torch.Tensor]:
    """Pad a batch into the refiner's tensors (+ "labels" when answers are known).

    Args:
        items: from `make_items`.
        k: hypotheses per row (rows with fewer get <none> rows of weight 0).
        no_hypothesis_slots: answer slots of a row without hypotheses (TRM-only rows).
        vocab_out: answer vocabulary size (for replacement corruption).
        corruption: probability that a row's hypotheses are edited by `corrupt` (training).
        generator: for corruption and the random extra slots (training).
        fixed_len: pad the whole sequence to this length (mixer="mlp").

    Shapes:
        command (B, Lc); hypotheses (B, k, La); hypothesis_weights (B, k); features
        (B, hrr_dim + 3); labels (B, La) with <end> after each answer.
    """
    if corruption and generator is None:
        raise ValueError("corruption needs a generator (nothing reads the global RNG)")
    rows = []
    for it in items:
        hyps = list(it.hypotheses)
        if corruption and hyps and float(torch.rand((), generator=generator)) < corruption:
            edited = corrupt(hyps[0][0], vocab_out=vocab_out, generator=generator)
            scale = 0.3 + 0.6 * float(torch.rand((), generator=generator))
            hyps = [] if edited is None else [(edited, hyps[0][1] * scale), *hyps[1:]]
        rows.append(hyps)
    Lc = max(len(it.command) for it in items)
    need = [
        slots_for(len(hyps[0][0]) if hyps else 0, no_hypothesis_slots=no_hypothesis_slots)
        for hyps in rows
    ]
    La = max(need)
    if any(it.answer is not None for it in items):
        La = max(La, max(len(it.answer or ()) + 1 for it in items))
        if generator is not None:
            La += int(torch.randint(4, (1,), generator=generator))
    if fixed_len is not None:
        if 1 + Lc + La > fixed_len:
            raise ValueError(f"batch needs {1 + Lc + La} positions > fixed seq_len {fixed_len}")
        La = fixed_len - 1 - Lc
    B = len(items)
    command = torch.zeros(B, Lc, dtype=torch.long)
    hyp = torch.full((B, k, La), NONE, dtype=torch.long)
    weights = torch.zeros(B, k)
    scalars = torch.zeros(B, N_SCALARS)
    labels = torch.full((B, La), END, dtype=torch.long)
    for b, (it, hyps) in enumerate(zip(items, rows, strict=True)):
        command[b, : len(it.command)] = torch.tensor(it.command, dtype=torch.long)
        if it.answer is not None:
            labels[b, : len(it.answer)] = torch.tensor(it.answer[:La], dtype=torch.long)
        if not hyps:
            weights[b, 0] = 1.0  # the <none> row
            continue
        scores = torch.tensor([s for _, s in hyps[:k]])
        weights[b, : len(scores)] = torch.softmax(scores / TAU, dim=0)
        for j, (ids, _) in enumerate(hyps[:k]):
            ids = ids[:La]
            hyp[b, j, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            hyp[b, j, len(ids) :] = END
        scalars[b] = torch.tensor([scores[0], scores[1] if len(scores) > 1 else 0.0, 1.0])
    feats = torch.stack([it.features for it in items])
    batch = {
        "command": command,
        "hypotheses": hyp,
        "hypothesis_weights": weights,
        "features": torch.cat([feats, scalars], dim=1),
    }
    if any(it.answer is not None for it in items):
        batch["labels"] = labels
    return batch
