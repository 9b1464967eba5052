"""Neural reasoners: shared layers, losses, optimisers and EMA; TRM and HRM for grid puzzles;
the sequence refiner of the HRR + TRM hybrid.

Depends on torch only; see DESIGN.md §5–6.
"""

from reasoner.act import ACTCarry, ACTModel, ACTOutput
from reasoner.ema import EMA
from reasoner.embedding import GridEmbedding
from reasoner.grid_model import GridModelConfig, GridReasoner
from reasoner.hrm import HRM, HRMConfig
from reasoner.layers import (
    Attention,
    Block,
    Linear,
    ReasoningModule,
    Rotary,
    SwiGLU,
    apply_rotary,
    rms_norm,
    swiglu_hidden,
    trunc_normal_init_,
)
from reasoner.losses import (
    act_loss,
    log_stablemax,
    softmax_cross_entropy,
    stablemax_cross_entropy,
)
from reasoner.optim import AdamATan2, SignSGD, warmup_constant
from reasoner.presets import (
    ARCHS,
    PRESETS,
    build_model,
    config_from_dict,
    config_to_dict,
    count_parameters,
    grid_config,
)
from reasoner.refiner import Refiner, RefinerConfig, RefinerOutput, RefinerState
from reasoner.trm import TRM, TRMConfig

__all__ = [
    # grid models
    "TRM",
    "TRMConfig",
    "HRM",
    "HRMConfig",
    "GridModelConfig",
    "GridReasoner",
    "GridEmbedding",
    "grid_config",
    "build_model",
    "count_parameters",
    "config_to_dict",
    "config_from_dict",
    "ARCHS",
    "PRESETS",
    # the hybrid's sequence refiner
    "Refiner",
    "RefinerConfig",
    "RefinerState",
    "RefinerOutput",
    # adaptive computation time
    "ACTModel",
    "ACTCarry",
    "ACTOutput",
    # layers
    "rms_norm",
    "trunc_normal_init_",
    "Linear",
    "Rotary",
    "apply_rotary",
    "Attention",
    "SwiGLU",
    "swiglu_hidden",
    "Block",
    "ReasoningModule",
    # losses
    "stablemax_cross_entropy",
    "softmax_cross_entropy",
    "log_stablemax",
    "act_loss",
    # optimisation
    "AdamATan2",
    "SignSGD",
    "warmup_constant",
    "EMA",
]
