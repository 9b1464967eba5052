"""What every benchmark shares: timing, a description of the machine, and writing results."""

from __future__ import annotations

import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from hartflow.atomic import write_json

RESULTS = Path(__file__).resolve().parent / "results"


def seconds_per_call(fn: Callable[[], object], *, min_time: float = 0.2, repeats: int = 5) -> float:
    """Median over `repeats` of the mean time of `fn()`, each repeat lasting >= `min_time`.

    One warm-up call first; the inner loop count is fixed from it so fast calls are averaged.
    """
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    inner = max(1, int(min_time / once))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """The machine and software a result was measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchhd": _version("torch-hd"),
        "faiss": _version("faiss-cpu"),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def save(name: str, result: dict[str, Any], out_dir: Path | None = None) -> Path:
    """Write `result` to `<out_dir>/<name>.json` atomically (default: benchmarks/results)."""
    return write_json((out_dir or RESULTS) / f"{name}.json", result)


def finish(name: str, result: dict[str, Any], out_dir: Path | None, table: Any) -> dict[str, Any]:
    """Save the result, print its table and summary; return the result."""
    path = save(name, result, out_dir)
    console = Console()
    console.print(table)
    if "summary" in result:
        console.print(f"summary: {result['summary']}")
    console.print(f"wrote {path}")
    return result


class PeakRSS:
    """Peak growth of resident memory inside a `with` block (bytes; None off Linux)."""

    def __init__(self) -> None:
        self.path = Path(f"/proc/{os.getpid()}/statm")
        self.peak: int | None = None

    def _rss(self) -> int:
        return int(self.path.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self) -> PeakRSS:
        if not self.path.exists():
            return self
        self._base = self.peak = self._rss()
        self._stop = threading.Event()

        def sample() -> None:
            while not self._stop.is_set():
                self.peak = max(self.peak, self._rss())
                time.sleep(0.001)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.peak is not None:
            self._stop.set()
            self._thread.join()
            self.peak -= self._base
