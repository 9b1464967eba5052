"""Data-parallel helpers: a world of one is a no-op; two gloo processes sum gradients and agree."""

from __future__ import annotations

import json
import socket

import pytest
import torch
import torch.multiprocessing as mp

from hartflow.distributed import (
    DistContext,
    all_reduce_,
    all_reduce_gradients,
    broadcast_parameters,
    setup_distributed,
    teardown,
)
from hartflow.errors import HartFlowError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)
        self.emb = torch.nn.Embedding(10, 2, sparse=True)
        self.unused = torch.nn.Linear(2, 2)
        self.register_buffer("init", torch.randn(2))


def loss_for(net: Net, rank: int) -> torch.Tensor:
    x = torch.full((4, 3), float(rank + 1))
    ids = torch.tensor([rank, 5])
    out = net.lin(x).sum() + net.emb(ids).sum() * (rank + 1)
    if rank == 1:  # a parameter with a gradient on one rank only
        out = out + net.unused.weight.sum()
    return out


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import os

    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world)
    )
    torch.set_num_threads(1)
    ctx = setup_distributed(device="cpu")
    torch.manual_seed(rank)  # different replicas until broadcast
    net = Net()
    broadcast_parameters(net, ctx)
    loss_for(net, rank).backward()
    all_reduce_gradients(net, ctx)
    total = all_reduce_(torch.tensor([float(rank)]), ctx)
    emb = net.emb.weight.grad.to_dense()
    result = {
        "ctx": [ctx.rank, ctx.world_size, ctx.is_main, ctx.initialized],
        "weights": net.lin.weight.flatten().tolist() + net.init.tolist(),
        "lin_grad": net.lin.weight.grad.flatten().tolist(),
        "emb_grad": emb.tolist(),
        "unused_grad": net.unused.weight.grad.flatten().tolist(),
        "total": total.item(),
    }
    teardown(ctx)
    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump(result, f)


class TestTwoProcesses:
    def test_gloo_sums_and_broadcasts(self, tmp_path):
        mp.start_processes(
            _worker, args=(2, free_port(), str(tmp_path)), nprocs=2, start_method="fork"
        )
        r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
        assert r0["ctx"] == [0, 2, True, True] and r1["ctx"] == [1, 2, False, True]
        assert r0["weights"] == r1["weights"]  # broadcast made the replicas equal
        torch.manual_seed(0)
        ref = Net()  # rank 0's initialisation, single process: the expected summed gradients
        for rank in (0, 1):
            loss_for(ref, rank).backward()
        assert r0["weights"] == ref.lin.weight.flatten().tolist() + ref.init.tolist()
        for r in (r0, r1):
            assert torch.allclose(torch.tensor(r["lin_grad"]), ref.lin.weight.grad.flatten())
            assert torch.allclose(torch.tensor(r["emb_grad"]), ref.emb.weight.grad.to_dense())
            assert torch.allclose(torch.tensor(r["unused_grad"]), ref.unused.weight.grad.flatten())
            assert r["total"] == 1.0
        assert r0["emb_grad"][5] == [3.0, 3.0]  # id 5 on both ranks: 1 + 2


class TestSingleProcess:
    def test_world_of_one(self, monkeypatch):
        for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
            monkeypatch.delenv(name, raising=False)
        ctx = setup_distributed(device="cpu")
        assert ctx == DistContext(0, 1, 0, torch.device("cpu"), True, False)
        net = Net()
        loss_for(net, 0).backward()
        before = net.lin.weight.grad.clone()
        all_reduce_gradients(net, ctx)
        broadcast_parameters(net, ctx)
        assert torch.equal(net.lin.weight.grad, before)
        assert net.unused.weight.grad is None
        teardown(ctx)

    def test_bad_env(self, monkeypatch):
        monkeypatch.setenv("WORLD_SIZE", "two")
        with pytest.raises(HartFlowError, match="WORLD_SIZE"):
            setup_distributed(device="cpu")

    def test_bad_device(self, monkeypatch):
        monkeypatch.delenv("WORLD_SIZE", raising=False)
        with pytest.raises(HartFlowError, match="device"):
            setup_distributed(device="tpu")
