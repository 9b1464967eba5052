"""HartFlow: data sets, the HRR → memory → refiner pipeline, training and evaluation."""

from hartflow.errors import HartFlowError

__all__ = ["HartFlowError"]
__version__ = "0.1.0"
