"""Per-example predictions of an evaluation: SLOG's official metric over them, and a TSV of them.

Every evaluation mode (HRR-only, hybrid, TRM-only) collects one `Prediction` per test example;
`official_scores` adds SLOG's official match (`hartflow.data.slog_metric`) overall and per
category, and `write_predictions` writes them as `input<TAB>gold<TAB>answer<TAB>category<TAB>
correct` so users can read the errors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hartflow.atomic import write_bytes
from hartflow.data.slog_metric import official_match

__all__ = ["Prediction", "official_scores", "write_predictions"]

COLUMNS = ("input", "gold", "answer", "category", "correct")


@dataclass(frozen=True)
class Prediction:
    """One test example's answer (None: no answer or an ill-formed one) and whether it is right
    by the evaluation's main metric (exact match)."""

    input: str
    gold: str
    answer: str | None
    category: str = ""
    correct: bool = False


def official_scores(rows: Sequence[Prediction]) -> dict[str, Any]:
    """{"official_match", "per_category_official"?}: SLOG's official exact match (fractions)."""
    hits, per_cat, total_cat = 0, Counter(), Counter()
    for r in rows:
        hit = official_match(r.answer, r.gold)
        hits += hit
        if r.category:
            total_cat[r.category] += 1
            per_cat[r.category] += hit
    out: dict[str, Any] = {"official_match": hits / max(1, len(rows))}
    if total_cat:
        out["per_category_official"] = {c: per_cat[c] / n for c, n in sorted(total_cat.items())}
    return out


def _cell(text: str | None) -> str:
    return "" if text is None else text.replace("\t", " ").replace("\n", " ")


def write_predictions(path: str | Path, rows: Sequence[Prediction]) -> Path:
    """One TSV line per example (header first), written atomically."""
    lines = ["\t".join(COLUMNS)]
    for r in rows:
        lines.append("\t".join([_cell(r.input), _cell(r.gold), _cell(r.answer), _cell(r.category),
                                str(bool(r.correct)).lower()]))  # fmt: skip
    return write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))
