"""Training the refiner: deep supervision, ACT halting, EMA, warm-up, checkpoints, data parallel.

One batch gets up to N_sup supervision steps; each is one forward (T outer cycles, the last with
gradient), one loss (answer cross-entropy + 0.5 · halting BCE against "this step's answer is
exactly right"), one optimizer step and one EMA update. The state (y, z) is detached between
steps; a row leaves the batch when its halting logit is positive (after a random minimum number
of steps with probability `halt_exploration_prob`), or after N_sup steps.

Everything random is drawn from generators seeded by (seed, batch index), so a run resumed from
a checkpoint (taken between batches) continues exactly as the uninterrupted run.
Data parallel: every rank draws the same global batch and keeps rows rank::world; gradients are
summed across ranks (the loss is already divided by the global batch).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from hartflow.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from hartflow.distributed import (
    DistContext,
    all_reduce_,
    all_reduce_gradients,
    broadcast_parameters,
    setup_distributed,
)
from hartflow.hybrid.batching import Item, collate, make_items
from hartflow.hybrid.config import TrainConfig
from hartflow.hybrid.curves import plot_curve
from hartflow.hybrid.data import prepare
from hartflow.hybrid.vocab import Vocab
from reasoner.ema import EMA
from reasoner.losses import softmax_cross_entropy, stablemax_cross_entropy
from reasoner.optim import AdamATan2, cosine_ratio, warmup_constant
from reasoner.refiner import Refiner, RefinerConfig, count_parameters

log = logging.getLogger(__name__)
Progress = Callable[[dict[str, Any]], None]


def no_hypothesis_slots(train: list) -> int:
    """Answer slots for a row without hypotheses: 1.5 × the longest training answer."""
    return math.ceil(1.5 * max(len(o) for _, o in train)) + 1


def max_len_for(train: list, test: list, slots: int) -> int:
    """Rotary table size: covers the longest command plus generous answer room."""
    longest_cmd = max(len(c) for c, _ in [*train, *test])
    return max(512, 1 + 2 * longest_cmd + 4 * slots)


def build_model(cfg: RefinerConfig, seed: int) -> Refiner:
    """The refiner, its initial weights fixed by `seed` (identical on every rank)."""
    return Refiner(cfg, generator=torch.Generator().manual_seed(seed))


def _generator(seed: int, *keys: int) -> torch.Generator:
    mixed = seed
    for k in keys:
        mixed = (mixed * 1_000_003 + k + 1) % (2**63 - 1)
    return torch.Generator().manual_seed(mixed)


def batch_indices(n: int, global_batch: int, seed: int, batch: int) -> list[int]:
    """The dataset rows of global batch `batch`: consecutive slices of a per-epoch permutation."""
    per_epoch = max(1, n // global_batch)
    epoch, j = divmod(batch, per_epoch)
    perm = torch.randperm(n, generator=_generator(seed, 7, epoch))
    take = perm[j * global_batch : (j + 1) * global_batch]
    if len(take) < global_batch:  # fewer rows than a batch: repeat the permutation
        take = perm.repeat(math.ceil(global_batch / n))[:global_batch]
    return take.tolist()


def step_loss(
    logits: torch.Tensor, q_halt: torch.Tensor, labels: torch.Tensor, *, loss: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(summed loss, per-row exact, per-row token accuracy).

    Shapes:
        logits (B, La, V), q_halt (B,), labels (B, La) -> scalar, (B,) bool, (B,) float
    """
    ce = stablemax_cross_entropy if loss == "stablemax" else softmax_cross_entropy
    token = ce(logits, labels)  # (B, La), every slot is supervised (<end> after the answer)
    lm = token.mean(-1).sum()
    with torch.no_grad():
        hit = logits.argmax(-1) == labels
        exact, acc = hit.all(-1), hit.float().mean(-1)
    q = F.binary_cross_entropy_with_logits(q_halt, exact.float(), reduction="sum")
    return lm.float() + 0.5 * q, exact, acc


def _select(batch: dict[str, torch.Tensor], rows: torch.Tensor) -> dict[str, torch.Tensor]:
    return {k: v[rows] for k, v in batch.items()}


def _pick(labels: Any, rows: torch.Tensor) -> Any:
    """Rows of labels: one tensor, or a dict of tensors (the structure refiner's heads)."""
    return _select(labels, rows) if isinstance(labels, dict) else labels[rows]


def _to(labels: Any, device: Any) -> Any:
    return (
        {k: v.to(device) for k, v in labels.items()}
        if isinstance(labels, dict)
        else (labels.to(device))
    )


class Trainer:
    """State of one run: model, optimizer, EMA, items; `run()` trains until a budget is spent."""

    def __init__(
        self,
        cfg: TrainConfig,
        *,
        out: str | Path,
        ctx: DistContext | None = None,
        device: str = "cpu",
    ):
        self.cfg, self.out = cfg, Path(out)
        self.ctx = ctx or setup_distributed(device=device)
        torch.manual_seed(cfg.seed)  # nothing should draw from it; fixed anyway
        self.data = prepare(cfg, out=self.out)
        self.setup()
        self.model = self.model.to(self.ctx.device)
        broadcast_parameters(self.model, self.ctx)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if cfg.optimizer == "adamw":
            self.opt = torch.optim.AdamW(
                params, lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay
            )
        else:
            self.opt = AdamATan2(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.ema = EMA(self.model, decay=cfg.ema_decay)
        self.step, self.batch, self.elapsed = 0, 0, 0.0
        self.setup_seconds = 0.0  # spent before training (hypotheses, recombination): budgeted
        self._start: float | None = None  # perf_counter at which `elapsed` was 0 (while running)

    # ------------------------------------------------------------------ what the model is
    def setup(self) -> None:
        """Vocabulary, model config, model and training items (the sequence refiner)."""
        cfg, train = self.cfg, self.data.train
        self.vocab = Vocab.build(train)
        self.slots = no_hypothesis_slots(train)
        max_len = max_len_for(train, self.data.test, self.slots)
        self.model_cfg = cfg.refiner(
            vocab_in=len(self.vocab.words), vocab_out=len(self.vocab.tokens), max_len=max_len
        )
        self.model = build_model(self.model_cfg, cfg.seed)
        self.items: list[Item] = make_items(
            self.vocab, [c for c, _ in train], [a for _, a in train], self.data.train_hyps,
            k=cfg.k, hrr_dim=cfg.feature_dim, seed=cfg.seed,
        )  # fmt: skip

    def make_batch(
        self, rows: list[int], g: torch.Generator
    ) -> tuple[dict[str, torch.Tensor], Any]:
        """(model inputs, labels) of the given training rows."""
        cfg = self.cfg
        batch = collate(
            [self.items[i] for i in rows], k=cfg.k, no_hypothesis_slots=self.slots,
            vocab_out=len(self.vocab.tokens), corruption=cfg.corruption, generator=g,
            fixed_len=self.model_cfg.seq_len,
        )  # fmt: skip
        return batch, batch.pop("labels")

    def loss(self, out: Any, labels: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(summed loss, per-row exact, per-row token accuracy) of one supervision step."""
        return step_loss(out.logits, out.q_halt_logits, labels, loss=self.cfg.loss)

    # ------------------------------------------------------------------------ checkpoints
    def config_json(self) -> dict[str, Any]:
        return {
            "kind": "hybrid-refiner",
            "train": self.cfg.to_json(),
            "refiner": self.model_cfg.to_json(),
            "vocab": self.vocab.to_json(),
            "no_hypothesis_slots": self.slots,
            "hypotheses_cache": self.data.cache_file,
            "parameters": count_parameters(self.model),
        }

    def save(self) -> Path:
        folder = self.out / "checkpoints" / f"step_{self.step:08d}"
        if self.ctx.is_main:
            save_checkpoint(
                folder, model=self.model, config=self.config_json(), optimizers={"opt": self.opt},
                ema=self.ema, state={"step": self.step, "batch": self.batch,
                                     "elapsed": self.elapsed},
            )  # fmt: skip
            for old in (self.out / "checkpoints").iterdir():
                if old != folder and old.name.startswith("step_"):
                    shutil.rmtree(old, ignore_errors=True)
        return folder

    def resume(self) -> bool:
        folder = latest_checkpoint(self.out)
        if folder is None:
            return False
        state = load_checkpoint(
            folder, model=self.model, optimizers={"opt": self.opt}, ema=self.ema
        )
        self.step, self.batch = int(state["step"]), int(state["batch"])
        self.elapsed = float(state.get("elapsed", 0.0))
        _truncate_log(self.out / "log.jsonl", self.step)
        log.info("resumed from %s at step %d", folder, self.step)
        return True

    # --------------------------------------------------------------------------- training
    def train_batch(self) -> dict[str, float]:
        """Deep supervision on one global batch; returns its metrics (summed over ranks)."""
        cfg, ctx, model = self.cfg, self.ctx, self.model
        g = _generator(cfg.seed, 11, self.batch)
        rows = batch_indices(len(self.items), cfg.batch_size, cfg.seed, self.batch)
        B = len(rows)
        full, all_labels = self.make_batch(rows, g)
        explore = torch.rand(B, generator=g) < self.model_cfg.halt_exploration_prob
        min_steps = torch.where(
            explore,  # N_sup = 1: nothing to explore (the step cap halts every row)
            torch.randint(2, max(self.model_cfg.max_halt_steps, 2) + 1, (B,), generator=g),
            1,
        )
        dev = ctx.device
        mine = torch.arange(ctx.rank, B, ctx.world_size)
        batch = {k: v.to(dev) for k, v in _select(full, mine).items()}
        min_steps = min_steps[mine].to(dev)
        labels = _to(_pick(all_labels, mine), dev)
        active = torch.ones(len(mine), dtype=torch.bool, device=dev)
        decay = 1.0  # the rate's cosine: one value on every rank (their clocks differ)
        if cfg.lr_min_ratio < 1.0:
            spent = all_reduce_(torch.tensor([self.progress()], device=dev), ctx)
            decay = cosine_ratio(spent.item() / ctx.world_size, cfg.lr_min_ratio)
        state = None
        sums = torch.zeros(5, device=dev)  # rows finished, exact, token acc, steps, loss
        model.train()
        for s in range(self.model_cfg.max_halt_steps):
            idx = active.nonzero().flatten()
            n_active = all_reduce_(torch.tensor([float(len(idx))], device=dev), ctx)
            if n_active.item() == 0:
                break
            ghost = len(idx) == 0  # this rank is done but others are not: join with zero loss
            use = idx if not ghost else torch.tensor([0], device=dev)
            sub = _select(batch, use)
            sub_state = None if state is None else type(state)(state.y[use], state.z[use])
            lr = cfg.lr * warmup_constant(self.step, warmup_steps=cfg.warmup_steps) * decay
            for group in self.opt.param_groups:
                group["lr"] = lr
            new_state, out = model(sub, sub_state)
            loss, exact, acc = self.loss(out, _pick(labels, use))
            self.opt.zero_grad(set_to_none=True)
            ((0.0 if ghost else 1.0) * loss / cfg.batch_size).backward()
            all_reduce_gradients(model, ctx)
            self.opt.step()
            # EMA with warm-up: short runs must not keep the random initial weights
            self.ema.decay = min(cfg.ema_decay, (1 + self.step) / (10 + self.step))
            self.ema.update(model)
            self.step += 1
            if ghost:
                continue
            halt = (out.q_halt_logits.detach() > 0) & (s + 1 >= min_steps[idx])
            if s + 1 == self.model_cfg.max_halt_steps:
                halt = torch.ones_like(halt)
            done = idx[halt]
            sums += torch.stack(
                [torch.tensor(float(len(done)), device=dev), exact[halt].sum().float(),
                 acc[halt].sum().float(), torch.tensor(float((s + 1) * len(done)), device=dev),
                 loss.detach().float()]
            )  # fmt: skip
            if state is None:
                state = new_state
            else:
                state.y[idx], state.z[idx] = new_state.y, new_state.z
            active[done] = False
        all_reduce_(sums, ctx)
        self.batch += 1
        n = max(sums[0].item(), 1.0)
        return {
            "exact": sums[1].item() / n,
            "token_acc": sums[2].item() / n,
            "steps": sums[3].item() / n,
            "loss": sums[4].item() / cfg.batch_size,
        }

    def progress(self) -> float:
        """How much of the budget is spent (0 … 1): of the steps, or of the minutes left after
        the set-up, whichever is further along (the learning rate's cosine follows it)."""
        cfg = self.cfg
        done = self.step / cfg.max_steps
        if cfg.minutes is not None:
            elapsed = self.elapsed if self._start is None else time.perf_counter() - self._start
            budget = max(60 * cfg.minutes - self.setup_seconds, 1e-9)
            done = max(done, elapsed / budget)
        return min(done, 1.0)

    def run(
        self, *, progress: Progress | None = None, tensorboard: str | Path | None = None
    ) -> dict[str, Any]:
        """Train until max_steps or the minutes budget; checkpoint, log and plot (and write the
        log's scalars as TensorBoard events into `tensorboard`)."""
        cfg = self.cfg
        start = time.perf_counter() - self.elapsed
        self._start = start
        log_path = self.out / "log.jsonl"
        self.out.mkdir(parents=True, exist_ok=True)
        board = None
        if tensorboard is not None and self.ctx.is_main:
            from hartflow.tensorboard_writer import ScalarWriter

            board = ScalarWriter(tensorboard)
        last_ckpt = self.step
        window: list[dict[str, float]] = []
        while self.step < cfg.max_steps:
            used = time.perf_counter() - start + self.setup_seconds
            if cfg.minutes is not None and used > 60 * cfg.minutes:
                break
            metrics = self.train_batch()
            window.append(metrics)
            self.elapsed = time.perf_counter() - start
            if self.batch % cfg.log_every == 0 or self.step >= cfg.max_steps:
                row = {"step": self.step, "batch": self.batch, "seconds": round(self.elapsed, 2)}
                row.update({k: sum(m[k] for m in window) / len(window) for k in window[0]})
                window.clear()
                if self.ctx.is_main:
                    with log_path.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    if board is not None:
                        board.write(row)
                if progress:
                    progress(row)
            if self.step - last_ckpt >= cfg.ckpt_every:
                self.save()
                last_ckpt = self.step
        self._start = None
        folder = self.save()
        if board is not None:
            board.close()
        if self.ctx.is_main:
            plot_curve(log_path, self.out / "curve.png")
        return {
            "out": str(self.out),
            "checkpoint": str(folder),
            "step": self.step,
            "seconds": self.elapsed,
            "parameters": count_parameters(self.model),
        }


def _truncate_log(path: Path, step: int) -> None:
    """Drop log rows written after the checkpoint we resume from."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in keep))
