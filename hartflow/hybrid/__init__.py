"""The HRR + TRM hybrid: memory hypotheses refined by a two-layer recursive network.

`hypotheses` (cross-fitted memory hypotheses), `vocab` and `batching` (tensors for the refiner),
`training` (deep supervision, ACT, EMA, checkpoints, data parallel), `evaluation` (exact match,
traces). TRM-only mode is the same refiner trained and evaluated without hypotheses.
"""

from hartflow.hybrid.config import TrainConfig
from hartflow.hybrid.evaluation import decode_trace, evaluate_refiner
from hartflow.hybrid.run import train

__all__ = ["TrainConfig", "decode_trace", "evaluate_refiner", "train"]
