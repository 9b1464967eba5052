"""Checkpoints: round trips (weights, optimizer, EMA, RNG), atomic replacement, corrupt files."""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest
import torch

from hartflow import checkpoint as ckpt
from hartflow.checkpoint import (
    generator_state,
    latest_checkpoint,
    load_checkpoint,
    read_config,
    save_checkpoint,
    set_generator_state,
)
from hartflow.errors import HartFlowError


class TinyEMA:
    """Stands in for reasoner.ema.EMA: plain-tensor state dict."""

    def __init__(self, model: torch.nn.Module):
        self.shadow = {k: v.detach().clone() for k, v in model.named_parameters()}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.shadow)

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> None:
        self.shadow = {k: v.clone() for k, v in sd.items()}


def make(seed: int = 0) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    model.register_buffer("init_state", torch.randn(8))
    return model, torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.95))


def train(model, opt, steps: int, generator: torch.Generator) -> None:
    for _ in range(steps):
        x = torch.randn(5, 4, generator=generator)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


class TestRoundTrip:
    def test_resumed_adamw_continues_identically(self, tmp_path):
        g = torch.Generator().manual_seed(1)
        model, opt = make()
        train(model, opt, 3, g)
        save_checkpoint(
            tmp_path / "c",
            model=model,
            config={"lr": 1e-2},
            state={"step": 3, "epoch": 0, "gen": generator_state(g)},
            optimizers={"dense": opt},
        )
        train(model, opt, 4, g)  # the uninterrupted run
        expected = weights(model)

        model2, opt2 = make(seed=99)  # different init: everything must come from the checkpoint
        state = load_checkpoint(tmp_path / "c", model=model2, optimizers={"dense": opt2})
        assert state["step"] == 3 and "rng" not in state and "files" not in state
        g2 = torch.Generator()
        set_generator_state(g2, state["gen"])
        train(model2, opt2, 4, g2)
        for k, v in weights(model2).items():
            assert torch.equal(v, expected[k]), k
        assert opt2.param_groups[0]["betas"] == (0.9, 0.95)
        assert read_config(tmp_path / "c") == {"lr": 1e-2}

    def test_global_rng_states_restored(self, tmp_path):
        model, _ = make()
        save_checkpoint(tmp_path / "c", model=model, config={}, state={"step": 0})
        want = (torch.rand(3), np.random.rand(3), random.random())
        torch.rand(7), np.random.rand(7), random.random()  # move on
        load_checkpoint(tmp_path / "c", model=model)
        got = (torch.rand(3), np.random.rand(3), random.random())
        assert torch.equal(want[0], got[0])
        assert np.array_equal(want[1], got[1])
        assert want[2] == got[2]

    def test_restore_rng_off_leaves_rng_alone(self, tmp_path):
        model, _ = make()
        save_checkpoint(tmp_path / "c", model=model, config={}, state={"step": 0})
        torch.manual_seed(5)
        want = torch.rand(3)
        torch.manual_seed(5)
        load_checkpoint(tmp_path / "c", model=model, restore_rng=False)
        assert torch.equal(torch.rand(3), want)

    def test_ema_round_trip(self, tmp_path):
        model, _ = make()
        ema = TinyEMA(model)
        ema.shadow = {k: v + 1 for k, v in ema.shadow.items()}
        save_checkpoint(tmp_path / "c", model=model, config={}, state={"step": 1}, ema=ema)
        ema2 = TinyEMA(make(seed=3)[0])
        load_checkpoint(tmp_path / "c", model=model, ema=ema2)
        for k, v in ema.shadow.items():
            assert torch.equal(ema2.shadow[k], v)

    def test_extra_tensors(self, tmp_path):
        model, opt = make()
        train(model, opt, 1, torch.Generator().manual_seed(0))
        extra = {"carry.y": torch.randn(2, 3), "halted": torch.tensor([True, False])}
        save_checkpoint(tmp_path / "c", model=model, config={}, state={"step": 1},
                        optimizers={"d": opt}, tensors=extra)  # fmt: skip
        state = load_checkpoint(tmp_path / "c", model=model, optimizers={"d": opt})
        assert state["tensors"].keys() == extra.keys()
        for k, v in extra.items():
            assert torch.equal(state["tensors"][k], v)
        save_checkpoint(tmp_path / "d", model=model, config={}, state={"step": 1})
        assert "tensors" not in load_checkpoint(tmp_path / "d", model=model)

    def test_tied_weights_save(self, tmp_path):
        model = torch.nn.Linear(3, 3, bias=False)
        holder = torch.nn.ModuleDict({"a": model, "b": model})  # shared storage
        save_checkpoint(tmp_path / "c", model=holder, config={}, state={"step": 0})
        load_checkpoint(tmp_path / "c", model=holder)


class TestAtomic:
    def test_crash_mid_save_keeps_previous(self, tmp_path, monkeypatch):
        model, opt = make()
        save_checkpoint(tmp_path / "c", model=model, config={}, state={"step": 1})
        before = weights(model)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
        real = ckpt._write
        calls = []

        def crash(folder, name, data, digests):
            calls.append(name)
            if len(calls) == 2:
                raise KeyboardInterrupt  # killed after model.safetensors was written
            real(folder, name, data, digests)

        monkeypatch.setattr(ckpt, "_write", crash)
        with pytest.raises(KeyboardInterrupt):
            save_checkpoint(
                tmp_path / "c", model=model, config={}, state={"step": 2}, optimizers={"d": opt}
            )
        monkeypatch.undo()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # no temp folder left
        state = load_checkpoint(tmp_path / "c", model=model)
        assert state["step"] == 1
        for k, v in weights(model).items():
            assert torch.equal(v, before[k])

    def test_killed_save_leftovers_are_ignored(self, tmp_path):
        model, _ = make()
        save_checkpoint(tmp_path / "step_1", model=model, config={}, state={"step": 1})
        partial = tmp_path / ".step_2.abc.tmp"  # what a SIGKILL mid-save leaves
        partial.mkdir()
        (partial / "model.safetensors").write_bytes(b"\x00" * 10)
        assert latest_checkpoint(tmp_path) == tmp_path / "step_1"

    def test_crash_between_renames_recovers_old(self, tmp_path):
        model, _ = make()
        save_checkpoint(tmp_path / "c", model=model, config={}, state={"step": 4})
        (tmp_path / "c").rename(tmp_path / ".c.old")  # the window between the two renames
        assert load_checkpoint(tmp_path / "c", model=model)["step"] == 4

    def test_overwrite_replaces(self, tmp_path):
        model, _ = make()
        save_checkpoint(tmp_path / "c", model=model, config={}, state={"step": 1})
        save_checkpoint(tmp_path / "c", model=model, config={}, state={"step": 2})
        assert load_checkpoint(tmp_path / "c", model=model)["step"] == 2
        assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


class TestErrors:
    @pytest.fixture
    def saved(self, tmp_path):
        model, opt = make()
        train(model, opt, 1, torch.Generator().manual_seed(0))
        save_checkpoint(
            tmp_path / "c", model=model, config={}, state={"step": 1}, optimizers={"d": opt}
        )
        return tmp_path / "c", model, opt

    @pytest.mark.parametrize("name", ["model.safetensors", "optimizer.safetensors"])
    def test_flipped_byte(self, saved, name):
        folder, model, opt = saved
        data = bytearray((folder / name).read_bytes())
        data[-3] ^= 0xFF
        (folder / name).write_bytes(bytes(data))
        with pytest.raises(HartFlowError, match=re.escape(f"{name} is corrupt")):
            load_checkpoint(folder, model=model, optimizers={"d": opt})

    def test_truncated_without_digest(self, saved):
        folder, model, _ = saved
        state = json.loads((folder / "state.json").read_text())
        state["files"] = {}  # only the safetensors header check is left
        (folder / "state.json").write_text(json.dumps(state))
        data = (folder / "model.safetensors").read_bytes()
        (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
        with pytest.raises(HartFlowError, match=r"model\.safetensors is corrupt"):
            load_checkpoint(folder, model=model)

    def test_corrupt_state_json(self, saved):
        folder, model, _ = saved
        (folder / "state.json").write_text("{not json")
        with pytest.raises(HartFlowError, match=r"state\.json is corrupt"):
            load_checkpoint(folder, model=model)

    def test_missing(self, tmp_path):
        with pytest.raises(HartFlowError, match="no checkpoint at"):
            load_checkpoint(tmp_path / "nope", model=make()[0])

    def test_missing_file(self, saved):
        folder, model, opt = saved
        (folder / "optimizer.json").unlink()
        with pytest.raises(HartFlowError, match=r"optimizer\.json"):
            load_checkpoint(folder, model=model, optimizers={"d": opt})

    def test_wrong_model(self, saved):
        folder, _, _ = saved
        with pytest.raises(HartFlowError, match="does not fit the model"):
            load_checkpoint(folder, model=torch.nn.Linear(2, 2))

    def test_unknown_optimizer(self, saved):
        folder, model, opt = saved
        with pytest.raises(HartFlowError, match="no optimizer 'other'"):
            load_checkpoint(folder, model=model, optimizers={"other": opt})

    def test_state_not_json(self, tmp_path):
        with pytest.raises(HartFlowError, match="JSON-safe"):
            save_checkpoint(tmp_path / "c", model=make()[0], config={}, state={"x": object()})
        assert list(tmp_path.iterdir()) == []


class TestLatest:
    def test_highest_step(self, tmp_path):
        model, _ = make()
        for step in (5, 20, 10):
            save_checkpoint(
                tmp_path / "checkpoints" / f"step_{step}",
                model=model,
                config={},
                state={"step": step},
            )
        assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step_20"
        assert latest_checkpoint(tmp_path / "checkpoints" / "step_5") == (
            tmp_path / "checkpoints" / "step_5"
        )

    def test_none(self, tmp_path):
        assert latest_checkpoint(tmp_path) is None
        assert latest_checkpoint(tmp_path / "absent") is None
