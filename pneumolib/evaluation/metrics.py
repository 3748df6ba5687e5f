"""Threshold metrics and ROC AUC for the binary NORMAL / PNEUMONIA task.

Every metric is written once, in a *weighted* form that scores many bootstrap resamples at
once from a matrix of per-image weights (how often each image was drawn). The plain
functions below are the same code with all weights equal to one, so the point estimate and
its bootstrap interval can never disagree about what a metric means.

Conventions: label 1 is pneumonia; an image is predicted pneumonia when ``prob >= threshold``.
A metric whose denominator is empty (no positives, no negatives, no predicted positives)
is NaN rather than an error or a silent zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pneumolib.constants import ARGMAX_THRESHOLD
from pneumolib.evaluation._arrays import labels_and_probs

WeightedFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``(labels, probs, weights[B, n]) -> values[B]``: one metric value per row of weights."""

THRESHOLD_METRICS: tuple[str, ...] = (
    "accuracy",
    "sensitivity",
    "specificity",
    "precision",
    "npv",
    "f1",
)
"""Metrics that depend on the decision threshold, in report order."""

SUBTYPES: tuple[str, ...] = ("bacteria", "virus")


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` with NaN where the denominator is zero."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def weighted_confusion(
    y: np.ndarray, prob: np.ndarray, threshold: float, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted (tp, fp, tn, fn), one value per row of ``weights`` (shape ``[B, n]``)."""
    positive = y == 1
    predicted = prob >= threshold
    cells = np.stack(
        [positive & predicted, ~positive & predicted, ~positive & ~predicted, positive & ~predicted],
        axis=1,
    ).astype(np.float64)
    counts = np.asarray(weights, dtype=np.float64) @ cells  # [B, 4]
    return counts[:, 0], counts[:, 1], counts[:, 2], counts[:, 3]


def weighted_roc_auc(y: np.ndarray, prob: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC per row of ``weights`` via the Mann-Whitney statistic.

    AUC is the chance that a random pneumonia image outscores a random normal one (ties
    count one half); with integer weights this equals the AUC of the resample that repeats
    each image ``weight`` times, which is what lets the bootstrap skip materialising it.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if y.size == 0:
        return np.full(weights.shape[0], np.nan)
    order = np.argsort(prob, kind="mergesort")
    sorted_prob = prob[order]
    starts = np.flatnonzero(np.r_[True, sorted_prob[1:] != sorted_prob[:-1]])
    w_sorted = weights[:, order]
    positive = (y[order] == 1).astype(np.float64)
    pos = np.add.reduceat(w_sorted * positive, starts, axis=1)  # [B, distinct scores]
    neg = np.add.reduceat(w_sorted * (1.0 - positive), starts, axis=1)
    neg_below = np.cumsum(neg, axis=1) - neg
    wins = (pos * (neg_below + 0.5 * neg)).sum(axis=1)
    return _ratio(wins, pos.sum(axis=1) * neg.sum(axis=1))


def _threshold_metric(name: str, threshold: float) -> WeightedFn:
    def compute(y: np.ndarray, prob: np.ndarray, weights: np.ndarray) -> np.ndarray:
        tp, fp, tn, fn = weighted_confusion(y, prob, threshold, weights)
        if name == "accuracy":
            return _ratio(tp + tn, tp + fp + tn + fn)
        if name == "sensitivity":
            return _ratio(tp, tp + fn)
        if name == "specificity":
            return _ratio(tn, tn + fp)
        if name == "precision":
            return _ratio(tp, tp + fp)
        if name == "npv":
            return _ratio(tn, tn + fn)
        if name == "f1":
            # 2TP / (2TP + FP + FN): the harmonic mean of precision and recall, defined (as 0)
            # when there are pneumonia images but none is called pneumonia.
            return _ratio(2 * tp, 2 * tp + fp + fn)
        raise ValueError(f"unknown threshold metric {name!r}; choose from {THRESHOLD_METRICS}")

    return compute


@dataclass(frozen=True)
class WeightedMetric:
    """A metric of ``(y, prob)`` that can also score a batch of resample weights at once.

    Calling it like a plain function gives the value on the data as given; the bootstrap
    recognises the type and uses :meth:`weighted` instead of looping over resamples.
    """

    name: str
    fn: WeightedFn

    def __call__(self, y: Sequence[int] | np.ndarray, prob: Sequence[float] | np.ndarray) -> float:
        labels, probs = labels_and_probs(y, prob)
        return float(self.fn(labels, probs, np.ones((1, labels.size)))[0])

    def weighted(self, y: np.ndarray, prob: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return self.fn(y, prob, weights)


def roc_auc_metric() -> WeightedMetric:
    """ROC AUC as a :class:`WeightedMetric` (threshold-free)."""
    return WeightedMetric("roc_auc", weighted_roc_auc)


def threshold_metric(name: str, threshold: float) -> WeightedMetric:
    """One of :data:`THRESHOLD_METRICS` at ``threshold`` as a :class:`WeightedMetric`."""
    if name not in THRESHOLD_METRICS:
        raise ValueError(f"unknown threshold metric {name!r}; choose from {THRESHOLD_METRICS}")
    return WeightedMetric(name, _threshold_metric(name, float(threshold)))


def metric_suite(threshold: float, *, include_auc: bool = True) -> dict[str, WeightedMetric]:
    """All rate metrics of :func:`binary_metrics` at ``threshold``, ready for the bootstrap."""
    suite = {"roc_auc": roc_auc_metric()} if include_auc else {}
    suite.update({name: threshold_metric(name, threshold) for name in THRESHOLD_METRICS})
    return suite


def binary_metrics(
    y_true: Sequence[int] | np.ndarray, prob: Sequence[float] | np.ndarray, threshold: float = ARGMAX_THRESHOLD
) -> dict[str, float | int]:
    """ROC AUC, accuracy, sensitivity, specificity, precision, NPV, F1 and the raw counts.

    ``prob`` is the pneumonia probability; pneumonia is predicted when ``prob >= threshold``.
    Sensitivity is pneumonia recall, precision is the positive predictive value.
    """
    labels, probs = labels_and_probs(y_true, prob)
    ones = np.ones((1, labels.size))
    result: dict[str, float | int] = {
        name: float(metric.weighted(labels, probs, ones)[0])
        for name, metric in metric_suite(threshold).items()
    }
    counts = weighted_confusion(labels, probs, threshold, ones)
    tp, fp, tn, fn = (int(round(float(c[0]))) for c in counts)
    result.update({"tp": tp, "fp": fp, "tn": tn, "fn": fn, "n": int(labels.size)})
    return result


def subtype_sensitivity(
    df: pd.DataFrame,
    threshold: float,
    *,
    prob_column: str = "prob",
    subtypes: Sequence[str] = SUBTYPES,
) -> dict[str, float]:
    """Sensitivity within each pneumonia subtype (bacterial, viral).

    Viral pneumonia is the harder, rarer class in this data set; a single overall
    sensitivity can hide a model that misses most viral cases. NaN for an absent subtype.
    Under the package policy pass the calibrated column (``prob_column="prob_calibrated"``
    after :func:`~pneumolib.evaluation.calibration.calibrate_predictions`).
    """
    subtype = df["subtype"].fillna("").astype(str).str.lower()
    out: dict[str, float] = {}
    for name in subtypes:
        rows = (subtype == name) & (df["label"] == 1)
        probs = df.loc[rows, prob_column].to_numpy(dtype=np.float64)
        out[name] = float(np.mean(probs >= threshold)) if probs.size else float("nan")
    return out


def confusion_matrix(
    y_true: Sequence[int] | np.ndarray, prob: Sequence[float] | np.ndarray, threshold: float
) -> np.ndarray:
    """2x2 counts, rows = true class, columns = predicted class, in CLASS_NAMES order."""
    m = binary_metrics(y_true, prob, threshold)
    return np.array([[m["tn"], m["fp"]], [m["fn"], m["tp"]]], dtype=np.int64)
