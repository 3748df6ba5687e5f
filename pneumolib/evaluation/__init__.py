"""Evaluation: metrics, patient-bootstrap intervals, operating points, calibration, plots, report.

Policy in one line: the temperature and the thresholds are decided once, on val + stress val, by
``finalize`` (:mod:`pneumolib.deploy.decisions`); thresholds apply to the calibrated pneumonia
probability ``sigmoid(logit / T)``, and test metrics carry 95 % intervals from resampling
patients. Writing results into documents is :mod:`pneumolib.reporting`'s job.

Plotting lives in :mod:`pneumolib.evaluation.figures` and is imported lazily on first use, so
computing numbers does not require importing matplotlib and seaborn.
"""

from __future__ import annotations

from typing import Any

from pneumolib.evaluation.bootstrap import (
    Interval,
    bootstrap_binary_metrics,
    bootstrap_ci,
    bootstrap_metrics,
)
from pneumolib.evaluation.calibration import (
    apply_temperature,
    brier_score,
    calibrate_predictions,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_table,
)
from pneumolib.evaluation.metrics import (
    WeightedMetric,
    binary_metrics,
    confusion_matrix,
    metric_suite,
    subtype_sensitivity,
)
from pneumolib.evaluation.operating_points import (
    OperatingPoint,
    choose_operating_points,
    logit_threshold,
    screening_threshold,
    youden_threshold,
)
from pneumolib.evaluation.report import build_report, load_report, write_report

_PLOTS = (
    "plot_confusion_matrices",
    "plot_error_gallery",
    "plot_precision_recall",
    "plot_reliability",
    "plot_roc",
    "most_confident_errors",
)

__all__ = [
    "Interval",
    "OperatingPoint",
    "WeightedMetric",
    "apply_temperature",
    "binary_metrics",
    "bootstrap_binary_metrics",
    "bootstrap_ci",
    "bootstrap_metrics",
    "brier_score",
    "build_report",
    "calibrate_predictions",
    "choose_operating_points",
    "confusion_matrix",
    "expected_calibration_error",
    "fit_temperature",
    "load_report",
    "logit_threshold",
    "metric_suite",
    "negative_log_likelihood",
    "reliability_table",
    "screening_threshold",
    "subtype_sensitivity",
    "write_report",
    "youden_threshold",
    *_PLOTS,
]


def __getattr__(name: str) -> Any:
    if name in _PLOTS:
        from pneumolib.evaluation import figures

        return getattr(figures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
