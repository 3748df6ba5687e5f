"""Scoring canonical uint8 images with a checkpoint: batched, no gradients, margin logits out.

The forward pass itself belongs to an engine (:mod:`pneumolib.engine`); these helpers take either
an engine or a bare model (scored by PyTorch, as the trainer does with weights that change every
epoch), and :func:`engine_for_checkpoint` builds the engine a saved checkpoint is scored with.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from pneumolib.checkpoint import load_checkpoint
from pneumolib.engine import Engine, as_engine, calibrated_probability, create_engine, with_views
from pneumolib.file_digest import file_sha256
from pneumolib.models.classifier import PneumoniaClassifier
from pneumolib.models.from_metadata import gate_layers


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Uncalibrated P(pneumonia) of pneumonia-minus-normal logits, in float64."""
    return calibrated_probability(np.asarray(x, dtype=np.float64))


def predict_features_and_logits(
    model: PneumoniaClassifier | Engine,
    images: np.ndarray,
    batch_size: int = 64,
    device: torch.device | str | None = None,
    progress: bool = False,
    desc: str = "features",
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features (N, F) and margin logits (N,) in one pass (eval mode: dropout is off)."""
    return as_engine(model, device).features_and_logits(images, batch_size, progress, desc)


def predict_logits(
    model: PneumoniaClassifier | Engine,
    images: np.ndarray,
    batch_size: int = 64,
    device: torch.device | str | None = None,
    progress: bool = False,
    desc: str = "predicting",
) -> np.ndarray:
    """Margin logits for every image, in order."""
    return predict_features_and_logits(model, images, batch_size, device, progress, desc)[1]


def engine_for_checkpoint(
    path: str | os.PathLike, device: torch.device | str = "cpu", prefer: str | None = None,
) -> tuple[Engine, PneumoniaClassifier, dict[str, Any]]:
    """The engine that scores a saved checkpoint (ONNX Runtime on a CPU where installed), with
    the model and metadata it was built from. The gate's layers are exported too, so one engine
    serves predictions, heatmaps and gate features."""
    model, metadata = load_checkpoint(path, device)
    engine = create_engine(model, int(metadata["image_size"]), gate_layers(metadata), file_sha256(path), prefer)
    return with_views(engine, metadata), model, metadata
