"""Presets, the factory, and parameter counts at the paper presets."""

from __future__ import annotations

import pytest
import torch

from reasoner import (
    EMA,
    HRM,
    TRM,
    HRMConfig,
    TRMConfig,
    build_model,
    config_from_dict,
    config_to_dict,
    count_parameters,
    grid_config,
)


class TestParameterCounts:
    @pytest.mark.parametrize(
        ("arch", "paper"),
        [("trm-mlp", 5.03e6), ("trm-att", 6.8e6), ("hrm", 27.3e6)],
    )
    def test_paper_counts_within_half_percent(self, arch, paper):
        model = build_model(grid_config(arch, "sudoku"))
        assert abs(count_parameters(model) / paper - 1) < 0.005

    def test_hrm_matches_reference_exactly(self):
        assert count_parameters(HRM(grid_config("hrm", "sudoku"))) == 27_275_266

    def test_mlp_t_on_30x30_grids(self):
        """The paper's "TRM-MLP 19M" on Maze/ARC: the token mixer over 916 positions."""
        n = count_parameters(build_model(grid_config("trm-mlp", "maze")))
        assert 18.5e6 < n < 19.5e6

    def test_puzzle_table_excluded(self):
        cfg = grid_config("trm-att", "tiny", num_puzzle_identifiers=1000)
        model = build_model(cfg)
        total = sum(p.numel() for p in model.parameters())
        assert total - count_parameters(model) == 1000 * cfg.hidden_size
        ema = EMA(model)
        assert not any("puzzle" in name for name in ema.shadow)


class TestGridConfig:
    def test_presets(self):
        mlp = grid_config("trm-mlp", "sudoku")
        assert (mlp.mixer, mlp.pos_encoding, mlp.n_cycles, mlp.n_latent_steps) == (
            "mlp",
            "none",
            3,
            6,
        )
        att = grid_config("trm-att", "maze")
        assert (att.mixer, att.pos_encoding, att.seq_len, att.vocab_size) == (
            "attention",
            "rope",
            900,
            6,
        )
        assert (att.n_cycles, att.n_latent_steps, att.puzzle_emb_len) == (3, 4, 16)
        arc = grid_config("trm-att", "arc")
        assert (arc.vocab_size, arc.seq_len) == (12, 900)
        hrm = grid_config("hrm", "sudoku")
        assert isinstance(hrm, HRMConfig) and hrm.puzzle_emb_len == 1 and hrm.act_continue
        assert (hrm.high_layers, hrm.low_layers, hrm.n_cycles, hrm.n_low_steps) == (4, 4, 2, 2)

    @pytest.mark.parametrize("arch", ["trm-mlp", "trm-att", "hrm"])
    def test_tiny_with_dataset_overrides(self, arch, gen):
        cfg = grid_config(arch, "tiny", vocab_size=7, seq_len=16, num_puzzle_identifiers=1)
        model = build_model(cfg)
        assert count_parameters(model) < 500_000
        batch = {
            "inputs": torch.randint(0, 7, (2, 16), generator=gen),
            "labels": torch.randint(0, 7, (2, 16), generator=gen),
            "puzzle_identifiers": torch.zeros(2, dtype=torch.long),
        }
        _, out = model(model.initial_carry(batch), batch)
        assert out.logits.shape == (2, 16, 7)

    def test_errors(self):
        with pytest.raises(ValueError, match="arch"):
            grid_config("gpt", "sudoku")
        with pytest.raises(ValueError, match="preset"):
            grid_config("hrm", "chess")
        with pytest.raises(ValueError, match="unknown TRMConfig field"):
            grid_config("trm-att", "sudoku", n_latent_step=3)
        with pytest.raises(ValueError, match="n_latent_steps must be >= 1"):
            TRMConfig(n_latent_steps=0)
        with pytest.raises(ValueError, match="divisible"):
            TRMConfig(hidden_size=100, n_heads=8)
        with pytest.raises(ValueError, match="prefix slots"):
            TRMConfig(puzzle_emb_ndim=2048, puzzle_emb_len=2)
        with pytest.raises(ValueError, match="high_layers"):
            HRMConfig(high_layers=0)
        with pytest.raises(ValueError, match="ffn_multiple"):
            TRMConfig(ffn_multiple=0)

    @pytest.mark.parametrize("arch", ["trm-att", "hrm"])
    def test_ffn_multiple_narrows_tiny_mlps(self, arch):
        wide = grid_config(arch, "tiny", hidden_size=32, vocab_size=7, seq_len=16)
        narrow = grid_config(
            arch, "tiny", hidden_size=32, vocab_size=7, seq_len=16, ffn_multiple=16
        )
        blocks = [m for m in build_model(narrow).modules() if m.__class__.__name__ == "SwiGLU"]
        assert blocks and all(b.inter == 96 for b in blocks)  # 4·32·2/3 -> 96, not 256
        assert count_parameters(build_model(narrow)) < count_parameters(build_model(wide))

    @pytest.mark.parametrize("arch", ["trm-mlp", "hrm"])
    def test_dict_round_trip(self, arch):
        cfg = (
            grid_config(arch, "tiny", single_z=True) if arch != "hrm" else grid_config(arch, "tiny")
        )
        data = config_to_dict(cfg)
        assert data["model"] in ("trm", "hrm")
        assert config_from_dict(data) == cfg
        assert isinstance(build_model(config_from_dict(data)), TRM if arch != "hrm" else HRM)

    def test_from_dict_rejects_unknown_fields(self):
        data = {**config_to_dict(grid_config("trm-att", "tiny")), "n_latent_step": 3}
        with pytest.raises(ValueError, match="n_latent_step"):
            config_from_dict(data)
