"""End to end on a real fixture film: prediction, heatmap and overlay at the film's own size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from pneumolib.explain import create_explainer, explain_film
from pneumolib.models import create_model

FILM = sorted((Path(__file__).parent / "fixtures" / "chest_xray" / "test" / "PNEUMONIA").glob("*.jpeg"))[0]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("efficientnet_lite0", pretrained=False).eval()


def test_explain_film_returns_everything_at_film_size(model):
    film = cv2.imread(str(FILM), cv2.IMREAD_GRAYSCALE)
    assert film.shape[0] != film.shape[1]
    result = explain_film(model, film, image_size=96)
    assert result.heatmap.shape == film.shape and 0.0 <= result.heatmap.min() <= result.heatmap.max() <= 1.0
    assert result.overlay.shape == (*film.shape, 3)
    assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert result.predicted_class in ("NORMAL", "PNEUMONIA") and result.explained_class == result.predicted_class
    assert 0.0 <= result.lung_share <= 1.0 and len(result.lung_mask_sources) == 2
    decoded = cv2.imdecode(np.frombuffer(result.png, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (*film.shape, 3)


def test_explain_film_accepts_16_bit_rgb_and_a_ready_explainer(model):
    film = cv2.normalize(cv2.imread(str(FILM), cv2.IMREAD_GRAYSCALE), None, 0, 255, cv2.NORM_MINMAX)
    # 16-bit films are stretched min-max; with the 8-bit film spanning 0-255 both read the same.
    explainer = create_explainer(model)
    gray = explain_film(explainer, film, image_size=96, target_class="NORMAL", lung_focus=False)
    wide = explain_film(explainer, film.astype(np.uint16) * 257, image_size=96, target_class="NORMAL", lung_focus=False)
    rgb = explain_film(explainer, np.dstack([film] * 3), image_size=96, target_class="NORMAL", lung_focus=False)
    assert gray.explained_class == "NORMAL" and gray.lung_share is None
    np.testing.assert_allclose(wide.heatmap, gray.heatmap, atol=1e-6)
    np.testing.assert_allclose(rgb.heatmap, gray.heatmap, atol=1e-6)
