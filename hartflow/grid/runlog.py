"""A training run's log: one JSON object per line (log.jsonl) and the curves drawn from it;
optionally the same scalars as TensorBoard events (`tensorboard=DIR`, hartflow.tensorboard_writer).

curves.png (matplotlib, an optional dependency: `pip install matplotlib`, or the `bench` extra):
train loss and exact accuracy of the rows halting at each step, mean halting steps, and the
exact accuracy of every evaluation (validation and test).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from hartflow.atomic import write_bytes

__all__ = ["RunLog", "read_log", "plot_curves"]

log = logging.getLogger(__name__)


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The records of a log.jsonl (a torn last line, from a crash, is skipped)."""
    records = []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


class RunLog:
    """Appends records to `<out>/log.jsonl` (main rank only) and draws `<out>/curves.png`."""

    def __init__(
        self,
        out: str | Path,
        *,
        enabled: bool = True,
        plot: bool = True,
        plot_every_s: float = 120,
        tensorboard: str | Path | None = None,
    ):
        self.out, self.enabled, self.draw = Path(out), enabled, plot
        self.plot_every_s, self.last_plot = plot_every_s, time.monotonic()
        self.path = self.out / "log.jsonl"
        self.tensorboard = None
        if enabled:
            self.out.mkdir(parents=True, exist_ok=True)
            if tensorboard is not None:
                from hartflow.tensorboard_writer import ScalarWriter

                self.tensorboard = ScalarWriter(tensorboard)

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tensorboard is not None:
            self.tensorboard.write(record)

    def close(self) -> None:
        """Flush and close the TensorBoard events file (log.jsonl is closed after each line)."""
        if self.tensorboard is not None:
            self.tensorboard.close()
            self.tensorboard = None

    def truncate(self, step: int) -> None:
        """Drop the records after `step` (a resumed run rewrites them)."""
        if not self.enabled or not self.path.exists():
            return
        kept = [r for r in read_log(self.path) if r.get("step", 0) <= step]
        write_bytes(self.path, "".join(json.dumps(r) + "\n" for r in kept).encode())

    def plot(self, *, force: bool = True) -> Path | None:
        """Redraw curves.png (drawing costs seconds: unless `force`, at most every
        `plot_every_s`)."""
        if not (self.enabled and self.draw) or (
            not force and time.monotonic() - self.last_plot < self.plot_every_s
        ):
            return None
        self.last_plot = time.monotonic()
        return plot_curves(self.path, self.out / "curves.png")


def plot_curves(log_path: str | Path, png: str | Path) -> Path | None:
    """Draw the curves of a log.jsonl into `png`; None (and a warning) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("curves.png skipped: matplotlib is not installed (pip install matplotlib)")
        return None
    records = read_log(log_path)
    train = [r for r in records if r.get("kind") == "train"]
    evals = [r for r in records if r.get("kind") == "eval"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    steps = [r["step"] for r in train]
    axes[0].plot(steps, [r["loss"] for r in train], lw=1)
    axes[0].set(title="train loss per row (lm)", xlabel="step", yscale="log")
    axes[1].plot(steps, [r["exact"] for r in train], lw=1, label="train (halted rows)")
    axes[1].plot(steps, [r["accuracy"] for r in train], "C0--", lw=1)
    for part, colour in (("validation", "C1"), ("test", "C2")):
        pts = [(r["step"], r[part]["exact"], r[part]["cell_accuracy"]) for r in evals if part in r]
        if pts:
            x, exact, cells = zip(*pts, strict=True)
            axes[1].plot(x, exact, "o-", color=colour, ms=3, label=part)
            axes[1].plot(x, cells, "o--", color=colour, ms=3)
    axes[1].set(title="accuracy (exact solid, cells dashed)", xlabel="step", ylim=(-0.02, 1.02))
    axes[1].legend(fontsize=8)
    axes[2].plot(steps, [r["halt_steps"] for r in train], lw=1, label="train")
    pts = [(r["step"], r["test"]["halt_steps"]) for r in evals if "test" in r]
    if pts:
        axes[2].plot(*zip(*pts, strict=True), "o-", ms=3, label="test")
    axes[2].set(title="mean halting step", xlabel="step")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return write_bytes(png, buf.getvalue())
