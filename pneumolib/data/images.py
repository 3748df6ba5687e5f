"""Reading radiographs from disk into 8-bit grayscale arrays, with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

def stretch_to_uint8(values: np.ndarray) -> np.ndarray:
    """Map an array's own finite minimum..maximum linearly onto 0..255; uint8 passes unchanged.

    The one rule for deeper-than-8-bit images, in training, at inference and for display, so an
    overlay shows what the model saw. A flat image becomes all zeros; NaN/inf take the minimum.
    """
    if values.dtype == np.uint8:
        return values
    a = np.asarray(values, dtype=np.float32)
    finite = np.isfinite(a)
    if not finite.all():
        a = np.where(finite, a, np.float32(np.min(a[finite])) if finite.any() else np.float32(0))
    low, high = float(a.min()), float(a.max())
    if high <= low:
        return np.zeros(a.shape, np.uint8)
    out = (a - np.float32(low)) * np.float32(255.0 / (high - low))
    return np.rint(np.clip(out, 0, 255, out=out), out=out).astype(np.uint8)


class CorruptImageError(ValueError):
    """An image file that cannot be decoded (truncated, not an image, unreadable)."""


def read_grayscale(path: str | os.PathLike) -> np.ndarray:
    """Decode ``path`` fully into a 2-D uint8 array; any failure is a :class:`CorruptImageError`.

    ``Image.load()`` is called explicitly: Pillow opens lazily, and a truncated JPEG would
    otherwise pass ``open`` and fail much later, far from the file that caused it.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                return stretch_to_uint8(np.asarray(image))
            return np.asarray(image.convert("L"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as error:
        raise CorruptImageError(f"cannot decode image {path}: {error}") from error
