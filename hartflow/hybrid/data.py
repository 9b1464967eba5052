"""A run's data: the split's pairs, the vocabulary, and the memory hypotheses (cached on disk).

Training hypotheses are cross-fitted (`hypotheses.cross_fit`); test hypotheses come from the
reasoner built on the whole training set. Both are cached as JSON keyed by a fingerprint of the
data, the memory's settings and the source of the code that makes them (the zero-shot reasoner
and `hypotheses.py`), so ablations over the refiner reuse them and a changed reasoner does not.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hartflow.atomic import write_bytes
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
    h.update(_code_digest())
    for part in (train, test):
        for i, o in part:
            h.update((" ".join(i) + "\t" + " ".join(o) + "\n").encode())
    return h.hexdigest()[:16]


def _augment_fingerprint(cfg: TrainConfig, augmented: list) -> str:
    h = hashlib.sha256()
    for i, o in augmented:
        h.update((" ".join(i) + "\t" + " ".join(o) + "\n").encode())
    return h.hexdigest()[:12]


def _read_cache(path: Path) -> dict:
    raw = path.read_bytes()
    return json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)


def _write_cache(path: Path, obj: dict) -> None:
    """Compact, gzip-compressed JSON (a SLOG run's hypotheses: ~10 MB instead of ~220 MB)."""
    write_bytes(path, gzip.compress(json.dumps(obj, separators=(",", ":")).encode(), 6))


def prepare(
    cfg: TrainConfig,
    *,
    out: Path,
    progress: Callable[[str, int, int], None] | None = None,
    prefer: str | None = None,
    augment: bool = True,
    keep_train_hyps: bool = True,
) -> RunData:
    """Load the pairs and, in hybrid mode, the hypotheses (from the cache or computed).

    `prefer` names a cache file to use if it exists (the one a checkpoint was trained with, so
    evaluation sees the same memory even if the reasoner's code changed since); `augment=False`
    skips the recombined pairs and `keep_train_hyps=False` leaves the training pairs' hypotheses out
    of a cache that holds them (answering needs neither)."""
    train, test, cats = load_pairs(cfg)
    n_aug = augment_count(cfg, train) if augment else 0
    augmented: list = []
    if n_aug:
        from hartflow.hybrid.structure import augment_pairs

        augmented = augment_pairs(train, n=n_aug, max_depth=cfg.augment_depth, seed=cfg.seed,
                                  pool=cfg.augment_pool)  # fmt: skip
        log.info("%d recombined training pairs", len(augmented))
    if cfg.mode == "trm":
        return RunData(train, test, cats, None, None, augmented=augmented)
    cache = Path(cfg.cache_dir) if cfg.cache_dir else out
    fingerprint = _fingerprint(cfg, train, test)
    path = cache / f"hypotheses-{fingerprint}.json.gz"
    if prefer is not None and (cache / prefer).is_file():
        path = cache / prefer
    to_h = lambda rows: [[Hypothesis.from_json(h) for h in r] for r in rows]  # noqa: E731
    from_h = lambda rows: [[h.to_json() for h in r] for r in rows]  # noqa: E731
    reasoner = None
    if path.is_file():
        obj = _read_cache(path)
        test_hyps = to_h(obj["test"])
        train_hyps = to_h(obj["train"]) if keep_train_hyps else None
    else:
        log.info("computing hypotheses (%d folds) for %d training pairs", cfg.folds, len(train))
        train_hyps = cross_fit(
            train, folds=cfg.folds, k=K_CACHE, d=cfg.hrr_d, seed=cfg.seed,
            progress=(lambda d, t: progress("cross-fitting", d, t)) if progress else None,
        )  # fmt: skip
        reasoner = build_reasoner(train, d=cfg.hrr_d, k=K_CACHE, seed=cfg.seed)
        test_hyps = hypotheses_for(reasoner, [c for c, _ in test], k=K_CACHE)
        _write_cache(path, {"train": from_h(train_hyps), "test": from_h(test_hyps)})
    aug_hyps = None
    if augmented:  # the recombined pairs' hypotheses: the memory built on the whole train set
        apath = cache / f"augmented-{fingerprint}-{_augment_fingerprint(cfg, augmented)}.json.gz"
        if apath.is_file():
            aug_hyps = to_h(_read_cache(apath)["augmented"])
        else:
            if reasoner is None:
                reasoner = build_reasoner(train, d=cfg.hrr_d, k=K_CACHE, seed=cfg.seed)
            aug_hyps = hypotheses_for(reasoner, [c for c, _ in augmented], k=K_CACHE)
            _write_cache(apath, {"augmented": from_h(aug_hyps)})
    return RunData(train, test, cats, train_hyps, test_hyps, path.name, augmented, aug_hyps)
