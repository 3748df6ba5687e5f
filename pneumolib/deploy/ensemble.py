"""Write one checkpoint that averages the logits of several trained ones (:mod:`pneumolib.models.ensemble`).

Members must read the same inputs (size, JPEG round trip, normalisation) and come from the same
split, so the ensemble's val figures stay honest. Views are added to the ensemble afterwards, not
to its members. What ``finalize`` fitted to a member's scores does not fit the average: measure the
result with ``select`` and ``finalize`` it, like any other candidate. Each member's training record
is kept under ``members`` for the model card.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pneumolib.checkpoint import CheckpointError, model_from_payload, read_checkpoint, save_checkpoint
from pneumolib.constants import UNCALIBRATED
from pneumolib.engine.views import METADATA_KEY as VIEWS_KEY
from pneumolib.file_digest import file_sha256
from pneumolib.models.ensemble import ENSEMBLE, MEMBERS_KEY, ensemble_classifier

SHARED = ("image_size", "jpeg_quality", "mean", "std", "class_names", "manifest_digest")
"""Metadata every member must agree on: what the model reads, and the split it was trained on."""
MEMBER_RECORD = ("architecture", "epoch", "val_metrics", "train_config", "history", "pretrained_source", "weights")
"""What the ensemble keeps of each member's metadata: its training, for the model card."""


def combine_checkpoints(paths: Sequence[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Write the ensemble of ``paths`` (equal weights on the logits) to ``out``."""
    if len(paths) < 2:
        raise ValueError(f"an ensemble needs at least two checkpoints, got {len(paths)}")
    payloads = [read_checkpoint(p) for p in paths]
    # a training checkpoint keeps its per-epoch history beside the metadata; the member record wants both
    metadata = [{"history": payload.get("history", []), **payload["metadata"]} for payload in payloads]
    for path, meta in zip(paths, metadata, strict=True):
        if meta.get("architecture") == ENSEMBLE:
            raise CheckpointError(f"{path} is an ensemble already: list its members instead")
        if meta.get(VIEWS_KEY):
            raise CheckpointError(f"{path} scores through test-time views: combine the plain checkpoints, "
                                  "then run `views` on the ensemble")
        for key in SHARED:
            if meta.get(key) != metadata[0].get(key):
                raise CheckpointError(f"{path} differs from {paths[0]} in {key} ({meta.get(key)!r} against "
                                      f"{metadata[0].get(key)!r}): members must read the same inputs from the same split")
    members = [model_from_payload(payload, path).eval() for payload, path in zip(payloads, paths, strict=True)]
    model = ensemble_classifier(members, dropout=metadata[0].get("dropout", 0.3))
    record: dict[str, Any] = {key: metadata[0][key] for key in SHARED if key in metadata[0]}
    record.update(UNCALIBRATED, architecture=ENSEMBLE, dropout=metadata[0].get("dropout", 0.3),
                  weights=f"ensemble of {len(paths)} checkpoints, logits averaged")
    record[MEMBERS_KEY] = [meta["architecture"] for meta in metadata]
    record["members"] = [{"checkpoint": Path(p).name, "sha256": file_sha256(p),
                          **{k: meta[k] for k in MEMBER_RECORD if k in meta}}
                         for p, meta in zip(paths, metadata, strict=True)]
    return save_checkpoint(out, model, record)


def members_table(metadata: Mapping[str, Any]) -> pd.DataFrame:
    """One row per member of an ensemble checkpoint (empty for a single network): what each one is and how it was trained."""
    rows = []
    for member in metadata.get("members") or []:
        config = member.get("train_config") or {}
        augment = config.get("augment_config") or {}
        rows.append({"checkpoint": member.get("checkpoint"), "architecture": member.get("architecture"),
                     "initial weights": member.get("pretrained_source"), "epochs run": len(member.get("history") or []),
                     "epoch kept": member.get("epoch"), "weights": member.get("weights"),
                     "lung guidance": config.get("lung_guidance", 0.0),
                     "JPEG augmentation": augment.get("jpeg_probability", 0.0),
                     "val ROC AUC": (member.get("val_metrics") or {}).get("val_auc")})
    return pd.DataFrame(rows)
