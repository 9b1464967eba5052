"""SLOG's official metric: exact match after the authors' reformatting of both forms.

Re-implemented from the description of the SLOG repository's
`data_generation_scripts/reorder_reindex_eval.py` (`reorder_reindex`), quirks kept, applied to
the gold form and the prediction alike:

1. the tokens `x` and `_` are dropped (`x _ 4` becomes `4`);
2. conjuncts are sorted as strings: the string is split at ` ; `; the parts that contain
   ` AND ` are the body (only the first such part is kept), split at ` AND ` and sorted; the other
   parts (the definite nouns) are sorted and joined back in front with ` ; `. A form with neither
   ` ; ` nor ` AND `, or with exactly two ` ; `-parts neither of which has an ` AND `, is left as
   it is; a form with definites but no ` AND ` anywhere keeps a trailing ` ; `;
3. every numeric token is renumbered 1, 2, 3, … by first appearance in the sorted string.

So a prediction whose variable indices are consistently shifted still matches, and so does one
whose conjuncts come in another order.
"""

from __future__ import annotations

import functools

__all__ = ["official_form", "official_match"]


def _drop_variables(lf: str) -> str:
    return " ".join(t for t in lf.split() if t not in ("x", "_")).strip()


def _sort_conjuncts(lf: str) -> str:
    if " ; " not in lf and " AND " not in lf:
        return lf
    parts = lf.split(" ; ")
    if len(parts) == 2 and " AND " not in parts[0] and " AND " not in parts[1]:
        return lf
    bodies = [p for p in parts if " AND " in p]
    definites = sorted(p for p in parts if " AND " not in p)
    body = sorted(bodies[0].split(" AND ")) if bodies else []
    if definites:
        return " ; ".join(definites) + " ; " + " AND ".join(body)
    return " AND ".join(body)


@functools.lru_cache(maxsize=1 << 16)  # a gen set's gold forms are compared once per answer set
def official_form(lf: str) -> str:
    """A logical form as SLOG's evaluation compares it (see the module docstring)."""
    renumbered: dict[str, int] = {}
    out = []
    for tok in _sort_conjuncts(_drop_variables(lf)).split():
        if tok.isnumeric():
            out.append(str(renumbered.setdefault(tok, len(renumbered) + 1)))
        else:
            out.append(tok)
    return " ".join(out)


def official_match(prediction: str | None, gold: str) -> bool:
    """SLOG's official exact match of a prediction (None: no answer, never a match)."""
    return prediction is not None and official_form(prediction) == official_form(gold)
