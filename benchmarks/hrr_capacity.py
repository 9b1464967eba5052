"""Capacity of HRR traces: measured cleanup accuracy beside the analytic prediction.

    python -m benchmarks.hrr_capacity            # writes hrr_capacity.json and hrr_capacity.png

Part 1, role–filler pairs. A trace superposes k pairs `r_j ⊛ f_j` (unitary roles, fillers drawn
without replacement from a codebook of N = 1000 random vectors). Every role is unbound and cleaned
up against the codebook (argmax cosine). The accuracy over all unbinds is compared with
`hrr.prob_correct(d, k, N)`; the band is the 99 % binomial interval of that prediction for the
number of unbinds measured, so a point outside it means the model is off, not that it was unlucky.

Part 2, 48-token sequences. `hrr.encode_sequence` of random tokens from a vocabulary of N symbols,
decoded by `hrr.decode_sequence` with and without explaining away; we report the smallest d whose
measured token accuracy is >= 99.9 %.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib
import torch
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

import hrr
from benchmarks.common import RESULTS, finish, machine

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the backend

Z99 = 2.5758  # two-sided 99 % normal quantile


def role_filler_cell(d: int, k: int, n_items: int, unbinds: int, seed: int) -> dict:
    """Measure one (d, k) cell with about `unbinds` unbind+cleanup trials."""
    g = torch.Generator().manual_seed(seed)
    traces = max(1, math.ceil(unbinds / k))
    codebook = hrr.Vocabulary(d, [f"f{i}" for i in range(n_items)], seed=seed)
    roles = hrr.random_unitary((traces, k), d, generator=g)  # (T, k, d)
    picks = torch.rand(traces, n_items, generator=g).argsort(dim=-1)[:, :k]  # (T, k) distinct
    trace = hrr.bind(roles, codebook.vectors[picks]).sum(dim=1)  # (T, d)
    found = codebook.cleanup(hrr.unbind(trace.unsqueeze(1), roles))  # (T, k, d) -> one GEMM
    n = traces * k
    correct = int((found.indices[..., 0] == picks).sum())
    p = hrr.prob_correct(d, k, n_items)
    half = Z99 * math.sqrt(max(p * (1 - p), 0.25 / n) / n)  # never narrower than one error
    measured = correct / n
    return {
        "d": d,
        "k": k,
        "unbinds": n,
        "measured": measured,
        "predicted": p,
        "band": [max(0.0, p - half), min(1.0, p + half)],
        "inside": abs(measured - p) <= half,
    }


def sequence_row(d: int, n_items: int, length: int, sequences: int, seed: int) -> dict:
    """Token accuracy of `sequences` random sequences of `length` tokens at dimension d."""
    g = torch.Generator().manual_seed(seed)
    vocab = hrr.Vocabulary(d, [f"t{i}" for i in range(n_items)], seed=seed)
    ids = torch.randint(n_items, (sequences, length), generator=g)
    position = hrr.position_vector(d, seed=seed)
    traces = hrr.sequence.encode_ids(ids, vocab.vectors, position)
    row = {"d": d, "n_items": n_items, "tokens": sequences * length}
    for name, explain in (("plain", False), ("explain_away", True)):
        found = hrr.decode_sequence(traces, length, vocab, position=position, explain_away=explain)
        row[name] = float((found.indices[..., 0] == ids).float().mean())
    row["predicted_plain"] = hrr.prob_correct(d, length, n_items)
    return row


def run(
    dims: list[int],
    ks: list[int],
    seq_dims: list[int],
    *,
    n_items: int = 1000,
    seq_items: tuple[int, ...] = (100, 1000),
    length: int = 48,
    unbinds: int = 6000,
    sequences: int = 400,
) -> dict:
    cells, seq_rows = [], []
    total = len(dims) * len(ks) + len(seq_dims) * len(seq_items)
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("capacity", total=total)
        for d in dims:
            for k in ks:
                bar.update(task, description=f"pairs d={d} k={k}")
                cells.append(role_filler_cell(d, k, n_items, unbinds, seed=d * 1000 + k))
                bar.advance(task)
        for items in seq_items:
            for d in seq_dims:
                bar.update(task, description=f"sequence d={d} N={items}")
                seq_rows.append(sequence_row(d, items, length, sequences, seed=d + items))
                bar.advance(task)
    smallest = {}
    for items in seq_items:
        for mode in ("plain", "explain_away"):
            ok = [r["d"] for r in seq_rows if r["n_items"] == items and r[mode] >= 0.999]
            smallest[f"N={items},{mode}"] = min(ok, default=None)
    return {
        "benchmark": "hrr_capacity",
        "machine": machine(),
        "role_filler": {"n_items": n_items, "roles": "unitary", "cells": cells},
        "sequence": {"length": length, "sequences_per_row": sequences, "rows": seq_rows},
        "planner": [
            {
                "d": d,
                "capacity_1pct": hrr.capacity(d, n_items, 0.01),
                "plate_k_1pct": math.floor(d / (3.16 * math.log(n_items / 0.01**3)) + 0.25),
            }
            for d in dims
        ],
        "summary": {
            "cells_inside_band": sum(c["inside"] for c in cells),
            "cells": len(cells),
            "smallest_d_48_tokens_999": smallest,
        },
    }


def plot(result: dict, path: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    cells = result["role_filler"]["cells"]
    for i, d in enumerate(sorted({c["d"] for c in cells})):
        rows = sorted((c for c in cells if c["d"] == d), key=lambda c: c["k"])
        ks = [c["k"] for c in rows]
        color = f"C{i}"
        left.fill_between(
            ks, [c["band"][0] for c in rows], [c["band"][1] for c in rows], color=color, alpha=0.2
        )
        left.plot(ks, [c["predicted"] for c in rows], "-", color=color, lw=1)
        left.plot(ks, [c["measured"] for c in rows], "o", color=color, ms=4, label=f"d={d}")
    n = result["role_filler"]["n_items"]
    left.set(
        xlabel="k bound pairs in the trace",
        ylabel="cleanup accuracy",
        title=f"role–filler cleanup, N={n}: measured (dots), predicted ± 99% band",
    )
    left.legend()
    rows = result["sequence"]["rows"]
    for i, items in enumerate(sorted({r["n_items"] for r in rows})):
        sub = sorted((r for r in rows if r["n_items"] == items), key=lambda r: r["d"])
        ds = [r["d"] for r in sub]
        right.plot(ds, [r["predicted_plain"] for r in sub], "-", color=f"C{i}", lw=1)
        right.plot(ds, [r["plain"] for r in sub], "o", color=f"C{i}", label=f"N={items} plain")
        right.plot(ds, [r["explain_away"] for r in sub], "s--", color=f"C{i}", mfc="none",
                   label=f"N={items} explain-away")  # fmt: skip
    right.axhline(0.999, color="k", lw=0.8, ls=":", label="99.9 %")
    length = result["sequence"]["length"]
    right.set(
        xlabel="d",
        ylabel="token accuracy",
        title=f"{length}-token sequences (line: prediction, plain)",
        ylim=(0.9, 1.001),
    )
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def table(result: dict) -> Table:
    t = Table(title="48-token sequences: token accuracy")
    for col in ("N", "d", "plain", "predicted", "explain-away"):
        t.add_column(col, justify="right")
    for r in result["sequence"]["rows"]:
        t.add_row(
            str(r["n_items"]),
            str(r["d"]),
            f"{r['plain']:.4f}",
            f"{r['predicted_plain']:.4f}",
            f"{r['explain_away']:.4f}",
        )
    return t


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dims", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096])
    p.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8, 16, 24, 32, 48, 64])
    p.add_argument(
        "--seq-dims", type=int, nargs="+", default=[512, 768, 1024, 1280, 1536, 2048, 2560, 3072]
    )
    p.add_argument("--unbinds", type=int, default=6000, help="unbinds per (d, k) cell")
    p.add_argument("--sequences", type=int, default=400, help="sequences per d")
    p.add_argument("--out", type=Path, default=None, help="folder for the JSON and PNG")
    args = p.parse_args(argv)
    result = run(args.dims, args.ks, args.seq_dims, unbinds=args.unbinds, sequences=args.sequences)
    out = args.out or RESULTS
    out.mkdir(parents=True, exist_ok=True)
    result["plot"] = plot(result, out / "hrr_capacity.png").name
    return finish("hrr_capacity", result, out, table(result))


if __name__ == "__main__":
    main()
