"""Building blocks shared by TRM, HRM and the sequence refiner.

Post-norm transformer blocks as in TRM/HRM: RMSNorm without a learnable scale (computed in fp32),
non-causal attention through `scaled_dot_product_attention` with rotary positions, SwiGLU MLPs
without biases, the sequence-axis MLP mixer (`mlp_t`), and truncated-LeCun initialisation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MIXERS = ("attention", "mlp")


def rms_norm(x: torch.Tensor, *, eps: float = 1e-5, dim: int = -1) -> torch.Tensor:
    """RMS normalisation without a scale: x / sqrt(mean(x², dim) + eps), computed in fp32.

    Shapes:
        x: any; the output has x's shape and dtype.
    """
    x32 = x.float()
    x32 = x32 * torch.rsqrt(x32.square().mean(dim, keepdim=True) + eps)
    return x32.to(x.dtype)


def trunc_normal_init_(
    tensor: torch.Tensor,
    *,
    std: float,
    lower: float = -2.0,
    upper: float = 2.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill `tensor` in place with a normal truncated at [lower, upper]·σ whose std is `std`.

    JAX's truncated normal (flax's default initialiser): the pre-truncation scale is corrected so
    the truncated distribution has standard deviation `std` (`nn.init.trunc_normal_` does not).
    `std=0` zeroes the tensor.

    Shapes:
        tensor: any; filled in place and returned.
    """
    with torch.no_grad():
        if std == 0:
            return tensor.zero_()
        sqrt2 = math.sqrt(2.0)
        a, b = math.erf(lower / sqrt2), math.erf(upper / sqrt2)
        z = (b - a) / 2
        c = (2 * math.pi) ** -0.5
        pdf_u, pdf_l = c * math.exp(-0.5 * lower**2), c * math.exp(-0.5 * upper**2)
        var_ratio = 1 - (upper * pdf_u - lower * pdf_l) / z - ((pdf_u - pdf_l) / z) ** 2
        comp_std = std / math.sqrt(var_ratio)
        tensor.uniform_(a, b, generator=generator)
        tensor.erfinv_()
        tensor.mul_(sqrt2 * comp_std)
        tensor.clamp_(lower * comp_std, upper * comp_std)
    return tensor


class Linear(nn.Linear):
    """`nn.Linear` with truncated-LeCun init (std 1/sqrt(fan_in)), no bias by default.

    Weights stay fp32 and are cast to the input's dtype at every use (TRM's `CastedLinear`): a
    weight applied k times gets k casts, so in bf16 its k gradients are summed in fp32, as in the
    reference (autocast's one cached cast per weight would sum them in bf16 first). In fp32 the
    cast is a no-op.

    Shapes:
        x: (..., in_features) -> (..., out_features)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = False,
        generator: torch.Generator | None = None,
    ):
        nn.Module.__init__(self)  # skip nn.Linear's init: it draws from the global RNG
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.reset_parameters(generator=generator)

    def reset_parameters(self, *, generator: torch.Generator | None = None) -> None:
        """Re-draw the weight (truncated LeCun normal) and zero the bias."""
        trunc_normal_init_(self.weight, std=1.0 / math.sqrt(self.in_features), generator=generator)
        if self.bias is not None:
            with torch.no_grad():
                self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.linear(x, self.weight.to(x.dtype), bias)


class Rotary(nn.Module):
    """Rotary position tables (RoPE): `forward()` returns (cos, sin), fp32.

    Shapes:
        cos, sin: (max_len, head_dim); frequencies repeat over the two halves (rotate-half form).
    """

    def __init__(self, head_dim: int, max_len: int, *, theta: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"head_dim must be even for RoPE, got {head_dim}; change hidden/heads")
        inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        freqs = torch.outer(torch.arange(max_len, dtype=torch.float32), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)  # (max_len, head_dim)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cos, self.sin


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate q and k by position (rotate-half form), in fp32, cast back to their dtypes.

    Under `torch.compile` the same products and sums are written per half (`rotary_halves`,
    bit-identical): inductor turns the rotate-half concatenation into masked half-width loops
    through temporaries, the per-half form into one fused kernel (4 % of a compiled
    TRM-attention train step at hidden 128, measured side by side).

    Shapes:
        q, k: (..., L, head_dim); cos, sin: (L, head_dim) (or anything broadcastable).
    """
    if torch.compiler.is_compiling():
        return rotary_halves(q, cos, sin), rotary_halves(k, cos, sin)
    q32, k32 = q.float(), k.float()
    q_out = q32 * cos + _rotate_half(q32) * sin
    k_out = k32 * cos + _rotate_half(k32) * sin
    return q_out.to(q.dtype), k_out.to(k.dtype)


def rotary_halves(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """`apply_rotary` for one tensor, per half: [x₁·c₁ + (−x₂)·s₁, x₂·c₂ + x₁·s₂] in fp32 —
    the rotate-half form's operations in its order, so bit-identical to it.

    Shapes:
        x: (..., L, head_dim); cos, sin: broadcastable to x.
    """
    h = x.shape[-1] // 2
    x32 = x.float()
    x1, x2 = x32[..., :h], x32[..., h:]
    first = x1 * cos[..., :h] + (-x2) * sin[..., :h]
    second = x2 * cos[..., h:] + x1 * sin[..., h:]
    return torch.cat((first, second), dim=-1).to(x.dtype)


class Attention(nn.Module):
    """Multi-head self-attention: fused qkv projection, no biases, SDPA (flash/efficient kernels).

    Shapes:
        x: (B, L, D) -> (B, L, D); rotary: (cos, sin) each (>= L, D / n_heads), or None.
    """

    def __init__(
        self,
        dim: int,
        n_heads: int,
        *,
        causal: bool = False,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"dim {dim} must be divisible by n_heads {n_heads}; change either")
        self.n_heads, self.head_dim, self.causal = n_heads, dim // n_heads, causal
        self.qkv = Linear(dim, 3 * dim, generator=generator)
        self.out = Linear(dim, dim, generator=generator)

    def forward(
        self,
        x: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor] | None = None,
        *,
        seq_first: bool = False,
    ) -> torch.Tensor:
        """seq_first: x (and the output) is (L, B, D), the compiled path's layout."""
        if seq_first:
            L, B, D = x.shape
            qkv = self.qkv(x).view(L, B, 3, self.n_heads, self.head_dim).permute(2, 1, 3, 0, 4)
        else:
            B, L, D = x.shape
            qkv = self.qkv(x).view(B, L, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, H, L, hd)
        if rotary is not None:
            cos, sin = rotary
            q, k = apply_rotary(q, k, cos[:L], sin[:L])
        o = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)  # (B, H, L, hd)
        if seq_first:
            return self.out(o.permute(2, 0, 1, 3).reshape(L, B, D))
        return self.out(o.transpose(1, 2).reshape(B, L, D))


def silu(x: torch.Tensor) -> torch.Tensor:
    """SiLU: `F.silu` eagerly (the reference's op); under `torch.compile` x·sigmoid(x), the same
    function within a rounding (x·(1/(1+e⁻ˣ)) against x/(1+e⁻ˣ)), whose derivative reuses the
    sigmoid: inductor's SiLU backward computes e⁻ˣ two times over, and a fused SwiGLU's elementwise
    kernels are bound by that exponential (1.5 % of a compiled TRM-MLP train step at hidden 128)."""
    if torch.compiler.is_compiling():
        return x * torch.sigmoid(x)
    return F.silu(x)


def swiglu_hidden(dim: int, expansion: float, multiple: int = 256) -> int:
    """The SwiGLU inner width: round(expansion·dim·2/3) rounded up to a multiple of `multiple`
    (256 in TRM/HRM; a smaller multiple keeps tiny CPU models from a 256-wide MLP)."""
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple} (TRM uses 256)")
    inter = round(expansion * dim * 2 / 3)
    return -(-inter // multiple) * multiple


class SwiGLU(nn.Module):
    """SwiGLU MLP: down(silu(gate(x)) * up(x)), no biases, gate and up fused in one matmul.

    Shapes:
        x: (..., dim) -> (..., dim)
    """

    def __init__(
        self,
        dim: int,
        expansion: float,
        *,
        multiple: int = 256,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.inter = swiglu_hidden(dim, expansion, multiple)
        self.gate_up = Linear(dim, 2 * self.inter, generator=generator)
        self.down = Linear(self.inter, dim, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(silu(gate) * up)

    def forward_over_rows(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the MLP along the second-to-last axis: swiglu(x.mT).mT, as batched matmuls.

        Shapes:
            x: (B, dim, C) -> (B, dim, C)  (dim is the mixed axis, e.g. the sequence)
        """
        return self(x.transpose(-1, -2)).transpose(-1, -2)

    def forward_over_first_axis(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the MLP along the first axis, with the weights on the left: W·X for X = x
        flattened to (dim, rest). The same products as `forward_over_rows` on the transposed
        layout, but with x contiguous no operand is transposed (the compiled path's layout).

        Shapes:
            x: (dim, ...) -> (dim, ...)
        """
        x2 = x.reshape(x.shape[0], -1)
        gate, up = (self.gate_up.weight.to(x.dtype) @ x2).chunk(2, dim=0)
        return (self.down.weight.to(x.dtype) @ (silu(gate) * up)).view(x.shape)


class Block(nn.Module):
    """Post-norm block: h = norm(h + mixer(h)); h = norm(h + swiglu(h)).

    `mixer="attention"`: self-attention over positions. `mixer="mlp"` (TRM's `mlp_t`): a SwiGLU
    over the sequence axis of fixed length `seq_len`, whose residual is normalised over that axis.

    `seq_first=True` takes h as (L, B, D), the layout the compiled train step runs in: there the
    sequence mixer's matmuls read contiguous operands (W·X instead of Xᵀ·Wᵀ per row). The same
    arithmetic per element; the matmul library may sum in another order, so it is not part of
    the bit-exact reference path (eager uses the default).

    Shapes:
        h: (B, L, D) -> (B, L, D), or (L, B, D) with seq_first; with mixer="mlp", L must equal
        seq_len.
    """

    def __init__(
        self,
        dim: int,
        n_heads: int,
        expansion: float,
        *,
        mixer: str = "attention",
        seq_len: int | None = None,
        eps: float = 1e-5,
        ffn_multiple: int = 256,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if mixer not in MIXERS:
            raise ValueError(f"mixer must be one of {MIXERS}, got {mixer!r}")
        self.mixer, self.eps = mixer, eps
        if mixer == "attention":
            self.attn = Attention(dim, n_heads, generator=generator)
        else:
            if seq_len is None or seq_len < 1:
                raise ValueError(f"mixer='mlp' needs seq_len >= 1, got {seq_len}; pass seq_len=L")
            self.token_mlp = SwiGLU(seq_len, expansion, multiple=ffn_multiple, generator=generator)
        self.mlp = SwiGLU(dim, expansion, multiple=ffn_multiple, generator=generator)

    def forward(
        self,
        h: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor] | None = None,
        *,
        seq_first: bool = False,
    ) -> torch.Tensor:
        if self.mixer == "attention":
            h = rms_norm(h + self.attn(h, rotary, seq_first=seq_first), eps=self.eps)
        elif seq_first:
            h = rms_norm(h + self.token_mlp.forward_over_first_axis(h), eps=self.eps, dim=0)
        else:
            h = rms_norm(h + self.token_mlp.forward_over_rows(h), eps=self.eps, dim=-2)
        return rms_norm(h + self.mlp(h), eps=self.eps)


class ReasoningModule(nn.Module):
    """A stack of blocks with input injection: blocks(h + injection) (injection None = none).

    Shapes:
        h, injection: (B, L, D) -> (B, L, D); (L, B, D) each with seq_first (see `Block`).
    """

    def __init__(self, blocks: list[Block] | nn.ModuleList):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(
        self,
        h: torch.Tensor,
        injection: torch.Tensor | None,
        rotary: tuple[torch.Tensor, torch.Tensor] | None = None,
        *,
        seq_first: bool = False,
    ) -> torch.Tensor:
        if injection is not None:
            h = h + injection
        for block in self.blocks:
            h = block(h, rotary, seq_first=seq_first)
        return h
