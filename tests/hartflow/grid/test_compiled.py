"""The compiled train step (hartflow/grid/compiled.py) against the eager reference path.

Eager is bit-identical to the reference computation (tests/reasoner/test_bf16.py); compiled
float32 must agree with it within a stated tolerance, since inductor fuses kernels and reorders
float sums: TOLERANCE below, relative to each tensor's largest magnitude, over two supervision
steps (logits, Q logits, new state, loss, every gradient).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hartflow.grid.compiled import StepFunctions, adam_atan2_update
from reasoner import TRM, TRMConfig, act_loss
from reasoner.optim import AdamATan2

TOLERANCE = 1e-4  # max |compiled − eager| / max(|eager|, 1e-3), per tensor (2.2e-5 seen)


def tiny_model(gen: torch.Generator, mixer: str = "attention") -> TRM:
    cfg = TRMConfig(vocab_size=6, seq_len=8, num_puzzle_identifiers=3, hidden_size=16,
                    n_heads=2, expansion=2, puzzle_emb_len=2, n_cycles=2, n_latent_steps=2,
                    max_halt_steps=4, halt_exploration_prob=0.0, mixer=mixer,
                    pos_encoding="rope" if mixer == "attention" else "none",
                    ffn_multiple=256 if mixer == "attention" else 16)  # fmt: skip
    model = TRM(cfg)
    # non-trivial weights everywhere (q-head and puzzle table included); the MLP mixer keeps
    # its own init for the rest: with every weight at 0.3·N(0, 1) its recursion amplifies float
    # rounding ~10x per step (eager in either layout differs from itself by 5e-4 after 2 steps)
    with torch.no_grad():
        for p in model.parameters():
            if mixer == "attention" or not p.abs().max() > 0:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    return model


def batch(gen: torch.Generator) -> dict[str, torch.Tensor]:
    labels = torch.randint(1, 6, (4, 8), generator=gen)
    labels[0, :2] = -100
    return {"inputs": torch.randint(1, 6, (4, 8), generator=gen), "labels": labels,
            "puzzle_identifiers": torch.tensor([0, 2, 1, 2])}  # fmt: skip


def two_steps(model, steps: StepFunctions, data) -> dict[str, torch.Tensor]:
    """Two supervision steps, loss + backward each; every output and gradient by name."""
    got = {}
    carry = model.initial_carry(data)
    for step in range(2):
        carry, out = model(carry, data, inner=steps.inner)
        loss, _ = steps.loss(out, carry)
        loss.backward()
        got[f"{step}.loss"] = loss.detach()
        got[f"{step}.logits"], got[f"{step}.q_halt"] = out.logits, out.q_halt_logits
        got.update({f"{step}.state.{k}": v for k, v in carry.state.items()})
        for n, p in model.named_parameters():
            got[f"{step}.grad.{n}"] = p.grad.to_dense() if p.grad.is_sparse else p.grad.clone()
            p.grad = None
    return got


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = max(b.abs().max().item(), 1e-3)
    return (a.double() - b.double()).abs().max().item() / scale


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class TestCompiledStep:
    @pytest.mark.slow  # ~40 s each with a cold inductor cache (4 s warm)
    @pytest.mark.parametrize("mixer", ["attention", "mlp"])
    def test_compiled_float32_matches_eager(self, one_thread, mixer):
        """Attention compiles in the reference layout, the sequence MLP sequence-first."""
        gen = torch.Generator().manual_seed(0)
        model, data = tiny_model(gen, mixer), batch(gen)
        loss_fn = functools.partial(act_loss, loss="stablemax")
        eager = two_steps(model, StepFunctions(model, loss_fn, enabled=False), data)
        compiled_steps = StepFunctions(model, loss_fn, enabled=True)
        assert compiled_steps.seq_first == (mixer == "mlp")
        compiled = two_steps(model, compiled_steps, data)
        assert compiled_steps.compiled, compiled_steps.failed
        errors = {k: relative_error(compiled[k], eager[k]) for k in eager}
        worst = max(errors, key=errors.get)
        assert errors[worst] <= TOLERANCE, (worst, errors[worst])

    def test_failed_compile_falls_back_with_one_warning(self, tmp_path):
        """No working C++ compiler (CPU inductor needs one): one warning line, then eager, with
        the eager results. In a fresh process, since inductor caches its compiler check."""
        script = FALLBACK_SCRIPT.format(tests=str(Path(__file__).parent))
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor"),
               "TORCHINDUCTOR_FX_GRAPH_CACHE": "0"}  # fmt: skip
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=env, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING")]
        assert len(warnings) == 1 and "continues eagerly" in warnings[0], done.stderr[-2000:]
        assert "compiler" in warnings[0]
        assert done.stdout.strip() == "fell back, same as eager"


FALLBACK_SCRIPT = """
import functools, logging, sys
import torch
import torch._inductor.config as inductor
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
inductor.cpp.cxx = ("/nonexistent/c++",)
sys.path.insert(0, {tests!r})
from test_compiled import tiny_model, batch, two_steps
from hartflow.grid.compiled import StepFunctions
from reasoner import act_loss
gen = torch.Generator().manual_seed(0)
model, data = tiny_model(gen), batch(gen)
steps = StepFunctions(model, functools.partial(act_loss), enabled=True)
got = two_steps(model, steps, data)
eager = two_steps(model, StepFunctions(model, functools.partial(act_loss), enabled=False), data)
assert not steps.compiled
assert all(torch.equal(got[k], eager[k]) for k in eager)
print("fell back, same as eager")
"""


class TestAdamATan2Update:
    def test_functional_update_matches_the_optimizer(self):
        gen = torch.Generator().manual_seed(0)
        params = [torch.randn(5, 3, generator=gen), torch.randn(7, generator=gen)]
        ref = [p.clone().requires_grad_(True) for p in params]
        opt = AdamATan2(ref, lr=1e-2, weight_decay=0.1)
        mine = [p.clone() for p in params]
        ms, vs = [torch.zeros_like(p) for p in mine], [torch.zeros_like(p) for p in mine]
        for t in range(1, 4):
            grads = [torch.randn(p.shape, generator=gen) for p in params]
            for r, g in zip(ref, grads, strict=True):
                r.grad = g.clone()
            opt.step()
            bc1, bc2 = 1 - 0.9**t, 1 - 0.95**t
            scalars = torch.tensor([1 - 1e-2 * 0.1, 1e-2 / bc1, bc2**0.5])
            adam_atan2_update(mine, grads, ms, vs, scalars, beta1=0.9, beta2=0.95)
        for r, m in zip(ref, mine, strict=True):
            torch.testing.assert_close(m, r.detach(), rtol=1e-6, atol=1e-7)

    @pytest.mark.slow  # compiles the update (~20 s cold); CUDA runs compile it in training
    def test_compiled_update_through_step_functions_matches_the_optimizer(self, one_thread):
        gen = torch.Generator().manual_seed(0)
        model = tiny_model(gen)
        dense = [p for n, p in model.named_parameters() if not n.startswith("embed.puzzle")]
        twin = [p.detach().clone().requires_grad_(True) for p in dense]
        steps = StepFunctions(model, functools.partial(act_loss), enabled=True,
                              compile_optimizer=True)  # fmt: skip
        mine = AdamATan2(dense, lr=1e-2, weight_decay=0.1)
        ref = AdamATan2(twin, lr=1e-2, weight_decay=0.1)
        for lr in (1e-3, 1e-2, 1e-2):  # a changing rate must not recompile or go stale
            for group in (*mine.param_groups, *ref.param_groups):
                group["lr"] = lr
            for p, q in zip(dense, twin, strict=True):
                p.grad = torch.randn(p.shape, generator=gen)
                q.grad = p.grad.clone()
            steps.optimizer_step(mine)
            ref.step()
        assert steps.compiled, steps.failed
        for p, q in zip(dense, twin, strict=True):
            torch.testing.assert_close(p.detach(), q.detach(), rtol=1e-5, atol=1e-6)
        assert mine.state[dense[0]]["step"] == 3  # the optimiser's own state, for checkpoints
