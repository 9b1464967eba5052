"""Grid train-step speed: eager vs `torch.compile`, and how close each step runs to the machine's
matmul throughput.

For TRM-MLP, TRM-attention and HRM on 9×9 Sudoku (16 prefix slots + 81 cells), at hidden 128 and
at the preset width (512), batch 16 and 64, fp32 and bf16, it times the trainer's own train step
(`hartflow.grid.training._Run.train_step`: forward, ACT loss, backward, optimisers, EMA) eagerly
and compiled, alternating step by step in one process with the same weights and batches, and
reports medians and the compiled/eager ratio.

Roofline: one eager step is run under a dispatch mode that records every matmul (mm, addmm, bmm,
and attention as its two batched products per pass) with its shapes; the step's FLOPs are their
sum, and the same matmuls are replayed on their own between the timed steps (so the load of a
shared machine hits both alike). "matmul share" = replay time / step time = achieved FLOP/s as a
share of what plain matmuls of the same shapes reach here. bf16 on CPU means the model's
`forward_dtype="bfloat16"` (the trainer's bf16 flag switches autocast on CUDA only).

Usage:
    flock /tmp/hartflow-bench.lock python -m benchmarks.grid_speed --threads 2
    python -m benchmarks.grid_speed --quick            # the reduced set of the README
Writes benchmarks/results/grid_speed.json.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks.common import RESULTS, machine
from hartflow.atomic import write_json

ARCHS = ("trm-mlp", "trm-att", "hrm")
# the reduced set (≈ 13 min on 2 CPU cores): the targets' rows first
QUICK = [("trm-mlp", 128, 16, "fp32"), ("trm-att", 128, 16, "fp32"), ("trm-mlp", 128, 64, "fp32"),
         ("trm-att", 128, 64, "fp32"), ("trm-mlp", 128, 16, "bf16"), ("hrm", 128, 16, "fp32"),
         ("trm-mlp", 512, 16, "fp32"), ("trm-mlp", 512, 16, "bf16"), ("trm-att", 512, 16, "fp32")]
aten = torch.ops.aten


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


# --- data and runs --------------------------------------------------------------------------------
def sudoku_data(folder: Path, *, min_rating: int = 0, n: int = 80, seed: int = 0) -> Path:
    """A small 9×9 Sudoku set built on the spot (the shapes matter here, not the puzzles)."""
    from hartflow.grid.jobs import build_sudoku

    out = folder / f"s9-r{min_rating}-n{n}"
    if not (out / "train").exists():
        build_sudoku(out, generate=n, size=9, min_rating=min_rating, test_size=max(4, n // 10),
                     seed=seed)  # fmt: skip
    return out


def make_run(arch: str, hidden: int | None, batch: int, dtype: str, data: Path, out: Path,
             *, compile: bool, device: str = "cpu", seq_first: bool | None = None):  # fmt: skip
    """The trainer's `_Run` for one configuration (hidden None = the preset's 512); seq_first
    overrides the compiled step's layout (None = the trainer's choice)."""
    from hartflow.distributed import setup_distributed
    from hartflow.grid.loader import load_grid_data
    from hartflow.grid.train_config import train_config
    from hartflow.grid.training import _Run

    model: dict[str, Any] = {}
    if hidden is not None:
        model["hidden_size"] = hidden
    if dtype == "bf16" and device == "cpu":
        model["forward_dtype"] = "bfloat16"
    cfg = train_config("sudoku", arch=arch, model=model, data=str(data), out=str(out),
                       global_batch=batch, device=device, compile=compile, bf16=dtype == "bf16",
                       lr_warmup_steps=10, plot=False)  # fmt: skip
    ctx = setup_distributed(device=device)
    run = _Run(cfg, ctx, load_grid_data(data))
    if compile and seq_first is not None:
        from hartflow.grid.compiled import StepFunctions

        run.steps = StepFunctions(run.model, run.steps.eager_loss, enabled=True,
                                  compile_optimizer=device == "cuda",
                                  seq_first=seq_first)  # fmt: skip
    run.model.train()
    return run


def batches(data: Path, batch: int, seed: int = 0):
    from hartflow.grid.loader import load_grid_data, train_batches

    for _, _, b in train_batches(load_grid_data(data), global_batch=batch, seed=seed):
        yield b


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed_step(run, batch, device: str) -> float:
    sync(device)
    t = time.perf_counter()
    run.train_step(batch)
    sync(device)
    return time.perf_counter() - t


# --- matmul roofline ------------------------------------------------------------------------------
class MatmulRecorder(TorchDispatchMode):
    """Records each matmul's operand shapes and dtype (attention as its two bmm per pass)."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, tuple, tuple, torch.dtype]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = getattr(func, "overloadpacket", None)
        if packet in (aten.mm, aten.bmm):
            self.calls.append(("mm" if packet is aten.mm else "bmm", tuple(args[0].shape),
                               tuple(args[1].shape), args[0].dtype))  # fmt: skip
        elif packet is aten.addmm:
            self.calls.append(("mm", tuple(args[1].shape), tuple(args[2].shape), args[1].dtype))
        elif "scaled_dot_product" in str(packet):
            q = args[0] if "backward" not in str(packet) else args[1]
            B, H, S, D = q.shape
            passes = 1 if "backward" not in str(packet) else 2  # backward ≈ 2× the products
            for _ in range(2 * passes):  # Q·Kᵀ and P·V
                self.calls.append(("bmm", (B * H, S, D), (B * H, D, S), q.dtype))
        return func(*args, **kwargs)


def matmul_flops(calls) -> int:
    total = 0
    for kind, a, b, _ in calls:
        if kind == "mm":
            total += 2 * a[0] * a[1] * b[1]
        else:
            total += 2 * a[0] * a[1] * a[2] * b[2]
    return total


class Replay:
    """The recorded matmuls on random operands (same shapes, dtypes, order), to time alone."""

    def __init__(self, calls, device: str):
        gen = torch.Generator(device=device).manual_seed(0)
        cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
        self.ops, self.device = [], device
        for kind, a, b, dtype in calls:
            key = (kind, a, b, dtype)
            if key not in cache:
                cache[key] = (torch.randn(a, generator=gen, device=device).to(dtype),
                              torch.randn(b, generator=gen, device=device).to(dtype))  # fmt: skip
            self.ops.append((torch.mm if kind == "mm" else torch.bmm, *cache[key]))

    def seconds(self) -> float:
        sync(self.device)
        t = time.perf_counter()
        for f, x, y in self.ops:
            f(x, y)
        sync(self.device)
        return time.perf_counter() - t


# --- one configuration ----------------------------------------------------------------------------
def measure(arch: str, hidden: int | None, batch: int, dtype: str, data: Path, tmp: Path, *,
            repeats: int, device: str,
            seq_first: bool | None = None) -> dict[str, Any]:  # fmt: skip
    torch.manual_seed(0)
    torch._dynamo.reset()  # a fresh compile cache per configuration (no recompile limit hit)
    load_start = loadavg()
    tag = f"{arch}-{hidden}-{batch}-{dtype}"
    eager = make_run(arch, hidden, batch, dtype, data, tmp / f"{tag}-e", compile=False,
                     device=device)  # fmt: skip
    compiled = make_run(arch, hidden, batch, dtype, data, tmp / f"{tag}-c", compile=True,
                        device=device, seq_first=seq_first)  # fmt: skip
    compiled.model.load_state_dict(eager.model.state_dict())
    stream = batches(data, batch)
    first = next(stream)
    # FLOPs and the matmul replay: one eager step under the recorder
    recorder = MatmulRecorder()
    with recorder:
        eager.train_step(first)
    flops = matmul_flops(recorder.calls)
    t0 = time.perf_counter()
    compiled.train_step(first)  # compiles (forward, backward, loss; the update on CUDA)
    compile_s = time.perf_counter() - t0
    eager.train_step(next(stream))  # one more warm-up each
    compiled.train_step(next(stream))
    replay = Replay(recorder.calls, device)
    replay.seconds()
    t_eager, t_comp, t_replay = [], [], []
    for _ in range(repeats):  # alternating (same batch for both modes), the matmuls in between
        b = next(stream)
        t_eager.append(timed_step(eager, b, device))
        t_replay.append(replay.seconds())
        t_comp.append(timed_step(compiled, b, device))
    me, mc = statistics.median(t_eager), statistics.median(t_comp)
    replay = statistics.median(t_replay)
    return {
        "arch": arch,
        "hidden": hidden or 512,
        "batch": batch,
        "dtype": dtype,
        "eager_s": me,
        "compiled_s": mc,
        "speedup": me / mc,
        "compile_s": compile_s,
        "compiled_ok": compiled.steps.compiled,
        "compiled_seq_first": compiled.steps.seq_first,
        "compile_error": compiled.steps.failed,
        "eager_times": t_eager,
        "compiled_times": t_comp,
        "matmul_replay_times": t_replay,
        "flops_per_step": flops,
        "matmuls_per_step": len(recorder.calls),
        "matmul_replay_s": replay,
        "matmul_gflops": flops / replay / 1e9,
        "eager_gflops": flops / me / 1e9,
        "compiled_gflops": flops / mc / 1e9,
        "eager_matmul_share": replay / me,
        "compiled_matmul_share": replay / mc,
        "loadavg_start": load_start,
        "loadavg": loadavg(),
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| model | hidden | batch | dtype | eager s/step | compiled s/step | compiled/eager "
             "| GFLOP/step | matmul GFLOP/s | eager share | compiled share | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(
            f"| {r['arch']} | {r['hidden']} | {r['batch']} | {r['dtype']} | {r['eager_s']:.3f} | "
            f"{r['compiled_s']:.3f} | {r['speedup']:.2f}× | {r['flops_per_step'] / 1e9:.1f} | "
            f"{r['matmul_gflops']:.0f} | {100 * r['eager_matmul_share']:.0f} % | "
            f"{100 * r['compiled_matmul_share']:.0f} % | {r['loadavg'][0]:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--archs", default=",".join(ARCHS))
    p.add_argument("--hidden", default="128,512", help="comma list; 512 = the preset width")
    p.add_argument("--batch", default="16,64")
    p.add_argument("--dtypes", default="fp32,bf16")
    p.add_argument("--repeats", type=int, default=7, help="timed steps per config and mode")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--configs", default=None,
                   help="comma list of arch:hidden:batch:dtype instead of the full grid, e.g. "
                        "trm-mlp:128:16:fp32,trm-att:512:16:bf16")  # fmt: skip
    p.add_argument("--quick", action="store_true",
                   help=f"the reduced set measured for the README ({len(QUICK)} configs), "
                        "3 repeats")  # fmt: skip
    p.add_argument("--seq-first", choices=("auto", "on", "off"), default="auto",
                   help="the compiled step's layout: the trainer's choice (auto: "
                        "sequence-first for the MLP mixer on the CPU), or forced on/off "
                        "for a comparison")  # fmt: skip
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=str(RESULTS / "grid_speed.json"))
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if a.threads:
        torch.set_num_threads(a.threads)
    plan = [(arch, int(h), int(b), d) for h in a.hidden.split(",") for b in a.batch.split(",")
            for arch in a.archs.split(",") for d in a.dtypes.split(",")]  # fmt: skip
    if a.quick:
        plan, a.repeats = QUICK, 3
    if a.configs:
        plan = [(c.split(":")[0], int(c.split(":")[1]), int(c.split(":")[2]), c.split(":")[3])
                for c in a.configs.split(",")]  # fmt: skip
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()

    def result() -> dict[str, Any]:
        return {
            "benchmark": "grid_speed",
            "rows": rows,
            "repeats": a.repeats,
            "seconds": time.perf_counter() - started,
            "machine": machine(),
            "loadavg_end": loadavg(),
            "note": "shared machine: other jobs ran at the same time (see loadavg per row)",
        }

    with tempfile.TemporaryDirectory(prefix="grid_speed-") as tmp:
        tmp = Path(tmp)
        data = sudoku_data(tmp)
        for arch, hidden, batch, dtype in plan:
            seq_first = {"auto": None, "on": True, "off": False}[a.seq_first]
            r = measure(arch, None if hidden == 512 else hidden, batch, dtype, data, tmp,
                        repeats=a.repeats, device=a.device, seq_first=seq_first)  # fmt: skip
            rows.append(r)
            write_json(Path(a.out), result())  # after every row: a cut-short run keeps its rows
            print(f"{arch} h{r['hidden']} b{batch} {dtype}: eager {r['eager_s']:.3f} s, "
                  f"compiled {r['compiled_s']:.3f} s ({r['speedup']:.2f}×, compile "
                  f"{r['compile_s']:.0f} s), matmul share {100 * r['eager_matmul_share']:.0f} / "
                  f"{100 * r['compiled_matmul_share']:.0f} %, load {r['loadavg'][0]:.1f}",
                  flush=True)  # fmt: skip
    out = result()
    write_json(Path(a.out), out)
    print(table(rows))
    return out


if __name__ == "__main__":
    main()
