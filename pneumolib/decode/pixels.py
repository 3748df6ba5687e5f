"""Pixel arrays of any depth or channel count to the 8-bit gray + RGB pair the service uses.

Shared by the PNG/JPEG and DICOM decoders so both make the same choices (see
:mod:`pneumolib.decode.image`): 8-bit data is kept as is, deeper data is min-max scaled,
colour becomes gray with Pillow's exact weights, and transparency is flattened onto black.
"""

from __future__ import annotations

import numpy as np

from pneumolib.decode.errors import UnsupportedMediaType


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


def channels_equal(rgb: np.ndarray) -> bool:
    """True for colour-encoded grayscale (R == G == B everywhere)."""
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return bool(np.array_equal(red, green) and np.array_equal(green, blue))


def luma_u8(rgb: np.ndarray) -> np.ndarray:
    """Pillow's exact ``convert("L")`` on an (H, W, 3) uint8 array (ITU-R 601-2 weights).

    Kept bit-for-bit equal to Pillow so DICOM colour images get the same gray as a JPEG would.
    """
    acc = rgb[..., 0].astype(np.uint32) * 19595
    acc += rgb[..., 1].astype(np.uint32) * 38470
    acc += rgb[..., 2].astype(np.uint32) * 7471
    acc += 0x8000
    return (acc >> 16).astype(np.uint8)


def finish_array(
    arr: np.ndarray, bits: int, *, has_alpha: bool, notes: list[str]
) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W[, C]) array of any integer or float type -> (gray, colour) uint8.

    ``colour`` is the (H, W, 3) RGB picture for genuinely coloured input and None when the
    image is grayscale (three equal channels included): ``gray`` then is the whole picture.

    8-bit data keeps its values; deeper data is min-max scaled (see the module docstring).
    """
    deep = arr.dtype != np.uint8
    if arr.ndim == 3 and has_alpha:
        top = float(np.iinfo(arr.dtype).max) if arr.dtype.kind in "ui" else 1.0
        alpha = arr[..., -1].astype(np.float32) / np.float32(top)
        arr = arr[..., :-1]
        if float(alpha.min()) < 1.0:
            notes.append("transparent areas flattened onto black")
            composed = arr.astype(np.float32) * alpha[..., None]
            arr = composed if deep else np.rint(composed).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[2] != 3:
        raise UnsupportedMediaType(
            f"Images with {arr.shape[2]} channels are not supported. Export the X-ray as an "
            "ordinary grayscale or RGB PNG or JPEG."
        )
    if deep:
        notes.append(
            f"{bits}-bit image rescaled to 8-bit (its darkest value to black, brightest to white)"
        )
    if arr.ndim == 2:
        return (stretch_to_uint8(arr) if deep else arr), None
    if channels_equal(arr):
        return (stretch_to_uint8(arr[..., 0]) if deep else arr[..., 0].copy()), None
    notes.append("colour image converted to grayscale")
    if not deep:
        return luma_u8(arr), arr
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    gray = stretch_to_uint8(arr.astype(np.float32) @ weights)
    return gray, stretch_to_uint8(arr)


def unit_to_u8(unit: np.ndarray) -> np.ndarray:
    """0..1 floats -> uint8, rounding to nearest."""
    scaled = np.asarray(unit, dtype=np.float32) * np.float32(255)
    return np.rint(np.clip(scaled, 0, 255, out=scaled), out=scaled).astype(np.uint8)
