"""The one canonical preprocessing every image goes through, in training and at inference.

In this copy of the data, 3,650 training films exist only as copies that their source had already
squashed to 224x224 and saved as JPEG quality 75, while every test film is an original. A network
can learn to tell those two kinds of file apart, and since the mix of kinds differs by class and
by split, that is a shortcut. So every image, whatever its history, is squashed to a square of
the model's input size with area interpolation and then round-tripped through JPEG at quality 75:
after that, an original and a pre-squashed copy have been through the same last steps.
"""

from __future__ import annotations

import cv2
import numpy as np

CANONICAL_JPEG_QUALITY = 75


def canonical_image(pixels: np.ndarray, size: int, jpeg_quality: int | None = CANONICAL_JPEG_QUALITY) -> np.ndarray:
    """A ``size`` x ``size`` uint8 grayscale image from any 2-D uint8 image."""
    if pixels.ndim != 2 or pixels.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 grayscale image, got shape {pixels.shape} dtype {pixels.dtype}")
    shrinking = pixels.shape[0] >= size and pixels.shape[1] >= size
    resized = cv2.resize(pixels, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if jpeg_quality is None:
        return resized
    ok, encoded = cv2.imencode(".jpg", resized, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    if not ok:
        raise RuntimeError("OpenCV could not JPEG-encode an image")
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
