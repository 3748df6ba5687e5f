"""Input checks shared by the evaluation modules.

Metrics computed on silently mismatched or out-of-range inputs look plausible and are wrong,
so every public function funnels its arrays through here and fails loudly instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

REQUIRED_COLUMNS: tuple[str, ...] = ("label", "logit", "patient_id")


def as_labels(y: Sequence[int] | np.ndarray) -> np.ndarray:
    """0/1 labels as a 1-D int array (1 = pneumonia)."""
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0 (NORMAL) or 1 (PNEUMONIA)")
    return labels.astype(np.int64)


def as_scores(score: Sequence[float] | np.ndarray, *, probability: bool = True) -> np.ndarray:
    """Finite scores as a 1-D float array; probabilities must also lie in [0, 1]."""
    values = np.asarray(score, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("scores contain NaN or infinite values")
    if probability and values.size and (values.min() < 0.0 or values.max() > 1.0):
        raise ValueError("probabilities must lie in [0, 1]")
    return values


def labels_and_probs(
    y: Sequence[int] | np.ndarray, prob: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Checked labels and probabilities of equal length."""
    labels, probs = as_labels(y), as_scores(prob)
    if labels.shape != probs.shape:
        raise ValueError(f"{labels.size} labels but {probs.size} probabilities")
    return labels, probs


def check_predictions(df: pd.DataFrame, name: str = "predictions") -> None:
    """Fail early when a predictions table lacks the columns the report needs."""
    missing = [column for column in REQUIRED_COLUMNS if column not in df.columns]
    if missing:
        raise ValueError(f"{name} table lacks column(s) {missing}; it has {list(df.columns)}")
    if len(df) == 0:
        raise ValueError(f"{name} table is empty")
