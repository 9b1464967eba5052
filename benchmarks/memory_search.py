"""Top-k search throughput: `memory.Memory` (chunked exact search in torch) against FAISS
`IndexFlatIP`, on the same keys and queries in the same process.

    python -m benchmarks.memory_search     # N = 10k, 100k, 1M keys; d = 1024; 64-query batches
    python -m benchmarks.memory_search --sizes 10000 --batches 3 --out /tmp/x   # a quick look

Reports queries per second for both, the ratio (HartFlow / FAISS), whether the top-k indices are
identical on every query, and memory: the bytes each store holds, and the peak resident-memory
growth while searching (sampled every millisecond from /proc/self/statm, Linux only).
Target (issue 4): ratio >= 0.8 with identical top-k.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks.common import PeakRSS, finish, machine
from memory import Memory

try:
    import faiss
except ImportError:  # the bench extra is optional
    faiss = None


def _timed(search, batches: list[torch.Tensor]):
    with PeakRSS() as rss:
        start = time.perf_counter()
        results = [search(q) for q in batches]
        seconds = time.perf_counter() - start
    return seconds, results, rss.peak


def measure(n: int, *, d: int, batch: int, batches: int, k: int, seed: int) -> dict:
    """One row: both searches on the same N random keys and the same query batches."""
    g = torch.Generator().manual_seed(seed)
    keys = torch.randn(n, d, generator=g)
    queries = [torch.randn(batch, d, generator=g) for _ in range(batches)]
    ours = Memory(d)
    ours.add(keys)
    index = faiss.IndexFlatIP(d)
    index.add(keys.numpy())
    del keys  # the two stores hold their own copies now
    ours.search(queries[0], k)  # warm-up, both
    index.search(queries[0].numpy(), k)
    t_ours, r_ours, rss_ours = _timed(lambda q: ours.search(q, k)[1], queries)
    t_faiss, r_faiss, rss_faiss = _timed(
        lambda q: torch.from_numpy(index.search(q.numpy(), k)[1]), queries
    )
    return {
        "n_keys": n,
        "d": d,
        "batch": batch,
        "k": k,
        "queries": batch * batches,
        "hartflow_queries_per_s": batch * batches / t_ours,
        "faiss_queries_per_s": batch * batches / t_faiss,
        "ratio": t_faiss / t_ours,
        "identical_topk": all(
            torch.equal(a, b.long()) for a, b in zip(r_ours, r_faiss, strict=True)
        ),
        "store_bytes": {"hartflow": ours.keys.nbytes, "faiss": n * d * 4},
        "search_peak_rss_growth_bytes": {"hartflow": rss_ours, "faiss": rss_faiss},
        "hartflow_chunk_size": ours.chunk_size,
    }


def run(sizes: list[int], *, d: int = 1024, batch: int = 64, batches: int = 5, k: int = 10) -> dict:
    if faiss is None:
        raise SystemExit("faiss is missing: pip install -e '.[bench]' (our peer here)")
    rows = []
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("memory_search", total=len(sizes))
        for n in sizes:
            bar.update(task, description=f"N={n:,}")
            rows.append(measure(n, d=d, batch=batch, batches=batches, k=k, seed=n))
            bar.advance(task)
    return {
        "benchmark": "memory_search",
        "machine": machine(),
        "rows": rows,
        "summary": {
            "min_ratio": min(r["ratio"] for r in rows),
            "all_identical": all(r["identical_topk"] for r in rows),
            "target": ">= 0.8x FAISS IndexFlatIP throughput with identical top-k",
            "met": all(r["ratio"] >= 0.8 and r["identical_topk"] for r in rows),
        },
    }


def table(result: dict) -> Table:
    t = Table(title="memory_search: queries/s, HartFlow Memory vs FAISS IndexFlatIP")
    for col in ("N", "HartFlow", "FAISS", "ratio", "same top-k", "peak RSS growth (MB) H / F"):
        t.add_column(col, justify="right")
    for r in result["rows"]:
        peak = r["search_peak_rss_growth_bytes"]
        mb = " / ".join("-" if v is None else f"{v / 2**20:.0f}" for v in peak.values())
        t.add_row(
            f"{r['n_keys']:,}",
            f"{r['hartflow_queries_per_s']:.0f}",
            f"{r['faiss_queries_per_s']:.0f}",
            f"{r['ratio']:.2f}x",
            "yes" if r["identical_topk"] else "NO",
            mb,
        )
    return t


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--dim", type=int, default=1024)
    p.add_argument("--batches", type=int, default=5, help="64-query batches timed per size")
    p.add_argument("--out", type=Path, default=None, help="folder for memory_search.json")
    args = p.parse_args(argv)
    result = run(args.sizes, d=args.dim, batches=args.batches)
    return finish("memory_search", result, args.out, table(result))


if __name__ == "__main__":
    main()
