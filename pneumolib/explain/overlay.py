"""Heatmap over the original film, at the film's own size and aspect ratio.

The model sees a square squash of the film, so its heatmap is square too. Resizing that square
heatmap straight to the original (height, width) undoes the squash exactly: each heatmap pixel
lands back on the part of the film it was computed from. Drawing on the square model input
instead would show a distorted chest to the reader.
"""

from __future__ import annotations

import cv2
import numpy as np

from pneumolib.explain._pixels import to_rgb_uint8

DEFAULT_OPACITY = 0.4
DEFAULT_COLORMAP = cv2.COLORMAP_JET


def resize_heatmap(heatmap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) heatmap -> ``size`` = (height, width), bilinear, values kept in [0, 1]."""
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.ndim != 2:
        raise ValueError(f"expected a 2-D heatmap, got shape {heatmap.shape}")
    height, width = int(size[0]), int(size[1])
    if heatmap.shape != (height, width):
        heatmap = cv2.resize(heatmap, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(heatmap, 0.0, 1.0)


def colorize_heatmap(heatmap: np.ndarray, colormap: int = DEFAULT_COLORMAP) -> np.ndarray:
    """[0, 1] heatmap -> (h, w, 3) uint8 RGB through an OpenCV colormap."""
    levels = np.round(np.clip(heatmap, 0.0, 1.0) * 255.0).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(levels, colormap), cv2.COLOR_BGR2RGB)


def overlay_heatmap(
    image: np.ndarray,
    heatmap: np.ndarray,
    opacity: float = DEFAULT_OPACITY,
    colormap: int = DEFAULT_COLORMAP,
) -> np.ndarray:
    """The film with the coloured heatmap blended in: (H, W, 3) uint8 RGB at the film's size.

    ``image``: the ORIGINAL film, (H, W) / (H, W, 1) grayscale, (H, W, 3) RGB or (H, W, 4) RGBA,
    uint8 or 16-bit (stretched min-max for display). ``opacity``: 0 = film only, 1 = heatmap only.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    film = to_rgb_uint8(image)
    colours = colorize_heatmap(resize_heatmap(heatmap, film.shape[:2]), colormap)
    return cv2.addWeighted(colours, float(opacity), film, 1.0 - float(opacity), 0.0)


def encode_png(rgb: np.ndarray) -> bytes:
    """(H, W, 3) uint8 RGB -> PNG file bytes."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("OpenCV could not PNG-encode the overlay")
    return encoded.tobytes()


def overlay_png(
    image: np.ndarray,
    heatmap: np.ndarray,
    opacity: float = DEFAULT_OPACITY,
    colormap: int = DEFAULT_COLORMAP,
) -> bytes:
    """:func:`overlay_heatmap` as PNG bytes, ready for an HTTP response or a file."""
    return encode_png(overlay_heatmap(image, heatmap, opacity, colormap))
