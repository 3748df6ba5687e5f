"""Turn the best training checkpoint into a deployable model, using the val split only.

Adds what the API and the evaluation need but training does not produce:

* a temperature (fitted on val logits) so probabilities mean what they say;
* the operating points, chosen on val: ``screening`` (the highest threshold whose val
  sensitivity is >= 0.99) and ``balanced`` (Youden's J), on the calibrated probability;
* the "not a chest X-ray" gate (:mod:`pneumolib.training.gate_fit`): a Mahalanobis distance on
  backbone features, fitted on training images clean and augmented, its threshold placed between
  val films under acquisition shifts and a reference set of non-X-rays; how it did on those is
  recorded.

The test split is not read here; ``pneumolib evaluate`` reports on it afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from pneumolib.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from pneumolib.data.images import read_grayscale
from pneumolib.evaluation.calibration import fit_temperature
from pneumolib.evaluation.operating_points import choose_operating_points
from pneumolib.inference import predict_logits, sigmoid
from pneumolib.models.factory import ARCHITECTURES
from pneumolib.training.augment import AugmentConfig
from pneumolib.training.data import load_split
from pneumolib.training.gate_fit import fit_gate

DEFAULT_OPERATING_POINT = "screening"
SCREENING_SENSITIVITY = 0.99


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
    val_logits = predict_logits(model, splits["val"].images, device=device, progress=progress, desc="val logits")

    temperature = fit_temperature(val_logits, val_y)
    calibrated = sigmoid(val_logits / temperature)
    points = choose_operating_points(val_y, calibrated, sensitivity_target=SCREENING_SENSITIVITY, include_argmax=False)
    augment = AugmentConfig.from_dict(metadata["train_config"].get("augment_config", {}))
    val_originals = [read_grayscale(Path(data_root) / path) for path in splits["val"].rows["path"]]
    gate, gate_summary = fit_gate(model, ARCHITECTURES[metadata["architecture"]].gate_layers,
                                  splits["train"].images, splits["val"].images, val_originals, size, quality,
                                  augment, device=device, progress=progress)

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
        "ood_gate": gate_summary,
    })
    payload = read_checkpoint(checkpoint)
    save_checkpoint(out, model, metadata, ood_gate=gate.to_state(), history=payload.get("history", []))
    return metadata
