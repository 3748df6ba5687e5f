"""The two sets the gate's threshold is placed between: shifted X-rays and reference non-X-rays."""

from __future__ import annotations

import numpy as np
import pytest

from pneumolib.data.inputs.shifts import ACQUISITION_SHIFTS
from pneumolib.gate.reference_non_xrays import reference_non_xrays


@pytest.fixture(scope="module")
def film() -> np.ndarray:
    """A film-like test image: a bright torso with two dark lung fields, on a dark background."""
    yy, xx = np.mgrid[0:300, 0:240]
    image = np.full((300, 240), 30.0)
    image[20:290, 20:220] = 170
    for cx in (80, 160):
        image[((yy - 150) / 100) ** 2 + ((xx - cx) / 45) ** 2 < 1] = 70
    image += np.random.default_rng(0).normal(0, 5, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", sorted(ACQUISITION_SHIFTS))
def test_each_shift_is_a_deterministic_change_to_a_uint8_image(name, film):
    shift = ACQUISITION_SHIFTS[name]
    out = shift(film.copy())
    assert out.dtype == np.uint8 and out.ndim == 2
    assert np.array_equal(out, shift(film.copy()))
    assert out.shape != film.shape or np.abs(out.astype(int) - film).mean() > 0.5
    assert 0.25 < out.size / film.size < 2.0  # still the whole film, not a fragment


def test_reference_set_is_varied_grayscale_and_unique():
    images = reference_non_xrays()
    names = [name for name, _ in images]
    assert len(images) == 89 and len(set(names)) == len(names)
    for name, image in images:
        assert image.dtype == np.uint8 and image.ndim == 2 and min(image.shape) >= 20, name
    assert any("phantom" in n for n in names) and any("retina" in n for n in names)
    assert any("inverted" in n for n in names) and any("LFW" in n for n in names)
