"""The structure refiner: shapes, gradients, masking, locality, copying, loss."""

from __future__ import annotations

import pytest
import torch

from reasoner.structure import (
    KINDS,
    NONE,
    StructureConfig,
    StructureRefiner,
    decisions,
    relative_bucket,
    structure_loss,
)

R = 3


def make(evidence: bool = True, **kw) -> StructureRefiner:
    cfg = StructureConfig(vocab_words=20, vocab_tokens=15, n_roles=R, evidence=evidence, dim=32,
                          n_heads=2, **kw)  # fmt: skip
    return StructureRefiner(cfg, generator=torch.Generator().manual_seed(0))


def batch_of(words: list[list[int]], gen: torch.Generator) -> dict[str, torch.Tensor]:
    B, L = len(words), max(map(len, words))
    w = torch.zeros(B, L, dtype=torch.long)
    for b, row in enumerate(words):
        w[b, : len(row)] = torch.tensor(row)
    valid = w != 0
    edges = torch.randint(-1, L, (B, L, R), generator=gen)
    edges = torch.where(valid.unsqueeze(-1) & (edges < valid.sum(1)[:, None, None]), edges, -1)
    return {
        "words": w,
        "lex": torch.where(valid, torch.randint(1, 15, (B, L), generator=gen), NONE),
        "hyp_pred": torch.where(valid, torch.randint(1, 15, (B, L), generator=gen), NONE),
        "hyp_const": torch.full((B, L), NONE),
        "hyp_kind": torch.randint(0, KINDS, (B, L), generator=gen),
        "hyp_edges": edges,
        "hyp_weight": torch.ones(B),
    }


def labels_of(batch: dict[str, torch.Tensor], gen: torch.Generator) -> dict[str, torch.Tensor]:
    B, L = batch["words"].shape
    pad = batch["words"] == 0
    lab = {
        "pred": torch.randint(1, 15, (B, L), generator=gen),
        "kind": torch.randint(0, KINDS, (B, L), generator=gen),
        "const": torch.full((B, L), NONE),
        "edges": torch.randint(0, L + 1, (B, L, R), generator=gen),
    }
    for v in lab.values():
        v[pad] = -100
    return lab


class TestShapes:
    @pytest.mark.parametrize("evidence", [True, False])
    def test_heads_and_trace(self, evidence, gen):
        model = make(evidence)
        batch = batch_of([[3, 4, 5, 6], [7, 8]], gen)
        state, out = model(batch, trace=True)
        assert out.pred.shape == (2, 4, 15) and out.const.shape == (2, 4, 15)
        assert out.kind.shape == (2, 4, KINDS) and out.edges.shape == (2, 4, R, 5)
        assert out.q_halt_logits.shape == (2,) and state.y.shape == (2, 4, 32)
        assert len(out.trace) == model.cfg.n_cycles
        decided = decisions(out)
        alts = {f"{h}_alt{x}" for h in ("pred", "const") for x in ("", "_logp")}
        assert set(decided) == {"pred", "kind", "const", "edges", "kind_logp"} | alts
        assert (decided["pred_alt"] > 2).all() and (decided["const_alt"] > 2).all()  # real tokens
        assert (decided["pred_alt_logp"] <= 0).all()

    def test_padding_never_chosen_as_target(self, gen):
        out = make()(batch_of([[3, 4, 5, 6, 7], [7, 8]], gen))[1]
        assert torch.isinf(out.edges[1, :, :, 2:5]).all()  # padded positions of row 1

    def test_config_errors_name_the_fix(self):
        with pytest.raises(ValueError, match="even integer"):
            StructureConfig(dim=30, n_heads=4)
        with pytest.raises(ValueError, match="TRM: 6"):
            StructureConfig(n_latent_steps=0)
        with pytest.raises(ValueError, match="window"):
            StructureConfig(window=-1)

    def test_relative_bucket_clips(self):
        assert relative_bucket(torch.tensor([-20, -1, 0, 3, 50]), 4).tolist() == [0, 3, 4, 7, 8]


class TestBehaviour:
    @pytest.mark.parametrize("window", [0, 2])
    def test_a_row_does_not_depend_on_its_batch(self, window, gen):
        model = make(window=window)
        both = batch_of([[3, 4, 5], [6, 7, 8, 9, 10, 11]], gen)
        alone = {k: v[:1, :3] if v.dim() > 1 else v[:1] for k, v in both.items()}
        a, b = model(alone)[1], model(both)[1]
        assert torch.allclose(a.pred[0], b.pred[0, :3], atol=1e-5)
        assert torch.allclose(a.edges[0, :, :, :3], b.edges[0, :3, :, :3], atol=1e-4)

    def test_window_limits_what_a_position_sees(self, gen):
        model = make(window=1, n_cycles=1, n_latent_steps=1, n_layers=1)
        for p in model.parameters():  # non-zero residual branches, so attention matters
            torch.nn.init.normal_(p, std=0.3, generator=gen) if p.dim() > 1 else None
        batch = batch_of([[3, 4, 5, 6, 7, 8, 9, 10]], gen)
        far = dict(batch, words=batch["words"].clone(), lex=batch["lex"].clone())
        far["words"][0, 7], far["lex"][0, 7] = 11, 5
        far["hyp_edges"] = torch.full_like(batch["hyp_edges"], -1)
        batch["hyp_edges"] = far["hyp_edges"]
        # one layer, one application per stream: position 0 sees positions 0..1 for z, then
        # y sees z's 0..1, i.e. the inputs at 0..2; position 7 is out of reach
        a, b = model(batch)[1], model(far)[1]
        assert torch.allclose(a.pred[0, 0], b.pred[0, 0]) and not torch.allclose(
            a.pred[0, 6], b.pred[0, 6]
        )

    def test_copying_the_translation_is_possible_without_training(self, gen):
        model = make()
        batch = batch_of([[3, 4, 5]], gen)
        with torch.no_grad():
            model.pred_gate.bias.copy_(torch.tensor([-20.0, 20.0, -20.0]))
        pred = model(batch)[1].pred.argmax(-1)
        assert torch.equal(pred, batch["lex"])

    def test_loss_gradients_reach_every_head(self, gen):
        model = make()
        with torch.no_grad():  # open the zero-initialised residual branches
            for block in model.blocks:
                torch.nn.init.normal_(block.out.weight, std=0.02, generator=gen)
                torch.nn.init.normal_(block.mlp.down.weight, std=0.02, generator=gen)
        batch = batch_of([[3, 4, 5, 6], [7, 8]], gen)
        _, out = model(batch)
        loss, exact, acc = structure_loss(out, labels_of(batch, gen))
        loss.backward()
        assert loss.item() > 0 and exact.shape == (2,) and (acc <= 1).all()
        for name in (
            "pred_head.weight",
            "kind_head.weight",
            "query.weight",
            "key.weight",
            "null.weight",
            "pointer_bias",
            "copy_bonus",
            "embed_words",
            "attn_bias",
        ):
            grad = dict(model.named_parameters())[name].grad
            assert grad is not None and grad.abs().sum() > 0, name

    def test_exact_when_every_decision_is_right(self, gen):
        model = make()
        batch = batch_of([[3, 4, 5]], gen)
        _, out = model(batch)
        d = decisions(out)
        labels = {k: d[k].clone() for k in ("pred", "kind", "const", "edges")}
        _, exact, acc = structure_loss(out, labels)
        assert exact.all() and acc.item() == 1.0
        labels["edges"][0, 1, 0] = (labels["edges"][0, 1, 0] + 1) % 4
        assert not structure_loss(out, labels)[1].any()
