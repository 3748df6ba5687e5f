"""Fixed, deterministic shifts of a real chest film: other scanners, exports, framings.

Films reach the service from other scanners and other export pipelines: contrast-equalised
(CLAHE, histogram equalisation), with another gamma or window, downsampled, compressed harder,
blurred, noisier, collimated tighter, letter-boxed, framed wider or narrower, slightly rotated.
They are still chest X-rays with the same diagnosis. Two fixed sets are defined here, before any
model is compared on them:

* :data:`ACQUISITION_SHIFTS`: one side of the gap the not-a-chest-X-ray gate's threshold is
  placed in (:func:`pneumolib.gate.mahalanobis.gap_margin`): the gate must let these through.
* :data:`STRESS_SHIFTS`: "stress val", the val films under geometric and acquisition shifts. A
  model that reads the lungs keeps its calls and its ranking under them; one that reads the
  film's width, framing or exposure does not, even when its clean val AUC is 0.999
  (:mod:`pneumolib.evaluation.stress` measures this, :mod:`pneumolib.evaluation.selection` uses it).

Every shift maps an (H, W) uint8 image at its original size to another uint8 image, and is
deterministic (the noise is seeded from the image itself). Several are close to what training
augmentation does (:mod:`pneumolib.data.inputs.augment`); CLAHE, JPEG quality 30 and the exact
parameters here are not, so part of stress val tests generalisation rather than repetition.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Shift = Callable[[np.ndarray], np.ndarray]


def _gamma(value: float) -> Shift:
    table = np.round(255.0 * (np.arange(256) / 255.0) ** value).astype(np.uint8)
    return lambda image: table[image]


def _low_contrast(image: np.ndarray) -> np.ndarray:
    mean = float(image.mean())
    return np.clip((image.astype(np.float32) - mean) * 0.6 + mean, 0, 255).astype(np.uint8)


def _clahe(image: np.ndarray) -> np.ndarray:
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(image)


def _low_resolution(image: np.ndarray) -> np.ndarray:
    """Exported at 256 pixels wide, then enlarged back by the viewer."""
    height, width = image.shape
    small = cv2.resize(image, (256, max(1, round(256 * height / width))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _jpeg(quality: int) -> Shift:
    def compress(image: np.ndarray) -> np.ndarray:
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("OpenCV could not encode a JPEG")
        return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    return compress


def _blur(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigmaX=2.0)


def _noise(image: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(int(image[::7, ::7].sum()))
    return np.clip(image + rng.normal(0.0, 8.0, image.shape), 0, 255).astype(np.uint8)


def _tight_crop(image: np.ndarray) -> np.ndarray:
    """Tighter collimation: the central 85 % of each side."""
    height, width = image.shape
    top, left = round(0.075 * height), round(0.075 * width)
    return image[top : height - top, left : width - left]


def _black_border(image: np.ndarray) -> np.ndarray:
    """Letter-boxed on a black canvas, 10 % of the longer side on every edge."""
    pad = round(0.1 * max(image.shape))
    return cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)


def _rotate(degrees: float) -> Shift:
    def rotate(image: np.ndarray) -> np.ndarray:
        height, width = image.shape
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
        return cv2.warpAffine(image, matrix, (width, height), borderValue=0)
    return rotate


ACQUISITION_SHIFTS: dict[str, Shift] = {
    "gamma 0.6": _gamma(0.6),
    "gamma 1.6": _gamma(1.6),
    "low contrast": _low_contrast,
    "histogram equalisation": cv2.equalizeHist,
    "CLAHE": _clahe,
    "low resolution": _low_resolution,
    "JPEG quality 30": _jpeg(30),
    "blur": _blur,
    "noise": _noise,
    "tight collimation": _tight_crop,
    "black border": _black_border,
    "rotated +7 degrees": _rotate(7.0),
    "rotated -7 degrees": _rotate(-7.0),
}


#: name -> (Pillow mode, save options): the same film saved again as a JPEG, as a PACS export or a
#: browser upload would (the pixels a reader sees do not change).
REENCODINGS: dict[str, tuple[str, dict]] = {
    "JPEG q95 grayscale": ("L", {"quality": 95}),
    "JPEG q95 RGB": ("RGB", {"quality": 95}),
    "JPEG q95 CMYK": ("CMYK", {"quality": 95}),
    "JPEG q95 progressive": ("RGB", {"quality": 95, "progressive": True}),
}


def reencode(film: np.ndarray, mode: str, **options: object) -> bytes:
    """The (H, W) uint8 film saved as a JPEG in Pillow ``mode`` with ``options`` (quality, progressive)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(film).convert(mode).save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def _reencoded(name: str) -> Shift:
    """The film re-encoded as :data:`REENCODINGS` ``name`` and read back by the service's decoder."""
    def shift(image: np.ndarray) -> np.ndarray:
        from pneumolib.decode.image import decode_image

        mode, options = REENCODINGS[name]
        return decode_image(reencode(image, mode, **options), "film.jpg").pixels
    return shift


def _crop_sides(fraction: float) -> Shift:
    """A narrower field of view: ``fraction`` of the width cut off the left and off the right."""
    def crop(image: np.ndarray) -> np.ndarray:
        cut = round(fraction * image.shape[1])
        return image[:, cut : image.shape[1] - cut]
    return crop


def _crop_every_side(fraction: float) -> Shift:
    def crop(image: np.ndarray) -> np.ndarray:
        height, width = image.shape
        top, left = round(fraction * height), round(fraction * width)
        return image[top : height - top, left : width - left]
    return crop


def _side_margins(fraction: float, value: int) -> Shift:
    """A wider film: margins of ``fraction`` of the width added left and right."""
    def widen(image: np.ndarray) -> np.ndarray:
        pad = round(fraction * image.shape[1])
        return cv2.copyMakeBorder(image, 0, 0, pad, pad, cv2.BORDER_CONSTANT, value=value)
    return widen


def _stretch_width(factor: float) -> Shift:
    """The film resampled to ``factor`` times its width (another detector's pixel aspect)."""
    def stretch(image: np.ndarray) -> np.ndarray:
        height, width = image.shape
        return cv2.resize(image, (max(1, round(width * factor)), height), interpolation=cv2.INTER_AREA)
    return stretch


STRESS_SHIFTS: dict[str, Shift] = {
    # geometry: field of view, framing, margins, aspect
    "narrow field (7.5 % off each side)": _crop_sides(0.075),
    "black side margins (7.5 %)": _side_margins(0.075, 0),
    "white side margins (7.5 %)": _side_margins(0.075, 255),
    "crop 8 % every side": _crop_every_side(0.08),
    "black border (10 %)": _black_border,
    "stretched 1.25x wide": _stretch_width(1.25),
    "squeezed 0.8x narrow": _stretch_width(0.8),
    "rotated +7 degrees": _rotate(7.0),
    # acquisition: exposure, post-processing, resolution
    "histogram equalisation": cv2.equalizeHist,
    "CLAHE": _clahe,
    "gamma 1.5": _gamma(1.5),
    "gamma 0.67": _gamma(0.67),
    "JPEG quality 30": _jpeg(30),
    "low resolution": _low_resolution,
    # re-encoding: the same pixels for a reader, saved again (added before the second model's run was
    # compared). RGB, CMYK and progressive saves of a grayscale film decode to the same pixels as
    # this one (tests/test_evaluation_reencoding.py), so one of them stands for all.
    "re-encoded JPEG q95": _reencoded("JPEG q95 grayscale"),
}
"""Stress val's shifts, fixed before any candidate was compared on them."""
