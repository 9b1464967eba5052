"""TRM, the Tiny Recursive Model (Jolicoeur-Martineau 2025): one small network, applied recursively.

Per supervision step, with x the embedded puzzle, y the answer and z the latent:

    repeat T − 1 times without gradient:  { n times: z = f(z, y + x) ;  y = f(y, z) }
    once with gradient:                        n times: z = f(z, y + x) ;  y = f(y, z)
    logits = lm_head(y)[prefix:],  (q_halt, q_continue) = q_head(y[:, 0])

f(h, injection) = blocks(h + injection), one 2-layer stack shared by both updates. Variants are
config fields: mixer (attention / mlp_t), single_z (z = f(z, x); z = f(z, ·); heads read z),
separate_nets (one stack for z, one for y), one_step_grad (HRM's 1-step gradient: only the last
z and y updates get gradient), pos_encoding, act_continue.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reasoner.grid_model import GridModelConfig, GridReasoner, init_generator, make_stack


@dataclass(frozen=True)
class TRMConfig(GridModelConfig):
    """TRM; defaults are the Sudoku attention preset (T = 3, n = 6, 2 layers, 512 wide)."""

    n_layers: int = 2
    n_cycles: int = 3  # T: outer cycles, the first T - 1 without gradient
    n_latent_steps: int = 6  # n: latent updates per cycle
    single_z: bool = False  # ablation: one state z, heads read z
    separate_nets: bool = False  # ablation: separate stacks for the z and y updates
    one_step_grad: bool = False  # ablation: HRM's 1-step gradient approximation

    def __post_init__(self):
        super().__post_init__()
        if self.n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {self.n_layers} (TRM uses 2)")
        if self.n_cycles < 1:
            raise ValueError(f"n_cycles must be >= 1, got {self.n_cycles} (TRM uses 3)")
        if self.n_latent_steps < 1:
            raise ValueError(
                f"n_latent_steps must be >= 1, got {self.n_latent_steps} (TRM uses 6 for Sudoku)"
            )


class TRM(GridReasoner):
    """The TRM with ACT. See the module docstring; the protocol is `ACTModel`'s.

    Shapes:
        batch["inputs"]: (B, L) long; batch["puzzle_identifiers"]: (B,) -> logits (B, L, V).
    """

    def __init__(self, cfg: TRMConfig, *, generator: torch.Generator | None = None):
        generator = init_generator(generator)
        names = ("z",) if cfg.single_z else ("y", "z")
        super().__init__(cfg, state_names=names, read=names[0], generator=generator)
        self.net = make_stack(cfg, cfg.n_layers, generator)
        self.net_y = make_stack(cfg, cfg.n_layers, generator) if cfg.separate_nets else None

    def schedule(self) -> list[str]:
        cfg = self.config
        return (["z"] * cfg.n_latent_steps + ["y"]) * cfg.n_cycles

    def n_grad(self) -> int:
        return 2 if self.config.one_step_grad else self.config.n_latent_steps + 1

    def update(
        self,
        name: str,
        state: dict[str, torch.Tensor],
        x: torch.Tensor,
        rotary,
        *,
        seq_first: bool = False,
    ) -> None:
        net_y = self.net_y if self.net_y is not None else self.net
        kw = {"seq_first": seq_first}
        if self.config.single_z:  # z = f(z, x) ; then z = f(z) for the answer update
            z = state["z"]
            state["z"] = (
                self.net(z, x, rotary, **kw) if name == "z" else net_y(z, None, rotary, **kw)
            )
        elif name == "z":
            state["z"] = self.net(state["z"], state["y"] + x, rotary, **kw)
        else:
            state["y"] = net_y(state["y"], state["z"], rotary, **kw)
