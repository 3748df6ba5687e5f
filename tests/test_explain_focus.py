"""Share of heatmap mass inside the lung mask."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pneumolib.explain import focus_report, focus_share, mostly_outside


@pytest.fixture
def mask() -> np.ndarray:
    mask = np.zeros((60, 90), dtype=bool)
    mask[10:40, 15:40] = True
    mask[10:40, 50:75] = True
    return mask


def test_heatmap_entirely_inside_scores_one(mask):
    heatmap = np.zeros(mask.shape, np.float32)
    heatmap[15:35, 20:35] = np.random.default_rng(0).random((20, 15))
    assert focus_share(heatmap, mask) == pytest.approx(1.0)


def test_heatmap_entirely_outside_scores_zero(mask):
    heatmap = (~mask).astype(np.float32)
    assert focus_share(heatmap, mask) == pytest.approx(0.0)


def test_uniform_heatmap_scores_the_area_fraction(mask):
    assert focus_share(np.ones((7, 7), np.float32), mask) == pytest.approx(mask.mean())


def test_random_heatmaps_stay_in_unit_interval(mask):
    rng = np.random.default_rng(1)
    for _ in range(20):
        share = focus_share(rng.random((7, 7)).astype(np.float32), mask)
        assert 0.0 <= share <= 1.0


def test_square_heatmap_is_mapped_onto_the_film(mask):
    """A square model-input heatmap hot on its left third lands on the film's left third."""
    heatmap = np.zeros((30, 30), np.float32)
    heatmap[:, :10] = 1.0
    left = np.zeros_like(mask)
    left[:, :30] = True
    assert focus_share(heatmap, left) > 0.95


def test_all_zero_heatmap_has_no_share(mask):
    assert math.isnan(focus_share(np.zeros((7, 7)), mask))


def test_report_and_mostly_outside(mask):
    inside = mask.astype(np.float32)
    outside = (~mask).astype(np.float32)
    half = np.ones(mask.shape, np.float32)
    entries = focus_report([inside, outside, half, np.zeros((4, 4))], [mask] * 4, ["in", "out", "half", "empty"])
    assert [e.name for e in entries] == ["in", "out", "half", "empty"]
    assert entries[0].inside_share == pytest.approx(1.0) and entries[1].outside_share == pytest.approx(1.0)
    assert entries[2].mask_fraction == pytest.approx(mask.mean())
    flagged = mostly_outside(entries)
    assert [e.name for e in flagged] == ["out", "half"]  # worst first; NaN not flagged
    with pytest.raises(ValueError):
        focus_report([inside], [mask, mask])
