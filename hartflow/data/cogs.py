"""COGS (Kim & Linzen 2020): `sentence<TAB>logical form<TAB>category` files.

Reads the official files from a folder (the repository's `data/` folder or the folder above it).
Splits: `gen` (train → gen, the 21 generalisation categories), `test` and `dev` (in-distribution),
and `gen_100` (train_100 → gen) when the user has `train_100.tsv`.
"""

from __future__ import annotations

from pathlib import Path

from hartflow.data.formats import Example, read_examples
from hartflow.errors import DataError

SPLITS = {"gen": ("train", "gen"), "test": ("train", "test"), "dev": ("train", "dev"),
          "gen_100": ("train_100", "gen")}  # fmt: skip
HOW_TO_GET = (
    "get the COGS data from github.com/najoungkim/COGS and pass --data-dir to its data/ folder"
)


def data_folder(data_dir: str | Path) -> Path:
    """The folder holding train.tsv: `data_dir` itself or `data_dir/data`."""
    root = Path(data_dir)
    for candidate in (root, root / "data"):
        if (candidate / "train.tsv").is_file():
            return candidate
    raise DataError(f"no COGS train.tsv in {root} or {root / 'data'}; {HOW_TO_GET}")


def load_split(split: str, data_dir: str | Path) -> dict[str, list[Example]]:
    """{'train': [...], 'test': [...]} for a COGS split."""
    if split not in SPLITS:
        raise DataError(f"unknown COGS split {split!r}; choose one of {', '.join(SPLITS)}")
    folder = data_folder(data_dir)
    train_name, test_name = SPLITS[split]
    hint = HOW_TO_GET + (
        " (train_100.tsv is not in every copy; see the data README)" if split == "gen_100" else ""
    )
    return {
        "train": read_examples(folder / f"{train_name}.tsv", "tsv", hint=hint),
        "test": read_examples(folder / f"{test_name}.tsv", "tsv", hint=hint),
    }
