"""The HRR algebra: laws, exactness, shapes, dtypes and errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import hrr
from hrr import HRRError

DTYPES = [torch.float32, torch.float64]
DIMS = [7, 64, 255, 256]  # odd and even


def direct_convolution(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """c[k] = Σ_j a[j] b[(k - j) mod d], the O(d²) definition."""
    d = a.shape[-1]
    k = torch.arange(d)
    idx = (k[:, None] - k[None, :]) % d  # (k, j) -> (k - j) mod d
    return (a[..., None, :] * b[..., idx]).sum(-1)


def vectors(n: int, d: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    return hrr.random(n, d, seed=seed, dtype=dtype)


class TestBind:
    @given(d=st.integers(1, 80), seed=st.integers(0, 2**31))
    def test_equals_direct_convolution_float64(self, d, seed):
        a, b = vectors(2, d, seed)
        assert torch.allclose(hrr.bind(a, b), direct_convolution(a, b), atol=1e-9, rtol=0)

    @given(d=st.integers(2, 64), seed=st.integers(0, 2**31))
    def test_commutative_associative_distributive(self, d, seed):
        a, b, c = vectors(3, d, seed)
        assert torch.allclose(hrr.bind(a, b), hrr.bind(b, a), atol=1e-12)
        assert torch.allclose(hrr.bind(hrr.bind(a, b), c), hrr.bind(a, hrr.bind(b, c)), atol=1e-12)
        lhs = hrr.bind(a, hrr.superpose(b, c))
        assert torch.allclose(lhs, hrr.superpose(hrr.bind(a, b), hrr.bind(a, c)), atol=1e-12)

    @pytest.mark.parametrize("d", DIMS)
    def test_identity(self, d):
        a = vectors(1, d, 0)[0]
        assert torch.allclose(hrr.bind(a, hrr.identity(d, dtype=a.dtype)), a, atol=1e-12)

    @pytest.mark.parametrize("dtype", [*DTYPES, torch.float16, torch.bfloat16])
    def test_preserves_dtype_and_broadcasts(self, dtype):
        a = hrr.random((3, 1), 32, seed=0, dtype=dtype)
        b = hrr.random(5, 32, seed=1, dtype=dtype)
        out = hrr.bind(a, b)
        assert out.dtype == dtype and out.shape == (3, 5, 32)
        ref = hrr.bind(a.double(), b.double())
        assert torch.allclose(out.double(), ref, atol=2e-2 if dtype.itemsize == 2 else 1e-5)

    def test_batched_equals_rowwise(self, gen):
        a = hrr.random(6, 128, generator=gen)
        b = hrr.random(6, 128, generator=gen)
        rows = torch.stack([hrr.bind(x, y) for x, y in zip(a, b, strict=True)])
        assert torch.allclose(hrr.bind(a, b), rows, atol=1e-6)

    def test_gradient_flows(self, gen):
        a = hrr.random(2, 16, generator=gen).requires_grad_()
        b = hrr.random(1, 16, generator=gen)[0]
        hrr.bind(a, b).pow(2).sum().backward()
        assert a.grad is not None and a.grad.abs().sum() > 0


class TestBindSpectrum:
    def test_cached_spectrum_equals_bind_and_unbind(self):
        a, role = hrr.random(2, 96, seed=3, dtype=torch.float64)
        batch = hrr.random(5, 96, seed=4, dtype=torch.float64)
        spec = hrr.spectrum(role)
        assert torch.allclose(hrr.bind_spectrum(batch, spec), hrr.bind(batch, role), atol=1e-12)
        assert torch.allclose(hrr.bind_spectrum(a, spec.conj()), hrr.unbind(a, role), atol=1e-12)

    def test_rejects_a_real_vector(self):
        with pytest.raises(HRRError, match=r"hrr\.spectrum"):
            hrr.bind_spectrum(torch.ones(8), torch.ones(8))


class TestUnbind:
    @pytest.mark.parametrize("d", DIMS)
    @pytest.mark.parametrize("dtype", DTYPES)
    def test_unitary_key_is_exact(self, d, dtype):
        key = hrr.random_unitary(1, d, seed=d, dtype=dtype)[0]
        value = hrr.random(1, d, seed=d + 1, dtype=dtype)[0]
        got = hrr.unbind(hrr.bind(value, key), key)
        assert float(hrr.similarity(got, value)) >= 0.9999

    @pytest.mark.parametrize("seed", range(5))
    def test_random_key_recovers_filler_at_one_over_root_two(self, seed):
        # unbinding a single pair with a Gaussian key: cos ≈ 1/sqrt(2) (key autocorrelation noise)
        d, n = 2048, 200
        keys = hrr.random(n, d, seed=seed)
        values = hrr.random(n, d, seed=seed + 100)
        cos = hrr.similarity(hrr.unbind(hrr.bind(values, keys), keys), values)
        assert abs(float(cos.mean()) - 1 / math.sqrt(2)) < 0.02

    def test_equals_bind_with_inverse(self, gen):
        c, a = hrr.random(2, 100, generator=gen, dtype=torch.float64)
        assert torch.allclose(hrr.unbind(c, a), hrr.bind(c, hrr.inverse(a)), atol=1e-12)

    def test_deep_unitary_chain_stays_exact(self, gen):
        keys = hrr.random_unitary(256, 1024, generator=gen)
        value = hrr.random(1, 1024, generator=gen)[0]
        x = value
        for k in keys:
            x = hrr.bind(x, k)
        for k in keys.flip(0):
            x = hrr.unbind(x, k)
        assert 1 - float(hrr.similarity(x, value)) < 1e-5


class TestStreaming:
    """The chunked CPU path of bind/unbind/bind_spectrum equals the one-shot path."""

    @pytest.fixture
    def stream(self, monkeypatch):
        """Stream every batch, in chunks of 3 rows of d = 37 (a ragged last chunk)."""
        monkeypatch.setattr(hrr.streaming, "STREAM_MIN_BYTES", 0)
        monkeypatch.setattr(hrr.streaming, "CHUNK_BYTES", 3 * 37 * 4)
        monkeypatch.setattr(hrr.streaming, "THREADED_CHUNK_BYTES", 3 * 37 * 4)

    @staticmethod
    def one_shot(fn, *args):
        saved, hrr.streaming.STREAM_MIN_BYTES = hrr.streaming.STREAM_MIN_BYTES, 2**62
        try:
            return fn(*args)
        finally:
            hrr.streaming.STREAM_MIN_BYTES = saved

    @pytest.mark.parametrize(
        ("sa", "sb"),
        [((10, 37), (10, 37)), ((10, 37), (37,)), ((37,), (10, 37)), ((2, 5, 37), (1, 1, 37))],
    )
    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("op", ["bind", "unbind"])
    def test_equals_one_shot(self, stream, sa, sb, dtype, op):
        gen = torch.Generator().manual_seed(7)
        a = hrr.random(sa[:-1], 37, generator=gen, dtype=dtype)
        b = hrr.random(sb[:-1], 37, generator=gen, dtype=dtype)
        fn = getattr(hrr, op)
        assert hrr.streaming.stream_bind(a, b, correlate=op == "unbind") is not None
        got, ref = fn(a, b), self.one_shot(fn, a, b)
        assert got.shape == ref.shape and got.dtype == dtype
        assert torch.allclose(got, ref, atol=1e-6 if dtype == torch.float32 else 1e-12, rtol=0)

    def test_equals_direct_convolution_and_correlation(self, stream):
        a = hrr.random(8, 37, seed=1, dtype=torch.float64)
        b = hrr.random(8, 37, seed=2, dtype=torch.float64)
        assert torch.allclose(hrr.bind(a, b), direct_convolution(a, b), atol=1e-12, rtol=0)
        correlation = direct_convolution(a, hrr.inverse(b))
        assert torch.allclose(hrr.unbind(a, b), correlation, atol=1e-12, rtol=0)
        assert torch.allclose(hrr.unbind(b[0], a), direct_convolution(b[0], hrr.inverse(a)))

    @pytest.mark.parametrize("per_row_spec", [False, True])
    @pytest.mark.parametrize("conj", [False, True])
    def test_bind_spectrum(self, stream, per_row_spec, conj):
        batch = hrr.random(10, 37, seed=3)
        roles = hrr.random(10 if per_row_spec else 1, 37, seed=4)
        spec = hrr.spectrum(roles).conj() if conj else hrr.spectrum(roles)
        assert hrr.streaming.stream_bind(batch, spec, spectral=True) is not None
        got = hrr.bind_spectrum(batch, spec)
        ref = (hrr.unbind if conj else hrr.bind)(batch, roles)
        assert torch.allclose(got, self.one_shot(hrr.bind_spectrum, batch, spec), atol=1e-6)
        assert torch.allclose(got, ref, atol=1e-6)
        # one shared vector against per-row cached spectra
        shared = hrr.bind_spectrum(batch[0], spec)
        assert torch.allclose(shared, self.one_shot(hrr.bind_spectrum, batch[0], spec), atol=1e-6)

    def test_falls_back_where_it_does_not_apply(self, stream):
        a = hrr.random((3, 1), 37, seed=5)
        b = hrr.random((1, 4), 37, seed=6)
        cases = {
            "partial broadcast": (a, b),
            "strided rows": (hrr.random(6, 74, seed=7)[:, ::2], hrr.random(6, 37, seed=8)),
            "mixed dtypes": (a[:, 0], a[:, 0].double()),
            "gradient": (a[:, 0].clone().requires_grad_(), a[:, 0]),
        }
        for name, (x, y) in cases.items():
            assert hrr.streaming.stream_bind(x, y) is None, name
            assert torch.allclose(hrr.bind(x, y), self.one_shot(hrr.bind, x, y)), name

    @pytest.mark.parametrize(
        "shapes",
        [((3, 1, 5), (4, 5)), ((5,), (2, 3, 5)), ((), (3,)), ((2, 1), (1, 3)), ((0, 4), (1, 4)),
         ((3,), (4,)), ((0,), (3,)), ((2, 3), (3, 2))],
    )  # fmt: skip
    def test_broadcast_shapes_matches_torch(self, shapes):
        try:
            expected = tuple(torch.broadcast_shapes(*shapes))
        except RuntimeError:
            with pytest.raises(RuntimeError):
                hrr.streaming.broadcast_shapes(*shapes)
        else:
            assert hrr.streaming.broadcast_shapes(*shapes) == expected

    def test_threshold_keeps_small_batches_one_shot(self):
        a = hrr.random(4, 64, seed=9)
        assert hrr.streaming.stream_bind(a, a) is None  # 1 KiB, far below STREAM_MIN_BYTES


class TestInverses:
    @pytest.mark.parametrize("d", DIMS)
    def test_involution(self, d):
        a = vectors(1, d, 3)[0]
        inv = hrr.inverse(a)
        assert torch.equal(hrr.inverse(inv), a)
        expected = torch.stack([a[(-i) % d] for i in range(d)])
        assert torch.equal(inv, expected)

    @pytest.mark.parametrize("d", DIMS)
    def test_exact_inverse_gives_identity(self, d):
        a = vectors(1, d, 4)[0]
        assert torch.allclose(
            hrr.bind(a, hrr.exact_inverse(a)), hrr.identity(d).double(), atol=1e-6
        )

    def test_exact_inverse_guards_zero_spectrum(self):
        a = torch.zeros(8)
        a[0] = a[1] = 1.0  # rfft has an exact zero at the Nyquist bin
        assert torch.isfinite(hrr.exact_inverse(a)).all()


class TestUnitary:
    @pytest.mark.parametrize("d", DIMS)
    def test_projection_is_unitary_and_idempotent(self, d):
        a = vectors(3, d, 5)
        u = hrr.unitary(a)
        assert hrr.is_unitary(u).all()
        assert not hrr.is_unitary(a).any()
        assert torch.allclose(hrr.unitary(u), u, atol=1e-12)

    @pytest.mark.parametrize("d", DIMS)
    def test_random_unitary_inverse_is_involution(self, d):
        u = hrr.random_unitary(4, d, seed=d, dtype=torch.float64)
        assert hrr.is_unitary(u).all()
        assert torch.allclose(hrr.bind(u, hrr.inverse(u)), hrr.identity(d).double(), atol=1e-10)

    def test_positive_has_unit_dc_and_nyquist(self):
        u = hrr.random_unitary(3, 64, positive=True, seed=0, dtype=torch.float64)
        f = hrr.spectrum(u)
        assert torch.allclose(f[:, 0], torch.ones(3, dtype=f.dtype))
        assert torch.allclose(f[:, -1], torch.ones(3, dtype=f.dtype))
        assert torch.allclose(hrr.spectrum(hrr.unitary(u, positive=True)), f)


class TestPower:
    @given(p=st.integers(-5, 5), q=st.integers(-5, 5), seed=st.integers(0, 1000))
    def test_integer_powers_add_for_unitary(self, p, q, seed):
        a = hrr.random_unitary(1, 64, seed=seed, dtype=torch.float64)[0]
        lhs = hrr.bind(hrr.power(a, p), hrr.power(a, q))
        assert torch.allclose(lhs, hrr.power(a, p + q), atol=1e-9)

    @given(p=st.floats(-4, 4), q=st.floats(-4, 4), seed=st.integers(0, 1000))
    def test_real_powers_add_for_positive_unitary(self, p, q, seed):
        a = hrr.random_unitary(1, 65, positive=True, seed=seed, dtype=torch.float64)[0]
        lhs = hrr.bind(hrr.power(a, p), hrr.power(a, q))
        assert torch.allclose(lhs, hrr.power(a, p + q), atol=1e-9)

    def test_integer_power_is_repeated_bind(self):
        a = vectors(1, 32, 6)[0]
        assert torch.allclose(hrr.power(a, 3), hrr.bind(hrr.bind(a, a), a), atol=1e-12)

    def test_tensor_of_powers_broadcasts(self):
        a = hrr.random_unitary(1, 32, seed=0, dtype=torch.float64)[0]
        ps = hrr.power(a, torch.arange(4))
        assert ps.shape == (4, 32)
        assert torch.allclose(ps[0], hrr.identity(32).double(), atol=1e-12)
        assert torch.allclose(ps[3], hrr.power(a, 3), atol=1e-12)


class TestMultibind:
    @pytest.mark.parametrize("n", [1, 2, 3, 7])
    @pytest.mark.parametrize("d", DIMS)
    def test_equals_chained_binds(self, n, d):
        x = vectors(n, d, n * d)
        chained = x[0]
        for v in x[1:]:
            chained = hrr.bind(chained, v)
        assert torch.allclose(hrr.multibind(x), chained, atol=1e-10)

    def test_batched_over_leading_dims(self):
        x = hrr.random((4, 3), 16, seed=0)
        assert hrr.multibind(x).shape == (4, 16)
        assert torch.allclose(hrr.multibind(x)[2], hrr.multibind(x[2]), atol=1e-6)


class TestBundleAndPermute:
    def test_superpose_and_bundle_agree(self):
        x = vectors(5, 16, 7)
        assert torch.allclose(hrr.superpose(*x), hrr.bundle(x), atol=1e-12)
        assert torch.allclose(hrr.bundle(x, normalize=True).norm(), torch.tensor(1.0).double())

    def test_permute_round_trips(self):
        a = vectors(1, 32, 8)[0]
        assert torch.equal(hrr.permute(hrr.permute(a, 3), -3), a)
        p = hrr.random_permutation(32, seed=0)
        assert torch.equal(hrr.permute(hrr.permute(a, perm=p), perm=torch.argsort(p)), a)

    def test_roll_commutes_with_bind_but_a_random_permutation_does_not(self):
        a, b = vectors(2, 64, 8)
        rolled = hrr.bind(a, hrr.permute(b)), hrr.bind(b, hrr.permute(a))
        assert torch.allclose(*rolled, atol=1e-12)  # the trap: shifts are bind-equivariant
        p = hrr.random_permutation(64, seed=1)
        ab, ba = hrr.bind(a, hrr.permute(b, perm=p)), hrr.bind(b, hrr.permute(a, perm=p))
        assert float(hrr.similarity(ab, ba)) < 0.5


class TestSimilarity:
    def test_cosine_values(self):
        a = torch.tensor([1.0, 0.0, 0.0])
        b = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
        assert torch.allclose(hrr.similarity(a, b), torch.tensor([1.0, 0.0, -1.0]))

    def test_matrix_matches_pairwise(self):
        a, b = hrr.random(4, 64, seed=0), hrr.random(6, 64, seed=1)
        m = hrr.similarity_matrix(a, b)
        assert m.shape == (4, 6)
        assert torch.allclose(m, hrr.similarity(a[:, None], b[None]), atol=1e-6)

    def test_random_vectors_are_quasi_orthogonal(self):
        x = hrr.random(200, 1024, seed=0)
        off = hrr.similarity_matrix(x, x)[~torch.eye(200, dtype=torch.bool)]
        assert abs(float(off.std()) - 1 / 32) < 0.003


class TestRandom:
    def test_seeded_and_reproducible(self):
        assert torch.equal(hrr.random(3, 8, seed=5), hrr.random(3, 8, seed=5))
        assert not torch.equal(hrr.random(3, 8, seed=5), hrr.random(3, 8, seed=6))
        g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
        assert torch.equal(
            hrr.random_unitary(2, 8, generator=g1), hrr.random_unitary(2, 8, generator=g2)
        )

    def test_scale_is_one_over_d(self):
        x = hrr.random(100, 4096, seed=0, dtype=torch.float64)
        assert abs(float(x.var()) * 4096 - 1) < 0.01

    def test_never_reads_global_rng(self):
        with pytest.raises(HRRError, match="generator= or seed="):
            hrr.random(2, 8)


class TestErrors:
    def test_mismatched_dims_name_the_shapes(self):
        with pytest.raises(HRRError, match=r"\(3, 8\).*\(5,\)"):
            hrr.bind(torch.zeros(3, 8), torch.zeros(5))

    @pytest.mark.parametrize("op", [hrr.bind, hrr.unbind, hrr.similarity])
    def test_integer_dtype(self, op):
        with pytest.raises(HRRError, match=r"torch\.int64"):
            op(torch.zeros(4, dtype=torch.long), torch.zeros(4))

    def test_empty_inputs(self):
        with pytest.raises(HRRError, match="empty"):
            hrr.inverse(torch.zeros(3, 0))
        with pytest.raises(HRRError, match="no vectors"):
            hrr.superpose()
        with pytest.raises(HRRError, match="non-empty"):
            hrr.multibind(torch.zeros(0, 8))

    def test_leading_dimensions_must_broadcast(self):
        with pytest.raises(HRRError, match=r"do not broadcast.*\(2, 4\).*\(3, 4\)"):
            hrr.bind(torch.zeros(2, 4), torch.zeros(3, 4))

    def test_dim_out_of_range(self):
        with pytest.raises(HRRError, match="dimension 5"):
            hrr.multibind(torch.zeros(2, 3, 4), dim=5)

    def test_empty_batches_pass_through(self):
        empty = torch.zeros(0, 8)
        assert hrr.bind(empty, torch.ones(8)).shape == (0, 8)
        assert hrr.unbind(empty, empty).shape == (0, 8)
        assert hrr.random_unitary(0, 8, seed=0).shape == (0, 8)

    def test_not_a_tensor(self):
        with pytest.raises(HRRError, match="list"):
            hrr.unitary([1.0, 2.0])

    def test_error_is_a_value_error(self):
        assert issubclass(HRRError, ValueError)
