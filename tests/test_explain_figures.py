"""Notebook 05's figures: each is a Figure with the expected panels, drawn over the original films."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from pneumolib.explain import figures
from pneumolib.explain.randomisation import RandomisationResult, RandomisationStudy
from pneumolib.explain.study import GradCamStudy, outcome_labels

ROOT = Path(__file__).parent / "fixtures" / "chest_xray"
PATHS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "test").glob("*/*.jpeg"))
SIZE = 32


@pytest.fixture(scope="module")
def study() -> GradCamStudy:
    """A constructed study: no model needed to test the drawing. No false negative on purpose."""
    rng = np.random.default_rng(0)
    labels = np.array([int("PNEUMONIA" in p) for p in PATHS])
    predicted = labels.copy()
    predicted[0] = 1  # one normal film called pneumonia: a false positive
    shares = rng.uniform(0.05, 0.9, len(PATHS))
    shares[1] = np.nan  # an all-zero map
    table = pd.DataFrame({
        "path": PATHS, "label": labels, "prob": np.where(predicted == 1, 0.8, 0.1), "predicted": predicted,
        "outcome": outcome_labels(labels, predicted), "inside_share": shares,
        "mask_fraction": rng.uniform(0.2, 0.35, len(PATHS)), "corner_share": rng.uniform(0.1, 0.5, len(PATHS)),
        "lung_sources": "segmented/segmented",
    })
    heatmaps = rng.random((len(PATHS), SIZE, SIZE)).astype(np.float16)
    return GradCamStudy(table, heatmaps, 0.25, "screening", 1.0)


def panels(fig: Figure) -> int:
    return sum(1 for ax in fig.axes if ax.images)  # colourbars and empty slots have no image


def test_outcome_gallery_has_a_row_per_outcome(study):
    fig = figures.outcome_gallery(study, ROOT, n=3)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4 * 3
    # TP: 6, FP: 1, FN: 0, TN: 5 films -> 3 + 1 + 0 + 3 drawn panels
    assert panels(fig) == 7
    drawn = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    # RGB overlays at the original film's aspect ratio (shrunk for display), not the square heatmap
    assert all(image.ndim == 3 and image.shape[2] == 3 and image.shape[0] <= figures.DISPLAY_HEIGHT for image in drawn)
    assert any(image.shape[0] != image.shape[1] for image in drawn)


def test_outcome_gallery_one_outcome_and_callable_reader(study):
    read = figures.film_reader(ROOT)
    fig = figures.outcome_gallery(study, read, outcomes=["TN"], n=2, pick="confident", lungs=False)
    assert len(fig.axes) == 2 and panels(fig) == 2
    with pytest.raises(ValueError):
        figures.outcome_gallery(study, ROOT, outcomes=["XX"])


@pytest.mark.parametrize("pick", figures.PICKS)
def test_pick_rows(study, pick):
    rows = figures.pick_rows(study.table, "TP", 2, pick)
    assert len(rows) == 2 and (rows["outcome"] == "TP").all()


def test_pick_rows_outside_is_worst_first(study):
    rows = figures.pick_rows(study.table, None, 4, "outside")
    assert list(rows["inside_share"]) == sorted(study.table["inside_share"].dropna())[:4]


def test_randomisation_figure_three_panels_per_film():
    rng = np.random.default_rng(1)
    count = 3
    rho = RandomisationResult(np.array([0.1, np.nan, -0.2]), "gradcam")
    result = RandomisationStudy(PATHS[:count], np.array([0, 1, 1]), rng.random((count, SIZE, SIZE)),
                                rng.random((count, SIZE, SIZE)), rho)
    fig = figures.randomisation_figure(result, ROOT, per_row=2)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3 * count and panels(fig) == 3 * count
    assert "-0.05" in fig.get_suptitle()  # the mean over the defined correlations


def test_lung_focus_figure_has_two_panels(study):
    fig = figures.lung_focus_figure(study)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert "1 all-zero" in fig.axes[0].get_title()


def test_outside_gallery_shows_the_worst_films(study):
    fig = figures.outside_gallery(study, ROOT, n=4, per_row=3)
    assert len(fig.axes) == 4 and panels(fig) == 4
    worst = study.table["inside_share"].min()
    assert f"{worst:.0%}" in fig.axes[0].get_title()
