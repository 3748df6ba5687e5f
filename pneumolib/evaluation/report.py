"""The whole evaluation in one call, as a JSON-serialisable dict.

One function computes every number the README and model card quote, from validation and
test predictions tables, so that documents are rendered from a single saved report rather
than assembled by hand. Order of work, and why:

1. take the temperature and operating points the checkpoint was finalised with
   (:mod:`pneumolib.deploy.finalize`, on val + stress val), or, for predictions without a
   finalised checkpoint behind them, fit the temperature on validation logits and choose the
   operating points on *calibrated* validation probabilities (test data never tunes anything);
2. apply both, unchanged, to the test set and attach patient-bootstrap intervals.

Predictions tables need ``label``, ``logit`` and ``patient_id``; ``subtype`` is optional.
The raw ``prob`` column is not trusted: probabilities are recomputed from ``logit``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pneumolib import __version__
from pneumolib.constants import ARGMAX_THRESHOLD, SCREENING_SENSITIVITY
from pneumolib.evaluation._arrays import check_predictions
from pneumolib.evaluation.bootstrap import DEFAULT_RESAMPLES, bootstrap_metrics
from pneumolib.evaluation.calibration import (
    apply_temperature,
    brier_score,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_table,
)
from pneumolib.evaluation.metrics import (
    SUBTYPES,
    THRESHOLD_METRICS,
    WeightedMetric,
    binary_metrics,
    roc_auc_metric,
    threshold_metric,
)
from pneumolib.evaluation.operating_points import (
    OperatingPoint,
    logit_threshold,
    point_rates,
)

__all__ = [
    "SCHEMA_VERSION",
    "build_report",
    "load_report",
    "write_report",
]

SCHEMA_VERSION = 1
THRESHOLD_POLICY = (
    "Thresholds are chosen on {chosen_on} and applied to the temperature-calibrated "
    "pneumonia probability sigmoid(logit / T), T fitted on the same films; an image is called "
    "pneumonia when that probability is >= the threshold."
)


def jsonable(value: Any) -> Any:
    """Plain-Python copy of ``value`` that ``json.dumps(..., allow_nan=False)`` accepts.

    NaN and infinities (undefined metrics, a threshold of exactly 1 on the logit scale)
    become ``None`` so that the file is strict JSON readable by any tool.
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _patients(df: pd.DataFrame) -> np.ndarray:
    ids = df["patient_id"]
    if ids.isna().any() or (ids.astype(str).str.strip() == "").any():
        raise ValueError("every image needs a patient_id: the bootstrap resamples patients")
    return ids.astype(str).to_numpy()


def _subtypes(df: pd.DataFrame) -> pd.Series:
    if "subtype" not in df.columns:
        return pd.Series("", index=df.index)
    return df["subtype"].fillna("").astype(str).str.lower()


def _summary(df: pd.DataFrame) -> dict[str, int]:
    labels, subtype = df["label"].to_numpy(), _subtypes(df)
    out = {
        "n_images": int(len(df)),
        "n_patients": int(df["patient_id"].astype(str).nunique()),
        "n_pneumonia": int((labels == 1).sum()),
        "n_normal": int((labels == 0).sum()),
    }
    for name in SUBTYPES:
        out[f"n_{name}"] = int(((subtype == name) & (labels == 1)).sum())
    return out


def _calibration_scores(y: np.ndarray, prob: np.ndarray, n_bins: int) -> dict[str, float]:
    return {
        "ece": expected_calibration_error(y, prob, n_bins=n_bins),
        "nll": negative_log_likelihood(y, prob),
        "brier": brier_score(y, prob),
    }


def stored_operating_points(stored: Mapping[str, Mapping[str, Any]], y_val: np.ndarray,
                            p_val: np.ndarray) -> dict[str, OperatingPoint]:
    """A finalised checkpoint's operating points (plus the argmax rule), with their clean-val rates."""
    chosen = {name: (float(point["threshold"]), str(point.get("rule", ""))) for name, point in stored.items()}
    chosen.setdefault("argmax", (ARGMAX_THRESHOLD, "fixed 0.5, the argmax of the two classes"))
    points = {}
    for name, (threshold, rule) in chosen.items():
        sensitivity, specificity = point_rates(y_val, p_val, threshold)
        points[name] = OperatingPoint(name, threshold, sensitivity, specificity, rule)
    return points


def build_report(
    val: pd.DataFrame,
    test: pd.DataFrame,
    decisions: Mapping[str, Any],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
    n_bins: int = 15,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Metrics with intervals on ``test`` at the thresholds ``decisions`` fixed; nothing is fitted here.

    ``decisions``: a finalized checkpoint's metadata, or anything with its ``temperature``,
    ``operating_points`` and ``calibrated_on`` (:func:`pneumolib.deploy.decisions.decide` makes
    them, in ``finalize``; they are only read here). ``val`` is reported beside test.
    Returns a JSON-serialisable dict (see :func:`write_report`); undefined values are None.
    """
    check_predictions(val, "validation")
    check_predictions(test, "test")
    y_val, z_val = val["label"].to_numpy(dtype=np.int64), val["logit"].to_numpy(dtype=np.float64)
    y_test, z_test = test["label"].to_numpy(dtype=np.int64), test["logit"].to_numpy(dtype=np.float64)
    groups = _patients(test)

    temperature = float(decisions["temperature"])
    fitted_on = decisions.get("calibrated_on", "validation")
    calibrate = fitted_on is not None
    p_val_raw, p_test_raw = apply_temperature(z_val, 1.0), apply_temperature(z_test, 1.0)
    p_val, p_test = apply_temperature(z_val, temperature), apply_temperature(z_test, temperature)
    points = stored_operating_points(decisions["operating_points"], y_val, p_val)
    boot = {"n_resamples": n_resamples, "confidence": confidence, "seed": seed, "progress": progress}

    metrics: dict[str, WeightedMetric] = {"roc_auc": roc_auc_metric()}
    for name, point in points.items():
        for metric in THRESHOLD_METRICS:
            metrics[f"{name}/{metric}"] = threshold_metric(metric, point.threshold)
    intervals = bootstrap_metrics(y_test, p_test, groups, metrics, **boot)

    at = {}
    for name, point in points.items():
        counts = binary_metrics(y_test, p_test, point.threshold)
        at[name] = {
            "threshold": point.threshold,
            "metrics": {m: intervals[f"{name}/{m}"].to_dict() for m in THRESHOLD_METRICS},
            "counts": {k: counts[k] for k in ("tp", "fp", "tn", "fn", "n")},
        }

    subtype_test = _subtypes(test).to_numpy()
    by_subtype = {}
    for subtype in SUBTYPES:
        rows = (subtype_test == subtype) & (y_test == 1)
        entry: dict[str, Any] = {"n_images": int(rows.sum()), "n_patients": int(len(set(groups[rows])))}
        if rows.any():
            sens = {name: threshold_metric("sensitivity", p.threshold) for name, p in points.items()}
            found = bootstrap_metrics(y_test[rows], p_test[rows], groups[rows], sens, **boot)
            entry["at"] = {name: found[name].to_dict() for name in points}
        else:
            nan = {"estimate": None, "lower": None, "upper": None, "valid_resamples": 0}
            entry["at"] = {name: dict(nan) for name in points}
        by_subtype[subtype] = entry

    test_summary = _summary(test)
    test_summary["patients_shared_with_validation"] = len(
        set(groups) & set(val["patient_id"].astype(str))
    )
    report = {
        "schema_version": SCHEMA_VERSION,
        "pneumolib_version": __version__,
        "policy": {
            "threshold_scale": "calibrated_probability" if calibrate else "raw_probability",
            "thresholds_chosen_on": fitted_on or "validation",
            "decision_rule": "pneumonia if probability >= threshold",
            "description": THRESHOLD_POLICY.format(chosen_on=fitted_on or "validation"),
            "sensitivity_target": SCREENING_SENSITIVITY,
        },
        "bootstrap": {
            "unit": "patient",
            "method": "percentile",
            "n_resamples": n_resamples,
            "confidence": confidence,
            "seed": seed,
        },
        "data": {"validation": _summary(val), "test": test_summary},
        "calibration": {
            "temperature": temperature,
            "fitted_on": fitted_on,
            "n_bins": n_bins,
            "ece_mode": "top_label",
            "validation": {
                "before": _calibration_scores(y_val, p_val_raw, n_bins),
                "after": _calibration_scores(y_val, p_val, n_bins),
            },
            "test": {
                "before": _calibration_scores(y_test, p_test_raw, n_bins),
                "after": _calibration_scores(y_test, p_test, n_bins),
            },
            "reliability_test": {
                "before": reliability_table(y_test, p_test_raw, n_bins).to_dict(orient="records"),
                "after": reliability_table(y_test, p_test, n_bins).to_dict(orient="records"),
            },
        },
        "operating_points": {
            name: {**point.to_dict(), "logit_threshold": logit_threshold(point.threshold, temperature)}
            for name, point in points.items()
        },
        "test": {
            "roc_auc": intervals["roc_auc"].to_dict(),
            "at": at,
            "subtype_sensitivity": by_subtype,
        },
    }
    return jsonable(report)


def write_report(report: Mapping[str, Any], json_path: str | Path) -> Path:
    """Save ``report`` as strict, indented JSON (parents created); return the path."""
    path = Path(json_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(jsonable(report), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


def load_report(json_path: str | Path) -> dict[str, Any]:
    """Read a report written by :func:`write_report`."""
    return json.loads(Path(json_path).read_text(encoding="utf-8"))


def report_path(weights: str | Path) -> Path:
    """Where the test-split report of a weights file is kept: ``<stem>.report.json`` beside it.

    ``evaluate --update-docs`` writes it, ``GET /model`` serves it and ``docs`` regenerates the
    README's and model card's sections from it without looking at the test split again.
    """
    weights = Path(weights)
    return weights.with_name(f"{weights.stem}.report.json")
