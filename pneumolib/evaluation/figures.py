"""Figures for the evaluation: curves, confusion matrices, reliability, error gallery.

Each function builds a stand-alone :class:`matplotlib.figure.Figure` (no pyplot state), so
callers can save, show or embed it, and tests can run headless. Thresholds passed in must be
on the same probability scale as ``prob`` (calibrated, under the package policy).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from pneumolib import CLASS_NAMES
from pneumolib.evaluation._arrays import labels_and_probs
from pneumolib.evaluation.calibration import (
    CalibrationMode,
    expected_calibration_error,
    reliability_table,
)
from pneumolib.evaluation.metrics import binary_metrics

ImageSource = Callable[[str], np.ndarray] | Mapping[str, np.ndarray] | Sequence[np.ndarray]
_MARKERS = ("o", "s", "D", "^", "v", "P")


def _figure_and_axes(ax: Axes | None, size: tuple[float, float] = (5.0, 5.0)) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _mark_operating_points(ax: Axes, labels: np.ndarray, probs: np.ndarray, operating_points: Mapping[str, float] | None,
                           position: Callable[[dict], tuple[float, float]]) -> None:
    """One marker per named threshold, placed by ``position(metrics at that threshold)``."""
    for marker, (name, threshold) in zip(_MARKERS * 4, (operating_points or {}).items()):
        x, y = position(binary_metrics(labels, probs, threshold))
        ax.plot(x, y, marker=marker, linestyle="none", markersize=8, label=f"{name} (t={threshold:.3g})")


def plot_roc(
    y: Sequence[int] | np.ndarray,
    prob: Sequence[float] | np.ndarray,
    operating_points: Mapping[str, float] | None = None,
    *,
    ax: Axes | None = None,
    label: str = "model",
) -> Figure:
    """ROC curve with AUC in the legend and each named threshold marked on it."""
    labels, probs = labels_and_probs(y, prob)
    fig, ax = _figure_and_axes(ax)
    fpr, tpr, _ = roc_curve(labels, probs)
    auc = binary_metrics(labels, probs)["roc_auc"]
    ax.plot(fpr, tpr, label=f"{label} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8, label="chance")
    _mark_operating_points(ax, labels, probs, operating_points, lambda m: (1 - m["specificity"], m["sensitivity"]))
    ax.set(xlabel="1 - specificity (false positive rate)", ylabel="sensitivity",
           xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), title="ROC curve")
    ax.legend(loc="lower right", fontsize="small")
    return fig


def plot_precision_recall(
    y: Sequence[int] | np.ndarray,
    prob: Sequence[float] | np.ndarray,
    operating_points: Mapping[str, float] | None = None,
    *,
    ax: Axes | None = None,
    label: str = "model",
) -> Figure:
    """Precision-recall curve, the pneumonia prevalence as baseline, thresholds marked."""
    labels, probs = labels_and_probs(y, prob)
    fig, ax = _figure_and_axes(ax)
    precision, recall, _ = precision_recall_curve(labels, probs)
    ax.plot(recall, precision, label=label)
    ax.axhline(labels.mean(), linestyle="--", color="grey", linewidth=0.8, label="prevalence")
    _mark_operating_points(ax, labels, probs, operating_points, lambda m: (m["sensitivity"], m["precision"]))
    ax.set(xlabel="recall (sensitivity)", ylabel="precision (PPV)",
           xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), title="Precision-recall curve")
    ax.legend(loc="lower left", fontsize="small")
    return fig


def plot_confusion_matrices(
    y: Sequence[int] | np.ndarray,
    prob: Sequence[float] | np.ndarray,
    thresholds: Mapping[str, float] | float,
) -> Figure:
    """One heatmap per named threshold: counts, with the share of each true class."""
    labels, probs = labels_and_probs(y, prob)
    if isinstance(thresholds, (int, float)):
        named = {"threshold": float(thresholds)}
    else:
        named = dict(thresholds)
    fig = Figure(figsize=(4.2 * len(named), 3.8), layout="constrained")
    axes = fig.subplots(1, len(named), squeeze=False)[0]
    for ax, (name, threshold) in zip(axes, named.items()):
        m = binary_metrics(labels, probs, threshold)
        counts = np.array([[m["tn"], m["fp"]], [m["fn"], m["tp"]]])
        row_totals = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, row_totals, out=np.zeros(counts.shape), where=row_totals > 0)
        text = np.array([[f"{c}\n{s:.1%}" for c, s in zip(rc, rs)] for rc, rs in zip(counts, share)])
        sns.heatmap(share, annot=text, fmt="", cmap="Blues", vmin=0, vmax=1, cbar=False,
                    xticklabels=CLASS_NAMES, yticklabels=CLASS_NAMES, square=True, ax=ax)
        ax.set(xlabel="predicted", ylabel="true", title=f"{name} (t={threshold:.3g})")
    return fig


def _reliability_panel(ax: Axes, table: pd.DataFrame, ece: float, title: str, mode: str) -> None:
    used = table[table["count"] > 0]
    width = float(table["bin_upper"].iloc[0] - table["bin_lower"].iloc[0])
    ax.bar(used["bin_lower"], used["accuracy"], width=width, align="edge",
           edgecolor="black", linewidth=0.5, label="observed")
    ax.bar(used["bin_lower"], used["confidence"] - used["accuracy"], bottom=used["accuracy"],
           width=width, align="edge", color="tab:red", alpha=0.3, label="gap")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8, label="perfect")
    if mode == "top_label":
        xlabel, ylabel = "confidence (probability of predicted class)", "accuracy"
    else:
        xlabel, ylabel = "pneumonia probability", "observed pneumonia rate"
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=xlabel, ylabel=ylabel, title=f"{title} (ECE {ece:.3f})")
    ax.legend(loc="upper left", fontsize="small")


def plot_reliability(
    y: Sequence[int] | np.ndarray,
    prob_before: Sequence[float] | np.ndarray,
    prob_after: Sequence[float] | np.ndarray | None = None,
    *,
    n_bins: int = 15,
    mode: CalibrationMode = "top_label",
) -> Figure:
    """Reliability diagram(s): before and, if given, after temperature scaling."""
    panels = [("before calibration", prob_before)]
    if prob_after is not None:
        panels.append(("after calibration", prob_after))
    fig = Figure(figsize=(4.5 * len(panels), 4.5), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, prob) in zip(axes, panels):
        table = reliability_table(y, prob, n_bins=n_bins, mode=mode)
        ece = expected_calibration_error(y, prob, n_bins=n_bins, mode=mode)
        _reliability_panel(ax, table, ece, title, mode)
    return fig


def most_confident_errors(
    df: pd.DataFrame, threshold: float, n: int = 6, *, prob_column: str = "prob"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n`` most confident false negatives and false positives, most confident first.

    A false negative is "confident" when its pneumonia probability is low, a false positive
    when it is high; these are the cases most worth a human look.
    """
    called = df[prob_column] >= threshold
    fn = df[(df["label"] == 1) & ~called].sort_values(prob_column, ascending=True).head(n)
    fp = df[(df["label"] == 0) & called].sort_values(prob_column, ascending=False).head(n)
    return fn, fp


def _loader(images: ImageSource, df: pd.DataFrame) -> Callable[[object, str], np.ndarray]:
    if callable(images):
        return lambda _index, path: images(path)
    if isinstance(images, Mapping):
        return lambda _index, path: images[path]
    positions = {index: i for i, index in enumerate(df.index)}
    return lambda index, _path: images[positions[index]]


def plot_error_gallery(
    df: pd.DataFrame,
    threshold: float,
    images: ImageSource,
    *,
    n: int = 6,
    prob_column: str = "prob",
) -> Figure:
    """Two rows of radiographs: most confident false negatives, then false positives.

    ``images`` is a callable ``path -> array`` (e.g. ``pneumolib.data.release.images.read_grayscale``),
    a mapping from path to array, or a sequence of arrays aligned with the rows of ``df``;
    taking images from the caller keeps this function free of disk access and testable.
    """
    if n < 1:
        raise ValueError("n must be positive")
    fn, fp = most_confident_errors(df, threshold, n, prob_column=prob_column)
    load = _loader(images, df)
    fig = Figure(figsize=(2.2 * n, 5.0), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    for row, (title, errors) in enumerate((("false negative", fn), ("false positive", fp))):
        for col in range(n):
            ax = axes[row, col]
            ax.set_axis_off()
            if col >= len(errors):
                if col == 0:
                    ax.text(0.5, 0.5, f"no {title}s", ha="center", va="center")
                continue
            index, record = errors.index[col], errors.iloc[col]
            ax.imshow(np.asarray(load(index, str(record.get("path", "")))), cmap="gray")
            subtype = record.get("subtype")
            extra = f" {subtype}" if isinstance(subtype, str) and subtype else ""
            ax.set_title(f"{title}{extra}\np={record[prob_column]:.3f}", fontsize="small")
    fig.suptitle(f"Most confident errors at threshold {threshold:.3g}")
    return fig
