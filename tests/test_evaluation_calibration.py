"""Temperature scaling and expected calibration error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pneumolib.evaluation.calibration import (
    apply_temperature,
    brier_score,
    calibrate_predictions,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_table,
)


def _calibrated_toy(n: int, seed: int = 0):
    """Labels drawn from sigmoid(z): the true logits z are perfectly calibrated."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return z, y


def test_recovers_a_known_temperature():
    z, y = _calibrated_toy(20_000)
    assert fit_temperature(3.0 * z, y) == pytest.approx(3.0, rel=0.06)  # over-confident
    assert fit_temperature(0.5 * z, y) == pytest.approx(0.5, rel=0.06)  # under-confident
    assert fit_temperature(z, y) == pytest.approx(1.0, rel=0.06)


def test_scaling_lowers_nll_and_ece_on_overconfident_logits():
    z, y = _calibrated_toy(5_000, seed=1)
    logits = 4.0 * z
    temperature = fit_temperature(logits, y)
    before, after = apply_temperature(logits, 1.0), apply_temperature(logits, temperature)
    assert negative_log_likelihood(y, after) < negative_log_likelihood(y, before) - 0.05
    assert expected_calibration_error(y, after) < expected_calibration_error(y, before) / 2
    assert brier_score(y, after) < brier_score(y, before)
    # Monotone: the ranking, hence any AUC, is untouched.
    assert np.array_equal(np.argsort(before, kind="stable"), np.argsort(after, kind="stable"))


def test_apply_temperature_and_calibrate_predictions():
    assert apply_temperature([0.0, 2.0], 2.0) == pytest.approx([0.5, 1 / (1 + np.exp(-1.0))])
    with pytest.raises(ValueError):
        apply_temperature([1.0], 0.0)
    df = pd.DataFrame({"logit": [-2.0, 0.0, 4.0], "label": [0, 1, 1]})
    out = calibrate_predictions(df, 2.0)
    assert "prob_calibrated" not in df.columns
    assert out["prob_calibrated"].tolist() == pytest.approx(list(apply_temperature(df["logit"], 2.0)))


def test_ece_top_label_by_hand():
    # 5 bins of width 0.2, right-closed. Top-label confidence = max(p, 1 - p):
    #   p:    0.9  0.85  0.3  0.6  0.45  0.55   (pred: 1 1 0 1 0 1)
    #   y:    1    0     0    0    1     1
    #   conf: 0.9  0.85  0.7  0.6  0.55  0.55
    #   hit:  1    0     1    0    0     1
    # bin (0.4, 0.6]: conf .6 .55 .55 -> mean 0.5667, acc 1/3
    # bin (0.6, 0.8]: conf .7         -> 0.7,        acc 1
    # bin (0.8, 1.0]: conf .9 .85     -> 0.875,      acc 1/2
    y = [1, 0, 0, 0, 1, 1]
    p = [0.9, 0.85, 0.3, 0.6, 0.45, 0.55]
    expected = (3 * abs(1 / 3 - 1.7 / 3) + 1 * abs(1 - 0.7) + 2 * abs(0.5 - 0.875)) / 6
    assert expected_calibration_error(y, p, n_bins=5) == pytest.approx(expected)
    table = reliability_table(y, p, n_bins=5)
    assert table["count"].tolist() == [0, 0, 3, 1, 2]
    assert table["confidence"].iloc[2] == pytest.approx(1.7 / 3)
    assert table["accuracy"].iloc[4] == pytest.approx(0.5)
    assert table["confidence"].isna().tolist() == [True, True, False, False, False]


def test_ece_positive_mode_by_hand():
    # Bins on the pneumonia probability; accuracy = observed pneumonia rate.
    #   bin (0.2, 0.4]: p .3        y 0     -> |0 - .3|      = .3
    #   bin (0.4, 0.6]: p .6 .45 .55 y 0 1 1 -> |2/3 - .5333| = .1333
    #   bin (0.8, 1.0]: p .9 .85     y 1 0   -> |.5 - .875|   = .375
    y = [1, 0, 0, 0, 1, 1]
    p = [0.9, 0.85, 0.3, 0.6, 0.45, 0.55]
    expected = (1 * 0.3 + 3 * abs(2 / 3 - 1.6 / 3) + 2 * 0.375) / 6
    assert expected_calibration_error(y, p, n_bins=5, mode="positive") == pytest.approx(expected)


def test_ece_is_small_for_calibrated_and_large_for_miscalibrated():
    z, y = _calibrated_toy(20_000, seed=2)
    assert expected_calibration_error(y, apply_temperature(z, 1.0)) < 0.02
    assert expected_calibration_error(y, apply_temperature(z, 0.25)) > 0.05


def test_reliability_table_shape_and_errors():
    table = reliability_table([0, 1, 1], [0.0, 1.0, 0.5], n_bins=15)
    assert len(table) == 15 and table["count"].sum() == 3
    assert table["bin_lower"].iloc[0] == 0.0 and table["bin_upper"].iloc[-1] == 1.0
    # Bins are right-closed: a value on an edge (exact in binary here) joins the lower bin.
    edges = reliability_table([0, 1, 1], [0.25, 0.75, 0.0], n_bins=4, mode="positive")
    assert edges["count"].tolist() == [2, 0, 1, 0]
    with pytest.raises(ValueError):
        reliability_table([0, 1], [0.2, 0.4], mode="nonsense")
    with pytest.raises(ValueError):
        fit_temperature([0.1, 0.2], [0])
