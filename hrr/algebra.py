"""The HRR algebra: circular convolution and its friends, batched over leading dimensions.

Vectors are real tensors whose last dimension is `d`. Every operation broadcasts over the leading
dimensions, keeps the device, and returns the (promoted) floating dtype of its inputs. The FFTs are
real FFTs (`rfft`/`irfft(n=d)`), which halve the work of the complex FFT and are exact for odd `d`.
Half-precision inputs are computed in float32 and cast back (CPU FFTs have no half support).
Large CPU batches of `bind`/`unbind`/`bind_spectrum` stream through cache-sized chunks
(`hrr.streaming`): same arithmetic per row, less memory traffic, and only the result is allocated.
"""

from __future__ import annotations

import torch

from hrr.errors import HRRError
from hrr.streaming import broadcast_shapes, stream_bind

__all__ = [
    # creation
    "random",
    "random_unitary",
    "random_permutation",
    "identity",
    "generator_for",
    # spectra (cache the rfft of fixed roles)
    "spectrum",
    "from_spectrum",
    # operations
    "bind",
    "bind_spectrum",
    "unbind",
    "multibind",
    "inverse",
    "exact_inverse",
    "unitary",
    "is_unitary",
    "power",
    "superpose",
    "bundle",
    "permute",
    "normalize",
    # similarity
    "similarity",
    "similarity_matrix",
]

_FFT_DTYPES = (torch.float32, torch.float64)


# ----------------------------------------------------------------------------------------- checks
def check_vector(x: object, op: str, name: str = "a") -> torch.Tensor:
    """Raise `HRRError` unless `x` is a floating tensor with a non-empty last dimension."""
    if not isinstance(x, torch.Tensor):
        raise HRRError(f"{op}: {name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise HRRError(
            f"{op}: {name} has dtype {x.dtype}; HRR vectors must be floating point "
            f"(convert with .float())"
        )
    if x.ndim == 0 or x.shape[-1] == 0:
        raise HRRError(
            f"{op}: {name} is empty (shape {tuple(x.shape)}); "
            f"HRR vectors need a last dimension d >= 1"
        )
    return x


def check_pair(a: torch.Tensor, b: torch.Tensor, op: str, *, broadcast: bool = True) -> None:
    """Raise `HRRError` unless `a` and `b` are HRR vectors of the same dimension (and, with
    `broadcast`, leading dimensions that broadcast)."""
    check_vector(a, op, "a")
    check_vector(b, op, "b")
    if a.shape[-1] != b.shape[-1]:
        raise HRRError(
            f"{op}: last dimensions differ, a has shape {tuple(a.shape)} and b {tuple(b.shape)}"
        )
    if broadcast and not _broadcasts(a.shape, b.shape):  # a check, not a try: other errors pass
        raise HRRError(
            f"{op}: leading dimensions do not broadcast, a has shape {tuple(a.shape)} "
            f"and b {tuple(b.shape)}"
        )


def _broadcasts(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Whether two shapes broadcast (aligned from the right, each pair equal or one of them 1)."""
    return all(x == y or x == 1 or y == 1 for x, y in zip(reversed(a), reversed(b), strict=False))


def _result_dtype(*xs: torch.Tensor) -> torch.dtype:
    dtype = xs[0].dtype
    for x in xs[1:]:
        dtype = torch.promote_types(dtype, x.dtype)
    return dtype


# ---------------------------------------------------------------------------------------- spectra
def spectrum(a: torch.Tensor) -> torch.Tensor:
    """The real FFT of `a` (half precision is lifted to float32).

    Cache the spectrum of a fixed role and bind with `from_spectrum(spectrum(x) * role_spec, d)`:
    one rfft and one irfft per bind instead of two rffts and one irfft.

    Shapes:
        a: (*, d) -> (*, d // 2 + 1) complex
    """
    check_vector(a, "spectrum")
    x = a if a.dtype in _FFT_DTYPES else a.float()
    if x.numel() == 0:  # an empty batch: MKL refuses zero-length transforms
        complex_dtype = torch.complex128 if x.dtype == torch.float64 else torch.complex64
        return torch.empty(
            *x.shape[:-1], x.shape[-1] // 2 + 1, dtype=complex_dtype, device=x.device
        )
    return torch.fft.rfft(x)


def from_spectrum(f: torch.Tensor, d: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Inverse of `spectrum`: the length-`d` real vector whose rfft is `f`, cast to `dtype`.

    Shapes:
        f: (*, d // 2 + 1) complex -> (*, d)
    """
    if f.numel() == 0:
        out = torch.empty(*f.shape[:-1], d, dtype=f.real.dtype, device=f.device)
    else:
        out = torch.fft.irfft(f, n=d)
    return out if dtype is None or out.dtype == dtype else out.to(dtype)


# --------------------------------------------------------------------------------------- creation
def generator_for(generator: torch.Generator | None, seed: int | None, op: str) -> torch.Generator:
    """The generator a sampler draws from: `generator` itself, or a fresh one seeded with `seed`.

    HartFlow never reads torch's global RNG, so one of the two is required.
    """
    if generator is not None:
        return generator
    if seed is None:
        raise HRRError(f"{op}: pass generator= or seed=; HartFlow never draws from the global RNG")
    return torch.Generator().manual_seed(int(seed))


def _shape(n: int | tuple[int, ...], d: int, op: str) -> tuple[int, ...]:
    lead = (n,) if isinstance(n, int) else tuple(n)
    if d < 1 or any(s < 0 for s in lead):
        raise HRRError(f"{op}: need d >= 1 and non-negative counts, got n={n}, d={d}")
    return (*lead, d)


def random(
    n: int | tuple[int, ...],
    d: int,
    *,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """`n` random HRR vectors with i.i.d. N(0, 1/d) elements (expected norm 1).

    Shapes:
        -> (n, d), or (*n, d) when `n` is a tuple
    """
    g = generator_for(generator, seed, "random")
    x = torch.randn(_shape(n, d, "random"), generator=g, dtype=torch.float64, device=g.device)
    return (x / d**0.5).to(dtype=dtype, device=device)


def random_unitary(
    n: int | tuple[int, ...],
    d: int,
    *,
    positive: bool = False,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """`n` random unitary vectors: every rfft coefficient on the unit circle, phases uniform.

    Binding with a unitary vector is an orthogonal map, so `inverse` undoes it exactly. With
    `positive=True` the DC and Nyquist coefficients are +1, which makes fractional `power` obey
    `power(a, p) ⊛ power(a, q) = power(a, p + q)` for every real p, q.

    Shapes:
        -> (n, d), or (*n, d) when `n` is a tuple
    """
    g = generator_for(generator, seed, "random_unitary")
    shape = _shape(n, d, "random_unitary")
    m = d // 2 + 1
    phase = torch.rand((*shape[:-1], m), generator=g, dtype=torch.float64, device=g.device) * 2 - 1
    phase = phase * torch.pi
    if positive:
        phase[..., 0] = 0.0
    else:
        phase[..., 0] = torch.where(phase[..., 0] < 0, torch.pi, 0.0)
    if d % 2 == 0:  # the Nyquist bin is real too
        phase[..., -1] = 0.0 if positive else torch.where(phase[..., -1] < 0, torch.pi, 0.0)
    f = torch.polar(torch.ones_like(phase), phase)
    return from_spectrum(f, d).to(dtype=dtype, device=device)


def identity(
    d: int, *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """The identity of binding, [1, 0, ..., 0]: `bind(a, identity(d)) == a`.

    Shapes:
        -> (d,)
    """
    e = torch.zeros(_shape((), d, "identity"), dtype=dtype, device=device)
    e[0] = 1
    return e


# ------------------------------------------------------------------------------------- operations
def bind(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Circular convolution: `c[k] = sum_j a[j] b[(k - j) mod d]`.

    Law: `bind(a, b) == bind(b, a)`; `unbind(bind(a, b), b) ≈ a`.

    Shapes:
        a: (*A, d), b: (*B, d) -> (broadcast(A, B), d)
    """
    check_pair(a, b, "bind")
    out = stream_bind(a, b)
    if out is not None:
        return out
    return from_spectrum(_product(spectrum(a), spectrum(b)), a.shape[-1], _result_dtype(a, b))


def bind_spectrum(a: torch.Tensor, spec: torch.Tensor) -> torch.Tensor:
    """Bind `a` with the vector whose cached spectrum is `spec`: one rfft and one irfft.

    Cache `spectrum(role)` once for a role used many times; pass `spectrum(role).conj()` to
    unbind it. Law: `bind_spectrum(a, spectrum(b)) == bind(a, b)`.

    Shapes:
        a: (*A, d), spec: (*S, d // 2 + 1) complex -> (broadcast(A, S), d)
    """
    check_vector(a, "bind_spectrum")
    d = a.shape[-1]
    if not spec.is_complex() or spec.shape[-1] != d // 2 + 1:
        raise HRRError(
            f"bind_spectrum: spec must be complex with last dimension d // 2 + 1 = {d // 2 + 1}, "
            f"got {spec.dtype} {tuple(spec.shape)} (make it with hrr.spectrum)"
        )
    out = stream_bind(a, spec, spectral=True)
    if out is not None:
        return out
    return from_spectrum(_product(spectrum(a), spec), d, a.dtype)


def unbind(c: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Circular correlation: `bind(c, inverse(a))`, computed as a conjugate multiply.

    Law: `unbind(bind(a, b), b) ≈ a`; exact when `b` is unitary.

    Shapes:
        c: (*C, d), a: (*A, d) -> (broadcast(C, A), d)
    """
    check_pair(c, a, "unbind")
    out = stream_bind(c, a, correlate=True)
    if out is not None:
        return out
    g = spectrum(a)
    # conjugate the fresh spectrum in place: a lazy .conj() would be copied out again by mul_
    g = g.conj() if _needs_grad(g) else g.conj_physical_()
    return from_spectrum(_product(spectrum(c), g), c.shape[-1], _result_dtype(c, a))


def _needs_grad(*xs: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(x.requires_grad for x in xs)


def _product(f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """f * g, in place into f when autograd does not need f and shapes allow (saves a buffer)."""
    fits = f.dtype == g.dtype and f.shape == broadcast_shapes(f.shape, g.shape)
    if fits and not _needs_grad(f, g):
        return f.mul_(g)
    return f * g


def multibind(x: torch.Tensor, *, dim: int = -2) -> torch.Tensor:
    """Bind all vectors along `dim`: a product of complex spectra (equal to chained `bind`).

    Law: `multibind(stack([a, b, c])) == bind(bind(a, b), c)`.

    Shapes:
        x: (*, n, d) with `dim=-2` -> (*, d)
    """
    check_vector(x, "multibind", "x")
    if x.ndim < 2 or not -x.ndim <= dim < x.ndim or x.shape[dim] == 0 or dim % x.ndim == x.ndim - 1:
        raise HRRError(
            f"multibind: needs a non-empty dimension {dim} of vectors besides the last, "
            f"got shape {tuple(x.shape)}"
        )
    return from_spectrum(torch.prod(spectrum(x), dim=dim), x.shape[-1], x.dtype)


def inverse(a: torch.Tensor) -> torch.Tensor:
    """The involution `a*[i] = a[-i mod d]`: the stable approximate inverse of binding.

    Law: `inverse(inverse(a)) == a`; `bind(a, inverse(a)) == identity` when `a` is unitary.

    Shapes:
        a: (*, d) -> (*, d)
    """
    check_vector(a, "inverse")
    return torch.roll(torch.flip(a, dims=(-1,)), 1, dims=-1)


def exact_inverse(a: torch.Tensor, *, eps: float = 1e-10) -> torch.Tensor:
    """The exact inverse `irfft(1 / rfft(a))`, regularised where `|rfft(a)|² < eps`.

    Law: `bind(a, exact_inverse(a)) == identity` wherever no coefficient is tiny.
    Unstable for random (non-unitary) `a`: prefer unitary keys and `inverse`.

    Shapes:
        a: (*, d) -> (*, d)
    """
    f = spectrum(a)
    power_ = (f.real**2 + f.imag**2).clamp_min(eps)
    return from_spectrum(f.conj() / power_, a.shape[-1], a.dtype)


def unitary(a: torch.Tensor, *, positive: bool = False) -> torch.Tensor:
    """Project `a` onto the unitary vectors: every rfft coefficient divided by its magnitude.

    Project atoms and roles, never traces (a bundle of unitary vectors is not unitary).
    `positive=True` also sets the DC and Nyquist coefficients to +1 (see `random_unitary`).

    Shapes:
        a: (*, d) -> (*, d)
    """
    f = spectrum(a)
    mag = f.abs()
    f = torch.where(mag > 1e-30, f / mag.clamp_min(1e-30), torch.ones_like(f))
    if positive:
        f[..., 0] = 1
        if a.shape[-1] % 2 == 0:
            f[..., -1] = 1
    return from_spectrum(f, a.shape[-1], a.dtype)


def is_unitary(a: torch.Tensor, *, tol: float = 1e-4) -> torch.Tensor:
    """Whether every rfft coefficient of `a` has magnitude within `tol` of 1.

    Shapes:
        a: (*, d) -> (*) bool
    """
    return ((spectrum(a).abs() - 1).abs() <= tol).all(dim=-1)


def power(a: torch.Tensor, p: float | torch.Tensor) -> torch.Tensor:
    """Binding power `irfft(rfft(a) ** p)`; fractional `p` gives continuous roles.

    Law: `power(a, p) ⊛ power(a, q) == power(a, p + q)` for unitary `a` and integer p, q, and for
    every real p, q when `a` is positive unitary.

    Shapes:
        a: (*A, d), p: scalar or (*P) tensor -> (broadcast(A, P), d)
    """
    f = spectrum(a)
    if isinstance(p, torch.Tensor):
        p = p.to(device=f.device, dtype=f.real.dtype).unsqueeze(-1)
    return from_spectrum(f**p, a.shape[-1], a.dtype)


def superpose(*vectors: torch.Tensor, normalize: bool = False) -> torch.Tensor:
    """Sum of broadcastable vectors (bundling), optionally scaled to unit norm.

    Shapes:
        each (*, d) -> (broadcast, d)
    """
    if not vectors:
        raise HRRError("superpose: got no vectors; pass at least one")
    out = check_vector(vectors[0], "superpose", "vectors[0]")
    for i, v in enumerate(vectors[1:], start=1):
        check_vector(v, "superpose", f"vectors[{i}]")
        if v.shape[-1] != out.shape[-1]:
            raise HRRError(
                f"superpose: last dimensions differ, vectors[0] has shape "
                f"{tuple(vectors[0].shape)} and vectors[{i}] {tuple(v.shape)}"
            )
        out = out + v
    return _normalize(out) if normalize else out


def bundle(x: torch.Tensor, *, dim: int = -2, normalize: bool = False) -> torch.Tensor:
    """Superpose all vectors along `dim` (a multiset), optionally scaled to unit norm.

    Shapes:
        x: (*, n, d) with `dim=-2` -> (*, d)
    """
    check_vector(x, "bundle", "x")
    if x.ndim < 2 or not -x.ndim <= dim < x.ndim or x.shape[dim] == 0 or dim % x.ndim == x.ndim - 1:
        raise HRRError(
            f"bundle: needs a non-empty dimension {dim} of vectors besides the last, "
            f"got shape {tuple(x.shape)}"
        )
    out = x.sum(dim=dim)
    return _normalize(out) if normalize else out


def permute(a: torch.Tensor, shifts: int = 1, *, perm: torch.Tensor | None = None) -> torch.Tensor:
    """Reorder the elements: a cyclic shift by `shifts`, or the index permutation `perm`.

    A cyclic shift commutes with binding (`permute(a ⊛ b) == permute(a) ⊛ b`), so it marks a
    whole term but cannot make binding order-sensitive; a random `perm` (see
    `random_permutation`) does not commute, so `a ⊛ perm(b) != b ⊛ perm(a)`.

    Law: `permute(permute(a, k), -k) == a`; `permute(permute(a, perm=p), perm=argsort(p)) == a`.

    Shapes:
        a: (*, d), perm: (d,) long -> (*, d)
    """
    check_vector(a, "permute")
    if perm is None:
        return torch.roll(a, shifts, dims=-1)
    if perm.shape != (a.shape[-1],):
        raise HRRError(f"permute: perm has shape {tuple(perm.shape)}, vectors have d={a.shape[-1]}")
    return a[..., perm]


def random_permutation(
    d: int, *, generator: torch.Generator | None = None, seed: int | None = None
) -> torch.Tensor:
    """A random permutation of `d` indices, for `permute(a, perm=...)`; invert with `argsort`.

    Shapes:
        -> (d,) long
    """
    g = generator_for(generator, seed, "random_permutation")
    return torch.randperm(_shape((), d, "random_permutation")[0], generator=g, device=g.device)


def _normalize(a: torch.Tensor) -> torch.Tensor:
    return a / torch.linalg.vector_norm(a, dim=-1, keepdim=True).clamp_min(1e-30)


def normalize(a: torch.Tensor) -> torch.Tensor:
    """`a` scaled to unit L2 norm along the last dimension (zero vectors stay zero).

    Shapes:
        a: (*, d) -> (*, d)
    """
    return _normalize(check_vector(a, "normalize"))


# ------------------------------------------------------------------------------------- similarity
def similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity along the last dimension, broadcast over the leading ones.

    Shapes:
        a: (*A, d), b: (*B, d) -> broadcast(A, B)
    """
    check_pair(a, b, "similarity")
    return (_normalize(a) * _normalize(b)).sum(dim=-1)


def similarity_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """All pairwise cosines in one matrix product.

    Shapes:
        a: (*, n, d), b: (*, m, d) (or (m, d)) -> (*, n, m)
    """
    check_pair(a, b, "similarity_matrix", broadcast=False)
    if a.ndim < 2 or b.ndim < 2:
        raise HRRError(
            f"similarity_matrix: needs matrices (n, d) and (m, d), "
            f"got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return _normalize(a) @ _normalize(b).mT
