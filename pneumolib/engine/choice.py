"""Which engine answers: one decision, made here, for the service and every batch scorer.

``auto`` (the default) uses ONNX Runtime when the model runs on a CPU and ``onnxruntime`` is
installed, PyTorch otherwise (on a GPU PyTorch with mixed precision is the fast path). Set
``PNEUMO_ENGINE=torch`` or ``onnx`` (or pass ``prefer``) to force one. In ``auto`` an ONNX engine
that cannot be built falls back to PyTorch with a logged warning and the reason kept on the
engine; a forced ``onnx`` raises instead.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from pneumolib import environment
from pneumolib.engine.base import Engine
from pneumolib.engine.onnx_graph import EngineUnavailable
from pneumolib.engine.torch_engine import TorchEngine
from pneumolib.models.classifier import PneumoniaClassifier

logger = logging.getLogger(__name__)

ENGINE_ENV = environment.ENGINE
ENGINE_CHOICES = ("auto", "onnx", "torch")


def engine_preference(prefer: str | None = None) -> str:
    """``prefer``, else ``$PNEUMO_ENGINE``, else "auto"; raises on anything else."""
    value = (prefer or environment.read(ENGINE_ENV) or "auto").strip().lower()
    if value not in ENGINE_CHOICES:
        raise ValueError(f"unknown inference engine {value!r} (from {'the caller' if prefer else ENGINE_ENV}); "
                         f"choose one of {', '.join(ENGINE_CHOICES)}")
    return value


def create_engine(
    model: PneumoniaClassifier,
    image_size: int,
    gate_layers: Sequence[str] = (),
    checkpoint_sha256: str | None = None,
    prefer: str | None = None,
    threads: int | None = None,
    cache_dir: Path | None = None,
) -> Engine:
    """The engine for ``model`` (see the module docstring for the rule)."""
    choice = engine_preference(prefer)
    parameter = next(model.parameters(), None)
    on_cpu = parameter is None or parameter.device.type == "cpu"
    if choice == "torch" or (choice == "auto" and not on_cpu):
        return TorchEngine(model, gate_layers)
    if not on_cpu:  # forced onnx: ONNX Runtime's CPU provider, on a CPU copy (the caller's model stays put)
        model = copy.deepcopy(model).cpu()
    from pneumolib.engine.onnx_engine import OnnxEngine

    try:
        return OnnxEngine(model, image_size, gate_layers, checkpoint_sha256, threads, cache_dir)
    except EngineUnavailable as error:
        if choice == "onnx":
            raise
        logger.warning("using PyTorch for inference: %s", error)
        engine = TorchEngine(model, gate_layers)
        engine.fallback_reason = str(error)
        return engine


def as_engine(model: PneumoniaClassifier | Engine, device: torch.device | str | None = None) -> Engine:
    """``model`` itself when it is an engine, else a PyTorch engine on it (weights that change
    during training are never exported)."""
    return model if isinstance(model, Engine) else TorchEngine(model, device=device)
