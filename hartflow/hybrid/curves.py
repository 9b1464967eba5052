"""The training curve PNG (loss and exact accuracy against optimizer steps) from log.jsonl."""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def plot_curve(log_path: str | Path, png: str | Path) -> Path | None:
    """Plot loss and training exact match against steps; None if there is nothing to plot."""
    log_path = Path(log_path)
    if not log_path.is_file():
        return None
    rows = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    if not rows:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # an optional extra (pip install hartflow[bench])
        log.warning("matplotlib is not installed; no training curve PNG")
        return None

    steps = [r["step"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, [r["loss"] for r in rows], color="tab:red", label="loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss", color="tab:red")
    ax.set_yscale("log")
    ax2 = ax.twinx()
    ax2.plot(steps, [r["exact"] for r in rows], color="tab:blue", label="exact (train)")
    ax2.set_ylabel("exact match (train batches)", color="tab:blue")
    ax2.set_ylim(0, 1.02)
    ax.set_title(log_path.parent.name)
    fig.tight_layout()
    png = Path(png)
    tmp = png.with_name(f".{png.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(png)
    return png
