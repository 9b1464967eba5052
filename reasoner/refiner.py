"""The sequence refiner: TRM's recursion over (x, y, z) for command -> answer, non-autoregressive.

One sequence holds three segments, the same layout for x, y and z:

    [ prefix (1) | command (Lc) | answer slots (La) ]

- x (the input, fixed): the prefix carries a feature vector given by the caller (e.g. an HRR
  encoding of the command and the memory's confidence), the command segment the embedded command
  words, the answer segment a learned "slot" vector plus the hypothesis mixture (below), so the
  hypotheses are re-injected at every latent step.
- y (the answer): at the answer slots, the score-weighted mixture of the embedded hypothesis
  tokens (each hypothesis one token per slot, `<end>` after its end); elsewhere a fixed init.
  So a correct hypothesis is already in y and copying it is the identity through the residuals.
- z (the latent): a fixed init everywhere.

One shared stack of two post-norm blocks f updates both (the paper's net):

    repeat T times (the first T-1 without gradient):
        repeat n times:  z = f(z, x + y)
        y = f(y, z)
    logits = head(y[answer slots]);  q_halt = q_head(y[prefix])

Positions are rotary (relative) so the answer may be longer than any training answer; the caller
chooses the number of slots (hypothesis length + slack).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from reasoner.layers import Block, Linear, ReasoningModule, Rotary, trunc_normal_init_

__all__ = ["RefinerConfig", "RefinerOutput", "RefinerState", "Refiner", "count_parameters"]


@dataclass(frozen=True)
class RefinerConfig:
    """Sizes and recursion of the refiner (defaults: a CPU-sized model, ~0.6 M parameters)."""

    vocab_in: int = 32  # command words incl. <pad>, <unk>
    vocab_out: int = 32  # answer tokens incl. <pad>, <end>, <none>, <unk>
    feature_dim: int = 0  # per-command feature vector at the prefix (0 = none)
    dim: int = 128
    n_heads: int = 4
    expansion: float = 4.0
    n_layers: int = 2  # the paper's "two layers"
    mixer: str = "attention"  # or "mlp" (TRM's mlp_t; needs seq_len, fixed length)
    seq_len: int | None = None  # total length 1 + Lc + La, mixer="mlp" only
    max_len: int = 1024  # rotary table size: the longest sequence the model can read
    n_cycles: int = 2  # T
    n_latent_steps: int = 3  # n
    max_halt_steps: int = 4  # N_sup: supervision steps (eval always runs all of them)
    halt_exploration_prob: float = 0.1
    rope_theta: float = 10000.0
    zero_init_residual: bool = True  # blocks start as identity maps: copying y0 is free
    copy_gate: bool = True  # logits += gate(y) · (hypothesis mixture, one-hot): copy by default
    extra: dict = field(default_factory=dict, compare=False)  # free-form notes (JSON-safe)

    def __post_init__(self) -> None:
        for name in ("vocab_in", "vocab_out", "dim", "n_heads", "n_layers", "max_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.vocab_out < 4:
            raise ValueError(f"vocab_out must be >= 4 (pad, end, none, unk), got {self.vocab_out}")
        if self.dim % self.n_heads or (self.dim // self.n_heads) % 2:
            raise ValueError(
                f"dim {self.dim} / n_heads {self.n_heads} must be an even integer (RoPE); "
                "e.g. dim 128 with 4 heads"
            )
        if self.mixer not in ("attention", "mlp"):
            raise ValueError(f"mixer must be 'attention' or 'mlp', got {self.mixer!r}")
        if self.mixer == "mlp" and (self.seq_len is None or self.seq_len < 3):
            raise ValueError(f"mixer='mlp' needs seq_len >= 3, got {self.seq_len}")
        if self.n_cycles < 1:
            raise ValueError(f"n_cycles (T) must be >= 1, got {self.n_cycles} (TRM uses 3)")
        if self.n_latent_steps < 1:
            raise ValueError(
                f"n_latent_steps (n) must be >= 1, got {self.n_latent_steps} (TRM uses 6)"
            )
        if self.max_halt_steps < 1:
            raise ValueError(f"max_halt_steps must be >= 1, got {self.max_halt_steps}")
        if not 0.0 <= self.halt_exploration_prob <= 1.0:
            raise ValueError(
                f"halt_exploration_prob must lie in [0, 1], got {self.halt_exploration_prob}"
            )
        if self.feature_dim < 0:
            raise ValueError(f"feature_dim must be >= 0, got {self.feature_dim}")

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class RefinerState:
    """The recursion's state between supervision steps. Shapes: y, z (B, L, D)."""

    y: torch.Tensor
    z: torch.Tensor

    def detach(self) -> RefinerState:
        return RefinerState(self.y.detach(), self.z.detach())


@dataclass
class RefinerOutput:
    """One supervision step's output.

    Shapes:
        logits: (B, La, vocab_out) float32; q_halt_logits: (B,) float32;
        trace: per outer cycle, (argmax tokens (B, La), halting probability (B,)) if asked.
    """

    logits: torch.Tensor
    q_halt_logits: torch.Tensor
    trace: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class Refiner(nn.Module):
    """TRM's recursion for sequences; see the module docstring.

    The batch is a dict:
        "command": (B, Lc) long word ids (0 = pad);
        "hypotheses": (B, K, La) long answer-token ids per slot (K >= 1; <none> = no hypothesis);
        "hypothesis_weights": (B, K) float, rows summing to 1 (0 for missing hypotheses);
        "features": (B, feature_dim) float (only if feature_dim > 0).
    """

    def __init__(self, cfg: RefinerConfig, *, generator: torch.Generator | None = None):
        super().__init__()
        self.cfg = cfg
        D = cfg.dim
        g = generator
        self.embed_scale = math.sqrt(D)
        std = 1.0 / math.sqrt(D)
        self.embed_in = nn.Parameter(
            trunc_normal_init_(torch.empty(cfg.vocab_in, D), std=std, generator=g)
        )
        self.embed_out = nn.Parameter(
            trunc_normal_init_(torch.empty(cfg.vocab_out, D), std=std, generator=g)
        )
        self.slot = nn.Parameter(trunc_normal_init_(torch.empty(D), std=std, generator=g))
        self.prefix = nn.Parameter(trunc_normal_init_(torch.empty(D), std=std, generator=g))
        self.features = Linear(cfg.feature_dim, D, generator=g) if cfg.feature_dim else None
        blocks = [
            Block(D, cfg.n_heads, cfg.expansion, mixer=cfg.mixer, seq_len=cfg.seq_len, generator=g)
            for _ in range(cfg.n_layers)
        ]
        if cfg.zero_init_residual:  # every residual branch's output projection starts at 0
            with torch.no_grad():
                for block in blocks:
                    mixer = block.attn.out if cfg.mixer == "attention" else block.token_mlp.down
                    mixer.weight.zero_()
                    block.mlp.down.weight.zero_()
        self.net = ReasoningModule(blocks)
        self.rotary = Rotary(D // cfg.n_heads, cfg.max_len, theta=cfg.rope_theta)
        self.lm_head = Linear(D, cfg.vocab_out, generator=g)
        self.q_head = Linear(D, 1, bias=True, generator=g)
        self.copy_head = Linear(D, 1, bias=True, generator=g) if cfg.copy_gate else None
        if self.copy_head is not None:  # starts copying whatever the slot's token is
            with torch.no_grad():
                self.copy_head.weight.zero_()
                self.copy_head.bias.fill_(5.0)
        with torch.no_grad():  # TRM: start far from halting
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)
        # fixed (non-learned) initial states, as TRM's H_init / L_init
        self.register_buffer("y_init", trunc_normal_init_(torch.empty(D), std=1.0, generator=g))
        self.register_buffer("z_init", trunc_normal_init_(torch.empty(D), std=1.0, generator=g))

    # --------------------------------------------------------------------------- embeddings
    def _check(self, batch: dict[str, torch.Tensor]) -> tuple[int, int, int]:
        command, hyps = batch["command"], batch["hypotheses"]
        B, Lc = command.shape
        if hyps.dim() != 3 or hyps.shape[0] != B:
            raise ValueError(f"hypotheses must be (B={B}, K, La), got {tuple(hyps.shape)}")
        La = hyps.shape[2]
        length = 1 + Lc + La
        if length > self.cfg.max_len:
            raise ValueError(
                f"sequence of {length} positions exceeds max_len {self.cfg.max_len}; "
                "build the refiner with a larger max_len"
            )
        if self.cfg.mixer == "mlp" and length != self.cfg.seq_len:
            raise ValueError(
                f"mixer='mlp' needs 1 + Lc + La == seq_len {self.cfg.seq_len}, got {length}"
            )
        return B, Lc, La

    def embed_inputs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """x: prefix features, embedded command words, slot markers.

        Shapes:
            -> (B, 1 + Lc + La, D)
        """
        B = self._check(batch)[0]
        D = self.cfg.dim
        prefix = self.prefix.expand(B, 1, D)
        if self.features is not None:
            prefix = prefix + self.features(batch["features"].to(prefix.dtype)).unsqueeze(1)
        command = self.embed_in[batch["command"]]  # (B, Lc, D)
        slots = self.slot + self._mixture(batch)  # the hypotheses stay visible in every step
        return self.embed_scale * torch.cat([prefix, command, slots], dim=1)

    def _mixture(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Score-weighted mixture of the hypotheses' token embeddings per slot: (B, La, D)."""
        weights = batch["hypothesis_weights"].to(self.embed_out.dtype)  # (B, K)
        return torch.einsum("bk,bkld->bld", weights, self.embed_out[batch["hypotheses"]])

    def initial_state(self, batch: dict[str, torch.Tensor]) -> RefinerState:
        """y0 from the hypotheses (score-weighted mixture per slot), z0 fixed.

        Shapes:
            y, z: (B, 1 + Lc + La, D)
        """
        B, Lc, La = self._check(batch)
        D = self.cfg.dim
        head = self.y_init.expand(B, 1 + Lc, D)
        y = torch.cat([head, self.embed_scale * self._mixture(batch)], dim=1)
        z = self.z_init.expand(B, 1 + Lc + La, D).clone()
        return RefinerState(y, z)

    # ---------------------------------------------------------------------------- recursion
    def latent_recursion(
        self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, rotary
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """n latent updates then one answer update. Shapes: x, y, z (B, L, D)."""
        for _ in range(self.cfg.n_latent_steps):
            z = self.net(z, x + y, rotary)
        y = self.net(y, z, rotary)
        return y, z

    def forward(
        self,
        batch: dict[str, torch.Tensor],
        state: RefinerState | None = None,
        *,
        x: torch.Tensor | None = None,
        trace: bool = False,
    ) -> tuple[RefinerState, RefinerOutput]:
        """One supervision step: T outer cycles (the first T-1 under no_grad).

        Args:
            batch: see the class docstring.
            state: the previous step's state (detached by the caller), or None for y0/z0.
            x: the embedded inputs if already computed (saves work across steps).
            trace: record the decoded answer and halting probability after every outer cycle.

        Returns:
            (new state, detached; output with gradients through the last cycle).
        """
        _, Lc, _ = self._check(batch)
        x = self.embed_inputs(batch) if x is None else x
        state = self.initial_state(batch) if state is None else state
        L = x.shape[1]
        cos, sin = self.rotary()
        rotary = (cos[:L], sin[:L]) if self.cfg.mixer == "attention" else None
        y, z = state.y, state.z
        steps: list[tuple[torch.Tensor, torch.Tensor]] = []
        with torch.no_grad():
            for _ in range(self.cfg.n_cycles - 1):
                y, z = self.latent_recursion(x, y, z, rotary)
                if trace:
                    steps.append(self._read(y, Lc, batch))
        y, z = self.latent_recursion(x, y, z, rotary)
        logits = self._logits(y[:, 1 + Lc :], batch)
        q_halt = self.q_head(y[:, 0]).squeeze(-1).float()
        if trace:
            steps.append((logits.argmax(-1).detach(), torch.sigmoid(q_halt).detach()))
        return RefinerState(y.detach(), z.detach()), RefinerOutput(logits, q_halt, steps)

    def _logits(self, y_answer: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Token logits per slot; with the copy gate, log(g · P_copy + (1 − g) · P_generate)
        where P_copy is the hypotheses' mixture at the slot and g a learned per-slot gate: a
        token-agnostic copy path (a token seen in few positions in training copies as well).

        Shapes:
            y_answer: (B, La, D) -> (B, La, vocab_out) float32
        """
        logits = self.lm_head(y_answer).float()
        if self.copy_head is None:
            return logits
        hyps, w = batch["hypotheses"], batch["hypothesis_weights"].float()  # (B,K,La), (B,K)
        copy = torch.zeros_like(logits)
        copy.scatter_add_(-1, hyps.transpose(1, 2), w.unsqueeze(1).expand(-1, hyps.shape[2], -1))
        copy[..., self.NONE] = 0.0  # "no hypothesis" is not a token to copy
        mass = copy.sum(-1, keepdim=True)  # (B, La, 1): 0 where no hypothesis covers the slot
        gate = torch.sigmoid(self.copy_head(y_answer).float()) * (mass > 0)
        # pointer-generator mixture in probability space: copying never competes with the
        # generator's logits (rare tokens, pushed down as non-targets, still copy)
        p = gate * copy / mass.clamp_min(1e-12) + (1 - gate) * torch.softmax(logits, -1)
        return torch.log(p.clamp_min(1e-30))

    NONE = 2  # the answer vocabulary's "no hypothesis" id (see hartflow.hybrid.vocab)

    def _read(
        self, y: torch.Tensor, Lc: int, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self._logits(y[:, 1 + Lc :], batch)
        return logits.argmax(-1), torch.sigmoid(self.q_head(y[:, 0]).squeeze(-1).float())
