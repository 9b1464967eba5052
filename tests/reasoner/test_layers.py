"""Shared layers: norms, init, rotary, attention, SwiGLU, post-norm blocks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from reasoner.layers import (
    Attention,
    Block,
    Linear,
    ReasoningModule,
    Rotary,
    SwiGLU,
    apply_rotary,
    rms_norm,
    rotary_halves,
    silu,
    swiglu_hidden,
    trunc_normal_init_,
)


def traced_calls(fn, *args) -> str:
    """The names of the calls in the graph dynamo traces from fn(*args), joined by spaces."""
    graphs: list[torch.fx.GraphModule] = []

    def record(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch._dynamo.reset()
    torch.compile(fn, backend=record, dynamic=False)(*args)
    return " ".join(str(n.target) for g in graphs for n in g.graph.nodes if n.op.startswith("call"))


class TestRmsNorm:
    @pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
    @pytest.mark.parametrize("dim", [-1, -2])
    def test_unit_rms_and_dtype(self, gen, dtype, dim):
        x = (torch.randn(3, 5, 8, generator=gen) * 7 + 2).to(dtype)
        y = rms_norm(x, dim=dim)
        assert y.dtype == dtype and y.shape == x.shape
        rms = y.float().square().mean(dim).sqrt()
        assert torch.allclose(rms, torch.ones_like(rms), atol=1e-2)

    def test_matches_formula(self, gen):
        x = torch.randn(4, 16, generator=gen)
        ref = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)
        assert torch.allclose(rms_norm(x), ref, atol=1e-6)


class TestTruncNormal:
    @pytest.mark.parametrize("std", [0.02, 1.0, 3.0])
    def test_std_and_bounds(self, gen, std):
        t = trunc_normal_init_(torch.empty(200_000), std=std, generator=gen)
        assert abs(t.std().item() / std - 1) < 0.01  # corrected: the truncated std is `std`
        comp = std / 0.8796  # pre-truncation scale: 2σ clip shrinks the std by ~0.88
        assert t.abs().max().item() <= 2 * comp + 1e-6
        assert t.abs().max().item() > 1.9 * comp

    def test_zero_std_and_seeded(self):
        assert trunc_normal_init_(torch.ones(5), std=0).eq(0).all()
        a = trunc_normal_init_(torch.empty(10), std=1, generator=torch.Generator().manual_seed(0))
        b = trunc_normal_init_(torch.empty(10), std=1, generator=torch.Generator().manual_seed(0))
        assert torch.equal(a, b)


class TestLinear:
    @pytest.mark.parametrize(("fan_in", "bias"), [(64, False), (512, True)])
    def test_lecun_std_and_bias(self, gen, fan_in, bias):
        lin = Linear(fan_in, 256, bias=bias, generator=gen)
        assert isinstance(lin, torch.nn.Linear)
        assert abs(lin.weight.std().item() * math.sqrt(fan_in) - 1) < 0.05
        assert (lin.bias is not None) == bias
        if bias:
            assert lin.bias.eq(0).all()
        x = torch.randn(2, fan_in, generator=gen)
        assert lin(x).shape == (2, 256)

    def test_does_not_touch_global_rng(self):
        state = torch.get_rng_state()
        Linear(8, 8, generator=torch.Generator().manual_seed(1))
        assert torch.equal(state, torch.get_rng_state())


class TestRotary:
    def test_shapes_and_identity_at_zero(self):
        cos, sin = Rotary(16, 10)()
        assert cos.shape == sin.shape == (10, 16) and cos.dtype == torch.float32
        assert torch.allclose(cos[0], torch.ones(16)) and torch.allclose(sin[0], torch.zeros(16))

    def test_relative_positions(self, gen):
        """RoPE scores depend only on the position difference."""
        cos, sin = Rotary(8, 32)()
        q = torch.randn(8, generator=gen).expand(32, 8)
        k = torch.randn(8, generator=gen).expand(32, 8)
        qr, kr = apply_rotary(q, k, cos, sin)
        assert torch.allclose(qr[3] @ kr[1], qr[12] @ kr[10], atol=1e-5)
        assert torch.allclose(qr.norm(dim=-1), q.norm(dim=-1), atol=1e-5)

    def test_rotate_half_layout(self, gen):
        """Dimension i pairs with i + d/2 (not 2i with 2i+1), both at frequency theta^(-2i/d)."""
        d, pos = 8, 5
        cos, sin = Rotary(d, 8, theta=100.0)()
        q = torch.randn(d, generator=gen)
        qr, _ = apply_rotary(q, q, cos[pos], sin[pos])
        q, qr = q.tolist(), qr.tolist()
        for i in range(d // 2):
            a = pos * 100.0 ** (-2 * i / d)
            c, s = math.cos(a), math.sin(a)
            assert qr[i] == pytest.approx(q[i] * c - q[i + d // 2] * s, abs=1e-5)
            assert qr[i + d // 2] == pytest.approx(q[i + d // 2] * c + q[i] * s, abs=1e-5)

    def test_odd_head_dim(self):
        with pytest.raises(ValueError, match="even"):
            Rotary(7, 4)

    @pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
    def test_halves_form_is_bit_identical(self, gen, dtype):
        """The compiled path's per-half form computes the rotate-half form's operations in its
        order: equal bit for bit, on attention's strided (B, H, L, hd) views too."""
        B, L, H, hd = 2, 11, 3, 16
        cos, sin = Rotary(hd, L)()
        qkv = (torch.randn(B, L, 3, H, hd, generator=gen) * 3).to(dtype)
        q, k, _ = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        qr, kr = apply_rotary(q, k, cos, sin)
        for x, ref in ((q, qr), (k, kr)):
            got = rotary_halves(x, cos, sin)
            assert got.dtype == dtype and got.shape == ref.shape
            assert torch.equal(got, ref)

    def test_halves_form_detects_a_swapped_sign(self, gen):
        """The equality above can fail: rotating the other way round differs."""
        cos, sin = Rotary(8, 5)()
        q = torch.randn(5, 8, generator=gen)
        assert not torch.equal(rotary_halves(q, cos, -sin), apply_rotary(q, q, cos, sin)[0])

    @pytest.mark.slow
    def test_compiled_rotary_is_bit_identical(self, gen):
        """Under torch.compile apply_rotary takes the per-half form (the traced graph has no
        rotate-half chunk) and inductor's kernel gives the same bits as eager."""
        cos, sin = Rotary(16, 9)()
        q, k = torch.randn(2, 2, 4, 9, 16, generator=gen).unbind(0)
        graph = traced_calls(apply_rotary, q, k, cos, sin)
        assert "chunk" not in graph and "cat" in graph
        compiled = torch.compile(apply_rotary, dynamic=False)
        for got, ref in zip(compiled(q, k, cos, sin), apply_rotary(q, k, cos, sin), strict=True):
            assert torch.equal(got, ref)


class TestAttention:
    @pytest.mark.parametrize("use_rope", [False, True])
    def test_matches_explicit_softmax(self, gen, use_rope):
        B, L, D, H = 2, 6, 16, 2
        attn = Attention(D, H, generator=gen)
        x = torch.randn(B, L, D, generator=gen)
        rot = Rotary(D // H, 10)() if use_rope else None
        q, k, v = attn.qkv(x).view(B, L, 3, H, D // H).permute(2, 0, 3, 1, 4)
        if rot is not None:
            q, k = apply_rotary(q, k, rot[0][:L], rot[1][:L])
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D // H), -1)
        ref = attn.out((w @ v).transpose(1, 2).reshape(B, L, D))
        assert torch.allclose(attn(x, rot), ref, atol=1e-5)

    def test_non_causal(self, gen):
        """Changing the last token changes the first output (no causal mask)."""
        attn = Attention(8, 2, generator=gen)
        x = torch.randn(1, 4, 8, generator=gen)
        x2 = x.clone()
        x2[0, -1] += 1
        assert not torch.allclose(attn(x)[0, 0], attn(x2)[0, 0])


class TestSwiGLU:
    @pytest.mark.parametrize(("dim", "exp", "inter"), [(512, 4, 1536), (97, 4, 512), (64, 4, 256)])
    def test_hidden_width(self, dim, exp, inter):
        assert swiglu_hidden(dim, exp) == inter
        assert SwiGLU(dim, exp).inter == inter

    def test_smaller_multiple(self):
        # 4·32·2/3 = 85.3 -> 96 with multiple 16, 256 with the paper's 256
        assert swiglu_hidden(32, 4, 16) == 96
        assert Block(32, 2, 4, ffn_multiple=16).mlp.inter == 96
        assert Block(32, 2, 4, mixer="mlp", seq_len=7, ffn_multiple=8).token_mlp.inter == 24
        with pytest.raises(ValueError, match="multiple must be >= 1"):
            swiglu_hidden(32, 4, 0)

    def test_formula_and_rows(self, gen):
        mlp = SwiGLU(12, 4, generator=gen)
        x = torch.randn(3, 12, 5, generator=gen)
        g, u = mlp.gate_up.weight.chunk(2, 0)
        xt = x.transpose(1, 2)
        ref = (F.silu(xt @ g.T) * (xt @ u.T)) @ mlp.down.weight.T
        assert torch.allclose(mlp(xt), ref, atol=1e-5)
        assert torch.allclose(mlp.forward_over_rows(x), ref.transpose(1, 2), atol=1e-5)

    @pytest.mark.slow
    def test_compiled_silu_value_and_gradient(self, gen):
        """Compiled, SiLU is x·sigmoid(x): F.silu's value and derivative within float rounding
        (and not, say, the sigmoid alone)."""
        x = (torch.randn(64, 32, generator=gen) * 4).requires_grad_()
        compiled = torch.compile(silu, dynamic=False)
        got = compiled(x)
        (grad,) = torch.autograd.grad(got.square().sum(), x)
        ref = F.silu(x)
        (ref_grad,) = torch.autograd.grad(ref.square().sum(), x)
        assert torch.equal(silu(x), ref)  # eager: the reference's op itself
        torch.testing.assert_close(got, ref, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-5)
        graph = traced_calls(silu, x)  # the traced form is the sigmoid one
        assert "sigmoid" in graph and "silu" not in graph


class TestBlock:
    @pytest.mark.parametrize("mixer", ["attention", "mlp"])
    def test_post_norm_output(self, gen, mixer):
        block = Block(16, 2, 4, mixer=mixer, seq_len=7, generator=gen)
        h = torch.randn(2, 7, 16, generator=gen) * 5
        out = block(h, Rotary(8, 7)() if mixer == "attention" else None)
        assert out.shape == h.shape
        rms = out.square().mean(-1).sqrt()  # last op is a norm over D
        assert torch.allclose(rms, torch.ones_like(rms), atol=1e-3)

    def test_mlp_mixer_matches_transposed_reference(self, gen):
        """mlp_t: transpose, SwiGLU over L, residual, norm over L, transpose back, channel MLP."""
        block = Block(16, 2, 4, mixer="mlp", seq_len=7, generator=gen)
        h = torch.randn(2, 7, 16, generator=gen)
        t = h.transpose(1, 2)
        t = rms_norm(t + block.token_mlp(t))
        ref = t.transpose(1, 2)
        ref = rms_norm(ref + block.mlp(ref))
        assert torch.allclose(block(h), ref, atol=1e-5)

    def test_mixer_validation(self):
        with pytest.raises(ValueError, match="seq_len"):
            Block(16, 2, 4, mixer="mlp")
        with pytest.raises(ValueError, match="mixer"):
            Block(16, 2, 4, mixer="conv")

    def test_reasoning_module_injects(self, gen):
        blocks = [Block(8, 2, 2, generator=gen) for _ in range(2)]
        mod = ReasoningModule(blocks)
        h, inj = torch.randn(1, 3, 8, generator=gen), torch.randn(1, 3, 8, generator=gen)
        assert torch.allclose(mod(h, inj), blocks[1](blocks[0](h + inj)), atol=1e-6)
