"""The structure refiner: TRM's recursion predicting a graph over the input's positions.

Where an answer is a graph over the input (a logical form whose variables are word positions),
the refiner predicts it non-autoregressively, one set of local decisions per position:

- a predicate token (or none), a node kind (plain / unary / definite / both), a constant token
  (or none), all classified against one output-token embedding table shared with the input side,
  so a token the evidence names is one dot product away;
- for every edge role r, the position its target stands at, or none: a pointer over the
  positions, scored by content (query of the head, key of the target) plus a learned bias per
  relative distance (clipped at ±`max_distance`, so longer and deeper inputs reuse the same
  local decisions).

x per position = the word's embedding plus, in the hybrid, the memory's evidence: the word's
induced translation and a hypothesis graph (its predicate, kind, constant, and its edges as
role-and-distance embeddings at both ends). y starts from the hypothesis's embedding; z is a fixed
init. One shared stack of two post-norm blocks (masked self-attention with rotary positions)
updates both, as in TRM:

    repeat T times (the first T-1 without gradient):
        repeat n times:  z = net(z, x + y)
        y = net(y, z)
    heads(y) -> labels and pointers;  q_halt = q_head(mean of y)

The hypothesis' edges also enter the pointer scores directly (a learned bonus per role where the
hypothesis has that edge), so copying a right hypothesis is easy and overruling it is learned.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from reasoner.layers import Linear, Rotary, SwiGLU, apply_rotary, rms_norm, trunc_normal_init_

__all__ = [
    "KINDS",
    "StructureConfig",
    "StructureOutput",
    "StructureRefiner",
    "StructureState",
    "decisions",
    "relative_bucket",
    "structure_loss",
]

KINDS = 4  # node kinds: 0 plain, 1 unary, 2 definite, 3 unary + definite
LEX_CLASSES = 4  # a translation token training shows as: 0 neither, 1 predicate, 2 constant, 3 both
PAD, NONE, UNK = 0, 1, 2  # reserved ids of the word and token vocabularies


@dataclass(frozen=True)
class StructureConfig:
    """Sizes and recursion of the structure refiner (defaults: a CPU-sized model)."""

    vocab_words: int = 32  # input words incl. <pad>, <none>, <unk>
    vocab_tokens: int = 32  # output tokens (predicates, constants) incl. the same three
    n_roles: int = 4  # edge roles (each head has at most one edge per role)
    n_slots: int = 0  # slot keys (in/out, role, side): > 0 predicts slots, 0 = role pointers
    slot_counts: int = 4  # a slot's count classes: 0 .. slot_counts - 1 edges
    evidence: bool = True  # hybrid: x carries the memory's evidence; False = TRM-only
    dim: int = 128
    n_heads: int = 4
    expansion: float = 4.0
    n_layers: int = 2  # the paper's "two layers"
    max_distance: int = 8  # relative distances beyond ±this share one bias
    window: int = 0  # self-attention reaches ±window positions (0 = all): depth-invariant states
    max_len: int = 512  # rotary table size: the longest input the model can read
    n_cycles: int = 2  # T
    n_latent_steps: int = 2  # n
    max_halt_steps: int = 2  # N_sup
    halt_exploration_prob: float = 0.1
    # evidence: the translation's class (a token training shows as a predicate, a constant, both)
    lex_class: bool = False
    extra: dict = field(default_factory=dict, compare=False)  # free-form notes (JSON-safe)

    def __post_init__(self) -> None:
        if self.n_slots < 0 or self.slot_counts < 2:
            raise ValueError(
                f"n_slots must be >= 0 and slot_counts >= 2, got {self.n_slots} and "
                f"{self.slot_counts} (0 slots = role pointers; 4 counts cover COGS and SLOG)"
            )
        for name in ("vocab_words", "vocab_tokens", "n_roles", "dim", "n_heads", "n_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.vocab_words < 3 or self.vocab_tokens < 3:
            raise ValueError("vocab_words and vocab_tokens must be >= 3 (pad, none, unk)")
        if self.dim % self.n_heads or (self.dim // self.n_heads) % 2:
            raise ValueError(
                f"dim {self.dim} / n_heads {self.n_heads} must be an even integer (RoPE); "
                "e.g. dim 128 with 4 heads"
            )
        for name, paper in (("n_cycles", 3), ("n_latent_steps", 6), ("max_halt_steps", 16)):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)} (TRM: {paper})")
        if self.window < 0:
            raise ValueError(f"window must be >= 0 (0 = global attention), got {self.window}")
        if self.max_distance < 1:
            raise ValueError(f"max_distance must be >= 1, got {self.max_distance}")
        if not 0.0 <= self.halt_exploration_prob <= 1.0:
            raise ValueError(
                f"halt_exploration_prob must lie in [0, 1], got {self.halt_exploration_prob}"
            )

    def to_json(self) -> dict:
        return asdict(self)


def relative_bucket(distance: torch.Tensor, max_distance: int) -> torch.Tensor:
    """Bucket index of a signed distance: -max..max map to 0..2·max, farther ones clip."""
    return distance.clamp(-max_distance, max_distance) + max_distance


@dataclass
class StructureState:
    """The recursion's state between supervision steps. Shapes: y, z (B, L, D)."""

    y: torch.Tensor
    z: torch.Tensor

    def detach(self) -> StructureState:
        return StructureState(self.y.detach(), self.z.detach())


@dataclass
class StructureOutput:
    """One supervision step's output.

    Shapes:
        pred, const: (B, L, vocab_tokens); kind: (B, L, KINDS);
        edges: (B, L, R, L + 1) (last column = no edge), None when the model predicts slots;
        slots: (B, L, n_slots, slot_counts), None when it points; q_halt_logits: (B,);
        trace: per outer cycle, the argmax decisions {"pred", "kind", "const", "edges" or
        "slots"} if asked.
    """

    pred: torch.Tensor
    kind: torch.Tensor
    const: torch.Tensor
    edges: torch.Tensor | None
    q_halt_logits: torch.Tensor
    slots: torch.Tensor | None = None
    trace: list[dict[str, torch.Tensor]] = field(default_factory=list)


class MaskedBlock(nn.Module):
    """Post-norm block: h = norm(h + attn(h)); h = norm(h + swiglu(h)). Attention is masked to
    the real positions and biased per head by relative distance.

    Shapes:
        h: (B, L, D); bias: (B, H, L, L) float, -inf at padded keys -> (B, L, D)
    """

    def __init__(self, cfg: StructureConfig, *, generator: torch.Generator | None = None):
        super().__init__()
        D, H = cfg.dim, cfg.n_heads
        self.n_heads, self.head_dim = H, D // H
        self.qkv = Linear(D, 3 * D, generator=generator)
        self.out = Linear(D, D, generator=generator)
        self.mlp = SwiGLU(D, cfg.expansion, multiple=64, generator=generator)

    def forward(self, h: torch.Tensor, bias: torch.Tensor, rotary) -> torch.Tensor:
        B, L, D = h.shape
        qkv = self.qkv(h).view(B, L, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B, H, L, hd)
        cos, sin = rotary
        q, k = apply_rotary(q, k, cos[:L], sin[:L])
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        h = rms_norm(h + self.out(o.transpose(1, 2).reshape(B, L, D)))
        return rms_norm(h + self.mlp(h))


class StructureRefiner(nn.Module):
    """TRM's recursion over a graph on the input positions; see the module docstring.

    The batch is a dict (L = the longest input in the batch, padded with word id 0):
        "words": (B, L) long;
        with `evidence`: "lex" (B, L) token id of each word's induced translation (NONE if none);
        "hyp_pred", "hyp_const" (B, L) token ids, "hyp_kind" (B, L) kind ids, "hyp_edges"
        (B, L, R) long target position per (head, role) or -1, "hyp_weight" (B,) float (0 where
        the memory has no hypothesis); with slots, "hyp_slots" (B, L, n_slots) the hypothesis'
        slot counts (-1 where it has none).
    """

    def __init__(self, cfg: StructureConfig, *, generator: torch.Generator | None = None):
        super().__init__()
        self.cfg = cfg
        g, D, R = generator, cfg.dim, cfg.n_roles
        self.embed_scale = math.sqrt(D)
        std = 1.0 / math.sqrt(D)

        def table(*shape: int) -> nn.Parameter:
            return nn.Parameter(trunc_normal_init_(torch.empty(*shape), std=std, generator=g))

        n_buckets = 2 * cfg.max_distance + 1
        self.embed_words = table(cfg.vocab_words, D)
        self.embed_tokens = table(cfg.vocab_tokens, D)  # shared by evidence and the heads
        self.embed_kind = table(KINDS, D)
        if cfg.evidence:
            self.lex_marker = table(D)  # "this token is the word's translation"
            self.hyp_marker = table(D)  # "this token is the hypothesis' predicate"
            self.const_marker = table(D)  # "... the hypothesis' constant"
            self.edge_out = table(R, n_buckets, D)  # a hypothesis edge, seen at its head
            self.edge_in = table(R, n_buckets, D)  # ... seen at its target
            if not cfg.n_slots:
                self.copy_bonus = nn.Parameter(torch.full((R,), 2.0))
        self.blocks = nn.ModuleList([MaskedBlock(cfg, generator=g) for _ in range(cfg.n_layers)])
        with torch.no_grad():  # residual branches start at 0 (the hypothesis passes through)
            for block in self.blocks:
                block.out.weight.zero_()
                block.mlp.down.weight.zero_()
        self.attn_bias = nn.Parameter(torch.zeros(cfg.n_heads, n_buckets))
        self.rotary = Rotary(D // cfg.n_heads, cfg.max_len)
        self.pred_head = Linear(D, D, generator=g)
        self.const_head = Linear(D, D, generator=g)
        if cfg.evidence:  # pointer-generator gates: generate, copy the translation, copy the hyp.
            self.pred_gate = Linear(D, 3, bias=True, generator=g)
            self.const_gate = Linear(D, 3, bias=True, generator=g)
        self.kind_head = Linear(D, KINDS, generator=g)
        if cfg.n_slots:  # per slot key, a count: a local decision, no pointer over distances
            self.slot_head = Linear(D, cfg.n_slots * cfg.slot_counts, bias=True, generator=g)
        if cfg.n_slots and cfg.evidence:  # the hypothesis' slot counts as a learned bonus
            self.slot_bonus = nn.Parameter(torch.full((cfg.n_slots,), 2.0))
        if not cfg.n_slots:
            self.query = Linear(D, R * D, generator=g)
            self.key = Linear(D, D, generator=g)
            self.null = Linear(D, R, bias=True, generator=g)
            self.pointer_bias = nn.Parameter(torch.zeros(R, n_buckets))
            # beyond ±max_distance a target costs more the farther it is (per role and side):
            # a locality prior that still lets strong content reach far (centre embedding)
            self.pointer_decay = nn.Parameter(torch.zeros(R, 2))
        self.q_head = Linear(D, 1, bias=True, generator=g)
        with torch.no_grad():  # TRM: start far from halting
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)
        self.register_buffer("y_init", trunc_normal_init_(torch.empty(D), std=1.0, generator=g))
        self.register_buffer("z_init", trunc_normal_init_(torch.empty(D), std=1.0, generator=g))
        if cfg.evidence and cfg.lex_class:  # last, so the other weights' init is unchanged
            self.embed_lex_class = table(LEX_CLASSES, D)

    # ---------------------------------------------------------------------------- inputs
    def _distances(self, L: int, device) -> torch.Tensor:
        pos = torch.arange(L, device=device)
        return relative_bucket(pos[None, :] - pos[:, None], self.cfg.max_distance)  # (L, L) j-i

    def _hypothesis(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The hypothesis graph embedded per position (0 where there is none): (B, L, D)."""
        B, L = batch["words"].shape
        R = self.cfg.n_roles
        w = batch["hyp_weight"].to(self.embed_tokens.dtype)[:, None, None]  # (B, 1, 1)
        h = (self.embed_tokens[batch["hyp_pred"]] + self.hyp_marker) * (
            batch["hyp_pred"] != NONE
        ).unsqueeze(-1)
        h = h + (self.embed_tokens[batch["hyp_const"]] + self.const_marker) * (
            batch["hyp_const"] != NONE
        ).unsqueeze(-1)
        h = h + self.embed_kind[batch["hyp_kind"]]
        edges = batch["hyp_edges"]  # (B, L, R)
        has = edges >= 0
        target = edges.clamp_min(0)
        pos = torch.arange(L, device=edges.device)
        bucket = relative_bucket(target - pos[None, :, None], self.cfg.max_distance)  # (B,L,R)
        role = torch.arange(R, device=edges.device).expand_as(edges)
        out_vec = self.edge_out[role, bucket] * has.unsqueeze(-1)  # (B, L, R, D)
        h = h + out_vec.sum(2)
        in_vec = self.edge_in[role, bucket] * has.unsqueeze(-1)
        h = h.index_put(
            (torch.arange(B, device=edges.device)[:, None, None].expand_as(edges), target),
            in_vec,
            accumulate=True,
        )
        return h * w

    def embed_inputs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """x: words (+ evidence). Shapes: -> (B, L, D)."""
        x = self.embed_words[batch["words"]]
        if self.cfg.evidence:
            lex = batch["lex"]
            x = x + (self.embed_tokens[lex] + self.lex_marker) * (lex != NONE).unsqueeze(-1)
            if self.cfg.lex_class:
                x = x + self.embed_lex_class[batch["lex_class"]]
            x = x + self._hypothesis(batch)
        return self.embed_scale * x

    def initial_state(self, batch: dict[str, torch.Tensor]) -> StructureState:
        """y0 = the hypothesis (plus a fixed init), z0 fixed. Shapes: y, z (B, L, D)."""
        B, L = batch["words"].shape
        D = self.cfg.dim
        y = self.y_init.expand(B, L, D)
        if self.cfg.evidence:
            y = y + self.embed_scale * self._hypothesis(batch)
        return StructureState(y.clone(), self.z_init.expand(B, L, D).clone())

    # --------------------------------------------------------------------------- recursion
    def _net(self, h, injection, bias, rotary):
        h = h + injection
        for block in self.blocks:
            h = block(h, bias, rotary)
        return h

    def latent_recursion(self, x, y, z, bias, rotary):
        """n latent updates then one answer update. Shapes: x, y, z (B, L, D)."""
        for _ in range(self.cfg.n_latent_steps):
            z = self._net(z, x + y, bias, rotary)
        y = self._net(y, z, bias, rotary)
        return y, z

    def forward(
        self,
        batch: dict[str, torch.Tensor],
        state: StructureState | None = None,
        *,
        trace: bool = False,
        inputs: torch.Tensor | None = None,
        heads: bool = True,
    ) -> tuple[StructureState, StructureOutput | None]:
        """One supervision step: T outer cycles (the first T-1 under no_grad).

        `inputs` is `embed_inputs(batch)` where the caller holds it (answering: the same for
        every supervision step); `heads=False` skips the output heads (answering: only the last
        step's are read) and returns None for the output.

        Returns:
            (new state, detached; output with gradients through the last cycle).
        """
        words = batch["words"]
        B, L = words.shape
        if self.cfg.max_len < L:
            raise ValueError(
                f"input of {L} words exceeds max_len {self.cfg.max_len}; build the refiner "
                "with a larger max_len"
            )
        x = self.embed_inputs(batch) if inputs is None else inputs
        state = self.initial_state(batch) if state is None else state
        valid = words != PAD  # (B, L)
        buckets = self._distances(L, words.device)
        bias = self.attn_bias[:, buckets].unsqueeze(0).expand(B, -1, -1, -1)  # (B, H, L, L)
        bias = bias.masked_fill(~valid[:, None, None, :], float("-inf"))
        if self.cfg.window:
            pos = torch.arange(L, device=words.device)
            far = (pos[None, :] - pos[:, None]).abs() > self.cfg.window  # (L, L)
            bias = bias.masked_fill(far, float("-inf"))
        cos, sin = self.rotary()
        rotary = (cos[:L], sin[:L])
        y, z = state.y, state.z
        steps: list[dict[str, torch.Tensor]] = []
        with torch.no_grad():
            for _ in range(self.cfg.n_cycles - 1):
                y, z = self.latent_recursion(x, y, z, bias, rotary)
                if trace:
                    steps.append(decisions(self._heads(y, batch, valid, buckets)))
        y, z = self.latent_recursion(x, y, z, bias, rotary)
        if not heads:
            return StructureState(y.detach(), z.detach()), None
        out = self._heads(y, batch, valid, buckets)
        if trace:
            steps.append(decisions(out))
        out.trace = steps
        return StructureState(y.detach(), z.detach()), out

    def _heads(self, y, batch, valid, buckets) -> StructureOutput:
        B, L, D = y.shape
        R = self.cfg.n_roles
        tokens = self.embed_tokens  # (V, D)
        pred = (self.pred_head(y) @ tokens.T).float()
        const = (self.const_head(y) @ tokens.T).float()
        if self.cfg.evidence:
            sources = (batch["lex"], batch["hyp_pred"])
            pred = _copy_mix(pred, self.pred_gate(y).float(), sources, batch["hyp_weight"])
            sources = (batch["lex"], batch["hyp_const"])
            const = _copy_mix(const, self.const_gate(y).float(), sources, batch["hyp_weight"])
        kind = self.kind_head(y).float()
        pooled = (y * valid.unsqueeze(-1)).sum(1) / valid.sum(1, keepdim=True).clamp_min(1)
        q_halt = self.q_head(pooled).squeeze(-1).float()
        if self.cfg.n_slots:
            slots = self.slot_head(y).float().view(B, L, self.cfg.n_slots, self.cfg.slot_counts)
            if self.cfg.evidence and "hyp_slots" in batch:
                hyp = batch["hyp_slots"]  # (B, L, K) counts, -1 where there is no hypothesis
                onehot = F.one_hot(hyp.clamp(0, self.cfg.slot_counts - 1), self.cfg.slot_counts)
                w = (batch["hyp_weight"][:, None, None] * (hyp >= 0)).unsqueeze(-1)
                slots = slots + self.slot_bonus[None, None, :, None] * onehot * w
            return StructureOutput(pred, kind, const, None, q_halt, slots=slots)
        q = self.query(y).view(B, L, R, D)
        k = self.key(y)  # (B, L, D)
        scores = torch.einsum("bird,bjd->birj", q, k) / math.sqrt(D)  # (B, L, R, L)
        scores = scores + self.pointer_bias[:, buckets].permute(1, 0, 2)  # (L, R, L)
        pos = torch.arange(L, device=y.device)
        dist = pos[None, :] - pos[:, None]  # (L, L): target - head
        beyond = (dist.abs() - self.cfg.max_distance).clamp_min(0).to(scores.dtype)
        rate = F.softplus(self.pointer_decay)[:, (dist > 0).long()]  # (R, L, L)
        scores = scores - (rate * beyond).permute(1, 0, 2)
        if self.cfg.evidence:
            hyp = batch["hyp_edges"]  # (B, L, R)
            onehot = F.one_hot(hyp.clamp_min(0), L).to(scores.dtype) * (hyp >= 0).unsqueeze(-1)
            w = batch["hyp_weight"].to(scores.dtype)[:, None, None, None]
            scores = scores + self.copy_bonus[None, None, :, None] * onehot * w
        scores = scores.float().masked_fill(~valid[:, None, None, :], float("-inf"))
        null = self.null(y).float().unsqueeze(-1)  # (B, L, R, 1)
        edges = torch.cat([scores, null], dim=-1)  # (B, L, R, L + 1)
        return StructureOutput(pred, kind, const, edges, q_halt)


def _copy_mix(
    logits: torch.Tensor,
    gate_logits: torch.Tensor,
    sources: tuple[torch.Tensor, torch.Tensor],
    hyp_weight: torch.Tensor,
) -> torch.Tensor:
    """log(g0 · softmax(logits) + g1 · onehot(translation) + g2 · onehot(hypothesis' token)):
    a token the evidence names is copied whatever its embedding learned (a word seen once in
    training still copies its induced translation). A source that names nothing is gated off.

    Shapes:
        logits (B, L, V); gate_logits (B, L, 3); sources (B, L) each; hyp_weight (B,)
        -> (B, L, V) log-probabilities
    """
    lex, hyp = sources
    usable = torch.stack(
        [torch.ones_like(lex, dtype=torch.bool), lex != NONE,
         (hyp != NONE) & (hyp_weight[:, None] > 0)], dim=-1,
    )  # fmt: skip
    gates = torch.softmax(gate_logits.masked_fill(~usable, float("-inf")), dim=-1)
    p = gates[..., :1] * torch.softmax(logits, dim=-1)
    # + gate · onehot(token), added at the token's index (the same sums, without (B, L, V) one-hots)
    p = p.scatter_add(-1, lex.unsqueeze(-1), gates[..., 1:2].to(p.dtype))
    p = p.scatter_add(-1, hyp.unsqueeze(-1), gates[..., 2:3].to(p.dtype))
    return torch.log(p.clamp_min(1e-30))


def decisions(out: StructureOutput) -> dict[str, torch.Tensor]:
    """Argmax of every head: {"pred", "kind", "const"} (B, L), the kind head's log-probabilities
    ("kind_logp", (B, L, 4)), the best token other than
    "none" of the predicate and constant heads with its log-probability ("pred_alt",
    "pred_alt_logp", "const_alt", "const_alt_logp"), and either "edges" (B, L, R),
    where an edge index equal to L means no edge, or "slots" (B, L, n_slots) counts with
    "slot_logp" (B, L, n_slots, slot_counts) log-probabilities for the decoder."""
    out_ = {
        "pred": out.pred.argmax(-1).detach(),
        "kind": out.kind.argmax(-1).detach(),
        "const": out.const.argmax(-1).detach(),
        "kind_logp": torch.log_softmax(out.kind.detach().float(), -1),
    }
    for name in ("pred", "const"):  # the best real token, for a node that must have content
        logp = torch.log_softmax(getattr(out, name).detach().float(), -1)
        logp[..., : UNK + 1] = float("-inf")  # PAD, NONE, UNK
        best = logp.max(-1)
        out_[f"{name}_alt"], out_[f"{name}_alt_logp"] = best.indices, best.values
    if out.slots is not None:
        out_["slots"] = out.slots.argmax(-1).detach()
        out_["slot_logp"] = torch.log_softmax(out.slots.detach(), -1)
    else:
        out_["edges"] = out.edges.argmax(-1).detach()
    return out_


def structure_loss(
    out: StructureOutput, labels: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(summed loss, per-row exact, per-row decision accuracy).

    Cross-entropy of every head at every real position (labels -100 at padding; an edge label is
    the target position, or L for "no edge"), averaged per row over its decisions and summed over
    rows; plus 0.5 · the halting BCE against "every decision of this row is right".

    Shapes:
        labels: "pred", "kind", "const" (B, L); "edges" (B, L, R) or "slots" (B, L, n_slots)
        -> scalar, (B,) bool, (B,) float
    """
    B = labels["pred"].shape[0]
    losses, hits, counts = [], [], []
    for name in ("pred", "kind", "const", "edges" if out.slots is None else "slots"):
        logits, target = getattr(out, name), labels[name]
        flat = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
            ignore_index=-100, reduction="none",
        ).view(B, -1)  # fmt: skip
        mask = target.reshape(B, -1) != -100
        losses.append(flat.sum(1))
        with torch.no_grad():
            hit = (logits.argmax(-1).reshape(B, -1) == target.reshape(B, -1)) & mask
            hits.append(hit.sum(1))
            counts.append(mask.sum(1))
    n = torch.stack(counts).sum(0).clamp_min(1)
    loss = (torch.stack(losses).sum(0) / n).sum()
    with torch.no_grad():
        correct = torch.stack(hits).sum(0)
        exact, acc = correct == n, correct.float() / n
    q = F.binary_cross_entropy_with_logits(out.q_halt_logits, exact.float(), reduction="sum")
    return loss + 0.5 * q, exact, acc
