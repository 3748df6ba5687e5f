"""Decision thresholds chosen on validation predictions, never on the test set.

Choosing a threshold on the data it is then scored on flatters every threshold metric, so
these functions take validation labels and probabilities only; the report applies the
chosen thresholds unchanged to the test set.

Policy: thresholds live on the **calibrated** probability scale, ``sigmoid(logit / T)`` with
the temperature ``T`` fitted on validation (``T = 1`` when calibration is off). Temperature
scaling is monotone, so it changes no ranking and no val sensitivity/specificity; it only
makes a threshold such as 0.5 mean "50 % pneumonia". To deploy a threshold ``p`` on raw
model margins, compare ``logit >= T * log(p / (1 - p))`` (:func:`logit_threshold`).

Candidate thresholds are the observed validation probabilities and an image is called
pneumonia when ``prob >= threshold``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from pneumolib.constants import ARGMAX_THRESHOLD, BALANCED, SCREENING, SCREENING_SENSITIVITY
from pneumolib.evaluation._arrays import labels_and_probs


@dataclass(frozen=True)
class OperatingPoint:
    """A named threshold and what it achieved on validation data."""

    name: str
    threshold: float
    val_sensitivity: float
    val_specificity: float
    rule: str

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)


def point_rates(y: np.ndarray, prob: np.ndarray, threshold: float) -> tuple[float, float]:
    positives, negatives = prob[y == 1], prob[y == 0]
    sens = float(np.mean(positives >= threshold)) if positives.size else float("nan")
    spec = float(np.mean(negatives < threshold)) if negatives.size else float("nan")
    return sens, spec


def screening_threshold(
    y_val: Sequence[int] | np.ndarray,
    prob_val: Sequence[float] | np.ndarray,
    sensitivity_target: float = SCREENING_SENSITIVITY,
) -> float:
    """Highest threshold whose validation sensitivity is at least ``sensitivity_target``.

    For screening a missed pneumonia costs more than a false alarm, so sensitivity is
    fixed first; taking the *highest* such threshold then buys the most specificity.
    It is the k-th largest pneumonia probability with ``k = ceil(target * n_pneumonia)``.
    """
    y, prob = labels_and_probs(y_val, prob_val)
    if not 0.0 < sensitivity_target <= 1.0:
        raise ValueError("sensitivity_target must lie in (0, 1]")
    positives = np.sort(prob[y == 1])[::-1]
    if positives.size == 0:
        raise ValueError("validation data has no pneumonia images; cannot target a sensitivity")
    # The small tolerance keeps e.g. 0.99 * 100 = 99.00000000000001 from demanding 100 hits.
    k = max(1, math.ceil(sensitivity_target * positives.size - 1e-9))
    return float(positives[k - 1])


def youden_threshold(
    y_val: Sequence[int] | np.ndarray, prob_val: Sequence[float] | np.ndarray
) -> float:
    """Threshold maximising Youden's J = sensitivity + specificity - 1 on validation data.

    It weighs a missed pneumonia and a false alarm equally: a "balanced" point. Among ties
    the highest threshold wins (the fewest false alarms for the same J).
    """
    y, prob = labels_and_probs(y_val, prob_val)
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("Youden's J needs both pneumonia and normal validation images")
    candidates = np.unique(prob)  # ascending
    pos_sorted, neg_sorted = np.sort(prob[y == 1]), np.sort(prob[y == 0])
    sens = 1.0 - np.searchsorted(pos_sorted, candidates, side="left") / n_pos
    spec = np.searchsorted(neg_sorted, candidates, side="left") / n_neg
    j = sens + spec - 1.0
    best = np.flatnonzero(j >= j.max() - 1e-12)
    return float(candidates[best[-1]])


def choose_operating_points(
    y_val: Sequence[int] | np.ndarray,
    prob_val: Sequence[float] | np.ndarray,
    *,
    sensitivity_target: float = SCREENING_SENSITIVITY,
    include_argmax: bool = True,
) -> dict[str, OperatingPoint]:
    """The ``screening`` and ``balanced`` points (and the ``argmax`` 0.5 rule for reference).

    ``prob_val`` must be on the scale the thresholds will be applied to: the calibrated
    probability under this package's policy (see module docstring).
    """
    y, prob = labels_and_probs(y_val, prob_val)
    chosen = {
        SCREENING: (
            screening_threshold(y, prob, sensitivity_target),
            f"highest validation threshold with sensitivity >= {sensitivity_target:g}",
        ),
        BALANCED: (youden_threshold(y, prob), "maximises Youden's J on validation"),
    }
    if include_argmax:
        chosen["argmax"] = (ARGMAX_THRESHOLD, "fixed 0.5, the argmax of the two classes")
    points = {}
    for name, (threshold, rule) in chosen.items():
        sens, spec = point_rates(y, prob, threshold)
        points[name] = OperatingPoint(name, threshold, sens, spec, rule)
    return points


def logit_threshold(threshold: float, temperature: float = 1.0) -> float:
    """The raw-margin cut equivalent to ``sigmoid(logit / T) >= threshold``.

    Returns ``-inf`` / ``inf`` for thresholds 0 / 1.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must lie in [0, 1]")
    if threshold == 0.0:
        return -math.inf
    if threshold == 1.0:
        return math.inf
    return float(temperature * math.log(threshold / (1.0 - threshold)))
