"""Role–filler records: `Σ role ⊛ filler`, decoded by iterative unbind → cleanup → explain away."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from hrr.algebra import check_vector, from_spectrum, spectrum
from hrr.capacity import abstain_threshold, check_load
from hrr.errors import HRRError
from hrr.vocabulary import Vocabulary

__all__ = ["decode_record", "encode_record"]


def encode_record(
    record: Mapping[str, str],
    roles: Vocabulary,
    fillers: Vocabulary,
    *,
    p_err: float | None = 0.01,
) -> torch.Tensor:
    """Encode `{role: filler}` as `Σ roles[role] ⊛ fillers[filler]`.

    Use a unitary role vocabulary (`Vocabulary(d, unitary=True)`) so unbinding is exact.

    Shapes:
        -> (d,)
    """
    if not record:
        raise HRRError("encode_record: the record is empty; nothing to encode")
    if roles.d != fillers.d:
        raise HRRError(f"encode_record: roles have d={roles.d}, fillers d={fillers.d}")
    check_load(len(record), fillers.d, len(fillers), p_err, what="encode_record")
    r = spectrum(roles[list(record)])  # (R, m)
    f = spectrum(fillers[list(record.values())])  # (R, m)
    return from_spectrum((r * f).sum(dim=0), fillers.d, fillers.dtype)


def decode_record(
    v: torch.Tensor,
    roles: Vocabulary,
    fillers: Vocabulary,
    *,
    role_names: Sequence[str] | None = None,
    threshold: float | None = None,
) -> dict[str, str]:
    """Recover the fillers of a record, most confident role first, explaining away as it goes.

    Each round unbinds every unread role from the residual in one batch, cleans all of them up
    in one matrix product, accepts the role with the largest margin, and subtracts its term.
    It stops when the best remaining score is below `threshold` (the role is absent).

    Args:
        v: the record vector (d,).
        roles: the role vocabulary used to encode.
        fillers: the filler vocabulary used to encode.
        role_names: roles to look for (default: every role in `roles`).
        threshold: abstain below this cosine; default `abstain_threshold(d, len(fillers))`.

    Returns:
        `{role: filler}` for the roles found.
    """
    check_vector(v, "decode_record", "v")
    if v.shape != (fillers.d,):
        raise HRRError(f"decode_record: v must have shape ({fillers.d},), got {tuple(v.shape)}")
    names = list(roles.symbols if role_names is None else role_names)
    if not names or not len(fillers):
        raise HRRError("decode_record: no roles to look for, or an empty filler vocabulary")
    if threshold is None:
        threshold = abstain_threshold(fillers.d, len(fillers))
    role_spec = spectrum(roles[names]).conj()  # (R, m)
    residual, found = v, {}
    unread = torch.ones(len(names), dtype=torch.bool)
    floor = 1e-4 * float(torch.linalg.vector_norm(v))  # below it, everything is explained
    while bool(unread.any()) and float(torch.linalg.vector_norm(residual)) > floor:
        queries = from_spectrum(spectrum(residual) * role_spec, fillers.d, v.dtype)  # (R, d)
        c = fillers.cleanup(queries)
        live = unread.to(c.margin.device) & (c.scores[:, 0] >= threshold)
        if not bool(live.any()):
            break  # every unread role is absent (or too noisy to read)
        best = int(c.margin.masked_fill(~live, -torch.inf).argmax())
        filler = fillers.symbols[int(c.indices[best, 0])]
        found[names[best]] = filler
        unread[best] = False
        term = spectrum(fillers[filler]) * role_spec[best].conj()
        residual = residual - from_spectrum(term, fillers.d, v.dtype)
    return found
