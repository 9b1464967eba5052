"""Bind and unbind throughput: HartFlow's `hrr` against torchhd's HRR, same tensors, same process.

    python -m benchmarks.hrr_ops                 # full grid, writes benchmarks/results/hrr_ops.json
    python -m benchmarks.hrr_ops --dims 256 --batches 1 10 --out /tmp/x   # a quick look

Ops, each on a batch of B vectors of dimension d (throughput = vectors per second):
- bind:            hrr.bind(a, b)                       vs torchhd.bind(a, b)
- unbind:          hrr.unbind(c, b)                     vs torchhd.bind(c, torchhd.inverse(b))
- unbind_role:     c unbound by one fixed role whose spectrum HartFlow caches
                   (hrr.bind_spectrum(c, spectrum(role).conj()))  vs torchhd.bind(c, inverse(role))
Both sides compute the same vectors; the largest absolute difference is recorded per row.
Targets (issue 2): ratio >= 1.0 on every row, >= 3.0 on the batched rows (B > 1).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

import hrr
from benchmarks.common import finish, machine, seconds_per_call

try:
    import torchhd
except ImportError:  # the bench extra is optional
    torchhd = None


def _pairs(a: torch.Tensor, b: torch.Tensor) -> dict[str, tuple]:
    """Per op: (ours, torchhd's), two zero-argument callables computing the same vectors."""
    ta, tb = a.as_subclass(torchhd.HRRTensor), b.as_subclass(torchhd.HRRTensor)
    role = b[0]
    t_role = role.as_subclass(torchhd.HRRTensor)
    role_spec = hrr.spectrum(role).conj()  # cached once, as an encoder caches its roles
    return {
        "bind": (lambda: hrr.bind(a, b), lambda: torchhd.bind(ta, tb)),
        "unbind": (lambda: hrr.unbind(a, b), lambda: torchhd.bind(ta, torchhd.inverse(tb))),
        "unbind_role": (
            lambda: hrr.bind_spectrum(a, role_spec),
            lambda: torchhd.bind(ta, torchhd.inverse(t_role)),
        ),
    }


def run(dims: list[int], batches: list[int], *, min_time: float = 0.2, repeats: int = 5) -> dict:
    """Measure every (d, batch, op) row; returns the JSON-ready result."""
    if torchhd is None:
        raise SystemExit(
            "torchhd is missing: pip install -e '.[bench]' (the peer we measure against)"
        )
    rows = []
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("hrr_ops", total=len(dims) * len(batches))
        for d in dims:
            for batch in batches:
                bar.update(task, description=f"d={d} batch={batch}")
                a, b = hrr.random((2, batch), d, seed=d * 7919 + batch)
                for op, (ours, theirs) in _pairs(a, b).items():
                    with torch.no_grad():
                        diff = float((ours() - theirs().as_subclass(torch.Tensor)).abs().max())
                        t_ours = seconds_per_call(ours, min_time=min_time, repeats=repeats)
                        t_theirs = seconds_per_call(theirs, min_time=min_time, repeats=repeats)
                    rows.append(
                        {
                            "op": op,
                            "d": d,
                            "batch": batch,
                            "hartflow_vectors_per_s": batch / t_ours,
                            "torchhd_vectors_per_s": batch / t_theirs,
                            "ratio": t_theirs / t_ours,
                            "max_abs_diff": diff,
                        }
                    )
                del a, b
                bar.advance(task)
    single = [r["ratio"] for r in rows if r["batch"] == 1]
    batched = [r["ratio"] for r in rows if r["batch"] > 1]
    return {
        "benchmark": "hrr_ops",
        "machine": machine(),
        "rows": rows,
        "summary": {
            "min_ratio": min(r["ratio"] for r in rows),
            "min_ratio_single": min(single, default=None),
            "min_ratio_batched": min(batched, default=None),
            "target": ">= 1.0x torchhd on every row, >= 3.0x on batched rows",
            "met": all(r >= 1.0 for r in single) and all(r >= 3.0 for r in batched),
        },
    }


def table(result: dict) -> Table:
    t = Table(title="hrr_ops: vectors/s, HartFlow vs torchhd (same tensors, same process)")
    for col in ("op", "d", "batch", "HartFlow", "torchhd", "ratio", "max |diff|"):
        t.add_column(col, justify="left" if col == "op" else "right")
    for r in result["rows"]:
        t.add_row(
            r["op"],
            str(r["d"]),
            str(r["batch"]),
            f"{r['hartflow_vectors_per_s']:.3g}",
            f"{r['torchhd_vectors_per_s']:.3g}",
            f"{r['ratio']:.2f}x",
            f"{r['max_abs_diff']:.1e}",
        )
    return t


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dims", type=int, nargs="+", default=[256, 1024, 4096])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 1000, 100_000])
    p.add_argument("--min-time", type=float, default=0.2, help="seconds per timing repeat")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=None, help="folder for hrr_ops.json")
    args = p.parse_args(argv)
    result = run(args.dims, args.batches, min_time=args.min_time, repeats=args.repeats)
    return finish("hrr_ops", result, args.out, table(result))


if __name__ == "__main__":
    main()
