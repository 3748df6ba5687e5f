"""Lung-field mask on the real fixture X-rays: two plausible regions, prior fallback, any pixel format."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pneumolib.explain import lung_mask, prior_lung_mask, segment_lungs

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "chest_xray").glob("*/*/*.jpeg"))


def read(path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def check_plausible(mask: np.ndarray) -> None:
    height, width = mask.shape
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
    assert count - 1 == 2, "two lung fields"
    xs = sorted(centroids[1:, 0] / width)
    assert xs[0] < 0.5 < xs[1], "one lung on each side of the midline"
    assert all(0.15 < y / height < 0.75 for y in centroids[1:, 1]), "lungs in the upper-middle of the film"
    assert 0.08 <= mask.mean() <= 0.45, f"area fraction {mask.mean():.2f}"
    assert not mask[:, 0].any() and not mask[:, -1].any(), "lungs do not reach the film's sides"


@pytest.mark.parametrize("path", FIXTURES[::3], ids=lambda p: p.name)
def test_mask_is_plausible_on_fixture_films(path):
    film = read(path)
    mask = lung_mask(film)
    assert mask.shape == film.shape and mask.dtype == bool
    check_plausible(mask)


def test_most_fixture_films_are_segmented_not_just_the_prior():
    sources = [segment_lungs(read(path)).sources for path in FIXTURES]
    both = sum(s == ("segmented", "segmented") for s in sources)
    assert both >= 0.7 * len(FIXTURES), f"only {both}/{len(FIXTURES)} films segmented on both sides"


def test_blank_film_falls_back_to_the_prior():
    blank = np.full((120, 150), 128, dtype=np.uint8)
    result = segment_lungs(blank)
    assert result.sources == ("prior", "prior")
    np.testing.assert_array_equal(result.mask, prior_lung_mask(blank.shape))
    check_plausible(result.mask)


def test_pixel_formats_give_the_same_mask():
    film = read(FIXTURES[0])
    expected = lung_mask(film)
    np.testing.assert_array_equal(lung_mask(np.dstack([film] * 3)), expected)
    np.testing.assert_array_equal(lung_mask(film.astype(np.uint16) * 257), expected)  # 16-bit, same content


def test_mask_follows_the_film_not_the_prior():
    """A synthetic film: body bright, two dark 'lungs' placed higher than the prior expects."""
    film = np.full((200, 200), 20, dtype=np.uint8)
    cv2.rectangle(film, (15, 10), (185, 195), 200, -1)  # body
    cv2.ellipse(film, (62, 70), (25, 45), 0, 0, 360, 60, -1)
    cv2.ellipse(film, (138, 70), (25, 45), 0, 0, 360, 60, -1)
    result = segment_lungs(film)
    assert result.sources == ("segmented", "segmented")
    lungs = np.zeros_like(film, dtype=bool)
    lungs[film == 60] = True
    overlap = (result.mask & lungs).sum() / (result.mask | lungs).sum()
    assert overlap > 0.8, f"IoU with the drawn lungs {overlap:.2f}"
