"""Adaptive computation time (deep supervision) shared by TRM and HRM.

One call `carry, out = model(carry, batch)` is one supervision step. The carry persists across
optimiser steps: rows marked `halted` are reset to the initial state and take fresh data from the
incoming batch; the other rows keep their example and their recurrent state (detached).

Halting (training only; evaluation always runs `max_halt_steps`):
    halted = steps >= max_halt_steps  |  (q_halt > q_continue  if act_continue  else  q_halt > 0)
    exploration: with probability p a row draws min_steps ~ U{2..max_halt_steps} (drawn afresh at
    every step, as in the reference) and may not halt before it. The draws come from the
    caller's generator, else the model's own (never the global RNG).
With `act_continue`, a second no-grad inner step on the new carry gives the bootstrapped Q target
    target_q_continue = sigmoid(is_last ? q_halt' : max(q_halt', q_continue')).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

Batch = dict[str, torch.Tensor]


@dataclass
class ACTCarry:
    """What persists between supervision steps.

    Shapes:
        state: name -> (B, P + L, D), detached; steps: (B,) long; halted: (B,) bool;
        data: the batch rows being worked on ("inputs", "labels", "puzzle_identifiers", ...).
    """

    state: dict[str, torch.Tensor]
    steps: torch.Tensor
    halted: torch.Tensor
    data: Batch


@dataclass
class ACTOutput:
    """One supervision step's outputs.

    `q_continue_logits` is None unless the model has `act_continue` (only then is it trained and
    used for halting); `target_q_continue` is None outside training, without `act_continue`,
    or with max_halt_steps = 1 (no next step to bootstrap from).

    Shapes:
        logits: (B, L, V) fp32; q_halt_logits, q_continue_logits, target_q_continue: (B,) fp32.
    """

    logits: torch.Tensor
    q_halt_logits: torch.Tensor
    q_continue_logits: torch.Tensor | None = None
    target_q_continue: torch.Tensor | None = None


def _rows(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return mask.view((-1,) + (1,) * (like.dim() - 1))


def _check_batch(carry: ACTCarry, batch: Batch) -> None:
    """The batch must hold every key of the carry's data, each with the same shape."""
    for k, v in carry.data.items():
        if k not in batch:
            raise ValueError(f"batch lacks {k!r}, which the carry holds; pass {sorted(carry.data)}")
        if batch[k].shape != v.shape:
            raise ValueError(
                f"batch[{k!r}] has shape {tuple(batch[k].shape)} but the carry holds "
                f"{tuple(v.shape)}; keep the batch size fixed (pad short batches) or start a new "
                "carry with initial_carry(batch)"
            )


class ACTModel(nn.Module):
    """Base class: the ACT loop that wraps an inner recurrent step.

    Subclasses set `self.max_halt_steps`, `self.halt_exploration_prob`, `self.act_continue` and
    implement `initial_state(batch_size, device)`, `reset_state(state, halted)` and
    `inner(state, batch) -> (state, logits, q_halt_logits, q_continue_logits)`.
    """

    max_halt_steps: int
    halt_exploration_prob: float
    act_continue: bool

    def initial_state(self, batch_size: int, device: torch.device) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def reset_state(
        self, state: dict[str, torch.Tensor], halted: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def inner(self, state: dict[str, torch.Tensor], batch: Batch):
        raise NotImplementedError

    def initial_carry(self, batch: Batch) -> ACTCarry:
        """A carry with every row halted, so the first step takes all rows from its batch."""
        inputs = batch["inputs"]
        B, device = inputs.shape[0], inputs.device
        return ACTCarry(
            state=self.initial_state(B, device),
            steps=torch.zeros(B, dtype=torch.long, device=device),
            halted=torch.ones(B, dtype=torch.bool, device=device),
            data={k: torch.zeros_like(v) for k, v in batch.items()},
        )

    def forward(
        self,
        carry: ACTCarry,
        batch: Batch,
        *,
        generator: torch.Generator | None = None,
        inner: Callable | None = None,
    ) -> tuple[ACTCarry, ACTOutput]:
        """One supervision step.

        Args:
            generator: drives the exploration draws (training only); None = the model's own
                generator, seeded 0 at first use (never torch's global RNG). Pass one, and
                checkpoint its state, for exactly resumable runs.
            inner: what to call for `self.inner` (e.g. a `torch.compile`d copy of it, so the
                recursion compiles while the halting draws stay eager); None = `self.inner`.
        """
        inner = self.inner if inner is None else inner
        _check_batch(carry, batch)
        halted = carry.halted
        state = self.reset_state(carry.state, halted)
        steps = torch.where(halted, 0, carry.steps)
        data = {k: torch.where(_rows(halted, v), batch[k], v) for k, v in carry.data.items()}

        state, logits, q_halt, q_continue = inner(state, data)

        target = None
        with torch.no_grad():
            steps = steps + 1
            is_last = steps >= self.max_halt_steps
            new_halted = is_last
            if self.training and self.max_halt_steps > 1:
                stop = q_halt > q_continue if self.act_continue else q_halt > 0
                new_halted = new_halted | stop
                new_halted = new_halted & (steps >= self._min_steps(steps, generator))
                if self.act_continue:
                    _, _, next_halt, next_continue = inner(state, data)
                    best = torch.where(is_last, next_halt, torch.maximum(next_halt, next_continue))
                    target = torch.sigmoid(best)
        carry = ACTCarry(state=state, steps=steps, halted=new_halted, data=data)
        return carry, ACTOutput(logits, q_halt, q_continue if self.act_continue else None, target)

    def _min_steps(self, steps: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """0, or with probability halt_exploration_prob a draw from U{2..max_halt_steps}.

        `generator` None = the model's own generator (seeded 0 on first use, one per device), so
        the global RNG is never read.
        """
        B = steps.shape[0]
        if self.halt_exploration_prob == 0:
            return torch.zeros_like(steps)
        if generator is None:
            generator = self._own_generator(steps.device)
        device = generator.device
        explore = torch.rand(B, generator=generator, device=device) < self.halt_exploration_prob
        draw = torch.randint(2, self.max_halt_steps + 1, (B,), generator=generator, device=device)
        return torch.where(explore, draw, 0).to(steps.device)

    def _own_generator(self, device: torch.device) -> torch.Generator:
        """The exploration generator used when the caller passes none (not in the state dict)."""
        gens = self.__dict__.setdefault("_explore_generators", {})
        if str(device) not in gens:
            gens[str(device)] = torch.Generator(device=device).manual_seed(0)
        return gens[str(device)]
