"""The input embedding of the grid models: puzzle-embedding prefix slots + scaled token embedding.

    x = sqrt(D) · [ puzzle slots (P, D) ; token embedding (L, D) ]        (B, P + L, D)

The per-puzzle vector (dimension `puzzle_dim`, zero-initialised, one row per puzzle identifier)
is padded with zeros to P·D and laid out over the P prefix slots: with D = puzzle_dim = 512 and
P = 16 only slot 0 holds the vector, the other 15 are zero "register" slots. The table is a
sparse-gradient parameter, trained by `SignSGD`, and kept out of the dense parameter count and the
EMA. With learned positions the sum is 0.7071·(x + pos) before the √D scale, as in TRM/HRM.

In a compute dtype below fp32 (bf16) the tables are cast first and everything after, the √D scale
included, runs in that dtype: what the reference's `CastedEmbedding` does (scaling in fp32 and
rounding once would give other values, and other embedding gradients).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from reasoner.layers import trunc_normal_init_

POS_ENCODINGS = ("rope", "learned", "none")


class GridEmbedding(nn.Module):
    """Token + puzzle-prefix (+ learned position) embedding.

    Shapes:
        inputs: (B, L) integer tokens; puzzle_identifiers: (B,) integer ids -> (B, P + L, D) in
        the compute dtype passed to `forward` (fp32 by default).
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        seq_len: int,
        *,
        puzzle_emb_len: int,
        puzzle_dim: int,
        num_puzzle_identifiers: int,
        pos_encoding: str = "rope",
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if pos_encoding not in POS_ENCODINGS:
            raise ValueError(f"pos_encoding must be one of {POS_ENCODINGS}, got {pos_encoding!r}")
        if puzzle_dim > puzzle_emb_len * hidden_size:
            raise ValueError(
                f"puzzle_dim {puzzle_dim} does not fit in {puzzle_emb_len} prefix slots of "
                f"{hidden_size}; raise puzzle_emb_len to >= {math.ceil(puzzle_dim / hidden_size)}"
            )
        self.hidden_size, self.puzzle_emb_len, self.puzzle_dim = (
            hidden_size,
            puzzle_emb_len,
            puzzle_dim,
        )
        self.scale = math.sqrt(hidden_size)
        std = 1.0 / math.sqrt(hidden_size)
        tokens = trunc_normal_init_(
            torch.empty(vocab_size, hidden_size), std=std, generator=generator
        )
        self.tokens = nn.Embedding(vocab_size, hidden_size, _weight=tokens)
        self.puzzle: nn.Embedding | None = None
        if puzzle_dim > 0:
            self.puzzle = nn.Embedding(
                num_puzzle_identifiers,
                puzzle_dim,
                sparse=True,
                _weight=torch.zeros(num_puzzle_identifiers, puzzle_dim),
            )
        self.positions: nn.Parameter | None = None
        if pos_encoding == "learned":
            pos = torch.empty(puzzle_emb_len + seq_len, hidden_size)
            self.positions = nn.Parameter(trunc_normal_init_(pos, std=std, generator=generator))

    def puzzle_parameters(self) -> list[nn.Parameter]:
        """The sparse puzzle-embedding table (empty when puzzle_dim = 0)."""
        return [] if self.puzzle is None else [self.puzzle.weight]

    @torch.compiler.disable  # sparse gradients stay in eager mode under torch.compile
    def _puzzle_vectors(self, puzzle_identifiers: torch.Tensor) -> torch.Tensor:
        return self.puzzle(puzzle_identifiers.long())  # (B, puzzle_dim)

    def forward(
        self,
        inputs: torch.Tensor,
        puzzle_identifiers: torch.Tensor,
        *,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        B = inputs.shape[0]
        x = F.embedding(inputs.long(), self.tokens.weight.to(dtype))  # (B, L, D), cast first
        if self.puzzle_emb_len:
            if self.puzzle is None:
                prefix = x.new_zeros(B, self.puzzle_emb_len, self.hidden_size)
            else:
                vec = self._puzzle_vectors(puzzle_identifiers).to(dtype)  # (B, puzzle_dim)
                pad = self.puzzle_emb_len * self.hidden_size - self.puzzle_dim
                prefix = F.pad(vec, (0, pad)).view(B, self.puzzle_emb_len, self.hidden_size)
            x = torch.cat((prefix, x), dim=1)  # (B, P + L, D)
        if self.positions is not None:
            x = 0.707106781 * (x + self.positions.to(dtype))
        return self.scale * x  # in `dtype`, as the reference
