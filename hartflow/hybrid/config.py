"""`TrainConfig`: everything a hybrid / TRM-only training run needs, with defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from reasoner.refiner import RefinerConfig

MODES = ("hybrid", "trm")
REFINERS = ("auto", "sequence", "structure")  # auto: structure for position-indexed forms
EDGE_OUTPUTS = ("slots", "pointer")  # structure refiner: slots + decoder, or role pointers
OPTIMIZERS = ("adamw", "adam_atan2")
# A graph-shaped task's defaults (the structure refiner): the benchmark's settings, so that
# `hartflow train --task cogs --split gen --out RUN --minutes 30` trains the benchmark's model.
# corruption 0.7 and word dropout 0.3 (were 0.4 and 0.1): the refiner leans less on the memory's
# hypothesis and on a word's own embedding, more on the context and the translation's class
# The rate decays (cosine) to 5 % over the budget: the final weights settle instead of
# oscillating at the constant rate (COGS gen, one seed, 12 min: 98.7 -> 99.3 %).
STRUCTURE_DEFAULTS = dict(
    dim=128, batch_size=64, lr=1e-3, warmup_steps=50, corruption=0.7, word_dropout=0.3,
    lr_min_ratio=0.05, ckpt_every=500, log_every=25, members=2,
)  # fmt: skip
UNTIL_BUDGET = 10**9  # max_steps when only a wall-clock budget is given


@dataclass(frozen=True)
class TrainConfig:
    """A training run of the refiner (hybrid: with memory hypotheses; trm: without)."""

    task: str | None = "scan"
    split: str | None = "simple"
    data_dir: str | None = None
    train_file: str | None = None
    test_file: str | None = None
    mode: str = "hybrid"
    refiner_kind: str = "auto"  # sequence (token slots) or structure (graph over positions)
    # memory
    k: int = 3  # hypotheses per command (top-k of the memory)
    folds: int = 5  # cross-fitting folds for the training hypotheses
    hrr_d: int = 1024  # the zero-shot reasoner's HRR dimension
    feature_dim: int = 64  # HRR encoding of the command fed to the refiner's prefix (0 = none)
    # refiner
    dim: int = 64
    n_heads: int = 4
    expansion: float = 2.0  # SwiGLU width = expansion · dim · 2/3, rounded up to 256
    mixer: str = "attention"
    n_cycles: int = 2  # T
    n_latent_steps: int = 2  # n
    max_halt_steps: int = 2  # N_sup
    # optimisation
    batch_size: int = 16  # global (split across data-parallel ranks)
    lr: float = 3e-3
    weight_decay: float = 0.1
    warmup_steps: int = 10
    # the rate after warm-up: a cosine from lr down to lr · lr_min_ratio over the budget (the
    # steps, or the minutes left after the set-up, whichever ends first); 1.0 = constant
    lr_min_ratio: float = 1.0
    optimizer: str = "adamw"
    loss: str = "softmax"
    ema_decay: float = 0.99
    corruption: float = 0.15  # probability of a random edit of a training hypothesis
    word_dropout: float = 0.1  # structure refiner: words replaced by <unk> in training
    max_distance: int = 8  # structure refiner: relative distances beyond ±this share a bias
    window: int = 4  # structure refiner: attention reaches ±window positions (0 = all)
    # structure refiner: the memory's best hypothesis enters as evidence (False: only the HRR
    # lexicon's translations do; the memory's answer stays a candidate for the selector)
    hypothesis_input: bool = True
    # structure refiner: a constant that another word could carry (a question's `?`) stands where
    # the graph looks most like training's (`hartflow.hybrid.anchoring`); False: the codec's word
    reanchor: bool = True
    edge_output: str = "slots"  # structure refiner: local slots + constrained decoder, or pointer
    augment: int | None = None  # structure refiner: recombined pairs (None = half the train set)
    augment_depth: int = 4  # ... each made by 1..augment_depth nested span substitutions
    # ... kept from augment_pool times as many candidates, weighted toward the node configurations
    # training shows least (1 = as drawn; runs saved before this field existed resume with 1)
    augment_pool: int = 3
    strict: bool = False  # a training output that is no graph over its input is an error
    selector_holdout: int = 400  # structure hybrid: pairs per part held out to fit the selector
    max_steps: int = 600  # optimizer steps (one per supervision step)
    minutes: float | None = None  # wall-clock budget (whichever comes first)
    max_train: int | None = None  # use a seeded subset of the training pairs (tests, smoke)
    ckpt_every: int = 200
    log_every: int = 10
    seed: int = 0
    cache_dir: str | None = None  # where hypotheses are cached (default: the run folder)
    # structure refiner: members trained side by side (seeds seed … seed+members-1, one process
    # each), answering by vote (`hartflow.hybrid.ensemble`); 1 = a single run
    members: int = 1

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.refiner_kind not in REFINERS:
            raise ValueError(f"refiner_kind must be one of {REFINERS}, got {self.refiner_kind!r}")
        if self.edge_output not in EDGE_OUTPUTS:
            raise ValueError(f"edge_output must be one of {EDGE_OUTPUTS}, got {self.edge_output!r}")
        if not 0.0 <= self.word_dropout < 1.0:
            raise ValueError(f"word_dropout must lie in [0, 1), got {self.word_dropout}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        for name in ("k", "batch_size", "max_steps", "ckpt_every", "log_every", "dim", "members"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.folds < 2:
            raise ValueError(f"folds must be >= 2, got {self.folds} (5 is usual)")
        if not 0.0 <= self.corruption <= 1.0:
            raise ValueError(f"corruption must lie in [0, 1], got {self.corruption}")
        if self.augment is not None and self.augment < 0:
            raise ValueError(f"augment must be >= 0 (0 = none), got {self.augment}")
        if self.augment_depth < 1:
            raise ValueError(f"augment_depth must be >= 1, got {self.augment_depth}")
        if self.augment_pool < 1:
            raise ValueError(f"augment_pool must be >= 1, got {self.augment_pool}")
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"minutes must be > 0, got {self.minutes}")
        if not 0.0 <= self.lr_min_ratio <= 1.0:
            raise ValueError(f"lr_min_ratio must lie in [0, 1], got {self.lr_min_ratio}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr} (3e-3 suits the small refiner)")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        obj = {k: v for k, v in obj.items() if k in names}
        if "augment_depth" in obj and "augment_pool" not in obj:  # saved before pooling existed
            obj["augment_pool"] = 1
        return cls(**obj)

    def refiner(self, *, vocab_in: int, vocab_out: int, max_len: int) -> RefinerConfig:
        from hartflow.hybrid.batching import N_SCALARS

        return RefinerConfig(
            vocab_in=vocab_in,
            vocab_out=vocab_out,
            feature_dim=self.feature_dim + N_SCALARS,
            dim=self.dim,
            n_heads=self.n_heads,
            expansion=self.expansion,
            mixer=self.mixer,
            seq_len=max_len if self.mixer == "mlp" else None,
            max_len=max_len,
            n_cycles=self.n_cycles,
            n_latent_steps=self.n_latent_steps,
            max_halt_steps=self.max_halt_steps,
        )
