"""`TrainConfig`: one frozen dataclass for a grid-puzzle training run, with the papers' recipes.

Presets (`train_config(preset, arch=..., **overrides)`), from the TRM/HRM READMEs:

| preset | lr    | wd  | puzzle lr / wd | batch | epochs  | eval every | EMA   |
|--------|-------|-----|----------------|-------|---------|------------|-------|
| sudoku | 1e-4  | 1.0 | 1e-4 / 1.0     | 768   | 50 000  | 5 000 ep   | 0.999 |
| maze   | 1e-4  | 1.0 | 1e-4 / 1.0     | 768   | 50 000  | 5 000 ep   | 0.999 |
| arc    | 1e-4  | 0.1 | 1e-2 / 0.1     | 768   | 100 000 | 10 000 ep  | 0.999 |
| tiny   | 1e-3  | 0.1 | 1e-2 / 0.1     | 32    | 200     | 50 ep      | 0.99  |

All with 2 000 warm-up steps (tiny: 20) then a constant rate, stablemax loss, AdamATan2 betas
(0.9, 0.95). HRM (`arch="hrm"`) on Sudoku/Maze uses the HRM README's 20 000 epochs, eval every
2 000, and no EMA (HRM has none). Steps = int(epochs · groups · mean examples per puzzle / batch).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hartflow.errors import HartFlowError

ARCHS = ("trm-mlp", "trm-att", "hrm")
LOSSES = ("stablemax", "softmax")


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs; the run writes it (resolved) as config.json."""

    arch: str = "trm-mlp"  # trm-mlp | trm-att | hrm
    preset: str = "tiny"  # the model preset of reasoner.grid_config (sudoku, maze, arc, tiny)
    model: dict[str, Any] = field(default_factory=dict)  # overrides of the model config
    data: str | None = None  # a folder built by `hartflow grid build`
    out: str | None = None  # run folder: log.jsonl, curves.png, checkpoints/
    # optimisation (AdamATan2 for dense weights, SignSGD for the puzzle embedding)
    lr: float = 1e-4
    lr_warmup_steps: int = 2000
    lr_min_ratio: float = 1.0  # 1.0 = constant after warm-up (TRM/HRM)
    weight_decay: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.95
    puzzle_emb_lr: float = 1e-4
    puzzle_emb_weight_decay: float = 1.0
    global_batch: int = 768  # summed over data-parallel ranks
    loss: str = "stablemax"  # stablemax | softmax
    q_continue: bool | None = None  # None: add the Q-continue loss iff the model makes a target
    # schedule
    epochs: float = 50000  # passes over the train groups
    max_steps: int | None = None  # stop earlier than `epochs` implies
    minutes: float | None = None  # wall-clock budget (then a final evaluation)
    eval_interval: float = 5000  # epochs between evaluations + checkpoints
    epochs_per_pass: int = 1  # epochs drawn as one stream (only its last partial batch is lost)
    eval_batch: int | None = None  # default: global_batch
    eval_limit: int | None = None  # evaluate on at most this many examples (None: all)
    validation_groups: int = 0  # train groups held out for model selection (never test)
    ema: bool = True
    ema_rate: float = 0.999
    seed: int = 0
    # hardware
    device: str = "auto"  # auto | cpu | cuda
    bf16: bool = True  # bf16 compute on CUDA, as the reference: weights cast at each use (not CPU)
    compile: bool = False  # torch.compile the train step (hartflow/grid/compiled.py)
    log_every: int = 10  # steps between log.jsonl lines
    plot: bool = True  # draw curves.png (matplotlib; a few seconds per drawing)
    tensorboard: str | None = None  # also write log.jsonl's scalars as TensorBoard events here
    keep_checkpoints: int = 2  # most recent kept (plus the best on validation)

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        for name in ("lr", "weight_decay", "puzzle_emb_lr", "puzzle_emb_weight_decay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        checks = {
            "global_batch": (self.global_batch >= 1, "TRM uses 768"),
            "epochs": (self.epochs > 0, "e.g. 50000"),
            "eval_interval": (0 < self.eval_interval <= self.epochs, "at most epochs"),
            "lr_warmup_steps": (self.lr_warmup_steps >= 0, "TRM uses 2000"),
            "lr_min_ratio": (0 <= self.lr_min_ratio <= 1, "1.0 = constant"),
            "ema_rate": (0 <= self.ema_rate < 1, "TRM uses 0.999"),
            "epochs_per_pass": (self.epochs_per_pass >= 1, "1 is fine"),
            "validation_groups": (self.validation_groups >= 0, "0 = no validation split"),
            "log_every": (self.log_every >= 1, "e.g. 10"),
            "keep_checkpoints": (self.keep_checkpoints >= 1, "e.g. 2"),
        }
        for name, (ok, hint) in checks.items():
            if not ok:
                raise ValueError(f"{name} has an invalid value {getattr(self, name)!r} ({hint})")
        for name in ("max_steps", "eval_batch", "eval_limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {value}")
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"minutes must be > 0 or None, got {self.minutes}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


_RECIPE = {"lr": 1e-4, "lr_warmup_steps": 2000, "global_batch": 768, "ema_rate": 0.999}
PRESETS: dict[str, dict[str, Any]] = {
    "sudoku": {**_RECIPE, "weight_decay": 1.0, "puzzle_emb_lr": 1e-4,
               "puzzle_emb_weight_decay": 1.0, "epochs": 50000, "eval_interval": 5000},
    "maze": {**_RECIPE, "weight_decay": 1.0, "puzzle_emb_lr": 1e-4,
             "puzzle_emb_weight_decay": 1.0, "epochs": 50000, "eval_interval": 5000},
    "arc": {**_RECIPE, "weight_decay": 0.1, "puzzle_emb_lr": 1e-2,
            "puzzle_emb_weight_decay": 0.1, "epochs": 100000, "eval_interval": 10000},
    "tiny": {"lr": 1e-3, "lr_warmup_steps": 20, "weight_decay": 0.1, "puzzle_emb_lr": 1e-2,
             "puzzle_emb_weight_decay": 0.1, "global_batch": 32, "epochs": 200,
             "eval_interval": 50, "ema_rate": 0.99},
}  # fmt: skip
HRM_OVERRIDES = {"sudoku": {"epochs": 20000, "eval_interval": 2000, "ema": False},
                 "maze": {"epochs": 20000, "eval_interval": 2000, "ema": False}}  # fmt: skip


def train_config(preset: str, *, arch: str = "trm-mlp", **overrides: Any) -> TrainConfig:
    """The paper recipe `preset` for `arch`, with `overrides` applied last."""
    if preset not in PRESETS:
        raise HartFlowError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    fields = {**PRESETS[preset], **(HRM_OVERRIDES.get(preset, {}) if arch == "hrm" else {})}
    try:
        return TrainConfig(arch=arch, preset=preset, **{**fields, **overrides})
    except (TypeError, ValueError) as e:
        raise HartFlowError(f"bad training config: {e}") from None


def load_config_file(path: str | Path, **overrides: Any) -> TrainConfig:
    """A JSON file of TrainConfig fields (e.g. a run's config.json); `preset` in it selects the
    base recipe, the file's other fields and then `overrides` apply on top."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise HartFlowError(f"cannot read config {path}: {e}; pass a JSON object") from None
    if not isinstance(raw, dict):
        raise HartFlowError(f"config {path} must hold a JSON object of TrainConfig fields")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise HartFlowError(f"config {path} has unknown fields {unknown}; known: {sorted(known)}")
    merged = {**raw, **{k: v for k, v in overrides.items() if v is not None}}
    preset = merged.pop("preset", "tiny")
    arch = merged.pop("arch", "trm-mlp")
    return train_config(preset, arch=arch, **merged)


def resolve_config(
    *,
    arch: str,
    preset: str | None,
    config: str | Path | None,
    data: str | Path,
    out: str | Path,
    **overrides: Any,
) -> TrainConfig:
    """The CLI's config: `--config FILE` (its own arch/preset) or `--preset NAME` for `arch`,
    then `data`, `out` and the non-None `overrides`."""
    if (preset is None) == (config is None):
        raise HartFlowError("give exactly one of --preset NAME or --config FILE")
    given = {k: v for k, v in overrides.items() if v is not None}
    given.update(data=str(data), out=str(out))
    if config is not None:
        return load_config_file(config, **given)
    return train_config(preset, arch=arch, **given)
