"""Evaluation: build a reasoner from a split's training pairs, answer its test set, score it."""

from __future__ import annotations

import difflib
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hartflow.data import load_examples, tokens
from hartflow.data.formats import read_examples
from hartflow.errors import HartFlowError
from hartflow.predictions import Prediction, official_scores, write_predictions
from hartflow.zeroshot import ZeroShotReasoner

MODES = ("hrr", "hybrid", "trm")  # hybrid/trm: a refiner trained by `hartflow train`


def evaluate(
    task: str | None = None,
    split: str | None = None,
    *,
    mode: str = "hrr",
    data_dir: str | Path | None = None,
    train: str | Path | None = None,
    test: str | Path | None = None,
    d: int = 1024,
    progress: Callable[[int, int], None] | None = None,
    checkpoint: str | Path | None = None,
    predictions: str | Path | None = None,
    word_prior: bool = True,
) -> dict[str, Any]:
    """Exact-match accuracy of `mode` on a split (or on user files). `word_prior=False` answers
    a structure checkpoint without its word prior (to measure what the prior buys).

    `predictions` names a TSV to write one line per example into (input, gold, answer,
    category, correct). For SLOG the result adds its official metric (`official_match`,
    `per_category_official`; `hartflow.data.slog_metric`).

    Returns:
        {"task", "split", "mode", "n", "exact_match", "seconds", "answered", "unanswerable",
         "per_category"?}; exact_match is a fraction.
    """
    if mode not in MODES:
        raise HartFlowError(f"unknown mode {mode!r}; available now: {', '.join(MODES)}")
    if mode in ("hybrid", "trm"):  # the trained refiner (hartflow/hybrid)
        if checkpoint is None:
            raise HartFlowError(f"--mode {mode} needs --checkpoint DIR (from hartflow train)")
        from hartflow.hybrid.evaluation import evaluate_refiner

        return evaluate_refiner(checkpoint, task, split, data_dir=data_dir, train=train,
                                test=test, mode=mode, progress=progress,
                                predictions=predictions, word_prior=word_prior)  # fmt: skip
    start = time.perf_counter()
    parts = load_examples(task, split, data_dir=data_dir, train=train, test=test)
    reasoner = ZeroShotReasoner(d=d).fit(
        (tokens(e.input), tokens(e.output)) for e in parts["train"]
    )
    examples = parts["test"]
    correct, answered, per_cat, total_cat = 0, 0, Counter(), Counter()
    rows: list[Prediction] = []
    chunk = 512
    for lo in range(0, len(examples), chunk):
        batch = examples[lo : lo + chunk]
        answers = reasoner.answer_many([tokens(e.input) for e in batch])
        for e, a in zip(batch, answers, strict=True):
            hit = a.tokens is not None and list(a.tokens) == tokens(e.output)
            correct += hit
            answered += a.tokens is not None
            answer = None if a.tokens is None else " ".join(a.tokens)
            rows.append(Prediction(e.input, " ".join(tokens(e.output)), answer, e.category, hit))
            if e.category:
                total_cat[e.category] += 1
                per_cat[e.category] += hit
        if progress:
            progress(min(lo + chunk, len(examples)), len(examples))
    result: dict[str, Any] = {
        "task": task or "files",
        "split": split or f"{train} -> {test}",
        "mode": mode,
        "n": len(examples),
        "exact_match": correct / len(examples),
        "seconds": time.perf_counter() - start,
        "answered": answered,
        "unanswerable": len(examples) - answered,
        "lexicon_size": len(reasoner.lexicon),
        "rules": reasoner.describe_rules(),
    }
    if total_cat:
        result["per_category"] = {c: per_cat[c] / n for c, n in sorted(total_cat.items())}
    if task == "slog":
        result.update(official_scores(rows))
    if predictions is not None:
        write_predictions(predictions, rows)
        result["predictions"] = str(predictions)
    return result


def build_reasoner(
    task: str | None = None,
    split: str | None = None,
    *,
    data_dir: str | Path | None = None,
    train: str | Path | None = None,
    d: int = 1024,
) -> ZeroShotReasoner:
    """A reasoner built from a split's training pairs, or from a training file alone."""
    if train is not None:
        examples = read_examples(train)
    else:
        examples = load_examples(task, split, data_dir=data_dir)["train"]
    return ZeroShotReasoner(d=d).fit((tokens(e.input), tokens(e.output)) for e in examples)


def decode_command(command: str, reasoner: ZeroShotReasoner) -> dict[str, Any]:
    """Answer one command; unknown words raise `HartFlowError` naming their nearest known words."""
    words = tokens(command)
    if not words:
        raise HartFlowError("the command is empty; pass some words")
    unknown = [w for w in words if w not in reasoner.known_words]
    if unknown:
        near = {w: difflib.get_close_matches(w, reasoner.known_words, 3, 0.0) for w in unknown}
        hints = "; ".join(f"{w!r} (nearest: {', '.join(n)})" for w, n in near.items())
        raise HartFlowError(f"unknown words in the command: {hints}")
    a = reasoner.answer(words)
    if a.tokens is None:
        raise HartFlowError(f"no answer for {command!r}: {a.reason}")
    return {
        "command": command,
        "answer": " ".join(a.tokens),
        "score": a.score,
        "neighbours": [{"skeleton": s, "cosine": c} for s, c in a.skeletons],
        "lexicon": a.lexicon,
        "rules": a.rules,
    }
