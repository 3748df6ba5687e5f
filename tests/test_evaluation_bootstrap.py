"""Patient (cluster) bootstrap: resampling unit, coverage of the estimate, width, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.metrics import recall_score, roc_auc_score

from pneumolib.evaluation.bootstrap import (
    DEFAULT_RESAMPLES,
    bootstrap_binary_metrics,
    bootstrap_ci,
    bootstrap_metrics,
    resample_weights,
)
from pneumolib.evaluation.metrics import metric_suite, roc_auc_metric, threshold_metric


def _data(n_images: int, n_patients: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    patient = rng.integers(0, n_patients, n_images)
    y = rng.integers(0, 2, n_patients)[patient]
    z = rng.normal(size=n_images) + 1.5 * (2 * y - 1)
    return y, 1 / (1 + np.exp(-z)), np.array([f"p{p}" for p in patient])


def _width(interval):
    return interval.upper - interval.lower


def test_default_is_at_least_a_thousand_resamples():
    assert DEFAULT_RESAMPLES >= 1000


def test_resample_weights_draw_whole_patients():
    groups = np.array(["a", "a", "a", "b", "c", "c"])
    rows = np.vstack(list(resample_weights(groups, 6, 250, np.random.default_rng(0))))
    assert rows.shape == (250, 6)
    # All images of a patient share one weight, and each resample draws 3 patients.
    assert (rows[:, 0] == rows[:, 1]).all() and (rows[:, 1] == rows[:, 2]).all()
    assert (rows[:, 4] == rows[:, 5]).all()
    assert np.array_equal(rows[:, [0, 3, 4]].sum(axis=1), np.full(250, 3))
    assert len({tuple(r) for r in rows}) > 1


def test_interval_contains_estimate_and_matches_point_metrics():
    y, prob, groups = _data(600, 300)
    result = bootstrap_binary_metrics(y, prob, groups, 0.5, n_resamples=1000, seed=1)
    assert result["roc_auc"].estimate == pytest.approx(roc_auc_score(y, prob))
    assert result["sensitivity"].estimate == pytest.approx(recall_score(y, prob >= 0.5))
    for name, interval in result.items():
        assert interval.lower <= interval.estimate <= interval.upper, name
        assert interval.lower < interval.upper, name
        assert interval.valid_resamples == 1000


def test_interval_narrows_with_more_data():
    small = bootstrap_binary_metrics(*_data(150, 75), 0.5, n_resamples=1000, seed=2)
    large = bootstrap_binary_metrics(*_data(2400, 1200), 0.5, n_resamples=1000, seed=2)
    for name in ("roc_auc", "sensitivity", "specificity", "accuracy"):
        assert _width(large[name]) < 0.6 * _width(small[name]), name


def test_patient_resampling_is_wider_than_image_resampling():
    # 30 patients with 20 images each; whether the model is right is a property of the
    # patient (all or nothing), so images are far from independent.
    rng = np.random.default_rng(5)
    patients = np.repeat(np.arange(30), 20)
    y = np.ones(patients.size, int)
    right = rng.random(30) < 0.7
    prob = np.where(right[patients], 0.9, 0.1)
    groups = np.array([f"p{p}" for p in patients])
    sensitivity = {"sensitivity": threshold_metric("sensitivity", 0.5)}
    by_patient = bootstrap_metrics(y, prob, groups, sensitivity, n_resamples=1000, seed=0)
    by_image = bootstrap_metrics(y, prob, None, sensitivity, n_resamples=1000, seed=0)
    assert _width(by_patient["sensitivity"]) > 2.5 * _width(by_image["sensitivity"])


def test_plain_function_and_vectorised_metric_see_the_same_resamples():
    y, prob, groups = _data(200, 90, seed=3)

    def plain_auc(a, b):
        return roc_auc_score(a, b)

    fast = bootstrap_ci(y, prob, groups, roc_auc_metric(), n_resamples=300, seed=7)
    slow = bootstrap_ci(y, prob, groups, plain_auc, n_resamples=300, seed=7, progress=False)
    assert fast.estimate == pytest.approx(slow.estimate)
    assert fast.lower == pytest.approx(slow.lower) and fast.upper == pytest.approx(slow.upper)


def test_seeded_and_seed_sensitive():
    y, prob, groups = _data(300, 150)
    a = bootstrap_binary_metrics(y, prob, groups, 0.5, n_resamples=200, seed=11)
    b = bootstrap_binary_metrics(y, prob, groups, 0.5, n_resamples=200, seed=11)
    c = bootstrap_binary_metrics(y, prob, groups, 0.5, n_resamples=200, seed=12)
    assert a == b
    assert a["roc_auc"] != c["roc_auc"]


def test_undefined_resamples_are_skipped_not_fatal():
    # Two patients only, one per class: many resamples have no normal patient at all.
    y = np.array([1, 1, 0, 0])
    prob = np.array([0.8, 0.7, 0.3, 0.6])
    groups = np.array(["a", "a", "b", "b"])
    result = bootstrap_binary_metrics(y, prob, groups, 0.5, n_resamples=400, seed=0)
    assert 0 < result["specificity"].valid_resamples < 400
    assert result["specificity"].estimate == pytest.approx(0.5)


def test_bad_arguments():
    y, prob, groups = _data(20, 10)
    with pytest.raises(ValueError):
        bootstrap_binary_metrics(y, prob, groups[:-1], 0.5, n_resamples=10)
    with pytest.raises(ValueError):
        bootstrap_binary_metrics(y, prob, groups, 0.5, n_resamples=0)
    with pytest.raises(ValueError):
        bootstrap_binary_metrics(y, prob, groups, 0.5, n_resamples=10, confidence=1.5)


def test_two_thousand_resamples_of_624_images_is_fast():
    y, prob, groups = _data(624, 400)
    metrics = metric_suite(0.5)
    metrics.update({f"other/{k}": v for k, v in metric_suite(0.3, include_auc=False).items()})
    start = time.perf_counter()
    bootstrap_metrics(y, prob, groups, metrics, n_resamples=2000, seed=0)
    assert time.perf_counter() - start < 3.0
