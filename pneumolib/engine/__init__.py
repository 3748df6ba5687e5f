"""Inference engines: the same forward pass by PyTorch or by ONNX Runtime, chosen in one place.

* :class:`Engine` (``base``): the batched interface every scorer and the service use;
* :class:`TorchEngine` (``torch_engine``): the model itself, mixed precision on a GPU;
* :class:`OnnxEngine` (``onnx_engine``): an exported graph (``onnx_graph``) on ONNX Runtime's CPU
  provider, cached per checkpoint;
* :func:`create_engine` (``choice``): which of the two answers;
* :func:`with_views` (``views``): the test-time views a checkpoint asks for, around either.
"""

from pneumolib.engine.base import OUTPUTS, Engine, calibrated_probability, margin_logits, to_model_input
from pneumolib.engine.choice import ENGINE_CHOICES, ENGINE_ENV, as_engine, create_engine, engine_preference
from pneumolib.engine.onnx_graph import EngineUnavailable
from pneumolib.engine.torch_engine import TorchEngine, autocast_dtype
from pneumolib.engine.views import ViewAveragingEngine, with_views

__all__ = [
    "ENGINE_CHOICES", "ENGINE_ENV", "OUTPUTS", "Engine", "EngineUnavailable", "TorchEngine", "as_engine",
    "ViewAveragingEngine", "autocast_dtype", "calibrated_probability", "create_engine", "engine_preference", "margin_logits",
    "to_model_input", "with_views",
]
