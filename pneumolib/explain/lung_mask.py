"""An approximate lung-field mask, computable offline, to check where a heatmap points.

No lung-segmentation weights are available offline, so the mask is classical and only meant to
answer a coarse question: "is the heatmap on the lungs or on a marker, the shoulders, the
abdomen?". Method, on a copy resized to 256 px high:

1. Contrast-normalise (CLAHE) and smooth.
2. Dark = below an Otsu threshold computed inside the thorax box (so the black air around the
   body does not set the threshold), minus the air outside the body: the darkest class (a second
   Otsu split inside the dark pixels) where it is connected to the film's border, widened a little.
3. Per side, the dark pixels inside a search zone (the prior ellipse below, grown by 25 %) are
   opened (to cut thin bridges to the neck or the gut) and the largest connected region is the
   lung candidate. It is accepted when it covers 3-30 % of the film; then its convex hull is
   taken, so bright consolidations, vessels and ribs inside the lung count as lung (a pneumonic
   opacity is exactly what a heatmap *should* point at).
4. A side with no acceptable candidate falls back to the **anatomical prior**: an ellipse where
   the lung lies on a centred PA/AP pediatric film (centre at 30 % / 70 % of the width and 45 %
   of the height, semi-axes 16 % of the width and 31 % of the height, fitted by eye to the
   fixture films). :func:`prior_lung_mask` gives the prior alone.

Limits (why this is a plausibility check, not a segmentation):

* The convex hull overshoots the medial border: it covers part of the heart and the hilum, and
  never follows the costophrenic angles exactly.
* A whited-out lung (lobar pneumonia, effusion) has no dark region: that side gets the prior
  ellipse, which is only right for a centred, upright, tightly framed film. Rotated films, wide
  fields of view (head or abdomen included), lateral views and films of infants with arms up
  move the lungs away from the prior.
* Bowel or stomach gas right under the diaphragm can be picked instead of a small, dense lung;
  the prior zone limits this but does not exclude it.
* The search zone is the prior grown by 25 %: a lung lying well outside it (strongly rotated or
  off-centre film) is clipped or missed.
* Where the chest wall is thin, a strip of outside air can survive step 2 and the hull then
  bulges past the ribs; a side whose lung is split by dense opacity keeps only its largest piece.
* Checked by eye only (contours drawn on the 39 fixture films and 32 random test films; both
  sides segmented on 34/39 and 25/32, the rest partly or fully on the prior), not against
  annotated masks: no Dice score can be quoted.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pneumolib.explain._pixels import to_gray_uint8

WORKING_HEIGHT = 256
#: (centre x, centre y, semi-axis x, semi-axis y) as fractions of width/height, image-left lung
#: first (the patient's right lung on a PA film); the other is its mirror image.
PRIOR_ELLIPSE = (0.30, 0.45, 0.16, 0.31)
MIN_SIDE_FRACTION = 0.03  # a lung candidate covers at least 3 % of the image ...
MAX_SIDE_FRACTION = 0.30  # ... and at most 30 %
ZONE_GROWTH = 1.25  # the search zone: the prior ellipse, 25 % larger


@dataclass(frozen=True)
class LungMask:
    """The mask and how each side was obtained ("segmented" or "prior")."""

    mask: np.ndarray  # (H, W) bool at the input image's size
    sources: tuple[str, str]  # (image-left lung, image-right lung)
    sides: tuple[np.ndarray, np.ndarray] | None = None  # each lung's own (H, W) mask, same order

    @property
    def area_fraction(self) -> float:
        return float(self.mask.mean())


def lung_mask(image: np.ndarray) -> np.ndarray:
    """(H, W) bool lung-field mask at the image's own size (see :func:`segment_lungs`)."""
    return segment_lungs(image).mask


def segment_lungs(image: np.ndarray) -> LungMask:
    """Classical lung fields with the anatomical prior as a per-side fallback."""
    gray = to_gray_uint8(image)
    height, width = gray.shape
    work_w = max(32, round(width * WORKING_HEIGHT / height))
    small = cv2.resize(gray, (work_w, WORKING_HEIGHT), interpolation=cv2.INTER_AREA)
    dark = _dark_pixels(small)
    sides, sources = [], []
    for side in (0, 1):
        region = _largest_region(dark & _ellipse(small.shape, side, grow=ZONE_GROWTH))
        if region is None:  # the prior is drawn at full size, not upsampled
            sides.append(_ellipse((height, width), side))
            sources.append("prior")
        else:
            sides.append(cv2.resize(region.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool))
            sources.append("segmented")
    return LungMask(sides[0] | sides[1], (sources[0], sources[1]), (sides[0], sides[1]))


def prior_lung_mask(shape: tuple[int, int]) -> np.ndarray:
    """The two prior ellipses alone, (H, W) bool: where lungs lie on a centred frontal film."""
    return _ellipse(shape, 0) | _ellipse(shape, 1)


def prior_lungs(shape: tuple[int, int]) -> LungMask:
    """The anatomical prior as a :class:`LungMask` (both sides "prior")."""
    left, right = _ellipse(shape, 0), _ellipse(shape, 1)
    return LungMask(left | right, ("prior", "prior"), (left, right))


def _ellipse(shape: tuple[int, int], side: int, grow: float = 1.0) -> np.ndarray:
    height, width = int(shape[0]), int(shape[1])
    cx, cy, ax, ay = PRIOR_ELLIPSE
    if side == 1:
        cx = 1.0 - cx
    canvas = np.zeros((height, width), dtype=np.uint8)
    cv2.ellipse(canvas, (round(cx * width), round(cy * height)),
                (max(1, round(ax * width * grow)), max(1, round(ay * height * grow))), 0, 0, 360, 1, -1)
    return canvas.astype(bool)


def _dark_pixels(small: np.ndarray) -> np.ndarray:
    """Pixels darker than the thorax's Otsu threshold, minus the air around the body."""
    height, width = small.shape
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    smooth = cv2.GaussianBlur(clahe.apply(small), (5, 5), 0)
    box = smooth[int(0.10 * height) : int(0.85 * height), int(0.10 * width) : int(0.90 * width)]
    threshold, _ = cv2.threshold(box, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return (smooth < threshold) & ~_outside_air(small)


def _outside_air(small: np.ndarray) -> np.ndarray:
    """The darkest class (Otsu within the dark half) where it touches the border: air, not lung."""
    smooth = cv2.GaussianBlur(small, (5, 5), 0)
    body_threshold, _ = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    below = smooth[smooth < body_threshold]
    if below.size < 16:
        return np.zeros(small.shape, dtype=bool)
    air_threshold, _ = cv2.threshold(below.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    air = (smooth <= air_threshold).astype(np.uint8)
    count, labels = cv2.connectedComponents(air, connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outside = np.isin(labels, border[border > 0]).astype(np.uint8)
    return cv2.dilate(outside, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))).astype(bool)


def _largest_region(candidate: np.ndarray) -> np.ndarray | None:
    """Convex hull of the largest connected region, or None when its size is implausible."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    opened = cv2.morphologyEx(candidate.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=4)
    if count < 2:
        return None
    label = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if not MIN_SIDE_FRACTION <= stats[label, cv2.CC_STAT_AREA] / labels.size <= MAX_SIDE_FRACTION:
        return None
    hull = np.zeros(labels.shape, dtype=np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(cv2.findNonZero((labels == label).astype(np.uint8))), 1)
    return hull.astype(bool)
