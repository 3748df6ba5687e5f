"""Metrics against hand-computed confusion matrices and scikit-learn; threshold selection."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from pneumolib.evaluation.metrics import (
    binary_metrics,
    confusion_matrix,
    subtype_sensitivity,
    weighted_roc_auc,
)
from pneumolib.evaluation.operating_points import (
    choose_operating_points,
    logit_threshold,
    screening_threshold,
    youden_threshold,
)

# Hand-worked example: threshold 0.5, prediction = prob >= 0.5.
#   label: 1    1    1    0    0    0    0    1
#   prob : .9   .6   .4   .7   .2   .1   .5   .5
#   pred : 1    1    0    1    0    0    1    1   -> TP 3, FN 1, FP 2, TN 2
# AUC by pairs (positive beats negative, ties 1/2): .9 -> 4, .6 -> 3, .4 -> 2, .5 -> 2.5;
# 11.5 of 16 pairs.
Y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
P = np.array([0.9, 0.6, 0.4, 0.7, 0.2, 0.1, 0.5, 0.5])


def test_binary_metrics_hand_computed():
    m = binary_metrics(Y, P, 0.5)
    assert (m["tp"], m["fn"], m["fp"], m["tn"], m["n"]) == (3, 1, 2, 2, 8)
    assert m["sensitivity"] == pytest.approx(3 / 4)
    assert m["specificity"] == pytest.approx(2 / 4)
    assert m["precision"] == pytest.approx(3 / 5)
    assert m["npv"] == pytest.approx(2 / 3)
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["f1"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))
    assert m["roc_auc"] == pytest.approx(11.5 / 16)


def test_threshold_is_inclusive_and_moves_counts():
    at_half = binary_metrics(Y, P, 0.5)
    just_above = binary_metrics(Y, P, np.nextafter(0.5, 1.0))
    # The two 0.5 scores (one pneumonia, one normal) flip to NORMAL just above 0.5.
    assert (just_above["tp"], just_above["fp"]) == (at_half["tp"] - 1, at_half["fp"] - 1)
    assert confusion_matrix(Y, P, 0.5).tolist() == [[2, 2], [1, 3]]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 20)), min_size=1, max_size=40),
    st.integers(0, 20),
)
def test_binary_metrics_match_sklearn(pairs, cut):
    y = np.array([a for a, _ in pairs])
    prob = np.array([b for _, b in pairs]) / 20.0  # coarse grid: many ties
    threshold = cut / 20.0
    m = binary_metrics(y, prob, threshold)
    pred = (prob >= threshold).astype(int)

    def same(ours, theirs):
        assert (math.isnan(ours) and math.isnan(theirs)) or ours == pytest.approx(theirs)

    same(m["accuracy"], accuracy_score(y, pred))
    same(m["sensitivity"], recall_score(y, pred, zero_division=np.nan))
    same(m["specificity"], recall_score(1 - y, 1 - pred, zero_division=np.nan))
    same(m["precision"], precision_score(y, pred, zero_division=np.nan))
    same(m["npv"], precision_score(1 - y, 1 - pred, zero_division=np.nan))
    if (y == 1).any() or (pred == 1).any():
        same(m["f1"], f1_score(y, pred, zero_division=0.0))
    if len(set(y)) == 2:
        same(m["roc_auc"], roc_auc_score(y, prob))
    else:
        assert math.isnan(m["roc_auc"])


def test_degenerate_cases_give_nan_not_errors():
    no_positives = binary_metrics([0, 0, 0], [0.1, 0.7, 0.2], 0.5)
    assert math.isnan(no_positives["sensitivity"]) and math.isnan(no_positives["roc_auc"])
    assert no_positives["specificity"] == pytest.approx(2 / 3)

    no_negatives = binary_metrics([1, 1], [0.9, 0.2], 0.5)
    assert math.isnan(no_negatives["specificity"])
    assert no_negatives["sensitivity"] == pytest.approx(0.5) and no_negatives["npv"] == 0.0

    nothing_called = binary_metrics([1, 0, 1], [0.1, 0.2, 0.3], 0.5)
    assert math.isnan(nothing_called["precision"])
    assert nothing_called["f1"] == 0.0 and nothing_called["sensitivity"] == 0.0

    empty = binary_metrics([], [], 0.5)
    assert empty["n"] == 0 and math.isnan(empty["accuracy"]) and math.isnan(empty["roc_auc"])


@pytest.mark.parametrize(
    ("y", "prob"),
    [([0, 2], [0.1, 0.2]), ([0, 1], [0.1, 1.2]), ([0, 1], [0.1]), ([0, 1], [np.nan, 0.3])],
)
def test_bad_inputs_are_rejected(y, prob):
    with pytest.raises(ValueError):
        binary_metrics(y, prob, 0.5)


def test_weighted_auc_equals_auc_of_repeated_data():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 50)
    prob = np.round(rng.random(50), 1)  # ties on purpose
    weights = rng.integers(0, 4, size=(5, 50))
    got = weighted_roc_auc(y, prob, weights)
    for row, value in zip(weights, got):
        take = np.repeat(np.arange(50), row)
        assert value == pytest.approx(roc_auc_score(y[take], prob[take]))


def test_subtype_sensitivity_by_hand():
    df = pd.DataFrame(
        {
            "label": [1, 1, 1, 1, 1, 0],
            "prob": [0.9, 0.2, 0.8, 0.7, 0.1, 0.95],
            "subtype": ["bacteria", "bacteria", "virus", "VIRUS", "virus", np.nan],
        }
    )
    got = subtype_sensitivity(df, 0.5)
    assert got["bacteria"] == pytest.approx(1 / 2)
    assert got["virus"] == pytest.approx(2 / 3)
    assert math.isnan(subtype_sensitivity(df[df["subtype"] != "bacteria"], 0.5)["bacteria"])


# --- operating points ---------------------------------------------------------------


def _sens(y, prob, t):
    return np.mean(prob[y == 1] >= t)


def _spec(y, prob, t):
    return np.mean(prob[y == 0] < t)


def test_screening_threshold_on_constructed_scores():
    # 200 pneumonia scores 0.005, 0.010, ..., 1.0: 99 % sensitivity means keeping 198,
    # so the highest such threshold is the 198th largest score, 0.015.
    y = np.r_[np.ones(200, int), np.zeros(50, int)]
    prob = np.r_[np.arange(1, 201) / 200, np.linspace(0, 0.5, 50)]
    t = screening_threshold(y, prob, 0.99)
    assert t == pytest.approx(0.015)
    assert _sens(y, prob, t) >= 0.99
    assert _sens(y, prob, np.nextafter(t, 1.0)) < 0.99
    assert screening_threshold(y, prob, 0.9) == pytest.approx(0.105)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 30), min_size=1, max_size=60),
    st.lists(st.integers(0, 30), min_size=1, max_size=30),
    st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99, 1.0]),
)
def test_screening_threshold_is_highest_meeting_target(pos, neg, target):
    y = np.r_[np.ones(len(pos), int), np.zeros(len(neg), int)]
    prob = np.r_[pos, neg] / 30.0
    t = screening_threshold(y, prob, target)
    assert _sens(y, prob, t) >= target - 1e-12
    higher = prob[prob > t]
    if higher.size:  # every higher candidate falls short of the target
        assert _sens(y, prob, higher.min()) < target


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 15), min_size=1, max_size=40),
    st.lists(st.integers(0, 15), min_size=1, max_size=40),
)
def test_youden_threshold_maximises_j(pos, neg):
    y = np.r_[np.ones(len(pos), int), np.zeros(len(neg), int)]
    prob = np.r_[pos, neg] / 15.0
    t = youden_threshold(y, prob)
    j = {c: _sens(y, prob, c) + _spec(y, prob, c) - 1 for c in np.unique(prob)}
    best = max(j.values())
    assert j[t] == pytest.approx(best)
    assert t == max(c for c, v in j.items() if v >= best - 1e-12)


def test_choose_operating_points_reports_val_rates():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    prob = 1 / (1 + np.exp(-(rng.normal(size=400) + 2 * (2 * y - 1))))
    points = choose_operating_points(y, prob, sensitivity_target=0.95)
    assert set(points) == {"screening", "balanced", "argmax"}
    screening, balanced = points["screening"], points["balanced"]
    assert screening.val_sensitivity >= 0.95
    j = {name: p.val_sensitivity + p.val_specificity - 1 for name, p in points.items()}
    assert j["balanced"] >= max(j.values()) - 1e-12
    assert balanced.val_specificity == pytest.approx(_spec(y, prob, balanced.threshold))
    assert points["argmax"].threshold == 0.5


def test_logit_threshold_matches_calibrated_rule():
    z = np.linspace(-6, 6, 241)
    for temperature in (0.7, 1.0, 2.5):
        for t in (0.05, 0.5, 0.93):
            cut = logit_threshold(t, temperature)
            calibrated = 1 / (1 + np.exp(-z / temperature))
            away = np.abs(z - cut) > 1e-9
            assert np.array_equal((calibrated >= t)[away], (z >= cut)[away])
    assert logit_threshold(1.0) == math.inf
