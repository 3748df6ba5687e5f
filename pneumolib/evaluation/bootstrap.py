"""Confidence intervals by resampling *patients*, not images.

Several radiographs of one child are far more alike than radiographs of two children, so
images are not independent draws. Resampling images pretends they are and gives intervals
that are too narrow. The cluster bootstrap draws patient ids with replacement and takes all
of each drawn patient's images, which keeps that dependence inside every resample.

A resample is represented by a weight per image (how many times its patient was drawn).
Metrics of type :class:`~pneumolib.evaluation.metrics.WeightedMetric` score a whole batch of
weight rows with a few matrix products; any other ``f(y, prob) -> float`` is still accepted and
evaluated on each materialised resample in a loop (slower, so it shows a progress bar).
Both paths see exactly the same resamples for a given seed.

Intervals are percentile intervals; thresholds are held fixed (chosen beforehand on
validation data), so an interval describes test-set sampling noise at that threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from pneumolib.evaluation._arrays import labels_and_probs
from pneumolib.evaluation.metrics import WeightedMetric, metric_suite

DEFAULT_RESAMPLES = 2000
DRAW_CHUNK = 100
"""Resamples drawn per batch; fixed so that a seed gives the same resamples for any data size."""
_AUTO_PROGRESS_CELLS = 20_000_000
"""Show a progress bar for vectorised runs above this many (resample x image) cells."""

MetricFn = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Interval:
    """A point estimate on the full data and its bootstrap percentile interval."""

    estimate: float
    lower: float
    upper: float
    valid_resamples: int
    """Resamples where the metric was defined (e.g. a resample without normals has no specificity)."""

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _group_codes(groups: Sequence[str] | np.ndarray | None, n: int) -> tuple[np.ndarray, int]:
    if groups is None:
        return np.arange(n), n
    values = np.asarray(groups)
    if values.shape != (n,):
        raise ValueError(f"{values.size} group ids for {n} images")
    _, codes = np.unique(values.astype(str), return_inverse=True)
    return codes.reshape(-1), int(codes.max()) + 1 if n else 0


def resample_weights(
    groups: Sequence[str] | np.ndarray | None,
    n_images: int,
    n_resamples: int,
    rng: np.random.Generator,
) -> Iterator[np.ndarray]:
    """Yield ``[b, n_images]`` weight matrices, ``n_resamples`` rows in all.

    Each row is one cluster-bootstrap resample: as many patients as the data has, drawn with
    replacement; an image's weight is the number of times its patient was drawn.
    ``groups=None`` resamples single images instead (for comparison only).
    """
    codes, n_groups = _group_codes(groups, n_images)
    if n_groups == 0:
        raise ValueError("cannot bootstrap an empty data set")
    done = 0
    while done < n_resamples:
        b = min(DRAW_CHUNK, n_resamples - done)
        drawn = rng.integers(0, n_groups, size=(b, n_groups))
        flat = (drawn + n_groups * np.arange(b)[:, None]).ravel()
        counts = np.bincount(flat, minlength=b * n_groups).reshape(b, n_groups)
        yield counts[:, codes].astype(np.float64)
        done += b


def _progress_bar(total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress is a convenience, never a requirement
        return None
    return tqdm(total=total, desc=desc, unit="resample", leave=False)


def _call_plain(metric: MetricFn, y: np.ndarray, prob: np.ndarray) -> float:
    try:
        return float(metric(y, prob))
    except (ValueError, ZeroDivisionError):  # e.g. scikit-learn's AUC on a one-class resample
        return float("nan")


def _percentile_interval(
    estimate: float, values: np.ndarray, confidence: float
) -> Interval:
    valid = values[np.isfinite(values)]
    if valid.size == 0:
        return Interval(estimate, float("nan"), float("nan"), 0)
    tail = (1.0 - confidence) / 2.0 * 100.0
    lower, upper = np.percentile(valid, [tail, 100.0 - tail])
    return Interval(float(estimate), float(lower), float(upper), int(valid.size))


def bootstrap_metrics(
    y: Sequence[int] | np.ndarray,
    prob: Sequence[float] | np.ndarray,
    groups: Sequence[str] | np.ndarray | None,
    metrics: Mapping[str, MetricFn | WeightedMetric],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
    progress: bool | None = None,
) -> dict[str, Interval]:
    """Point estimate and patient-bootstrap percentile interval for each metric.

    ``groups`` holds the patient id of each image (``None`` resamples images, which is
    only meant for showing how much too narrow that is). All metrics share the same
    resamples. ``progress=None`` shows a bar only when the run is likely to be slow.
    """
    labels, probs = labels_and_probs(y, prob)
    if n_resamples < 1:
        raise ValueError("n_resamples must be positive")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must lie strictly between 0 and 1")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    fast = {k: m for k, m in metrics.items() if isinstance(m, WeightedMetric)}
    slow = {k: m for k, m in metrics.items() if not isinstance(m, WeightedMetric)}
    if progress is None:
        progress = bool(slow) or n_resamples * labels.size > _AUTO_PROGRESS_CELLS
    bar = _progress_bar(n_resamples, progress, "patient bootstrap")

    values = {name: np.empty(n_resamples) for name in metrics}
    row = 0
    try:
        for weights in resample_weights(groups, labels.size, n_resamples, rng):
            b = weights.shape[0]
            for name, metric in fast.items():
                values[name][row : row + b] = metric.weighted(labels, probs, weights)
            if slow:
                index = np.arange(labels.size)
                for i in range(b):
                    take = np.repeat(index, weights[i].astype(np.int64))
                    for name, metric in slow.items():
                        values[name][row + i] = _call_plain(metric, labels[take], probs[take])
            row += b
            if bar is not None:
                bar.update(b)
    finally:
        if bar is not None:
            bar.close()

    return {
        name: _percentile_interval(_call_plain(metric, labels, probs), values[name], confidence)
        for name, metric in metrics.items()
    }


def bootstrap_ci(
    y: Sequence[int] | np.ndarray,
    prob: Sequence[float] | np.ndarray,
    groups: Sequence[str] | np.ndarray | None,
    metric: MetricFn | WeightedMetric,
    **kwargs,
) -> Interval:
    """Interval for a single metric; keyword arguments as in :func:`bootstrap_metrics`."""
    return bootstrap_metrics(y, prob, groups, {"metric": metric}, **kwargs)["metric"]


def bootstrap_binary_metrics(
    y: Sequence[int] | np.ndarray,
    prob: Sequence[float] | np.ndarray,
    groups: Sequence[str] | np.ndarray | None,
    threshold: float,
    **kwargs,
) -> dict[str, Interval]:
    """Intervals for AUC and every threshold metric of ``binary_metrics`` at ``threshold``."""
    return bootstrap_metrics(y, prob, groups, metric_suite(threshold), **kwargs)
