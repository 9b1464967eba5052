"""Encode one command as an HRR sequence and check that it decodes back (the `encode` command)."""

from __future__ import annotations

from typing import Any

import torch

import hrr
from hartflow.errors import HartFlowError


def encode_command(
    command: str, *, dim: int = 1024, seed: int = 0, distractors: int = 0
) -> dict[str, Any]:
    """Encode `command` word by word with a seeded vocabulary, decode it back, report the trip.

    Args:
        command: whitespace-separated words.
        dim: HRR dimension d.
        seed: fixes every word vector and the position vector.
        distractors: extra random symbols in the cleanup memory (a harder round trip).

    Returns:
        A JSON-ready report: dimension, norm, capacity, and per position the token, the decoded
        token, its cosine and margin, and whether the whole round trip is exact.
    """
    words = command.split()
    if not words:
        raise HartFlowError(
            "the command is empty; pass some words, e.g. hartflow encode 'look left'"
        )
    if dim < 2:
        raise HartFlowError(f"--dim must be >= 2, got {dim}")
    if distractors < 0:
        raise HartFlowError(f"--distractors must be >= 0, got {distractors}")
    symbols = list(dict.fromkeys(words)) + [f"<distractor-{i}>" for i in range(distractors)]
    vocab = hrr.Vocabulary(dim, symbols, seed=seed)
    vector = hrr.encode_sequence(words, vocab, p_err=None)
    found = hrr.decode_sequence(vector, len(words), vocab)
    decoded = found.symbols
    return {
        "command": command,
        "dim": dim,
        "seed": seed,
        "length": len(words),
        "vocabulary_size": len(vocab),
        "norm": float(torch.linalg.vector_norm(vector)),
        "capacity": hrr.capacity(dim, len(vocab), 0.01),
        "predicted_token_accuracy": hrr.prob_correct(dim, len(words), len(vocab)),
        "positions": [
            {
                "position": i,
                "token": w,
                "decoded": decoded[i],
                "score": float(found.scores[i, 0]),
                "margin": float(found.margin[i]),
                "correct": decoded[i] == w,
            }
            for i, w in enumerate(words)
        ],
        "exact": decoded == words,
    }
