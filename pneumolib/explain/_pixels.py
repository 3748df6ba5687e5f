"""Pixel-format helpers shared by the overlay and the lung mask.

Radiographs arrive as 8-bit grayscale, 8-bit RGB(A) or 16-bit grayscale arrays; display and the
classical mask both want 8-bit. 16-bit images are stretched min-to-max, the same rule
:func:`pneumolib.data.release.images.read_grayscale` uses, so an overlay looks like what the model saw.
"""

from __future__ import annotations

import cv2
import numpy as np

from pneumolib.decode.pixels import luma_u8, stretch_to_uint8


def _channels_last(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        return pixels[:, :, 0]
    if pixels.ndim == 3 and pixels.shape[2] == 4:  # drop alpha
        return pixels[:, :, :3]
    if pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3):
        return pixels
    raise ValueError(f"expected an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image, got shape {pixels.shape}")


def to_rgb_uint8(pixels: np.ndarray) -> np.ndarray:
    """(H, W[, C]) gray/RGB/RGBA, 8- or 16-bit -> (H, W, 3) uint8 RGB."""
    pixels = stretch_to_uint8(_channels_last(np.asarray(pixels)))
    return cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB) if pixels.ndim == 2 else np.ascontiguousarray(pixels)


def to_gray_uint8(pixels: np.ndarray) -> np.ndarray:
    """(H, W[, C]) gray/RGB/RGBA, 8- or 16-bit -> (H, W) uint8 grayscale.

    Colour goes through the decoder's own conversion (:func:`pneumolib.decode.pixels.luma_u8`,
    Pillow's weights and rounding), so the lung mask sees the gray the model saw."""
    pixels = stretch_to_uint8(_channels_last(np.asarray(pixels)))
    return luma_u8(pixels) if pixels.ndim == 3 else pixels
