"""HRM, the Hierarchical Reasoning Model (Wang et al. 2025): two recurrent modules at two speeds.

Per supervision step, with x the embedded puzzle:

    N cycles of:  T times: z_low = f_low(z_low, z_high + x) ;  then z_high = f_high(z_high, z_low)

with the 1-step gradient approximation: every update except the final z_low and z_high updates
runs without gradient. Heads read z_high. Halting is Q-learning: halt when q_halt > q_continue,
with the continue target bootstrapped from a second no-grad step on the new carry
(`act_continue=True`, the default here).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reasoner.grid_model import GridModelConfig, GridReasoner, init_generator, make_stack


@dataclass(frozen=True)
class HRMConfig(GridModelConfig):
    """HRM; defaults are the paper's (4 + 4 layers, N = T = 2, one prefix slot, 27.3 M)."""

    puzzle_emb_len: int | None = None  # ceil(puzzle_emb_ndim / hidden_size) = 1
    act_continue: bool = True
    high_layers: int = 4
    low_layers: int = 4
    n_cycles: int = 2  # N: high-level updates per supervision step
    n_low_steps: int = 2  # T: low-level updates per high-level update

    def __post_init__(self):
        super().__post_init__()
        for name in ("high_layers", "low_layers", "n_cycles", "n_low_steps"):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"{name} must be >= 1, got {getattr(self, name)} (HRM uses 4/4/2/2)"
                )


class HRM(GridReasoner):
    """The HRM with ACT and Q-learning halting; the protocol is `ACTModel`'s.

    Shapes:
        batch["inputs"]: (B, L) long; batch["puzzle_identifiers"]: (B,) -> logits (B, L, V).
    """

    def __init__(self, cfg: HRMConfig, *, generator: torch.Generator | None = None):
        generator = init_generator(generator)
        super().__init__(cfg, state_names=("z_high", "z_low"), read="z_high", generator=generator)
        self.high = make_stack(cfg, cfg.high_layers, generator)
        self.low = make_stack(cfg, cfg.low_layers, generator)

    def schedule(self) -> list[str]:
        return (["z_low"] * self.config.n_low_steps + ["z_high"]) * self.config.n_cycles

    def n_grad(self) -> int:
        return 2  # the 1-step gradient: only the final z_low and z_high updates

    def update(
        self,
        name: str,
        state: dict[str, torch.Tensor],
        x: torch.Tensor,
        rotary,
        *,
        seq_first: bool = False,
    ) -> None:
        kw = {"seq_first": seq_first}
        if name == "z_low":
            state["z_low"] = self.low(state["z_low"], state["z_high"] + x, rotary, **kw)
        else:
            state["z_high"] = self.high(state["z_high"], state["z_low"], rotary, **kw)
