"""Sequences in one vector: `Σ_i p^i ⊛ tok_i` with a positive unitary position vector `p`.

Because `p` is unitary, unbinding a position is exact and the only noise is the other tokens.
Decoding unbinds every position at once, cleans up in one matrix product and, with
`explain_away=True`, accepts the most confident half of the remaining positions, subtracts their
terms from the trace and repeats, so later positions are read from a cleaner trace.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from hrr.algebra import check_vector, from_spectrum, power, random_unitary, spectrum
from hrr.capacity import check_load
from hrr.errors import HRRError
from hrr.vocabulary import Cleanup, Vocabulary, name_seed

__all__ = ["decode_sequence", "encode_sequence", "position_vector", "positions"]


def position_vector(
    d: int,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The default position vector: positive unitary, fixed by `seed`.

    Shapes:
        -> (d,)
    """
    s = name_seed("<position>", seed)
    return random_unitary(1, d, positive=True, seed=s, dtype=dtype, device=device)[0]


def positions(position: torch.Tensor, length: int, *, start: int = 0) -> torch.Tensor:
    """The position roles `p^start, ..., p^(start + length - 1)`.

    Shapes:
        position: (d,) -> (length, d)
    """
    steps = torch.arange(start, start + length, dtype=torch.float64, device=position.device)
    return power(position.to(torch.float64), steps).to(position.dtype)


def _token_ids(tokens: Sequence, vocab: Vocabulary) -> tuple[torch.Tensor, bool]:
    """(B, L) ids with -1 padding, and whether the input was a single sequence."""
    if isinstance(tokens, str):
        raise HRRError(
            f"encode_sequence: pass a list of tokens, not the string {tokens!r} (use .split())"
        )
    single = len(tokens) == 0 or isinstance(tokens[0], str)
    if not single and any(isinstance(t, str) for t in tokens):
        raise HRRError("encode_sequence: a batch mixes token lists and strings; split each string")
    rows = [list(tokens)] if single else [list(t) for t in tokens]
    if not rows or max(len(r) for r in rows) == 0:
        raise HRRError("encode_sequence: got an empty sequence; nothing to encode")
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), -1, dtype=torch.long)
    for b, row in enumerate(rows):
        if row:
            ids[b, : len(row)] = vocab.index(row)
    return ids, single


def encode_sequence(
    tokens: Sequence[str] | Sequence[Sequence[str]],
    vocab: Vocabulary,
    *,
    position: torch.Tensor | None = None,
    p_err: float | None = 0.01,
) -> torch.Tensor:
    """Encode a token sequence (or a batch of them) as `Σ_i p^i ⊛ vocab[tok_i]`.

    Args:
        tokens: a list of symbols, or a list of such lists (ragged is fine).
        vocab: where the token vectors come from (unknown tokens raise `HRRError`).
        position: the position vector; `position_vector(d, seed=vocab.seed)` by default.
        p_err: warn (`CapacityWarning`) if the length exceeds the capacity at this error.

    Shapes:
        -> (d,) for one sequence, (B, d) for a batch
    """
    ids, single = _token_ids(tokens, vocab)
    check_load(ids.shape[1], vocab.d, len(vocab), p_err, what="encode_sequence")
    out = encode_ids(ids.to(vocab.device), vocab.vectors, _position(position, vocab))
    return out[0] if single else out


def encode_ids(ids: torch.Tensor, codebook: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """Tensor core of `encode_sequence`: ids (*, L) with -1 for padding.

    Shapes:
        ids: (*, L), codebook: (N, d), position: (d,) -> (*, d)
    """
    d = codebook.shape[-1]
    pos_spec = spectrum(positions(position, ids.shape[-1]))  # (L, m)
    tok_spec = spectrum(codebook)[ids.clamp_min(0)]  # (*, L, m)
    tok_spec = tok_spec * (ids >= 0).unsqueeze(-1)
    return from_spectrum((tok_spec * pos_spec).sum(dim=-2), d, codebook.dtype)


def decode_sequence(
    v: torch.Tensor,
    length: int,
    vocab: Vocabulary,
    *,
    position: torch.Tensor | None = None,
    explain_away: bool = True,
    threshold: float | None = None,
) -> Cleanup:
    """Read `length` tokens back from sequence vectors.

    Args:
        v: one trace (d,) or a batch (*, d).
        length: number of positions to read.
        vocab: the token vocabulary used to encode.
        position: the position vector used to encode.
        explain_away: decode the most confident half first and subtract it (more capacity).
        threshold: positions whose best cosine is below it are not accepted (`symbols` gives None).

    Returns:
        A `Cleanup` over positions: indices/scores (*, length, 1), margin/accepted (*, length);
        `.symbols` is the decoded token list.
    """
    check_vector(v, "decode_sequence", "v")
    if length < 1:
        raise HRRError(f"decode_sequence: length must be >= 1, got {length}")
    if v.shape[-1] != vocab.d:
        raise HRRError(f"decode_sequence: v has shape {tuple(v.shape)}, vocabulary has d={vocab.d}")
    if not len(vocab):
        raise HRRError("decode_sequence: the vocabulary is empty; add symbols first")
    lead = v.shape[:-1]
    residual = v.reshape(-1, vocab.d)
    batch, d = residual.shape
    pos_spec = spectrum(positions(_position(position, vocab), length)).conj()  # (L, m)
    code_spec = spectrum(vocab.vectors)  # (N, m)

    ids = torch.zeros(batch, length, dtype=torch.long, device=v.device)
    scores = torch.zeros(batch, length, dtype=v.dtype, device=v.device)
    margin = torch.zeros(batch, length, dtype=v.dtype, device=v.device)
    undecided = torch.ones(batch, length, dtype=torch.bool, device=v.device)
    remaining = length
    while remaining:
        unbound = from_spectrum(spectrum(residual).unsqueeze(-2) * pos_spec, d, v.dtype)
        found = vocab.cleanup(unbound)  # (B, L, 1)
        take = math.ceil(remaining / 2) if explain_away else remaining
        rank = found.margin.masked_fill(~undecided, -math.inf)
        new = torch.zeros_like(undecided).scatter_(1, rank.topk(take, dim=-1).indices, True)
        ids = torch.where(new, found.indices[..., 0], ids)
        scores = torch.where(new, found.scores[..., 0], scores)
        margin = torch.where(new, found.margin, margin)
        undecided &= ~new
        remaining -= take
        if remaining:  # explain away what was just read (only confident reads)
            keep = new if threshold is None else new & (found.scores[..., 0] >= threshold)
            terms = code_spec[found.indices[..., 0]] * keep.unsqueeze(-1) * pos_spec.conj()
            residual = residual - from_spectrum(terms.sum(dim=-2), d, v.dtype)

    accepted = torch.ones_like(undecided) if threshold is None else scores >= threshold
    return Cleanup(
        ids.reshape(*lead, length, 1),
        scores.reshape(*lead, length, 1),
        margin.reshape(*lead, length),
        accepted.reshape(*lead, length),
        vocab.symbols,
    )


def _position(position: torch.Tensor | None, vocab: Vocabulary) -> torch.Tensor:
    if position is None:
        return position_vector(vocab.d, seed=vocab.seed, dtype=vocab.dtype, device=vocab.device)
    check_vector(position, "sequence", "position")
    if position.shape != (vocab.d,):
        raise HRRError(f"position must have shape ({vocab.d},), got {tuple(position.shape)}")
    return position
