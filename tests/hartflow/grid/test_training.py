"""Training: a tiny run end to end, exact resume, two-process data parallelism, configs."""

from __future__ import annotations

import json
import socket

import pytest
import torch
import torch.multiprocessing as mp

from hartflow.checkpoint import latest_checkpoint
from hartflow.errors import HartFlowError
from hartflow.grid.evaluate import evaluate_checkpoint
from hartflow.grid.jobs import build_sudoku
from hartflow.grid.train_config import TrainConfig, load_config_file, train_config
from hartflow.grid.training import train

TINY_MODEL = {"hidden_size": 16, "n_heads": 2, "max_halt_steps": 3, "n_cycles": 2,
              "n_latent_steps": 1, "halt_exploration_prob": 0.5}  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from threads, and a shared 2-core machine punishes them."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def sudoku4(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "s4"
    build_sudoku(out, generate=40, size=4, aug=2, test_size=6, seed=0)
    return out


def tiny(data, out, *, arch: str = "trm-mlp", **kw) -> TrainConfig:
    fields = {"model": TINY_MODEL, "data": str(data), "out": str(out), "global_batch": 8,
              "epochs": 3, "eval_interval": 1, "lr_warmup_steps": 2, "log_every": 2,
              "validation_groups": 4, "device": "cpu", "plot": False, **kw}  # fmt: skip
    return train_config("tiny", arch=arch, **fields)


def state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class TestTrain:
    def test_run_writes_log_curves_checkpoints(self, sudoku4, tmp_path):
        result = train(tiny(sudoku4, tmp_path / "run", plot=True))
        # 40 train groups, 4 held out: int(3 epochs · 36 groups / 8) = 13 steps, eval every 4
        assert result.steps == 13 and result.stopped_by == "steps"
        assert [e["step"] for e in result.evaluations] == [4, 8, 12, 13]
        final = result.final
        assert final["validation"]["n"] == 4 and final["test"]["n"] == 6
        assert 0 <= final["test"]["cell_accuracy"] <= 1
        assert 1 <= final["test"]["halt_steps"] <= 3
        assert result.best["step"] in (4, 8, 12, 13)
        run = tmp_path / "run"
        records = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
        assert {r["kind"] for r in records} == {"train", "eval"}
        assert all(r["loss"] > 0 for r in records if r["kind"] == "train")
        assert (run / "config.json").is_file() and (run / "best.json").is_file()
        assert latest_checkpoint(run).name == "step_00000013"
        assert len(list((run / "checkpoints").iterdir())) <= 3  # 2 kept + the best
        pytest.importorskip("matplotlib")
        assert (run / "curves.png").read_bytes()[:4] == b"\x89PNG"

    def test_resume_is_bit_identical(self, sudoku4, tmp_path):
        cfg = tiny(sudoku4, tmp_path / "a")
        whole = train(cfg)

        def crash(step):
            if step == 6:  # after the step-4 checkpoint, before the step-8 one
                raise KeyboardInterrupt

        cfg_b = cfg.replace(out=str(tmp_path / "b"))
        with pytest.raises(KeyboardInterrupt):
            train(cfg_b, on_step=crash)
        assert latest_checkpoint(tmp_path / "b").name == "step_00000004"
        resumed = train(cfg_b, resume=True)
        assert resumed.steps == whole.steps
        a, b = state(whole.model), state(resumed.model)
        for k in a:
            assert torch.equal(a[k], b[k]), k
        untimed = lambda evals: [{k: v for k, v in e.items() if k != "seconds"} for e in evals]  # noqa: E731
        assert untimed(resumed.evaluations) == untimed(whole.evaluations)
        steps_logged = [json.loads(x)["step"] for x in
                        (tmp_path / "b" / "log.jsonl").read_text().splitlines()]  # fmt: skip
        assert steps_logged == sorted(steps_logged)  # no duplicates after the resume

    def test_eval_checkpoint_matches_training_eval(self, sudoku4, tmp_path):
        result = train(tiny(sudoku4, tmp_path / "r", epochs=1, eval_interval=1, arch="hrm",
                            model={"hidden_size": 16, "n_heads": 2, "max_halt_steps": 2,
                                   "high_layers": 1, "low_layers": 1}))  # fmt: skip
        score = evaluate_checkpoint(latest_checkpoint(tmp_path / "r"), sudoku4)
        assert score["weights"] == "ema"
        for key in ("exact", "cell_accuracy", "halt_steps"):
            assert score[key] == result.final["test"][key]

    def test_guards(self, sudoku4, tmp_path):
        train(tiny(sudoku4, tmp_path / "r", epochs=1))
        with pytest.raises(HartFlowError, match="already holds a run"):
            train(tiny(sudoku4, tmp_path / "r", epochs=1))
        with pytest.raises(HartFlowError, match="different config"):
            train(tiny(sudoku4, tmp_path / "r", epochs=1, lr=0.5), resume=True)
        with pytest.raises(HartFlowError, match="no checkpoint"):
            train(tiny(sudoku4, tmp_path / "new", epochs=1), resume=True)
        with pytest.raises(HartFlowError, match="needs data and out"):
            train(TrainConfig())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, port: int, cfg: TrainConfig, out: str) -> None:
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE="2", LOCAL_RANK=str(rank))  # fmt: skip
    torch.set_num_threads(1)
    result = train(cfg)
    flat = torch.cat([v.flatten().double() for v in state(result.model).values()])
    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump({"weights": flat.tolist(), "final": result.final}, f)


class TestDataParallel:
    def test_two_gloo_processes_agree(self, sudoku4, tmp_path):
        # no exploration: then the two-rank run computes what one process computes
        model = {**TINY_MODEL, "halt_exploration_prob": 0.0}
        cfg = tiny(sudoku4, tmp_path / "ddp", model=model, epochs=1, validation_groups=0)
        mp.start_processes(
            _ddp_worker, args=(_free_port(), cfg, str(tmp_path)), nprocs=2, start_method="fork"
        )
        r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
        assert r0["weights"] == r1["weights"]  # replicas identical after every step
        untimed = [{k: v for k, v in r["final"].items() if k != "seconds"} for r in (r0, r1)]
        assert untimed[0] == untimed[1]
        single = train(cfg.replace(out=str(tmp_path / "one")))
        flat = torch.cat([v.flatten().double() for v in state(single.model).values()])
        assert torch.allclose(torch.tensor(r0["weights"], dtype=torch.float64), flat, atol=1e-5)


class TestConfig:
    def test_presets(self):
        cfg = train_config("sudoku")
        assert (cfg.lr, cfg.weight_decay, cfg.global_batch, cfg.epochs) == (1e-4, 1.0, 768, 50000)
        assert train_config("arc").puzzle_emb_lr == 1e-2
        assert train_config("sudoku", arch="hrm").ema is False
        with pytest.raises(HartFlowError, match="unknown preset"):
            train_config("chess")
        with pytest.raises(HartFlowError, match="eval_interval"):
            train_config("tiny", eval_interval=10**6)

    @pytest.mark.parametrize(
        "field,value", [("arch", "rnn"), ("loss", "mse"), ("lr", -1.0), ("global_batch", 0)]
    )
    def test_validation(self, field, value):
        with pytest.raises(ValueError, match=field if field != "lr" else "lr must"):
            TrainConfig(**{field: value})

    def test_config_file(self, tmp_path):
        path = tmp_path / "c.json"
        path.write_text(json.dumps({"preset": "tiny", "arch": "hrm", "lr": 3e-4}))
        cfg = load_config_file(path, seed=5)
        assert (cfg.arch, cfg.lr, cfg.seed, cfg.global_batch) == ("hrm", 3e-4, 5, 32)
        path.write_text(json.dumps({"lr": 1, "colour": 2}))
        with pytest.raises(HartFlowError, match="unknown fields"):
            load_config_file(path)
