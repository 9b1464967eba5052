"""Checkpoints: a folder of safetensors + JSON, written atomically, loaded without pickles.

    <dir>/model.safetensors      the model's state dict (parameters and persistent buffers)
    <dir>/config.json            the resolved run configuration
    <dir>/optimizer.safetensors  every optimizer's tensors, keys "<name>/<n>"
    <dir>/optimizer.json         the rest of the optimizer state dicts (tensors by reference)
    <dir>/ema.safetensors        the EMA weights, when an EMA is given
    <dir>/extra.safetensors      any other tensors the caller passes (e.g. a recurrent carry)
    <dir>/state.json             step, epoch, RNG states, the caller's `state`, sha256 of every file

The folder is written under a temporary name next to `<dir>` and renamed into place, so a crash
mid-save leaves the previous checkpoint as it was. Overwriting an existing `<dir>` moves it to
`.<name>.old` first; if a crash falls between the two renames, `load_checkpoint` reads that copy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from hartflow.errors import HartFlowError

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "latest_checkpoint",
    "read_config",
    "generator_state",
    "set_generator_state",
    "rng_state",
    "set_rng_state",
]


# ----------------------------------------------------------------------------- RNG states
def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.cpu().numpy().tobytes()).decode()


def _unb64(s: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8).clone()


def generator_state(generator: torch.Generator) -> str:
    """A `torch.Generator`'s state as a JSON-safe string."""
    return _b64(generator.get_state())


def set_generator_state(generator: torch.Generator, state: str) -> None:
    """Restore what `generator_state` returned."""
    generator.set_state(_unb64(state))


def rng_state() -> dict[str, Any]:
    """The global RNG states of torch (CPU and, when initialised, CUDA), numpy and Python."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    out: dict[str, Any] = {
        "torch": _b64(torch.get_rng_state()),
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "python": [version, list(internal), gauss_next],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = [_b64(s) for s in torch.cuda.get_rng_state_all()]
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` returned."""
    torch.set_rng_state(_unb64(state["torch"]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, np.uint32), pos, has_gauss, cached))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_unb64(s) for s in state["cuda"]])


# ----------------------------------------------------------------------------- optimizer state
def _flatten(obj: Any, tensors: dict[str, torch.Tensor], prefix: str) -> Any:
    """JSON-safe copy of `obj`, moving tensors into `tensors` and leaving {"__tensor__": key}."""
    if isinstance(obj, torch.Tensor):
        key = f"{prefix}/{len(tensors)}"
        tensors[key] = obj.detach().cpu().clone().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        # JSON keys are strings: remember int keys (optimizer state is keyed by param index)
        return {
            "__dict__": [[k, _flatten(v, tensors, prefix)] for k, v in obj.items()],
        }
    if isinstance(obj, tuple):
        return {"__tuple__": [_flatten(v, tensors, prefix) for v in obj]}
    if isinstance(obj, list):
        return [_flatten(v, tensors, prefix) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise HartFlowError(
        f"cannot store a {type(obj).__name__} in optimizer state; use tensors, numbers or strings"
    )


def _unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
        return {k: _unflatten(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


# ----------------------------------------------------------------------------- save
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write(folder: Path, name: str, data: bytes, digests: dict[str, str]) -> None:
    with open(folder / name, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    digests[name] = hashlib.sha256(data).hexdigest()


def _tensors(sd: dict[str, Any]) -> dict[str, torch.Tensor]:
    # clone: safetensors refuses tensors that share storage (tied weights) or are views
    return {k: v.detach().cpu().clone().contiguous() for k, v in sd.items() if v is not None}


def save_checkpoint(
    directory: str | Path,
    *,
    model: torch.nn.Module,
    config: dict[str, Any],
    state: dict[str, Any],
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    ema: Any = None,
    tensors: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a checkpoint folder atomically (temp folder next to `directory`, then rename).

    Args:
        directory: the checkpoint folder to create or replace.
        model: its `state_dict()` goes to model.safetensors.
        config: JSON-safe run configuration (config.json).
        state: JSON-safe extras for state.json (step, epoch, generator states, ...).
        optimizers: named optimizers whose state dicts are stored (tensors + JSON).
        ema: an object with `state_dict()` of plain tensors (reasoner.ema.EMA).
        tensors: other named tensors to keep (extra.safetensors); `load_checkpoint` returns
            them as state["tensors"].

    Returns:
        The checkpoint folder.

    Raises:
        HartFlowError: the folder cannot be written, or `config`/`state` is not JSON-safe.
    """
    directory = Path(directory)
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(
            tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent)
        )
    except OSError as e:
        raise HartFlowError(f"cannot write checkpoint {directory}: {e.strerror or e}") from None
    try:
        digests: dict[str, str] = {}
        _write(tmp, "model.safetensors", st_save(_tensors(model.state_dict())), digests)
        if optimizers:
            opt_tensors: dict[str, torch.Tensor] = {}
            meta = {
                name: _flatten(opt.state_dict(), opt_tensors, name)
                for name, opt in optimizers.items()
            }
            _write(tmp, "optimizer.safetensors", st_save(opt_tensors), digests)
            _write(tmp, "optimizer.json", json.dumps(meta).encode(), digests)
        if ema is not None:
            _write(tmp, "ema.safetensors", st_save(_tensors(ema.state_dict())), digests)
        if tensors:
            _write(tmp, "extra.safetensors", st_save(_tensors(tensors)), digests)
        try:
            _write(tmp, "config.json", json.dumps(config, indent=2).encode(), digests)
            full = {**state, "rng": rng_state(), "files": digests}
            _write(tmp, "state.json", json.dumps(full, indent=2).encode(), {})
        except TypeError as e:
            raise HartFlowError(f"checkpoint config/state must be JSON-safe: {e}") from None
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give the usual folder mode
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            directory.rename(old)
            tmp.rename(directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(directory)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise HartFlowError(f"cannot write checkpoint {directory}: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


# ----------------------------------------------------------------------------- load
def _resolve(directory: Path) -> Path:
    if (directory / "state.json").is_file():
        return directory
    old = directory.with_name(f".{directory.name}.old")
    if (old / "state.json").is_file():  # a crash fell between the two renames of a save
        return old
    raise HartFlowError(
        f"no checkpoint at {directory} (state.json missing); pass a folder written by "
        "hartflow grid train (e.g. OUT/checkpoints/step_00001000)"
    )


def _read(folder: Path, name: str, digests: dict[str, str]) -> bytes:
    path = folder / name
    try:
        data = path.read_bytes()
    except OSError as e:
        raise HartFlowError(
            f"cannot read {path}: {e.strerror or e}; the checkpoint is incomplete"
        ) from None
    if name in digests and hashlib.sha256(data).hexdigest() != digests[name]:
        raise HartFlowError(
            f"{path} is corrupt (sha256 differs from state.json); use an earlier checkpoint"
        )
    return data


def _read_json(folder: Path, name: str, digests: dict[str, str]) -> Any:
    try:
        return json.loads(_read(folder, name, digests))
    except ValueError as e:
        raise HartFlowError(
            f"{folder / name} is corrupt ({e}); use an earlier checkpoint"
        ) from None


def _read_tensors(folder: Path, name: str, digests: dict[str, str]) -> dict[str, torch.Tensor]:
    try:
        return st_load(_read(folder, name, digests))
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise HartFlowError(
            f"{folder / name} is corrupt ({e}); use an earlier checkpoint"
        ) from None


def read_config(directory: str | Path) -> dict[str, Any]:
    """config.json of a checkpoint."""
    folder = _resolve(Path(directory))
    digests = _read_json(folder, "state.json", {}).get("files", {})
    return _read_json(folder, "config.json", digests)


def load_checkpoint(
    directory: str | Path,
    *,
    model: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    ema: Any = None,
    restore_rng: bool = True,
) -> dict[str, Any]:
    """Load a checkpoint into `model` (and optimizers, EMA, global RNG states).

    Returns:
        The saved state (step, epoch, the caller's extras), without the "rng" and "files" keys;
        with "tensors" when the checkpoint has extra tensors.

    Raises:
        HartFlowError: the folder or a file is missing, corrupt, or does not fit the model.
    """
    folder = _resolve(Path(directory))
    state = _read_json(folder, "state.json", {})
    digests = state.pop("files", {})
    rng = state.pop("rng", None)
    weights = _read_tensors(folder, "model.safetensors", digests)
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise HartFlowError(
            f"{folder / 'model.safetensors'} does not fit the model ({first}); "
            "build the model from the checkpoint's config.json"
        ) from None
    if optimizers:
        tensors = _read_tensors(folder, "optimizer.safetensors", digests)
        meta = _read_json(folder, "optimizer.json", digests)
        for name, opt in optimizers.items():
            if name not in meta:
                raise HartFlowError(
                    f"{folder / 'optimizer.json'} has no optimizer {name!r} (has {sorted(meta)})"
                )
            try:
                opt.load_state_dict(_unflatten(meta[name], tensors))
            except (ValueError, KeyError, RuntimeError) as e:
                raise HartFlowError(
                    f"optimizer {name!r} in {folder} does not fit ({e}); "
                    "resume with the same config"
                ) from None
    if ema is not None:
        ema.load_state_dict(_read_tensors(folder, "ema.safetensors", digests))
    if "extra.safetensors" in digests:
        state["tensors"] = _read_tensors(folder, "extra.safetensors", digests)
    if restore_rng and rng is not None:
        set_rng_state(rng)
    return state


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The checkpoint with the highest step under `out_dir` (or `out_dir/checkpoints`), else None.

    Temporary folders of an interrupted save (hidden names) are ignored.
    """
    out_dir = Path(out_dir)
    best: tuple[int, str] | None = None
    found: Path | None = None
    for parent in (out_dir, out_dir / "checkpoints"):
        if not parent.is_dir():
            continue
        for d in [parent, *sorted(parent.iterdir())]:
            if d.name.startswith(".") or not (d / "state.json").is_file():
                continue
            try:
                step = int(json.loads((d / "state.json").read_text()).get("step", 0))
            except (OSError, ValueError, TypeError):
                continue  # a corrupt state.json: not a usable checkpoint
            if best is None or (step, d.name) > best:
                best, found = (step, d.name), d
    return found
