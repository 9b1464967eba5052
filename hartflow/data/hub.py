"""Loading SCAN from the Hugging Face hub (`--hub`), with the same split names as local data.

The hub copy is `scan-tasks/scan-tasks` (configs `simple`, `length`, `addprim_jump`, …,
`template_around_right`, …; columns `commands`, `actions`). Offline, or where the hub refuses,
the error says so and points at the local route (generated SCAN, or `--data-dir`).
"""

from __future__ import annotations

from hartflow.data.formats import Example
from hartflow.errors import DataError

SCAN_REPO = "scan-tasks/scan-tasks"
_TEMPLATES = ("around_right", "jump_around_right", "opposite_right", "right")


def scan_config(split: str) -> str:
    """Our split name → the hub config name."""
    return f"template_{split}" if split in _TEMPLATES else split


def from_hub_rows(rows: dict[str, list]) -> list[Example]:
    """Hub columns (`commands`, `actions`) → examples."""
    try:
        return [Example(c, a) for c, a in zip(rows["commands"], rows["actions"], strict=True)]
    except KeyError as e:
        raise DataError(
            f"hub copy of SCAN lacks the column {e}; expected commands/actions"
        ) from None


def load_scan(split: str) -> dict[str, list[Example]]:
    """{'train', 'test'} examples of a SCAN split, downloaded from the hub."""
    import datasets  # heavy; only for this route

    try:
        dd = datasets.load_dataset(SCAN_REPO, scan_config(split))
    except Exception as e:  # network, auth and hub errors all mean: use the local route
        reason = " ".join(str(e).split())[:160]
        raise DataError(
            f"could not load {SCAN_REPO} ({scan_config(split)}) from the Hugging Face hub: "
            f"{reason}; drop --hub to generate SCAN locally, or pass --data-dir"
        ) from None
    return {part: from_hub_rows(dd[part].to_dict()) for part in ("train", "test")}
