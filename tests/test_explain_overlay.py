"""Overlays: at the ORIGINAL film's size and aspect ratio, for 8-bit gray, RGB(A) and 16-bit films."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pneumolib.explain import colorize_heatmap, overlay_heatmap, overlay_png, resize_heatmap

H, W = 90, 160  # a non-square film


def left_hot(size: int = 32) -> np.ndarray:
    """A square heatmap, hot on its left half only."""
    heatmap = np.zeros((size, size), dtype=np.float32)
    heatmap[:, : size // 2] = 1.0
    return heatmap


@pytest.mark.parametrize(
    "film",
    [
        np.full((H, W), 100, dtype=np.uint8),
        np.full((H, W, 1), 100, dtype=np.uint8),
        np.dstack([np.full((H, W), v, dtype=np.uint8) for v in (100, 120, 140)]),
        np.dstack([np.full((H, W), 100, dtype=np.uint8)] * 3 + [np.full((H, W), 255, dtype=np.uint8)]),
        (np.arange(H * W, dtype=np.uint16).reshape(H, W) * 9),
    ],
    ids=["gray", "gray-1ch", "rgb", "rgba", "uint16"],
)
def test_overlay_has_original_size_and_heat_lands_where_computed(film):
    overlay = overlay_heatmap(film, left_hot(), opacity=0.5)
    assert overlay.shape == (H, W, 3) and overlay.dtype == np.uint8
    red_minus_blue = overlay[..., 0].astype(int) - overlay[..., 2].astype(int)
    # JET: 1.0 is red, 0.0 is blue. The square heatmap's left half covers the film's left half.
    assert red_minus_blue[:, : W // 2 - 4].mean() > red_minus_blue[:, W // 2 + 4 :].mean() + 50


def test_opacity_extremes_and_validation():
    film = np.random.default_rng(0).integers(0, 256, (H, W), dtype=np.uint8)
    heatmap = np.random.default_rng(1).random((7, 7)).astype(np.float32)
    np.testing.assert_array_equal(overlay_heatmap(film, heatmap, opacity=0.0), np.dstack([film] * 3))
    only_heat = colorize_heatmap(resize_heatmap(heatmap, (H, W)))
    np.testing.assert_array_equal(overlay_heatmap(film, heatmap, opacity=1.0), only_heat)
    with pytest.raises(ValueError, match="opacity"):
        overlay_heatmap(film, heatmap, opacity=1.5)


def test_uint16_is_stretched_not_truncated():
    film = np.linspace(1000, 4000, H * W).reshape(H, W).astype(np.uint16)  # a 12-bit film
    overlay = overlay_heatmap(film, np.zeros((8, 8), np.float32), opacity=0.0)
    assert overlay.min() == 0 and overlay.max() == 255


def test_png_bytes_decode_to_the_overlay():
    film = np.random.default_rng(0).integers(0, 256, (H, W), dtype=np.uint8)
    png = overlay_png(film, left_hot(), opacity=0.3)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(decoded, overlay_heatmap(film, left_hot(), opacity=0.3))


def test_resize_heatmap_keeps_range_and_size():
    resized = resize_heatmap(np.random.default_rng(0).random((7, 7)), (H, W))
    assert resized.shape == (H, W) and resized.min() >= 0.0 and resized.max() <= 1.0
    with pytest.raises(ValueError):
        resize_heatmap(np.zeros((2, 7, 7)), (H, W))
    with pytest.raises(ValueError):
        overlay_heatmap(np.zeros((H, W, 2), np.uint8), left_hot())
