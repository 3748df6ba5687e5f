"""Turn the best training checkpoint into a deployable model, using the val split only.

Adds what the API and the evaluation need but training does not produce:

* a temperature (fitted on val logits) so probabilities mean what they say;
* the operating points, chosen on val: ``screening`` (the highest threshold whose val
  sensitivity is >= 0.99) and ``balanced`` (Youden's J), on the calibrated probability;
* the "not a chest X-ray" gate: a Mahalanobis distance on the model's pooled features, fitted on
  the training images *as augmented in training* (exposure, contrast, blur, noise, position,
  blanked edges), so that it accepts the acquisition variation the classifier is trained to
  tolerate and refuses what lies beyond it; its acceptance rate on val is recorded.

The test split is not read here; ``pneumolib evaluate`` reports on it afterwards.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

from pneumolib.checkpoint import read_checkpoint, save_checkpoint, load_checkpoint
from pneumolib.evaluation.calibration import fit_temperature
from pneumolib.evaluation.operating_points import choose_operating_points
from pneumolib.inference import predict_features_and_logits, sigmoid, to_model_input
from pneumolib.training.augment import AugmentConfig, augment_batch
from pneumolib.serving.ood import MahalanobisGate
from pneumolib.training.data import load_split

DEFAULT_OPERATING_POINT = "screening"
SCREENING_SENSITIVITY = 0.99
GATE_QUANTILE = 0.995


@torch.no_grad()
def augmented_features(model: torch.nn.Module, images: np.ndarray, config: AugmentConfig, seed: int = 0,
                       batch_size: int = 64, device: str | torch.device = "cpu", progress: bool = True) -> np.ndarray:
    """Pooled features of one seeded, training-style augmented copy of every image."""
    generator = torch.Generator(device=device).manual_seed(seed)
    out = []
    for start in tqdm(range(0, len(images), batch_size), desc="gate features", disable=not progress, leave=False):
        batch = augment_batch(to_model_input(images[start : start + batch_size], device), generator, config)
        out.append(model.features(batch).float().cpu())
    return torch.cat(out).numpy()


def finalize_checkpoint(
    checkpoint: str | os.PathLike,
    manifest: pd.DataFrame,
    data_root: str | os.PathLike,
    out: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    max_images_per_split: int | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Write ``out``: the checkpoint's weights with temperature, operating points and gate added."""
    model, metadata = load_checkpoint(checkpoint, device)
    size, quality = metadata["image_size"], metadata["jpeg_quality"]
    splits = {name: load_split(manifest, name, data_root, size, quality, max_images_per_split, cache_dir, progress)
              for name in ("train", "val")}
    val_y = splits["val"].labels
    val_features, val_logits = predict_features_and_logits(model, splits["val"].images, device=device,
                                                           progress=progress, desc="val features")

    temperature = fit_temperature(val_logits, val_y)
    calibrated = sigmoid(val_logits / temperature)
    points = choose_operating_points(val_y, calibrated, sensitivity_target=SCREENING_SENSITIVITY, include_argmax=False)
    augment = AugmentConfig.from_dict(metadata["train_config"].get("augment_config", {}))
    gate_features = augmented_features(model, splits["train"].images, augment, device=device, progress=progress)
    gate = MahalanobisGate().fit(gate_features, quantile=GATE_QUANTILE)

    metadata = dict(metadata)
    metadata.update({
        "temperature": float(temperature),
        "operating_points": {name: point.to_dict() for name, point in points.items()},
        "default_operating_point": DEFAULT_OPERATING_POINT,
        "thresholds_apply_to": "calibrated probability of pneumonia, sigmoid(logit / temperature)",
        "val_metrics": {
            **metadata.get("val_metrics", {}),
            "val_auc": float(roc_auc_score(val_y, calibrated)),
            "val_images": int(len(val_y)),
        },
        "ood_gate": {
            "method": "Mahalanobis distance on pooled features, Ledoit-Wolf covariance",
            "fitted_on": f"{len(splits['train'].labels)} training images, each augmented once as in training",
            "quantile": GATE_QUANTILE,
            "val_accept_rate": float(gate.accepts(val_features).mean()),
        },
    })
    payload = read_checkpoint(checkpoint)
    save_checkpoint(out, model, metadata, ood_gate=gate.to_state(), history=payload.get("history", []))
    return metadata
