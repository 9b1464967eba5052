"""Large batched binds streamed through cache-sized chunks: the CPU fast path of `bind`/`unbind`.

A one-shot batched bind `irfft(rfft(a) * rfft(b))` writes two full-size spectra and reads them
back, and on a CPU every buffer above glibc's mmap threshold (32 MiB) is mapped and page-faulted
afresh on each call. Streaming the rows in chunks of about `CHUNK_BYTES` keeps the two spectra of
a chunk in cache and allocates only the result (peak memory: the result alone). Each row goes
through the same rfft, multiply and irfft as in the one-shot path, so results agree to rounding.

Under several torch threads every op of every chunk is a parallel region whose threads meet at a
barrier; where the cores are shared with other jobs, a descheduled thread makes each barrier wait.
Measured at 2 threads, 4 MiB chunks ran 1.6-1.8x faster than one-shot on two idle cores but 2.7x
slower on a 2-core machine with a load average of 6 (16 MiB chunks: 1.15-1.25x slower there). So
with more than one thread the chunks are `THREADED_CHUNK_BYTES`: few parallel regions, still
below the mmap threshold.

Used automatically by `hrr.bind`, `hrr.unbind` and `hrr.bind_spectrum` for CPU batches of at least
`STREAM_MIN_BYTES` per operand when no gradient is needed; smaller batches (whose buffers the
allocator reuses) and inputs it does not cover go the one-shot way.
"""

from __future__ import annotations

import math

import torch

STREAM_MIN_BYTES = 32 << 20  # stream when the result is at least this big (glibc mmap threshold)
CHUNK_BYTES = 1 << 20  # rows per chunk, single-threaded: about this many bytes of one operand
THREADED_CHUNK_BYTES = 16 << 20  # the same under several torch threads (see below)

_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """`torch.broadcast_shapes` for plain int shapes, without its ~75 µs of symbolic-shape checks
    (it dominated a single-vector bind). Raises RuntimeError on a mismatch, as torch does.
    """
    first = tuple(shapes[0])
    if all(tuple(s) == first for s in shapes[1:]):
        return first
    ndim = max(len(s) for s in shapes)
    out = [1] * ndim
    for s in shapes:
        for i, n in enumerate(s, start=ndim - len(s)):
            if n != 1 and out[i] not in (1, n):
                raise RuntimeError(f"shapes {shapes} do not broadcast")
            out[i] = n if n != 1 else out[i]
    return tuple(out)


def _rows(x: torch.Tensor, lead: tuple[int, ...], n: int) -> tuple[torch.Tensor, bool] | None:
    """`x` as (n, k) rows (its own per-row values) or (1, k) (one vector shared by all rows)."""
    if math.prod(x.shape[:-1]) == 1:
        return x.reshape(1, x.shape[-1]), True
    if tuple(x.shape[:-1]) == lead and x.is_contiguous():
        return x.view(n, x.shape[-1]), False
    return None  # a partial broadcast or a strided view: the one-shot path handles it


def stream_bind(
    a: torch.Tensor, b: torch.Tensor, *, correlate: bool = False, spectral: bool = False
) -> torch.Tensor | None:
    """`irfft(rfft(a) * B, n=d)` chunk by chunk, or None when the inputs do not suit streaming.

    B is `rfft(b)`, or `conj(rfft(b))` with `correlate`, or `b` itself with `spectral` (a cached
    complex spectrum). Inputs are already checked by the caller.

    Shapes:
        a: (*A, d), b: (*B, d) or (*B, d // 2 + 1) complex with `spectral` -> (broadcast(A, B), d)
    """
    d = a.shape[-1]
    rows = max(a.numel() // d, b.numel() // max(b.shape[-1], 1))  # cheap early-out first
    if rows * d * a.element_size() < STREAM_MIN_BYTES:
        return None
    if a.device.type != "cpu" or a.dtype not in _COMPLEX or b.device != a.device:
        return None
    if torch.is_grad_enabled() and (a.requires_grad or b.requires_grad):
        return None
    if b.dtype != (_COMPLEX[a.dtype] if spectral else a.dtype):
        return None
    lead = broadcast_shapes(a.shape[:-1], b.shape[:-1])
    n = math.prod(lead)
    if n * d * a.element_size() < STREAM_MIN_BYTES:
        return None
    xa, xb = _rows(a, lead, n), _rows(b, lead, n)
    if xa is None or xb is None or (xa[1] and xb[1]):
        return None
    (a2, a_shared), (b2, b_shared) = xa, xb

    def spec_b(rows: torch.Tensor) -> torch.Tensor:
        if spectral:
            return rows
        f = torch.fft.rfft(rows)
        return f.conj_physical_() if correlate else f

    fa = torch.fft.rfft(a2) if a_shared else None  # a shared vector is transformed once
    fb = spec_b(b2) if b_shared else None
    out = torch.empty(n, d, dtype=a.dtype, device=a.device)
    chunk = CHUNK_BYTES if torch.get_num_threads() == 1 else THREADED_CHUNK_BYTES
    step = max(1, chunk // (d * a.element_size()))
    for i in range(0, n, step):
        j = min(n, i + step)
        if a_shared:  # a per-row b: multiply into b's fresh spectrum (unless it is the cache)
            g = spec_b(b2[i:j])
            f = g.mul_(fa) if not spectral else fa * g
        else:
            f = torch.fft.rfft(a2[i:j])
            f.mul_(fb if b_shared else spec_b(b2[i:j]))
        torch.fft.irfft(f, n=d, out=out[i:j])
    return out.view(*lead, d)
