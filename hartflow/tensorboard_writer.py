"""TensorBoard scalars beside a run's log.jsonl (`--tensorboard DIR` on `hartflow train` and
`hartflow grid train`).

Needs the optional `tensorboard` package (`pip install 'hartflow[tensorboard]'`); asking for it
without the package raises a HartFlowError whose one line says how to install it.

Each log record becomes scalars at its `step`: top-level numbers as `<kind>/<key>` (kind "train"
when the record has none), nested dicts (an evaluation's `test`, `validation`) as
`<kind>/<part>/<key>`. `steps_per_s` is added from consecutive records of a kind when the record
lacks it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hartflow.errors import HartFlowError

__all__ = ["INSTALL_HINT", "ScalarWriter", "require_tensorboard"]

INSTALL_HINT = (
    "--tensorboard needs the tensorboard package, which is not installed; "
    "pip install 'hartflow[tensorboard]' (or pip install tensorboard)"
)
SKIP = {"step", "kind", "batch", "total_steps"}  # counters, not curves


def require_tensorboard() -> None:
    """Raise HartFlowError(INSTALL_HINT) unless `tensorboard` can be imported."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise HartFlowError(INSTALL_HINT) from None


def _scalars(record: dict[str, Any], prefix: str = "") -> list[tuple[str, float]]:
    out = []
    for key, value in record.items():
        if key in SKIP or isinstance(value, bool):
            continue
        if isinstance(value, dict):
            out += _scalars(value, f"{prefix}{key}/")
        elif isinstance(value, int | float):
            out.append((f"{prefix}{key}", float(value)))
    return out


class ScalarWriter:
    """Writes log records as TensorBoard scalars into `logdir` (one events file per run)."""

    def __init__(self, logdir: str | Path):
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.logdir = Path(logdir)
        self.writer = SummaryWriter(log_dir=str(self.logdir))
        self._last: dict[str, tuple[float, float]] = {}  # kind -> (step, seconds)

    def write(self, record: dict[str, Any]) -> None:
        kind = str(record.get("kind", "train"))
        step = int(record["step"])
        scalars = _scalars(record)
        if "steps_per_s" not in record and "seconds" in record:
            last = self._last.get(kind)
            if last is not None and record["seconds"] > last[1]:
                scalars.append(("steps_per_s", (step - last[0]) / (record["seconds"] - last[1])))
            self._last[kind] = (step, float(record["seconds"]))
        for key, value in scalars:
            self.writer.add_scalar(f"{kind}/{key}", value, step)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
