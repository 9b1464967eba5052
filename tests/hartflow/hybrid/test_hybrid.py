"""The hybrid pipeline: hypotheses, batching, training (resume, data parallel), evaluation, CLI."""

from __future__ import annotations

import itertools
import json
import socket
from dataclasses import replace

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file
from typer.testing import CliRunner

import cli
from hartflow.checkpoint import latest_checkpoint
from hartflow.errors import HartFlowError
from hartflow.hybrid import TrainConfig, decode_trace, evaluate_refiner, train
from hartflow.hybrid.batching import collate, corrupt, make_items
from hartflow.hybrid.hypotheses import Hypothesis, cross_fit
from hartflow.hybrid.vocab import END, NONE, Vocab

runner = CliRunner()


def tiny(files, out, **kw) -> TrainConfig:
    train_file, test_file = files
    base = dict(
        task=None, split=None, train_file=str(train_file), test_file=str(test_file),
        folds=2, hrr_d=256, feature_dim=16, dim=32, n_heads=2, batch_size=8, max_steps=6,
        warmup_steps=2, ckpt_every=1000, log_every=1, cache_dir=str(out.parent / "cache"),
    )  # fmt: skip
    return TrainConfig(**{**base, **kw})


class TestHypotheses:
    def test_cross_fit_never_answers_from_its_own_pair(self):
        pairs = [(("dax",), ("D",)), (("wif",), ("W",)), (("dax", "twice"), ("D", "D"))]
        pairs += [(("wif", "twice"), ("W", "W")), (("lug",), ("L",))]
        hyps = cross_fit(pairs, folds=5, k=3, d=256)
        # 'lug' occurs once: held out, its reasoner never saw it, so no hypothesis is right
        assert all(h.tokens != ("L",) for h in hyps[4])
        assert all(isinstance(h, Hypothesis) for row in hyps for h in row)

    def test_cache_key_covers_the_reasoner_code(self, monkeypatch):
        import hartflow.hybrid.data as data

        cfg, pairs = TrainConfig(), [(("dax",), ("D",))]
        before = data._fingerprint(cfg, pairs, pairs)
        assert data._fingerprint(cfg, pairs, pairs) == before  # stable while the code is
        monkeypatch.setattr(data, "_code_digest", lambda: b"edited reasoner")
        assert data._fingerprint(cfg, pairs, pairs) != before

    def test_folds_are_validated(self):
        with pytest.raises(ValueError, match="folds"):
            cross_fit([(("a",), ("A",))], folds=1)


class TestBatching:
    def test_corrupt_changes_and_is_seeded(self):
        ids = tuple(range(4, 14))
        edits = [corrupt(ids, vocab_out=20, generator=torch.Generator().manual_seed(s))
                 for s in range(30)]  # fmt: skip
        assert any(e is None for e in edits) and any(e not in (None, ids) for e in edits)
        again = corrupt(ids, vocab_out=20, generator=torch.Generator().manual_seed(3))
        assert again == edits[3]

    def test_collate_slots_labels_and_weights(self):
        vocab = Vocab.build([(("a", "b"), ("X", "Y")), (("c",), ("Z",))])
        hyps = [[Hypothesis(("X", "Y"), 1.0, "answer"), Hypothesis(("Z",), 0.5, "neighbour")], []]
        items = make_items(vocab, [("a", "b"), ("c",)], [("X", "Y"), ("Z",)], hyps, k=2,
                           hrr_dim=8, seed=0)  # fmt: skip
        batch = collate(items, k=2, no_hypothesis_slots=9)
        B, K, La = batch["hypotheses"].shape
        assert (B, K) == (2, 2) and La == 9  # the row without hypotheses sets the width
        assert batch["features"].shape == (2, 8 + 3)
        assert torch.allclose(batch["hypothesis_weights"].sum(-1), torch.ones(2))
        assert batch["hypotheses"][1].eq(NONE).all()  # no hypothesis: <none> everywhere
        assert vocab.decode_answer(batch["hypotheses"][0, 0]) == ("X", "Y")
        assert vocab.decode_answer(batch["labels"][1]) == ("Z",)
        assert batch["labels"][0, 2:].eq(END).all()


class TestTraining:
    def test_run_writes_log_curve_checkpoint_and_evaluates(self, tiny_files, tmp_path):
        out = tmp_path / "run"
        result = train(tiny(tiny_files, out), out=out)
        assert result["step"] >= 6 and latest_checkpoint(out) is not None
        rows = [json.loads(r) for r in (out / "log.jsonl").read_text().splitlines()]
        assert rows and {"loss", "exact", "step"} <= rows[0].keys()
        assert (out / "curve.png").stat().st_size > 0
        ev = evaluate_refiner(out)
        assert ev["mode"] == "hybrid" and ev["n"] == 40 and 0 <= ev["exact_match"] <= 1
        assert 0 <= ev["hypothesis_exact_match"] <= 1
        with pytest.raises(HartFlowError, match="--resume"):
            train(tiny(tiny_files, out), out=out)

    def test_resume_gives_the_uninterrupted_weights(self, tiny_files, tmp_path):
        full = tmp_path / "full"
        train(tiny(tiny_files, full, max_steps=8), out=full)
        part = tmp_path / "part"
        train(tiny(tiny_files, part, max_steps=4), out=part)
        train(tiny(tiny_files, part, max_steps=8), out=part, resume=True)
        for name in ("model.safetensors", "ema.safetensors"):
            a = load_file(latest_checkpoint(full) / name)
            b = load_file(latest_checkpoint(part) / name)
            assert a.keys() == b.keys()
            assert all(torch.equal(a[k], b[k]) for k in a), name
        log = [json.loads(r)["step"] for r in (part / "log.jsonl").read_text().splitlines()]
        assert log == sorted(log) and len(log) == len(set(log))  # no duplicated rows

    def test_learning_rate_follows_the_budget(self, tiny_files, tmp_path):
        from hartflow.hybrid.training import Trainer

        def rates(**kw) -> list[float]:
            cfg = tiny(tiny_files, tmp_path / "lr", max_steps=8, warmup_steps=0, **kw)
            trainer, seen = Trainer(cfg, out=tmp_path / f"lr{len(kw)}"), []
            while trainer.step < cfg.max_steps:
                trainer.train_batch()
                seen.append(trainer.opt.param_groups[0]["lr"])
            return seen

        assert len(set(rates())) == 1  # lr_min_ratio 1: constant after warm-up
        decayed = rates(lr_min_ratio=0.0)
        assert all(a > b for a, b in itertools.pairwise(decayed))  # a cosine down to ~0
        assert decayed[0] == pytest.approx(3e-3) and decayed[-1] < 0.25 * 3e-3
        with pytest.raises(ValueError, match="lr_min_ratio"):
            tiny(tiny_files, tmp_path, lr_min_ratio=1.5)

    def test_progress_counts_the_minutes_after_setup(self, tiny_files, tmp_path):
        import time

        from hartflow.hybrid.training import Trainer

        cfg = tiny(tiny_files, tmp_path / "p", max_steps=10**9, minutes=1.0)
        trainer = Trainer(cfg, out=tmp_path / "p")
        trainer.setup_seconds, trainer.elapsed = 20.0, 20.0  # 40 s left after the set-up
        assert trainer.progress() == pytest.approx(0.5)
        trainer._start = time.perf_counter() - 30.0  # while running: the clock counts
        assert trainer.progress() == pytest.approx(0.75, abs=0.01)

    def test_trm_mode_trains_without_hypotheses(self, tiny_files, tmp_path):
        out = tmp_path / "trm"
        train(tiny(tiny_files, out, mode="trm", max_steps=2), out=out)
        ev = evaluate_refiner(out)
        assert ev["mode"] == "trm" and "hypothesis_exact_match" not in ev
        trace = decode_trace(out, "dax twice and fep")
        assert trace["hypotheses"] == [] and len(trace["trace"]) == 2 * 2  # N_sup × T


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, cfg: TrainConfig, out: str) -> None:
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE="2", LOCAL_RANK=str(rank))  # fmt: skip
    from hartflow.distributed import setup_distributed, teardown
    from hartflow.hybrid.training import Trainer

    torch.set_num_threads(1)
    ctx = setup_distributed(device="cpu")
    trainer = Trainer(cfg, out=f"{out}/run", ctx=ctx)
    for _ in range(3):
        trainer.train_batch()
    flat = torch.cat([p.detach().flatten().double() for p in trainer.model.parameters()])
    torch.save(flat, f"{out}/rank{rank}.pt")
    teardown(ctx)


class TestDataParallel:
    def test_two_gloo_processes_agree_with_one(self, tiny_files, tmp_path):
        cfg = replace(tiny(tiny_files, tmp_path / "run"), corruption=0.0, lr_min_ratio=0.1)
        from hartflow.hybrid.training import Trainer

        Trainer(cfg, out=tmp_path / "warm")  # fills the hypothesis cache once
        mp.spawn(_worker, args=(_free_port(), cfg, str(tmp_path)), nprocs=2, join=True)
        r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
        assert torch.equal(r0, r1)  # replicas identical
        single = Trainer(cfg, out=tmp_path / "one")
        for _ in range(3):
            single.train_batch()
        flat = torch.cat([p.detach().flatten().double() for p in single.model.parameters()])
        assert torch.allclose(r0, flat, atol=1e-5)  # and equal to one process on the full batch


class TestCli:
    def test_train_eval_decode(self, tiny_files, tmp_path):
        train_file, test_file = map(str, tiny_files)
        out = str(tmp_path / "cli")
        files = ["--train", train_file, "--test", test_file]
        r = runner.invoke(cli.app, ["train", *files, "--out", out, "--steps", "2", "--hidden",
                                    "32", "--batch-size", "8", "--quiet"])  # fmt: skip
        assert r.exit_code == 0, r.output
        assert "trained" in r.output
        r = runner.invoke(cli.app, ["train", *files, "--out", out, "--steps", "4", "--resume",
                                    "--quiet"])  # fmt: skip
        assert r.exit_code == 0, r.output
        js = tmp_path / "r.json"
        r = runner.invoke(cli.app, ["eval", "--mode", "hybrid", "--checkpoint", out, *files,
                                    "--json", str(js), "--quiet"])  # fmt: skip
        assert r.exit_code == 0, r.output
        result = json.loads(js.read_text())
        assert {"task", "split", "mode", "n", "exact_match", "seconds"} <= result.keys()
        r = runner.invoke(cli.app, ["decode", "dax twice and fep", "--checkpoint", out, "--trace"])
        assert r.exit_code == 0, r.output
        assert "P(halt)" in r.output and "hypothesis" in r.output

    def test_errors_are_one_line(self, tmp_path):
        code = cli.run(["eval", "--mode", "hybrid", "--task", "scan", "--split", "simple"])
        assert code == 2
        code = cli.run(["eval", "--mode", "trm", "--checkpoint", str(tmp_path), "--task", "scan",
                        "--split", "simple"])  # fmt: skip
        assert code == 2
