"""Building grid models for a data set, and saving / restoring the ACT carry of a run."""

from __future__ import annotations

from typing import Any

import torch

from hartflow.errors import HartFlowError
from hartflow.grid.loader import GridData

__all__ = ["build_grid_model", "parameter_count", "data_overrides", "check_data_fits",
           "resolve_device", "carry_tensors", "restore_carry"]  # fmt: skip


def resolve_device(device: str) -> torch.device:
    """auto → CUDA when visible, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise HartFlowError("device cuda requested but no CUDA GPU is visible; use --device cpu")
    return torch.device(device)


def data_overrides(data: GridData) -> dict[str, Any]:
    """The model-config fields that the data set fixes."""
    return {
        "vocab_size": int(data.meta["vocab_size"]),
        "seq_len": int(data.meta["seq_len"]),
        "num_puzzle_identifiers": int(data.meta["num_puzzle_identifiers"]),
    }


def build_grid_model(
    arch: str, preset: str, overrides: dict[str, Any], *, seed: int = 0
) -> torch.nn.Module:
    """reasoner's build_model(grid_config(arch, preset, **overrides)), initialised from `seed`."""
    from reasoner.presets import build_model, grid_config

    try:
        generator = torch.Generator().manual_seed(seed)
        return build_model(grid_config(arch, preset, **overrides), generator=generator)
    except (TypeError, ValueError) as e:
        raise HartFlowError(f"bad model config for {arch}/{preset}: {e}") from None


def parameter_count(arch: str, preset: str) -> int:
    """Dense parameters of the model `arch` at `preset` (the puzzle-embedding table excluded)."""
    from reasoner.presets import count_parameters

    return int(count_parameters(build_grid_model(arch, preset, {})))


def check_data_fits(config: dict[str, Any], data: GridData) -> None:
    """The data set has the vocabulary and sequence length the checkpoint was trained on."""
    want = {k: config["model_overrides"][k] for k in ("vocab_size", "seq_len")}
    have = {k: data_overrides(data)[k] for k in want}
    if want != have:
        raise HartFlowError(
            f"the data set has {have} but the checkpoint was trained with {want}; "
            "evaluate on data built like its training data"
        )


def carry_tensors(carry: Any) -> dict[str, torch.Tensor]:
    """The ACT carry (recurrent state, step counts, halted flags, rows in work) as named tensors."""
    out = {f"state.{k}": v for k, v in carry.state.items()}
    out.update({f"data.{k}": v for k, v in carry.data.items()})
    out.update(steps=carry.steps, halted=carry.halted)
    return out


def restore_carry(carry: Any, tensors: dict[str, torch.Tensor], device: torch.device) -> Any:
    """Fill a fresh carry (model.initial_carry) with what `carry_tensors` saved."""
    carry.state = {k: tensors[f"state.{k}"].to(device) for k in carry.state}
    carry.data = {k: tensors[f"data.{k}"].to(device) for k in carry.data}
    carry.steps, carry.halted = tensors["steps"].to(device), tensors["halted"].to(device)
    return carry
