"""Named configurations of the grid models and the model factory.

grid_config("trm-mlp", "sudoku")            the paper's best Sudoku model (5.03 M)
grid_config("trm-att", "arc", num_puzzle_identifiers=n)
grid_config("hrm", "tiny", vocab_size=7, seq_len=16)   a CPU-sized model for 4x4 Sudoku
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from reasoner.grid_model import GridModelConfig, GridReasoner
from reasoner.hrm import HRM, HRMConfig
from reasoner.trm import TRM, TRMConfig

ARCHS = ("trm-mlp", "trm-att", "hrm")
PRESETS = ("sudoku", "maze", "arc", "tiny")

# Task shapes and recursion depth (TRM README commands; HRM keeps N = T = 2 everywhere).
_TASKS: dict[str, dict[str, Any]] = {
    "sudoku": {"vocab_size": 11, "seq_len": 81},
    "maze": {"vocab_size": 6, "seq_len": 900},
    "arc": {"vocab_size": 12, "seq_len": 900},
    "tiny": {"vocab_size": 11, "seq_len": 81},
}
_TRM_DEPTH = {
    "sudoku": {"n_cycles": 3, "n_latent_steps": 6},
    "maze": {"n_cycles": 3, "n_latent_steps": 4},
    "arc": {"n_cycles": 3, "n_latent_steps": 4},
    "tiny": {"n_cycles": 2, "n_latent_steps": 2},
}
# CPU-sized: 2-core smoke runs and the 4x4 / 6x6 Sudoku learning targets.
_TINY = {"hidden_size": 64, "n_heads": 2, "puzzle_emb_len": 1, "max_halt_steps": 8}
_TINY_HRM = {**_TINY, "puzzle_emb_len": None, "high_layers": 2, "low_layers": 2}

MODELS: dict[type, type[GridReasoner]] = {TRMConfig: TRM, HRMConfig: HRM}
ARCH_OF: dict[type, str] = {TRMConfig: "trm", HRMConfig: "hrm"}


def grid_config(arch: str, preset: str, **overrides: Any) -> TRMConfig | HRMConfig:
    """The configuration of `arch` at `preset`, with `overrides` (config field names) applied.

    Raises:
        ValueError: unknown arch, preset or field (the message lists the valid ones).
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
    if arch == "hrm":
        cls, fields = HRMConfig, {**_TASKS[preset], **(_TINY_HRM if preset == "tiny" else {})}
    else:
        mixer = {"mixer": "mlp", "pos_encoding": "none"} if arch == "trm-mlp" else {}
        tiny = _TINY if preset == "tiny" else {}
        cls, fields = TRMConfig, {**_TASKS[preset], **_TRM_DEPTH[preset], **mixer, **tiny}
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; valid: {sorted(valid)}")
    return cls(**{**fields, **overrides})


def build_model(cfg: GridModelConfig, **kwargs: Any) -> GridReasoner:
    """The model for `cfg` (TRM for a TRMConfig, HRM for an HRMConfig); kwargs go to it."""
    try:
        model_cls = MODELS[type(cfg)]
    except KeyError:
        raise ValueError(f"no model for {type(cfg).__name__}; use TRMConfig or HRMConfig") from None
    return model_cls(cfg, **kwargs)


def count_parameters(model: nn.Module) -> int:
    """Dense parameter count (the sparse puzzle-embedding table excluded, as in the papers)."""
    params = model.dense_parameters() if hasattr(model, "dense_parameters") else model.parameters()
    return sum(p.numel() for p in params)


def config_to_dict(cfg: GridModelConfig) -> dict[str, Any]:
    """A JSON-safe dict with the model kind ("trm" / "hrm") under "model"."""
    return {"model": ARCH_OF[type(cfg)], **dataclasses.asdict(cfg)}


def config_from_dict(data: dict[str, Any]) -> TRMConfig | HRMConfig:
    """The inverse of `config_to_dict`."""
    data = dict(data)
    kind = data.pop("model", None)
    classes = {v: k for k, v in ARCH_OF.items()}
    if kind not in classes:
        raise ValueError(f"config 'model' must be one of {sorted(classes)}, got {kind!r}")
    cls = classes[kind]
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - valid)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; valid: {sorted(valid)}")
    return cls(**data)
