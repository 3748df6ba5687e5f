"""Temperature scaling and calibration error.

Networks trained with cross-entropy tend to be over-confident: "99 % pneumonia" is right
less often than 99 % of the time. Temperature scaling divides the margin logit by one
scalar ``T`` fitted on validation data; it cannot change the ranking (AUC) but makes the
probabilities honest enough to threshold and to show to a reader.

The expected calibration error (ECE) defaults to the top-label form used by Guo et al.
(2017): confidence is the probability of the predicted class, accuracy whether that class
was right, averaged over equal-width confidence bins weighted by bin size. With
``mode="positive"`` the bins are on the pneumonia probability and "accuracy" is the
observed pneumonia rate instead (the classic reliability curve of a binary risk score).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import expit

from pneumolib.constants import ARGMAX_THRESHOLD
from pneumolib.evaluation._arrays import as_labels, as_scores, labels_and_probs

CalibrationMode = Literal["top_label", "positive"]
_LOG_T_BOUNDS = (-5.0, 5.0)  # T between ~0.007 and ~150: far beyond any sensible network


def _nll_from_logits(y: np.ndarray, logits: np.ndarray, temperature: float) -> float:
    z = logits / temperature
    # -log p(y | z) for a sigmoid, written without exp overflow.
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def fit_temperature(
    logits: Sequence[float] | np.ndarray, y: Sequence[int] | np.ndarray
) -> float:
    """Temperature ``T > 0`` minimising the validation negative log-likelihood.

    Optimises over ``log T`` so the search is unconstrained in shape and ``T`` stays
    positive. ``logits`` are pneumonia margins ``z_pneumonia - z_normal``.
    """
    labels, z = as_labels(y), as_scores(logits, probability=False)
    if labels.shape != z.shape:
        raise ValueError(f"{labels.size} labels but {z.size} logits")
    if labels.size == 0:
        raise ValueError("cannot fit a temperature on no data")
    result = minimize_scalar(
        lambda log_t: _nll_from_logits(labels, z, float(np.exp(log_t))),
        bounds=_LOG_T_BOUNDS,
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(result.x))


def apply_temperature(logits: Sequence[float] | np.ndarray, temperature: float) -> np.ndarray:
    """Calibrated pneumonia probability ``sigmoid(logit / T)``."""
    if not temperature > 0:
        raise ValueError("temperature must be positive")
    return expit(as_scores(logits, probability=False) / temperature)


def negative_log_likelihood(
    y: Sequence[int] | np.ndarray, prob: Sequence[float] | np.ndarray, eps: float = 1e-12
) -> float:
    """Mean binary cross-entropy of probabilities (clipped away from 0 and 1)."""
    labels, probs = labels_and_probs(y, prob)
    p = np.clip(probs, eps, 1.0 - eps)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1.0 - p)))


def brier_score(y: Sequence[int] | np.ndarray, prob: Sequence[float] | np.ndarray) -> float:
    """Mean squared error between pneumonia probability and label."""
    labels, probs = labels_and_probs(y, prob)
    return float(np.mean((probs - labels) ** 2))


def reliability_table(
    y: Sequence[int] | np.ndarray,
    prob: Sequence[float] | np.ndarray,
    n_bins: int = 15,
    mode: CalibrationMode = "top_label",
) -> pd.DataFrame:
    """Per-bin mean confidence, accuracy and count: the data of a reliability diagram.

    Bins split [0, 1] into ``n_bins`` equal widths, each closed on the right
    (``lower < confidence <= upper``; the first also takes 0). Empty bins have NaN
    confidence and accuracy and count 0.
    """
    labels, probs = labels_and_probs(y, prob)
    if n_bins < 1:
        raise ValueError("n_bins must be positive")
    if mode == "top_label":
        predicted = (probs >= ARGMAX_THRESHOLD).astype(np.int64)
        confidence = np.where(predicted == 1, probs, 1.0 - probs)
        hit = (predicted == labels).astype(np.float64)
    elif mode == "positive":
        confidence, hit = probs, labels.astype(np.float64)
    else:
        raise ValueError(f"mode must be 'top_label' or 'positive', not {mode!r}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.searchsorted(edges[1:-1], confidence, side="left")
    count = np.bincount(which, minlength=n_bins)
    conf_sum = np.bincount(which, weights=confidence, minlength=n_bins)
    hit_sum = np.bincount(which, weights=hit, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(count > 0, conf_sum / count, np.nan)
        mean_hit = np.where(count > 0, hit_sum / count, np.nan)
    return pd.DataFrame(
        {
            "bin_lower": edges[:-1],
            "bin_upper": edges[1:],
            "count": count.astype(np.int64),
            "confidence": mean_conf,
            "accuracy": mean_hit,
        }
    )


def expected_calibration_error(
    y: Sequence[int] | np.ndarray,
    prob: Sequence[float] | np.ndarray,
    n_bins: int = 15,
    mode: CalibrationMode = "top_label",
) -> float:
    """Bin-size-weighted mean of ``|accuracy - confidence|`` over the reliability bins."""
    table = reliability_table(y, prob, n_bins=n_bins, mode=mode)
    total = int(table["count"].sum())
    if total == 0:
        return float("nan")
    used = table[table["count"] > 0]
    gaps = (used["accuracy"] - used["confidence"]).abs()
    return float((used["count"] * gaps).sum() / total)


def calibrate_predictions(
    df: pd.DataFrame, temperature: float, *, column: str = "prob_calibrated"
) -> pd.DataFrame:
    """A copy of a predictions table with the calibrated probability added as ``column``.

    Thresholds from :mod:`~pneumolib.evaluation.operating_points` apply to this column,
    not to the raw ``prob`` column.
    """
    out = df.copy()
    out[column] = apply_temperature(out["logit"].to_numpy(dtype=np.float64), temperature)
    return out
