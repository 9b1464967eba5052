"""SLOG (Li et al. 2023): structural generalisation in COGS's logical-form format.

The folder holds `train.tsv`, `dev.tsv`, `test.tsv` and `generalization_sets.zip`. The authors keep
the generalisation set in a password-protected zip so that it stays out of scraped training data;
it is read in place (never unzipped to disk). Splits: `gen` (train → the 17 structural
categories), `test` and `dev` (in-distribution).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from hartflow.data.formats import Example, parse, read_examples
from hartflow.errors import DataError

SPLITS = {"gen": ("train", "gen"), "test": ("train", "test"), "dev": ("train", "dev")}
GEN_ZIP = "generalization_sets.zip"
GEN_MEMBER = "generalization_sets/gen_cogsLF.tsv"
ZIP_PASSWORD = b"SLOG"  # published in the SLOG repository's README
HOW_TO_GET = (
    "get SLOG from github.com/bingzhilee/SLOG and pass --data-dir to the folder holding its "
    "train.tsv and generalization_sets.zip (data/cogs_LF upstream)"
)


def data_folder(data_dir: str | Path) -> Path:
    """The folder holding train.tsv: `data_dir`, `data_dir/data/cogs_LF` or `data_dir/cogs_LF`."""
    root = Path(data_dir)
    for candidate in (root, root / "data" / "cogs_LF", root / "cogs_LF"):
        if (candidate / "train.tsv").is_file():
            return candidate
    raise DataError(f"no SLOG train.tsv in {root}; {HOW_TO_GET}")


def read_gen(folder: Path) -> list[Example]:
    """The generalisation set, read from the zip in place."""
    path = folder / GEN_ZIP
    if not path.is_file():
        path = folder.parent / GEN_ZIP  # upstream keeps the zip one folder above cogs_LF/data
    if not path.is_file():
        raise DataError(f"file not found: {folder / GEN_ZIP}; {HOW_TO_GET}")
    try:
        with zipfile.ZipFile(path) as z:
            raw = z.read(GEN_MEMBER, pwd=ZIP_PASSWORD)
    except (zipfile.BadZipFile, KeyError, RuntimeError, OSError) as e:
        raise DataError(f"cannot read {GEN_MEMBER} from the zip: {e}", path=path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{GEN_MEMBER} is not UTF-8 (byte {e.start})", path=path) from None
    return parse(text, "tsv", path=f"{path}!{GEN_MEMBER}")


def load_split(split: str, data_dir: str | Path) -> dict[str, list[Example]]:
    """{'train': [...], 'test': [...]} for a SLOG split."""
    if split not in SPLITS:
        raise DataError(f"unknown SLOG split {split!r}; choose one of {', '.join(SPLITS)}")
    folder = data_folder(data_dir)
    train_name, test_name = SPLITS[split]
    train = read_examples(folder / f"{train_name}.tsv", "tsv", hint=HOW_TO_GET)
    test = (
        read_gen(folder)
        if test_name == "gen"
        else read_examples(folder / f"{test_name}.tsv", "tsv", hint=HOW_TO_GET)
    )
    return {"train": train, "test": test}
