"""Fit the not-a-chest-X-ray gate of a trained model (train and val data only).

1. Features: the pooled outputs of the last three backbone stages
   (:attr:`pneumolib.models.factory.Architecture.gate_layers`), read in the same forward pass
   as the prediction.
2. Gaussian: fitted on every training image three times, clean and in two training-style
   augmented views, so it spans the variation the classifier was taught to tolerate.
   Held-out (5-fold, views of an image kept together) distances give the 99.5 % quantile.
3. Threshold: moved into the gap between validation films under acquisition shifts
   (:mod:`pneumolib.data.inputs.shifts`) and a reference set of non-X-rays
   (:mod:`pneumolib.gate.reference_non_xrays`), by :func:`pneumolib.gate.mahalanobis.gap_margin`.

The test split is not read; ``python -m pneumolib measure-gate`` (:mod:`pneumolib.serving.gate_measure`) reports on it afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from pneumolib.data.inputs.augment import AugmentConfig, augment_batch
from pneumolib.data.inputs.preprocess import canonical_image
from pneumolib.data.inputs.shifts import ACQUISITION_SHIFTS
from pneumolib.engine import Engine, TorchEngine, to_model_input
from pneumolib.gate.mahalanobis import MahalanobisGate, gap_margin
from pneumolib.gate.reference_non_xrays import reference_non_xrays
from pneumolib.models.classifier import PneumoniaClassifier

GATE_QUANTILE = 0.995
AUGMENTED_VIEWS = 2


@torch.no_grad()
def gate_features(
    model: PneumoniaClassifier | Engine,
    images: np.ndarray,
    layers: Sequence[str],
    augment: AugmentConfig | None = None,
    seed: int = 0,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    progress: bool = True,
    desc: str = "gate features",
) -> np.ndarray:
    """Tapped features (N, D) of (N, S, S) uint8 images, optionally augmented once (seeded).

    ``model`` may be an engine built with the same gate layers (ONNX Runtime on a CPU: the
    augmentation still runs in PyTorch, the forward pass in the engine).
    """
    generator = torch.Generator(device=device).manual_seed(seed)
    engine = model if isinstance(model, Engine) else TorchEngine(model, layers, device)
    if tuple(engine.gate_layers) != tuple(layers):
        raise ValueError(f"the engine taps {engine.gate_layers}, not the gate's layers {tuple(layers)}")
    out = []
    try:
        for start in tqdm(range(0, len(images), batch_size), desc=desc, disable=not progress, leave=False):
            batch = to_model_input(images[start : start + batch_size], device)
            if augment is not None:
                batch = augment_batch(batch, generator, augment)
            out.append(engine.run(batch, ("gate_features",))["gate_features"])
    finally:
        if engine is not model:
            engine.close()
    return np.concatenate(out).astype(np.float32)


def pixel_features(
    model: PneumoniaClassifier | Engine,
    pixels: Sequence[np.ndarray],
    layers: Sequence[str],
    image_size: int,
    jpeg_quality: int | None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    desc: str = "gate features",
) -> np.ndarray:
    """Tapped features of (H, W) uint8 images of any size, preprocessed as the service does."""
    canonical = np.stack([canonical_image(image, image_size, jpeg_quality) for image in pixels])
    return gate_features(model, canonical, layers, device=device, progress=progress, desc=desc)


def reference_features(
    model: PneumoniaClassifier | Engine,
    layers: Sequence[str],
    image_size: int,
    jpeg_quality: int | None,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> np.ndarray:
    """Tapped features of the reference non-X-rays (:mod:`pneumolib.gate.reference_non_xrays`)."""
    return pixel_features(model, [image for _, image in reference_non_xrays()], layers, image_size, jpeg_quality,
                          device, progress, "gate: reference non-X-rays")


def fit_gate(
    model: PneumoniaClassifier | Engine,
    layers: Sequence[str],
    train_images: np.ndarray,
    val_images: np.ndarray,
    val_originals: Sequence[np.ndarray],
    image_size: int,
    jpeg_quality: int | None,
    augment: AugmentConfig,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> tuple[MahalanobisGate, dict[str, Any]]:
    """The fitted gate and a summary of how it did on what placed it (for the checkpoint)."""
    views = [gate_features(model, train_images, layers, device=device, progress=progress, desc="gate: train")]
    views += [gate_features(model, train_images, layers, augment, seed=view, device=device, progress=progress,
                            desc=f"gate: train, augmented view {view}") for view in range(1, AUGMENTED_VIEWS + 1)]
    groups = np.tile(np.arange(len(train_images)), len(views))
    gate = MahalanobisGate().fit(np.concatenate(views), quantile=GATE_QUANTILE, groups=groups, layers=tuple(layers))

    shifted = {name: pixel_features(model, [shift(image) for image in val_originals], layers, image_size,
                                    jpeg_quality, device, progress, f"gate: val, {name}")
               for name, shift in tqdm(ACQUISITION_SHIFTS.items(), desc="acquisition shifts",
                                       disable=not progress, leave=False)}
    reference = reference_features(model, layers, image_size, jpeg_quality, device, progress)
    margin = gap_margin(gate, np.concatenate(list(shifted.values())), reference)
    gate.set_margin(margin)

    val = gate_features(model, val_images, layers, device=device, progress=progress, desc="gate: val")
    summary = {
        "method": "Mahalanobis distance on the pooled outputs of the last three backbone stages, "
                  "Ledoit-Wolf covariance",
        "layers": list(layers),
        "fitted_on": f"{len(train_images)} training images, clean and in {AUGMENTED_VIEWS} augmented views",
        "quantile": GATE_QUANTILE,
        "margin": float(margin),
        "margin_rule": "threshold midway (geometric mean) between the 99.5th percentile distance of val "
                       "films under acquisition shifts and the 5th percentile of reference non-X-rays",
        "val_accept_rate": float(gate.accepts(val).mean()),
        "shifted_val_accept_rates": {name: float(gate.accepts(rows).mean()) for name, rows in shifted.items()},
        "reference_non_xrays": int(len(reference)),
        "reference_reject_rate": float((~gate.accepts(reference)).mean()),
    }
    return gate, summary
