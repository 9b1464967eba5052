"""What TRM and HRM share: the configuration fields, input embedding, heads, fixed initial
states, and the recursion schedule with its no-grad prefix.

A model is a list of named state tensors (TRM: y, z; HRM: z_high, z_low), a schedule of updates
per supervision step (TRM: T × (n × "z", "y")), and how many trailing updates carry gradient
(TRM: the last cycle, n + 1; HRM and the 1-step ablation: 2). Everything before runs under
`torch.no_grad()`, so no autograd graph is built for it.

Compute dtype (`forward_dtype`, or autocast's dtype inside `torch.autocast`): the weights stay
fp32 and every use casts them (`layers.Linear`, `GridEmbedding`), the embedding is scaled in the
compute dtype, norms and RoPE run in fp32, and the heads' outputs are returned in fp32. In bf16
this is the reference's arithmetic, bit for bit; fp32 is unchanged by the option.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from reasoner.act import ACTModel, Batch
from reasoner.embedding import POS_ENCODINGS, GridEmbedding
from reasoner.layers import MIXERS, Block, Linear, ReasoningModule, Rotary, trunc_normal_init_

FORWARD_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class GridModelConfig:
    """Fields shared by `TRMConfig` and `HRMConfig` (the defaults are the Sudoku paper presets)."""

    vocab_size: int = 11
    seq_len: int = 81
    num_puzzle_identifiers: int = 1
    hidden_size: int = 512
    n_heads: int = 8
    expansion: float = 4.0
    ffn_multiple: int = 256  # SwiGLU widths round up to this (paper: 256; tiny CPU models: 16)
    mixer: str = "attention"  # "mlp" = TRM's mlp_t: a SwiGLU over the sequence axis
    pos_encoding: str = "rope"  # "rope" | "learned" | "none"
    rope_theta: float = 10000.0
    puzzle_emb_ndim: int | None = None  # None = hidden_size; 0 = no puzzle embedding
    puzzle_emb_len: int | None = 16  # prefix slots; None = ceil(puzzle_emb_ndim / hidden_size)
    rms_norm_eps: float = 1e-5
    max_halt_steps: int = 16
    halt_exploration_prob: float = 0.1
    act_continue: bool = False  # halt on q_halt > q_continue and learn q_continue (bootstrapped)
    forward_dtype: str = "float32"  # "bfloat16": the papers' GPU compute (fp32 master weights)

    def __post_init__(self):
        if self.puzzle_emb_ndim is None:
            object.__setattr__(self, "puzzle_emb_ndim", self.hidden_size)
        if self.puzzle_emb_len is None:
            object.__setattr__(
                self, "puzzle_emb_len", math.ceil(self.puzzle_emb_ndim / self.hidden_size)
            )
        for name in ("vocab_size", "seq_len", "num_puzzle_identifiers", "hidden_size", "n_heads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {self.vocab_size}")
        if self.hidden_size % self.n_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} must be divisible by n_heads {self.n_heads}"
            )
        if self.pos_encoding == "rope" and (self.hidden_size // self.n_heads) % 2:
            raise ValueError("RoPE needs an even head dimension; change hidden_size or n_heads")
        if self.mixer not in MIXERS:
            raise ValueError(f"mixer must be one of {MIXERS}, got {self.mixer!r}")
        if self.pos_encoding not in POS_ENCODINGS:
            raise ValueError(
                f"pos_encoding must be one of {POS_ENCODINGS}, got {self.pos_encoding!r}"
            )
        if self.expansion <= 0:
            raise ValueError(f"expansion must be > 0, got {self.expansion} (TRM uses 4)")
        if self.ffn_multiple < 1:
            raise ValueError(f"ffn_multiple must be >= 1, got {self.ffn_multiple} (paper: 256)")
        if self.puzzle_emb_ndim < 0 or self.puzzle_emb_len < 0:
            raise ValueError("puzzle_emb_ndim and puzzle_emb_len must be >= 0")
        if self.puzzle_emb_ndim > self.puzzle_emb_len * self.hidden_size:
            raise ValueError(
                f"puzzle_emb_ndim {self.puzzle_emb_ndim} needs "
                f">= {math.ceil(self.puzzle_emb_ndim / self.hidden_size)} prefix slots, got "
                f"puzzle_emb_len={self.puzzle_emb_len}; raise it or set puzzle_emb_len=None"
            )
        if self.forward_dtype not in FORWARD_DTYPES:
            raise ValueError(
                f"forward_dtype must be one of {sorted(FORWARD_DTYPES)}, got "
                f"{self.forward_dtype!r} (the papers train in 'bfloat16')"
            )
        if self.max_halt_steps < 1:
            raise ValueError(f"max_halt_steps must be >= 1, got {self.max_halt_steps} (paper: 16)")
        if not 0.0 <= self.halt_exploration_prob <= 1.0:
            raise ValueError(
                f"halt_exploration_prob must lie in [0, 1], got {self.halt_exploration_prob}"
            )

    @property
    def total_len(self) -> int:
        """Sequence length inside the model: prefix slots + grid cells."""
        return self.puzzle_emb_len + self.seq_len


def init_generator(generator: torch.Generator | None) -> torch.Generator:
    """The init generator: the given one, else a fresh one seeded 0 (never the global RNG)."""
    return torch.Generator().manual_seed(0) if generator is None else generator


def make_stack(cfg: GridModelConfig, n_layers: int, generator) -> ReasoningModule:
    """`n_layers` post-norm blocks with the configured mixer."""
    blocks = [
        Block(
            cfg.hidden_size,
            cfg.n_heads,
            cfg.expansion,
            mixer=cfg.mixer,
            seq_len=cfg.total_len,
            eps=cfg.rms_norm_eps,
            ffn_multiple=cfg.ffn_multiple,
            generator=generator,
        )
        for _ in range(n_layers)
    ]
    return ReasoningModule(blocks)


class GridReasoner(ACTModel):
    """Embedding, heads, fixed initial states and the scheduled recursion.

    Subclasses call `__init__` with their state names and the name the heads read, build their
    networks, and implement `schedule()` (the update names of one supervision step), `n_grad()`
    (how many trailing updates get gradient) and `update(name, state, x, rotary)`.
    """

    def __init__(
        self,
        cfg: GridModelConfig,
        *,
        state_names: tuple[str, ...],
        read: str,
        generator: torch.Generator | None,
    ):
        super().__init__()
        self.config = cfg
        self.max_halt_steps = cfg.max_halt_steps
        self.halt_exploration_prob = cfg.halt_exploration_prob
        self.act_continue = cfg.act_continue
        self.state_names, self.read = state_names, read
        D = cfg.hidden_size
        self.embed = GridEmbedding(
            cfg.vocab_size,
            D,
            cfg.seq_len,
            puzzle_emb_len=cfg.puzzle_emb_len,
            puzzle_dim=cfg.puzzle_emb_ndim,
            num_puzzle_identifiers=cfg.num_puzzle_identifiers,
            pos_encoding=cfg.pos_encoding,
            generator=generator,
        )
        self.rotary = None
        if cfg.pos_encoding == "rope" and cfg.mixer == "attention":
            self.rotary = Rotary(D // cfg.n_heads, cfg.total_len, theta=cfg.rope_theta)
        self.lm_head = Linear(D, cfg.vocab_size, generator=generator)
        self.q_head = Linear(D, 2, bias=True, generator=generator)
        with torch.no_grad():  # start by never halting: q_halt ≈ -5
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)
        for name in state_names:  # fixed (not learned) initial states, one vector each
            init = trunc_normal_init_(torch.empty(D), std=1.0, generator=generator)
            self.register_buffer(f"{name}_init", init)

    def compute_dtype(self, device: torch.device) -> torch.dtype:
        """The dtype of the recurrent state: autocast's when autocast is on, else forward_dtype."""
        if torch.is_autocast_enabled(device.type):
            return torch.get_autocast_dtype(device.type)
        return FORWARD_DTYPES[self.config.forward_dtype]

    # --- parameter groups -------------------------------------------------------------------
    def puzzle_parameters(self) -> list[nn.Parameter]:
        """The sparse puzzle-embedding table (for SignSGD)."""
        return self.embed.puzzle_parameters()

    def dense_parameters(self) -> list[nn.Parameter]:
        """Every other parameter (for AdamATan2)."""
        sparse = {id(p) for p in self.puzzle_parameters()}
        return [p for p in self.parameters() if id(p) not in sparse]

    # --- recursion ----------------------------------------------------------------------------
    def schedule(self) -> list[str]:
        raise NotImplementedError

    def n_grad(self) -> int:
        raise NotImplementedError

    def update(
        self,
        name: str,
        state: dict[str, torch.Tensor],
        x: torch.Tensor,
        rotary,
        *,
        seq_first: bool = False,
    ) -> None:
        """Apply one scheduled update to `state` in place (seq_first: tensors are (L, B, D))."""
        raise NotImplementedError

    def initial_state(self, batch_size: int, device: torch.device) -> dict[str, torch.Tensor]:
        L, D = self.config.total_len, self.config.hidden_size
        return {
            n: getattr(self, f"{n}_init").to(device).expand(batch_size, L, D).clone()
            for n in self.state_names
        }

    def reset_state(
        self, state: dict[str, torch.Tensor], halted: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        dtype = self.compute_dtype(halted.device)
        mask = halted.view(-1, 1, 1)
        return {
            n: torch.where(mask, getattr(self, f"{n}_init").to(dtype), state[n].to(dtype))
            for n in self.state_names
        }

    def inner(self, state: dict[str, torch.Tensor], batch: Batch, *, seq_first: bool = False):
        """The recursion of one supervision step; returns the detached new state and the heads.

        seq_first: run the recursion on (P + L, B, D) tensors (`layers.Block`), the layout the
        compiled train step uses; the state goes in and comes out as (B, P + L, D) either way
        (seq_first returns transposed views). Eager training keeps the default, the reference's
        layout and arithmetic.

        Shapes:
            state: name -> (B, P + L, D); logits: (B, L, V) fp32; q_*: (B,) fp32.
        """
        if batch["inputs"].shape[-1] != self.config.seq_len:
            raise ValueError(
                f"inputs have {batch['inputs'].shape[-1]} cells per row but the model was built "
                f"for seq_len={self.config.seq_len}; build it with the data's seq_len"
            )
        dtype = self.compute_dtype(batch["inputs"].device)
        x = self.embed(batch["inputs"], batch["puzzle_identifiers"], dtype=dtype)  # (B, P + L, D)
        rotary = self.rotary() if self.rotary is not None else None
        state = dict(state)
        if seq_first:
            # contiguous copies: results keep their input's layout, and a linear layer folds a
            # contiguous (L, B, D) input into one matmul but a strided one into a batched
            # matmul over an expanded weight (in bf16 on the CPU ~20x slower per step)
            x = x.transpose(0, 1).contiguous()
            state = {n: t.transpose(0, 1).contiguous() for n, t in state.items()}
        ops = self.schedule()
        split = len(ops) - self.n_grad()
        with torch.no_grad():
            for name in ops[:split]:
                self.update(name, state, x, rotary, seq_first=seq_first)
        for name in ops[split:]:
            self.update(name, state, x, rotary, seq_first=seq_first)
        if seq_first:
            state = {n: t.transpose(0, 1) for n, t in state.items()}
        out = state[self.read]
        # the head reads every position, then the prefix is dropped (the reference's order: its
        # weight gradient sums over all B·(P + L) rows, so slicing first would round differently)
        logits = self.lm_head(out)[:, self.config.puzzle_emb_len :].float()
        q = self.q_head(out[:, 0]).float()  # reads prefix slot 0
        new_state = {n: t.detach() for n, t in state.items()}
        return new_state, logits, q[:, 0], q[:, 1]
