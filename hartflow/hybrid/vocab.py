"""Token ids for the refiner: one vocabulary for commands, one for answers, built from data.

Command ids: 0 = pad, 1 = unknown word. Answer ids: 0 = pad (never predicted), 1 = end (every
answer slot after the answer), 2 = none (a slot with no hypothesis), 3 = unknown token.
Both are plain JSON so they travel in a checkpoint's config.json.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

IN_SPECIALS = ("<pad>", "<unk>")
OUT_SPECIALS = ("<pad>", "<end>", "<none>", "<unk>")
PAD, END, NONE, UNK = 0, 1, 2, 3
IN_UNK = 1


@dataclass(frozen=True)
class Vocab:
    """Command words and answer tokens, in a fixed order (specials first, then sorted)."""

    words: tuple[str, ...]
    tokens: tuple[str, ...]

    @classmethod
    def build(cls, pairs: Iterable[tuple[Sequence[str], Sequence[str]]]) -> Vocab:
        words, toks = set(), set()
        for inp, out in pairs:
            words.update(inp)
            toks.update(out)
        return cls(IN_SPECIALS + tuple(sorted(words)), OUT_SPECIALS + tuple(sorted(toks)))

    def to_json(self) -> dict:
        return {"words": list(self.words), "tokens": list(self.tokens)}

    @classmethod
    def from_json(cls, obj: dict) -> Vocab:
        return cls(tuple(obj["words"]), tuple(obj["tokens"]))

    def __post_init__(self) -> None:
        object.__setattr__(self, "_word_id", {w: i for i, w in enumerate(self.words)})
        object.__setattr__(self, "_token_id", {t: i for i, t in enumerate(self.tokens)})

    def encode_command(self, words: Sequence[str]) -> list[int]:
        return [self._word_id.get(w, IN_UNK) for w in words]

    def encode_answer(self, toks: Sequence[str]) -> list[int]:
        return [self._token_id.get(t, UNK) for t in toks]

    def decode_answer(self, ids: Sequence[int] | torch.Tensor) -> tuple[str, ...]:
        """Tokens up to the first end (or pad); none/unknown decode to their names."""
        out = []
        for i in ids.tolist() if isinstance(ids, torch.Tensor) else ids:
            if i in (END, PAD):
                break
            out.append(self.tokens[i])
        return tuple(out)

    def known_words(self) -> set[str]:
        return set(self.words[len(IN_SPECIALS) :])
