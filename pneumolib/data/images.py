"""Reading radiographs from disk into 8-bit grayscale arrays, with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


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
                array = np.asarray(image, dtype=np.float32)
                low, high = float(array.min()), float(array.max())
                scaled = (array - low) / (high - low) * 255.0 if high > low else np.zeros_like(array)
                return scaled.round().astype(np.uint8)
            return np.asarray(image.convert("L"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as error:
        raise CorruptImageError(f"cannot decode image {path}: {error}") from error
