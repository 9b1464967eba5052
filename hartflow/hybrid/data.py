"""A run's data: the split's pairs, the vocabulary, and the memory hypotheses (cached on disk).

Training hypotheses are cross-fitted (`hypotheses.cross_fit`); test hypotheses come from the
reasoner built on the whole training set. Both are cached as JSON keyed by a fingerprint of the
data, the memory's settings and the source of the code that makes them (the zero-shot reasoner
and `hypotheses.py`), so ablations over the refiner reuse them and a changed reasoner does not.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hartflow.atomic import write_json
from hartflow.data import load_examples, tokens
from hartflow.errors import HartFlowError
from hartflow.hybrid.config import TrainConfig
from hartflow.hybrid.hypotheses import Hypothesis, build_reasoner, cross_fit, hypotheses_for

log = logging.getLogger(__name__)
Tokens = tuple[str, ...]
K_CACHE = 5  # hypotheses kept in the cache (k ablations truncate)


@dataclass
class RunData:
    train: list[tuple[Tokens, Tokens]]
    test: list[tuple[Tokens, Tokens]]
    test_categories: list[str]
    train_hyps: list[list[Hypothesis]] | None
    test_hyps: list[list[Hypothesis]] | None
    cache_file: str | None = None  # the hypotheses' cache file name (hybrid mode)
    augmented: list[tuple[Tokens, Tokens]] = field(default_factory=list)  # recombined pairs
    augmented_hyps: list[list[Hypothesis]] | None = None  # theirs: the full reasoner's answers


def augment_count(cfg: TrainConfig, train: list) -> int:
    """How many recombined pairs the run trains on (structure refiner only): `cfg.augment`, or
    half the training set when it is None."""
    if cfg.refiner_kind != "structure":
        return 0
    return len(train) // 2 if cfg.augment is None else cfg.augment


def load_pairs(cfg: TrainConfig) -> tuple[list, list, list[str]]:
    """(train pairs, test pairs, test categories) of the run's task/split or files."""
    if cfg.train_file is None and cfg.task is None:
        raise HartFlowError("give --task and --split, or --train FILE --test FILE")
    parts = load_examples(
        None if cfg.train_file else cfg.task,
        None if cfg.train_file else cfg.split,
        data_dir=cfg.data_dir,
        train=cfg.train_file,
        test=cfg.test_file,
    )
    train = [(tuple(tokens(e.input)), tuple(tokens(e.output))) for e in parts["train"]]
    test = [(tuple(tokens(e.input)), tuple(tokens(e.output))) for e in parts["test"]]
    if cfg.max_train is not None and cfg.max_train < len(train):
        rng = random.Random(cfg.seed)
        train = sorted(rng.sample(train, cfg.max_train))
    if not train or not test:
        raise HartFlowError("the training or test set is empty; check the files")
    return train, test, [e.category for e in parts["test"]]


def _code_digest() -> bytes:
    """The source of the code that computes hypotheses: a change to it invalidates the cache."""
    import hartflow.zeroshot as zeroshot

    here = Path(__file__).resolve().parent
    files = sorted(Path(zeroshot.__file__).resolve().parent.glob("*.py"))
    h = hashlib.sha256()
    for f in [*files, here / "hypotheses.py"]:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.digest()


def _fingerprint(cfg: TrainConfig, train: list, test: list) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([cfg.folds, cfg.hrr_d, cfg.seed, K_CACHE]).encode())
    if augment_count(cfg, train):  # recombined pairs and their hypotheses are cached too
        h.update(json.dumps([augment_count(cfg, train), cfg.augment_depth]).encode())
        h.update(Path(__file__).resolve().parent.parent.joinpath("data", "recombine.py")
                 .read_bytes())  # fmt: skip
    h.update(_code_digest())
    for part in (train, test):
        for i, o in part:
            h.update((" ".join(i) + "\t" + " ".join(o) + "\n").encode())
    return h.hexdigest()[:16]


def prepare(
    cfg: TrainConfig,
    *,
    out: Path,
    progress: Callable[[str, int, int], None] | None = None,
    prefer: str | None = None,
) -> RunData:
    """Load the pairs and, in hybrid mode, the hypotheses (from the cache or computed).

    `prefer` names a cache file to use if it exists (the one a checkpoint was trained with, so
    evaluation sees the same memory even if the reasoner's code changed since)."""
    train, test, cats = load_pairs(cfg)
    n_aug = augment_count(cfg, train)
    augmented: list = []
    if n_aug:
        from hartflow.hybrid.structure import augment_pairs

        augmented = augment_pairs(train, n=n_aug, max_depth=cfg.augment_depth, seed=cfg.seed)
        log.info("%d recombined training pairs", len(augmented))
    if cfg.mode == "trm":
        return RunData(train, test, cats, None, None, augmented=augmented)
    cache = Path(cfg.cache_dir) if cfg.cache_dir else out
    path = cache / f"hypotheses-{_fingerprint(cfg, train, test)}.json"
    if prefer is not None and (cache / prefer).is_file():
        path = cache / prefer
    if path.is_file():
        obj = json.loads(path.read_text())
        to_h = lambda rows: [[Hypothesis.from_json(h) for h in r] for r in rows]  # noqa: E731
        aug_hyps = to_h(obj["augmented"]) if "augmented" in obj else None
        if aug_hyps is None or len(aug_hyps) != len(augmented):
            augmented, aug_hyps = [], None  # a cache from before recombination: none
        return RunData(train, test, cats, to_h(obj["train"]), to_h(obj["test"]), path.name,
                       augmented, aug_hyps)  # fmt: skip
    log.info("computing hypotheses (%d folds) for %d training pairs", cfg.folds, len(train))
    train_hyps = cross_fit(
        train, folds=cfg.folds, k=K_CACHE, d=cfg.hrr_d, seed=cfg.seed,
        progress=(lambda d, t: progress("cross-fitting", d, t)) if progress else None,
    )  # fmt: skip
    reasoner = build_reasoner(train, d=cfg.hrr_d, k=K_CACHE, seed=cfg.seed)
    test_hyps = hypotheses_for(reasoner, [c for c, _ in test], k=K_CACHE)
    aug_hyps = hypotheses_for(reasoner, [c for c, _ in augmented], k=K_CACHE)
    write_json(
        path,
        {
            "train": [[h.to_json() for h in r] for r in train_hyps],
            "test": [[h.to_json() for h in r] for r in test_hyps],
            "augmented": [[h.to_json() for h in r] for r in aug_hyps],
        },
    )
    return RunData(train, test, cats, train_hyps, test_hyps, path.name, augmented, aug_hyps)
