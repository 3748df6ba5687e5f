"""A typical normal film: the lung texture the ``reference`` occlusion fill paints into a hidden zone.

Flat fills (grey, black, the lung's mean, a heavy blur) all carry evidence of their own: to this
model a featureless patch inside a lung field looks a little like an opacity, so hiding a region
with one adds evidence while it removes some. A fill taken from a real normal film keeps lung
texture (ribs, vessels) and leaves the disease out, a crude form of the in-distribution infill
that counterfactual explanation methods use.

The film is chosen by a fixed rule on the **train** split (never val or test): the normal film
closest, pixel by pixel at 56 x 56, to the mean of all normal training films, i.e. the most
typical framing and exposure. ``scripts/make_reference_film.py`` rebuilds it; the package ships
it (``pneumolib/resources/reference_normal_film.png``) so a service needs no data set.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

REFERENCE_FILE_NAME = "reference_normal_film.png"
COMPARE_SIZE = 56


def most_typical(images: np.ndarray) -> int:
    """Index of the film (N, S, S) uint8 closest, in mean squared difference at 56 x 56, to their mean."""
    images = np.asarray(images)
    if images.ndim != 3 or not len(images):
        raise ValueError(f"expected a stack of films (N, S, S), got shape {images.shape}")
    small = np.stack([cv2.resize(image, (COMPARE_SIZE, COMPARE_SIZE), interpolation=cv2.INTER_AREA)
                      for image in images]).astype(np.float32)
    return int(np.argmin(((small - small.mean(axis=0)) ** 2).mean(axis=(1, 2))))


@lru_cache(maxsize=4)
def reference_film(side: int) -> np.ndarray:
    """(side, side) float32 in [0, 1]: the shipped reference film at the model's input size."""
    from pneumolib.resources import packaged_file

    path = packaged_file(REFERENCE_FILE_NAME)
    film = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if film is None:
        raise RuntimeError(f"cannot read the reference film {path}: reinstall pneumolib")
    if film.shape != (side, side):
        film = cv2.resize(film, (side, side), interpolation=cv2.INTER_AREA)
    film = film.astype(np.float32) / 255.0
    film.setflags(write=False)
    return film


def matched_reference(image: np.ndarray) -> np.ndarray:
    """The reference film (same size as ``image``, float in [0, 1]) with ``image``'s own mean and spread.

    Matched on the whole film, not the lungs, so the fill takes the film's exposure but not the
    brightness of its lung fields (where an opacity would show).
    """
    image = np.asarray(image, dtype=np.float32)
    if image.shape[0] != image.shape[1]:
        raise ValueError(f"the reference fill needs a square canonical image, got {image.shape}")
    reference = reference_film(image.shape[0])
    scaled = (reference - reference.mean()) / (reference.std() + 1e-6) * image.std() + image.mean()
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)
