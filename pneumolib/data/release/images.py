"""Reading radiographs from disk into 8-bit grayscale arrays, with errors that name the file.

Files are decoded by the service's own decoder (:func:`pneumolib.decode.image.decode_image`),
so training, evaluation and ``POST /predict`` turn a JPEG, PNG (8 or 16 bit) or DICOM file into
the same pixels: a model never meets one conversion in training and another in use. On the
5,856 Kermany films that decoder gives exactly the pixels Pillow's ``convert("L")`` gives.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pneumolib.decode.errors import ImageFileError
from pneumolib.decode.image import decode_image

__all__ = ["FILE_MAX_BYTES", "CorruptImageError", "read_grayscale"]

FILE_MAX_BYTES = 1024 * 1024 * 1024
"""Files read from a data folder may be far larger than an upload (uncompressed DICOM): 1 GB."""


class CorruptImageError(ValueError):
    """An image file that cannot be decoded (truncated, not an image, unreadable)."""


def read_grayscale(path: str | os.PathLike) -> np.ndarray:
    """Decode ``path`` fully into a 2-D uint8 array; any failure is a :class:`CorruptImageError`.

    The message names the file and says why (the decoder's own advice), so a bad file in a
    folder of thousands can be found and replaced.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
        return decode_image(data, filename=path.name, max_bytes=FILE_MAX_BYTES).pixels
    except ImageFileError as error:
        raise CorruptImageError(f"cannot decode image {path}: {error.detail}") from error
    except OSError as error:
        raise CorruptImageError(f"cannot read image {path}: {error}") from error
