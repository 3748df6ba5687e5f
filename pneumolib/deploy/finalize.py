"""Turn the best training checkpoint into a deployable model, using the val split only.

Adds what the API and the evaluation need but training does not produce:

* a temperature so probabilities mean what they say, fitted on val *and* stress val (the val
  films under the fixed shifts of :data:`pneumolib.data.inputs.shifts.STRESS_SHIFTS`): clean val is
  nearly separable, and a temperature fitted there alone sharpens the probabilities (T < 1) in a
  way that does not survive the first change of scanner;
* the operating points, chosen on the same pooled val + stress val films: ``screening`` (the
  highest threshold whose sensitivity is >= 0.99) and ``balanced`` (Youden's J), on the
  calibrated probability, so a threshold keeps its sensitivity under those shifts too;
* the stress-val table at the balanced point (per shift: AUC, flips, probability change);
* the "not a chest X-ray" gate (:mod:`pneumolib.gate.fit`): a Mahalanobis distance on
  backbone features, fitted on training images clean and augmented, its threshold placed between
  val films under acquisition shifts and a reference set of non-X-rays; how it did on those is
  recorded.

The test split is not read here; ``pneumolib evaluate`` reports on it afterwards.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from pneumolib.checkpoint import read_checkpoint, save_checkpoint
from pneumolib.constants import BALANCED, DEFAULT_OPERATING_POINT
from pneumolib.data.inputs.arrays import load_split
from pneumolib.data.inputs.augment import AugmentConfig
from pneumolib.data.release.images import read_grayscale
from pneumolib.data.sources.roots import DataRoot, manifest_file
from pneumolib.deploy.decisions import decide
from pneumolib.evaluation.selection import val_stress_set
from pneumolib.evaluation.stress import CLEAN, stress_summary, stress_table
from pneumolib.explain.occlusion import fit_occlusion_fill
from pneumolib.gate.fit import fit_gate
from pneumolib.inference import engine_for_checkpoint, predict_logits, sigmoid
from pneumolib.models.from_metadata import gate_layers


def finalize_checkpoint(
    checkpoint: str | os.PathLike,
    manifest: pd.DataFrame,
    data_root: DataRoot,
    out: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    max_images_per_split: int | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Write ``out``: the checkpoint's weights with temperature, operating points and gate added."""
    engine, model, metadata = engine_for_checkpoint(checkpoint, device)
    size, quality = metadata["image_size"], metadata["jpeg_quality"]
    splits = {name: load_split(manifest, name, data_root, size, quality, max_images_per_split, cache_dir, progress)
              for name in ("train", "val")}
    val_y = splits["val"].labels
    stress = val_stress_set(manifest, data_root, size, quality, max_images_per_split, cache_dir, progress)
    logits = {name: predict_logits(engine, images, device=device, progress=progress, desc=f"logits: {name}")
              for name, images in stress.arrays.items()}
    val_logits = logits[CLEAN]
    pooled_logits = np.concatenate(list(logits.values()))
    pooled_y = np.tile(stress.labels, len(logits))

    decisions = decide(pooled_logits, pooled_y, "val + stress val",
                       f"val + stress val: {len(val_y)} val films, clean and under {len(logits) - 1} fixed shifts")
    temperature = decisions["temperature"]
    calibrated = sigmoid(val_logits / temperature)
    stress_rows = stress_table(stress.labels, {n: sigmoid(z / temperature) for n, z in logits.items()},
                               decisions["operating_points"][BALANCED]["threshold"])
    augment = AugmentConfig.from_dict(training_augmentation(metadata))
    val_originals = [read_grayscale(manifest_file(data_root, path)) for path in splits["val"].rows["path"]]
    gate, gate_summary = fit_gate(engine, gate_layers(metadata),
                                  splits["train"].images, splits["val"].images, val_originals, size, quality,
                                  augment, device=device, progress=progress)

    default_threshold = decisions["operating_points"][DEFAULT_OPERATING_POINT]["threshold"]
    explanation = fit_occlusion_fill(engine, splits["val"].images, calibrated < default_threshold, temperature)

    metadata = dict(metadata)
    metadata.update({
        **decisions,
        "default_operating_point": DEFAULT_OPERATING_POINT,
        "thresholds_apply_to": "calibrated probability of pneumonia, sigmoid(logit / temperature)",
        "stress_val": {"operating_point": BALANCED, "summary": stress_summary(stress_rows),
                       "shifts": stress_rows.to_dict(orient="records")},
        "val_metrics": {
            **metadata.get("val_metrics", {}),
            "val_auc": float(roc_auc_score(val_y, calibrated)),
            "val_images": int(len(val_y)),
        },
        "ood_gate": gate_summary,
        "explanation": explanation,
    })
    payload = read_checkpoint(checkpoint)
    save_checkpoint(out, model, metadata, ood_gate=gate.to_state(), history=payload.get("history", []))
    return metadata


def refit_explanation(
    checkpoint: str | os.PathLike,
    manifest: pd.DataFrame,
    data_root: DataRoot,
    out: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    max_images_per_split: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Re-choose a finalized checkpoint's occlusion fill on val with today's rule; nothing else changes.

    The step of :func:`finalize_checkpoint` that chooses the fill, alone: the same val films called
    normal at the default operating point, the same temperature. For a model finalized before the
    rule changed, without the 20 minutes of refitting temperature, thresholds and gate.
    """
    engine, model, metadata = engine_for_checkpoint(checkpoint)
    if "calibrated_on" not in metadata or DEFAULT_OPERATING_POINT not in metadata.get("operating_points", {}):
        raise ValueError(f"{checkpoint} is not finalized: run `pneumolib finalize` on it first")
    val = load_split(manifest, "val", data_root, metadata["image_size"], metadata["jpeg_quality"],
                     max_images_per_split, cache_dir, progress)
    temperature = float(metadata["temperature"])
    calibrated = sigmoid(predict_logits(engine, val.images, progress=progress, desc="logits: val") / temperature)
    threshold = metadata["operating_points"][DEFAULT_OPERATING_POINT]["threshold"]
    metadata = dict(metadata)
    metadata["explanation"] = fit_occlusion_fill(engine, val.images, calibrated < threshold, temperature)
    payload = read_checkpoint(checkpoint)
    save_checkpoint(out, model, metadata, ood_gate=payload.get("ood_gate"), history=payload.get("history", []))
    return metadata


def training_augmentation(metadata: dict[str, Any]) -> dict[str, Any]:
    """The augmentation the gate draws in-distribution variants with: the run's own, or an ensemble's first member's.

    An ensemble was not trained as a whole, so it has no training configuration of its own.
    """
    configs = [metadata.get("train_config"), *(m.get("train_config") for m in metadata.get("members") or [])]
    return next((dict(c.get("augment_config") or {}) for c in configs if c), {})
