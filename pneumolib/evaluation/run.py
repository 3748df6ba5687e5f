"""Evaluate a checkpoint end to end: predictions on val and test, the report, the documents.

It reads the official test split and only reports on it: the temperature and the operating
points are the ones the checkpoint was finalised with (on val and stress val). Every call is a
look at the test split and is written to the access log (:mod:`pneumolib.evaluation.test_access`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pneumolib.checkpoint import read_checkpoint
from pneumolib.constants import BALANCED
from pneumolib.data.inputs.arrays import load_split
from pneumolib.data.sources.roots import BASE_SOURCE, DataRoot, official_rows
from pneumolib.data.split.manifest import manifest_digest
from pneumolib.engine import Engine
from pneumolib.evaluation.calibration import apply_temperature
from pneumolib.evaluation.report import build_report
from pneumolib.evaluation.test_access import record_test_access
from pneumolib.file_digest import file_sha256
from pneumolib.inference import engine_for_checkpoint, predict_logits, sigmoid
from pneumolib.models.from_metadata import describe_architecture


@dataclass
class Evaluation:
    report: dict[str, Any]
    metadata: dict[str, Any]  # the checkpoint's, with its training history
    predictions: dict[str, pd.DataFrame]  # "val", "test", "test_<source>": path, source, label, logit, prob, ...


def predictions_table(model: torch.nn.Module | Engine, metadata: dict[str, Any], manifest: pd.DataFrame, split: str,
                      data_root: DataRoot, max_images: int | None = None,
                      cache_dir: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                      progress: bool = True) -> pd.DataFrame:
    """One row per image of ``split`` with the model's margin logit and probability."""
    data = load_split(manifest, split, data_root, metadata["image_size"], metadata["jpeg_quality"],
                      max_images, cache_dir, progress)
    logits = predict_logits(model, data.images, device=device, progress=progress, desc=f"scoring {split}")
    table = data.rows[["path", "source", "patient_id", "subtype"]].copy()
    table.insert(1, "label", data.labels)
    table["logit"] = logits
    table["prob"] = sigmoid(logits)
    return table


def evaluate_checkpoint(checkpoint: str | os.PathLike, manifest: pd.DataFrame, data_root: DataRoot, *,
                        n_resamples: int = 2000, max_images: int | None = None,
                        cache_dir: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                        progress: bool = True, purpose: str = "evaluate",
                        test_log: str | os.PathLike | None = None, heatmaps: bool = True) -> Evaluation:
    """Score val and test, build the report, and record the look at test in the access log.

    Only a finalized checkpoint is evaluated: its temperature and operating points were decided
    on val + stress val by ``finalize``; nothing here decides them, and an unfinalized file is
    refused before the test split is read.
    """
    payload = read_checkpoint(checkpoint)
    stored = payload["metadata"]
    if "temperature" not in stored or BALANCED not in stored.get("operating_points", {}):
        raise ValueError(f"{checkpoint} is not finalized: its temperature and operating points are decided on val "
                         "and stress val by `python -m pneumolib finalize CHECKPOINT OUT`; evaluate OUT. The test "
                         "split was not read.")
    engine, model, metadata = engine_for_checkpoint(checkpoint, device)
    metadata = {**metadata, "history": payload.get("history", [])}
    del payload  # the weights now live in the engine
    kermany = official_rows(manifest)
    tables = {"val": predictions_table(engine, metadata, manifest, "val", data_root, max_images, cache_dir, device, progress),
              "test": predictions_table(engine, metadata, kermany, "test", data_root, max_images, cache_dir, device,
                                        progress)}
    record_test_access(checkpoint, purpose, len(tables["test"]), test_log)
    report = build_report(tables["val"], tables["test"], metadata, n_resamples=n_resamples, progress=progress)
    if heatmaps:  # within the same look: the heatmap figures the README and model card quote
        report["heatmaps"] = test_heatmap_summary(engine, model, metadata, kermany, data_root, max_images, cache_dir,
                                                  progress)
    report["test_by_source"] = {}
    for source in external_test_sources(manifest):
        rows = manifest[manifest["source"].eq(source)]
        table = predictions_table(engine, metadata, rows, "test", data_root, max_images, cache_dir, device, progress)
        record_test_access(checkpoint, f"{purpose} (test films of source {source})", len(table), test_log)
        tables[f"test_{source}"] = table
        report["test_by_source"][source] = source_test_report(tables["val"], table, metadata, n_resamples, progress)
    for table in tables.values():
        table["prob_calibrated"] = apply_temperature(table["logit"].to_numpy(), report["calibration"]["temperature"])
    report["model"] = {
        "checkpoint": Path(checkpoint).name,
        "sha256": file_sha256(checkpoint),
        "architecture": describe_architecture(metadata),
        "image_size": metadata["image_size"],
        "epoch": metadata.get("epoch"),
        "package_version": metadata.get("package_version"),
        "manifest_digest": metadata.get("manifest_digest"),
        "evaluated_on_manifest": manifest_digest(manifest),
        "subset": max_images,
    }
    return Evaluation(report, metadata, tables)


def test_heatmap_summary(engine: Engine, model: torch.nn.Module, metadata: dict[str, Any], manifest: pd.DataFrame,
                         data_root: DataRoot, max_images: int | None, cache_dir: str | os.PathLike | None,
                         progress: bool) -> dict[str, Any]:
    """:func:`pneumolib.explain.summary.heatmap_summary` on the Kermany test split."""
    from pneumolib.explain.study import film_reader
    from pneumolib.explain.summary import heatmap_summary

    data = load_split(manifest, "test", data_root, metadata["image_size"], metadata["jpeg_quality"], max_images,
                      cache_dir, progress)
    subtypes = dict(zip(manifest["path"], manifest["subtype"].fillna("")))
    return heatmap_summary(engine, model, metadata, np.asarray(data.images), data.labels, list(data.rows["path"]),
                           subtypes, film_reader(data_root), progress=progress)


def external_test_sources(manifest: pd.DataFrame) -> list[str]:
    """The extra sources with test films: each is reported on its own, never pooled with Kermany's test."""
    test = manifest[manifest["split"].eq("test") & manifest["source"].ne(BASE_SOURCE)]
    return sorted(test["source"].unique())


def source_test_report(val: pd.DataFrame, test: pd.DataFrame, decisions: dict[str, Any], n_resamples: int,
                       progress: bool = True) -> dict[str, Any]:
    """One extra source's test films at the checkpoint's fixed thresholds: size, AUC, operating points, calibration."""
    full = build_report(val, test, decisions, n_resamples=n_resamples, progress=progress)
    return {"data": full["data"]["test"], "test": full["test"], "calibration": full["calibration"]["test"]}


def source_results_table(report: dict[str, Any], point: str = BALANCED) -> pd.DataFrame:
    """One row per test set (Kermany's, then each extra source's): images, ROC AUC, sensitivity, specificity."""
    sets = {BASE_SOURCE: {"data": report["data"]["test"], "test": report["test"]},
            **report.get("test_by_source", {})}
    rows = []
    for name, entry in sets.items():
        at = entry["test"]["at"][point]["metrics"]
        auc = entry["test"]["roc_auc"]
        rows.append({"test set": name, "images": entry["data"]["n_images"], "ROC AUC": auc["estimate"],
                     "AUC 95% CI": f"{auc['lower']:.3f}-{auc['upper']:.3f}" if auc["lower"] is not None else "n/a",
                     f"sensitivity ({point})": at["sensitivity"]["estimate"],
                     f"specificity ({point})": at["specificity"]["estimate"]})
    return pd.DataFrame(rows).set_index("test set")


def operating_point_thresholds(report: dict[str, Any]) -> dict[str, float]:
    """{name: threshold on the calibrated probability}, for plots and confusion matrices."""
    return {name: point["threshold"] for name, point in report["operating_points"].items()}


def val_test_gap(report: dict[str, Any]) -> pd.DataFrame:
    """Sensitivity and specificity at each operating point on val (where it was chosen) and test.

    The honest summary of how well a threshold transfers: a val-chosen threshold is only as good
    as val's resemblance to the population it is used on.
    """
    rows = []
    for name, point in report["operating_points"].items():
        test = report["test"]["at"][name]["metrics"]
        rows.append({
            "operating point": name, "threshold": point["threshold"],
            "val sensitivity": point["val_sensitivity"], "test sensitivity": test["sensitivity"]["estimate"],
            "val specificity": point["val_specificity"], "test specificity": test["specificity"]["estimate"],
        })
    return pd.DataFrame(rows).set_index("operating point")
