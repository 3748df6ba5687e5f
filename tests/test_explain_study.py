"""Split-level Grad-CAM study: outcome labels, the table, the called class explained, the randomisation study."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pneumolib import CLASS_NAMES
from pneumolib.checkpoint import load_checkpoint, save_checkpoint
from pneumolib.data.inputs.preprocess import canonical_image
from pneumolib.data.release.images import read_grayscale
from pneumolib.explain import create_explainer
from pneumolib.explain.describe import describe_focus
from pneumolib.explain.randomisation import randomisation_study
from pneumolib.explain.study import (
    TABLE_COLUMNS,
    GradCamStudy,
    corner_share,
    film_reader,
    focus_summary,
    outcome_labels,
    study_images,
    study_split,
)

ROOT = Path(__file__).parent / "fixtures" / "chest_xray"
PATHS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "test").glob("*/*.jpeg"))
SIZE = 64


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model(imagenet_lite0):
    return imagenet_lite0


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.stack([canonical_image(read_grayscale(ROOT / p), SIZE) for p in PATHS])


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    return np.array([CLASS_NAMES.index(p.split("/")[1]) for p in PATHS])


def test_outcome_labels_for_constructed_predictions():
    labels = [1, 1, 0, 0, 1, 0]
    predicted = [1, 0, 1, 0, 1, 0]
    assert list(outcome_labels(labels, predicted)) == ["TP", "FN", "FP", "TN", "TP", "TN"]


def test_outcome_labels_reject_bad_input():
    with pytest.raises(ValueError):
        outcome_labels([0, 1], [1])
    with pytest.raises(ValueError):
        outcome_labels([0, 2], [1, 1])


def test_study_table_columns_and_ranges(model, images, labels):
    study = study_images(model, images, labels, PATHS, film_reader(ROOT), temperature=1.3, threshold=0.5,
                         batch_size=5, progress=False)
    assert tuple(study.table.columns) == TABLE_COLUMNS
    assert len(study) == len(PATHS) and study.heatmaps.shape == (len(PATHS), SIZE, SIZE)
    shares = study.table["inside_share"].dropna()
    assert len(shares) > 0 and shares.between(0.0, 1.0).all()
    assert study.table["mask_fraction"].between(0.0, 1.0).all()
    assert study.table["corner_share"].dropna().between(0.0, 1.0).all()
    assert study.table["prob"].between(0.0, 1.0).all()
    assert (study.table["predicted"] == (study.table["prob"] >= 0.5)).all()
    expected = outcome_labels(study.table["label"], study.table["predicted"])
    assert (study.table["outcome"] == expected).all()
    assert set(study.summary().index) == {"TP", "FP", "FN", "TN", "all"}


@pytest.mark.parametrize("threshold, called", [(0.0, 1), (1.01, 0)])
def test_the_called_class_is_explained(model, images, labels, threshold, called):
    """Threshold 0 calls every film pneumonia, a threshold above 1 none: heatmaps follow the call, not the argmax."""
    study = study_images(model, images, labels, PATHS, film_reader(ROOT), threshold=threshold, progress=False)
    assert (study.table["predicted"] == called).all()
    assert set(study.table["outcome"]) <= ({"TP", "FP"} if called else {"TN", "FN"})
    reference = create_explainer(model).explain(images, called).heatmaps
    np.testing.assert_allclose(study.heatmaps.astype(np.float32), reference, atol=2e-3)


def test_study_split_reads_threshold_and_temperature_from_a_checkpoint(model, tmp_path, labels):
    metadata = {"architecture": "efficientnet_lite0", "image_size": SIZE, "jpeg_quality": 75, "temperature": 2.0,
                "operating_points": {"screening": {"threshold": 0.3}}}
    model_back, metadata = load_checkpoint(save_checkpoint(tmp_path / "model.pt", model, metadata))
    manifest = pd.DataFrame({"path": PATHS, "split": "test", "label": [CLASS_NAMES[i] for i in labels]})
    study = study_split(model_back, metadata, manifest, "test", ROOT, max_images=6, progress=False)
    assert len(study) == 6 and set(study.table["label"]) == {0, 1}  # the subset keeps both classes
    assert study.threshold == 0.3 and study.temperature == 2.0 and study.operating_point == "screening"
    with pytest.raises(KeyError):
        study_split(model_back, metadata, manifest, "test", ROOT, operating_point="nonexistent", progress=False)


def test_corner_share():
    assert corner_share(np.ones((8, 8))) == pytest.approx(0.25)  # uniform: the corners' area
    marker = np.zeros((8, 8))
    marker[0, 7] = 1.0  # all the mass on a top-right "R"
    assert corner_share(marker) == pytest.approx(1.0)
    centre = np.zeros((8, 8))
    centre[3:5, 3:5] = 1.0
    assert corner_share(centre) == 0.0 and math.isnan(corner_share(np.zeros((8, 8))))


def test_focus_summary_and_mostly_outside():
    table = pd.DataFrame({
        "path": list("abcde"), "label": [1, 1, 0, 0, 1], "prob": [0.9, 0.2, 0.7, 0.1, 0.8],
        "predicted": [1, 0, 1, 0, 1], "outcome": ["TP", "FN", "FP", "TN", "TP"],
        "inside_share": [0.8, 0.3, math.nan, 0.6, 0.2], "mask_fraction": [0.3] * 5,
        "corner_share": [0.1, 0.5, math.nan, 0.2, 0.7], "lung_sources": [""] * 5,
    })
    study = GradCamStudy(table, np.zeros((5, 4, 4), np.float16), 0.5, "balanced", 1.0)
    summary = study.summary()
    assert summary.loc["TP", "films"] == 2 and summary.loc["TP", "mean inside share"] == pytest.approx(0.5)
    assert summary.loc["all", "mean inside share"] == pytest.approx(0.475)  # the NaN is left out
    assert summary.loc["TP", "uniform heatmap would give"] == pytest.approx(0.3)
    assert list(study.mostly_outside()["path"]) == ["e", "b"]
    assert summary.loc["TP", "mean corner share (uniform 0.25)"] == pytest.approx(0.4)
    assert focus_summary(table).equals(summary)
    words = describe_focus(study)
    assert "5 films" in words and "1 maps are all zero" in words
    assert "2 of 4 films (50%)" in words and "a uniform map would be among them" in words
    # the verdict is per class called: pneumonia 0.5 inside vs 0.3 uniform; normal 0.45 vs 0.3
    assert "Films called PNEUMONIA (2): **50%** of the mass inside the lungs against 30% for a uniform map: " \
           "more than chance" in words
    assert "Films called NORMAL (2): **45%**" in words
    table.loc[[0, 4], "inside_share"] = [0.31, 0.29]  # films called pneumonia at chance, normals above it
    words = describe_focus(GradCamStudy(table, np.zeros((5, 4, 4), np.float16), 0.5, "balanced", 1.0))
    assert "Films called PNEUMONIA (2): **30%** of the mass inside the lungs against 30% for a uniform map: " \
           "**no better than chance**" in words


def test_randomisation_study_keeps_both_maps(model, images, labels):
    result = randomisation_study(model, images, PATHS, targets=labels, n=4, seed=1)
    assert len(result.paths) == 4 and set(result.paths) <= set(PATHS)
    assert result.trained.shape == result.randomised.shape == (4, SIZE, SIZE)
    picked = [PATHS.index(p) for p in result.paths]
    assert list(result.targets) == list(labels[picked])  # the given class, on both sides
    valid = result.rho[~np.isnan(result.rho)]
    assert ((valid >= -1) & (valid <= 1)).all()
    assert result.mean == pytest.approx(valid.mean()) if valid.size else math.isnan(result.mean)
    assert list(result.table().columns) == ["path", "explained class", "spearman"]


def test_study_keeps_images_for_the_randomisation_check(model, images, labels):
    study = study_images(model, images[:4], labels[:4], PATHS[:4], film_reader(ROOT), progress=False)
    result = study.randomisation(model, n=2)
    assert len(result.paths) == 2
    called = dict(zip(study.table["path"], study.table["predicted"]))
    assert [called[p] for p in result.paths] == list(result.targets)
