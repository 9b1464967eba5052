"""The compiled train step: `torch.compile` over what a grid train step spends its time on, with
a one-line fallback to eager.

Compiled (each `dynamic=False`: a run's batch shape is fixed):
- the model's recursion `model.inner` (embedding, the no-grad cycles, the gradient cycle, the
  heads); AOTAutograd compiles its backward as well. HRM's no-grad bootstrap step is a second
  graph of the same function. With the sequence-MLP mixer on the CPU it runs sequence-first
  (`inner(..., seq_first=True)`: the state as (L, B, D) inside the recursion), where the
  mixer's matmuls read contiguous operands (W·X instead of Xᵀ·Wᵀ per row): 3–4 % faster per
  train step at hidden 128 and 512 (measured side by side). Attention models stay batch-first
  (sequence-first made their step ≈ 8 % slower), and so do GPUs, where only the batch-first
  compiled step has been measured.
  Two layers take a compile-friendly form while traced (`reasoner/layers.py`): RoPE per half
  (bit-identical; the rotate-half concatenation compiled to masked half-width loops, 4 % of
  the TRM-attention step at hidden 128) and SiLU as x·sigmoid(x) (its backward reuses the
  sigmoid; 1.5 % of the TRM-MLP step).
- the ACT loss (float64 stablemax, the BCEs and the metric sums), fused into a few kernels.
- on CUDA, the AdamATan2 update of the dense weights, with the learning rate and the bias
  corrections passed as tensors so that no step recompiles (on CPU it is < 1 % of a step and
  its compilation costs more than it saves).
Left eager: the puzzle-embedding lookup (sparse gradients; `reasoner/embedding.py` keeps it out
of graphs, one graph break at the start of the recursion), the halting rule (its exploration
draws take a `torch.Generator`, which breaks a dynamo graph), the gradient all-reduce, the puzzle
embedding's sparse SignSGD, the EMA (one foreach lerp).

Eager stays the reference path: the bit-exact tests (tests/reasoner/test_bf16.py) run eagerly;
compiled float32 agrees with eager within 1e-4 of each tensor's largest magnitude over two
supervision steps, gradients included (2e-5 seen; tests/hartflow/grid/test_compiled.py), since
inductor fuses kernels and reorders float sums. When compiling fails (on CPU inductor needs a C++
compiler), one warning line is logged and the run continues eagerly.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["StepFunctions", "adam_atan2_update", "COMPILE_ERRORS"]

log = logging.getLogger(__name__)


def _compile_errors() -> tuple[type[BaseException], ...]:
    """What a failed compilation raises: dynamo wraps backend failures (a missing C++ compiler,
    an unsupported op) in its own exception types; inductor raises InductorError."""
    errors: list[type[BaseException]] = []
    try:
        from torch._dynamo.exc import TorchDynamoException

        errors.append(TorchDynamoException)
    except ImportError:  # pragma: no cover - torch without dynamo
        pass
    try:
        from torch._inductor.exc import InductorError

        errors.append(InductorError)
    except ImportError:  # pragma: no cover - older torch
        pass
    return (*errors, OSError)  # OSError: the compiler binary cannot be run


COMPILE_ERRORS = _compile_errors()


def adam_atan2_update(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    exp_avgs: list[torch.Tensor],
    exp_avg_sqs: list[torch.Tensor],
    scalars: torch.Tensor,
    *,
    beta1: float,
    beta2: float,
) -> None:
    """reasoner.optim.AdamATan2's update, in place, with the per-step numbers in a tensor.

    scalars = (1 − lr·wd, lr / bc1, sqrt(bc2)) so that a compiled copy never recompiles as the
    learning rate warms up or the bias corrections decay.

    Shapes:
        scalars: (3,) float32 on the parameters' device.
    """
    decay, step_size, sqrt_bc2 = scalars[0], scalars[1], scalars[2]
    for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs, strict=True):
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        p.mul_(decay)
        p.sub_(step_size * torch.atan2(m, v.sqrt() / sqrt_bc2))


class StepFunctions:
    """The train step's compiled pieces, or eager ones; falls back to eager on the first failure.

    Args:
        model: the grid model (an ACTModel); its `inner` is compiled.
        loss_fn: the ACT loss with its options bound (`functools.partial(act_loss, ...)`).
        enabled: compile at all (TrainConfig.compile).
        compile_optimizer: also compile the dense optimiser's update (CUDA).
        seq_first: run the compiled recursion sequence-first; None = where the model's mixer
            is the sequence MLP and its weights are on the CPU (see the module docstring).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        loss_fn: Callable[..., Any],
        *,
        enabled: bool,
        compile_optimizer: bool = False,
        seq_first: bool | None = None,
    ):
        self.model, self.eager_loss = model, loss_fn
        self.enabled = enabled
        self.failed: str | None = None
        if seq_first is None:
            mixer = getattr(getattr(model, "config", None), "mixer", None)
            on_cpu = all(p.device.type == "cpu" for p in model.parameters())
            seq_first = mixer == "mlp" and on_cpu
        self.seq_first = seq_first  # the compiled recursion's layout (eager: the reference's)
        if enabled:
            # a fresh dynamo cache per run: graphs are cached per code object, so a process
            # that trains models in turn (`grid ablate`, the speed benchmark) would otherwise
            # reach dynamo's recompile limit and silently run the later ones eagerly
            torch._dynamo.reset()
            inner = functools.partial(model.inner, seq_first=seq_first)
            self._inner = torch.compile(inner, dynamic=False)
            self._loss = torch.compile(loss_fn, dynamic=False)
        self._update = (
            torch.compile(adam_atan2_update, dynamic=False)
            if enabled and compile_optimizer
            else None
        )

    @property
    def compiled(self) -> bool:
        """Whether the compiled path is in use (False when disabled or after a failure)."""
        return self.enabled and self.failed is None

    def _call(self, compiled: Callable, eager: Callable, *args: Any, **kwargs: Any) -> Any:
        if not self.compiled:
            return eager(*args, **kwargs)
        try:
            return compiled(*args, **kwargs)
        except COMPILE_ERRORS as e:  # compilation happens before any tensor is touched
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            self.failed = f"{type(e).__name__}: {first}"[:200]
            log.warning("torch.compile failed (%s); training continues eagerly", self.failed)
            return eager(*args, **kwargs)

    def inner(self, state: dict[str, torch.Tensor], data: dict[str, torch.Tensor]):
        """model.inner, compiled (pass as `model(carry, batch, inner=steps.inner)`)."""
        return self._call(getattr(self, "_inner", None), self.model.inner, state, data)

    def loss(self, out: Any, carry: Any):
        """The ACT loss and its metrics."""
        return self._call(getattr(self, "_loss", None), self.eager_loss, out, carry)

    def optimizer_step(self, opt: torch.optim.Optimizer) -> None:
        """`opt.step()`, or for AdamATan2 with `compile_optimizer` the compiled update on the
        optimiser's own state (so checkpoints and eager resumes see the same state dict)."""
        from reasoner.optim import AdamATan2

        if self._update is None or not self.compiled or not isinstance(opt, AdamATan2):
            opt.step()
            return
        for group in opt.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            beta1, beta2 = group["betas"]
            lr, wd = float(group["lr"]), float(group["weight_decay"])
            states = [opt.state[p] for p in params]
            for st, p in zip(states, params, strict=True):
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                st["step"] += 1
            update = functools.partial(adam_atan2_update, beta1=beta1, beta2=beta2)
            compiled = functools.partial(self._update, beta1=beta1, beta2=beta2)
            by_step: dict[int, list[int]] = {}  # one bucket unless some weight missed a step
            for i, st in enumerate(states):
                by_step.setdefault(st["step"], []).append(i)
            for t, idx in by_step.items():
                bc1, bc2 = 1 - beta1**t, 1 - beta2**t
                values = [1 - lr * wd, lr / bc1, math.sqrt(bc2)]
                scalars = torch.tensor(values, dtype=torch.float32).to(params[0].device)
                args = (
                    [params[i] for i in idx],
                    [params[i].grad for i in idx],
                    [states[i]["exp_avg"] for i in idx],
                    [states[i]["exp_avg_sq"] for i in idx],
                    scalars,
                )
                with torch.no_grad():
                    self._call(compiled, update, *args)
