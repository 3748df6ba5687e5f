"""Six lung zones from a lung mask: right and left lung, each in upper, middle and lower thirds.

Radiologists describe where an opacity lies by zone: each lung field is cut by two horizontal
lines into thirds of its height (upper, middle, lower zone). A heatmap summarised per zone can be
read the same way ("the call rests mostly on the right lower zone"), and each zone can be
occluded to measure how much the call depends on it (:mod:`pneumolib.explain.occlusion`).

Sides are the **patient's**: on a frontal film displayed as usual (PA or AP, patient facing the
viewer), the patient's right lung is on the image's left. The zones come from
:func:`pneumolib.explain.lung_mask.segment_lungs`; a side it could not segment uses the anatomical
prior ellipse, and ``source`` says which (the prior is only right for a centred, upright film).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pneumolib.explain.lung_mask import LungMask, segment_lungs

SIDES = ("right", "left")  # the patient's right lung is the image-left one
LEVELS = ("upper", "middle", "lower")
ZONE_NAMES = tuple(f"{side} {level}" for side in SIDES for level in LEVELS)


@dataclass(frozen=True)
class LungZones:
    """Six zone masks (H, W) bool, in :data:`ZONE_NAMES` order, and where each side came from."""

    masks: np.ndarray  # (6, H, W) bool
    side_sources: tuple[str, str]  # ("segmented" | "prior") for the patient's right, then left lung

    @property
    def names(self) -> tuple[str, ...]:
        return ZONE_NAMES

    @property
    def source(self) -> str:
        """One word for the whole film: "segmented", "prior", or "mixed" (one side each)."""
        kinds = set(self.side_sources)
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def side_mask(self, side: str) -> np.ndarray:
        """The whole lung of one side ("right" or "left"): its three zones together."""
        index = SIDES.index(side)
        return self.masks[3 * index : 3 * index + 3].any(axis=0)

    def zone_source(self, name: str) -> str:
        return self.side_sources[SIDES.index(name.split()[0])]


def split_in_thirds(side: np.ndarray) -> np.ndarray:
    """(3, H, W) bool: one lung's mask cut at one and two thirds of its own height."""
    side = np.asarray(side, dtype=bool)
    rows = np.flatnonzero(side.any(axis=1))
    out = np.zeros((3, *side.shape), dtype=bool)
    if rows.size == 0:
        return out
    top, height = rows[0], rows[-1] + 1 - rows[0]
    cuts = [top, top + round(height / 3), top + round(2 * height / 3), rows[-1] + 1]
    for level in range(3):
        out[level, cuts[level] : cuts[level + 1]] = side[cuts[level] : cuts[level + 1]]
    return out


def zones_from_mask(lungs: LungMask) -> LungZones:
    """The six zones of a :class:`LungMask` that carries each side's own mask."""
    if lungs.sides is None:
        raise ValueError("this LungMask has no per-side masks; make it with segment_lungs or prior_lungs")
    image_left, image_right = lungs.sides
    masks = np.concatenate([split_in_thirds(image_left), split_in_thirds(image_right)])
    return LungZones(masks, (lungs.sources[0], lungs.sources[1]))


def lung_zones(image: np.ndarray) -> LungZones:
    """Segment the lungs of a film (any size, grayscale or RGB) and cut them into six zones."""
    return zones_from_mask(segment_lungs(image))


def zone_outlines(zones: LungZones, tolerance: float = 0.01) -> dict[str, list[list[float]]]:
    """Each zone's outer contour as [x, y] fractions of the image's width and height.

    Fractions survive the squash to the model's square input: drawn over the original film (any
    aspect ratio), x * width and y * height land on the same anatomy. ``tolerance`` simplifies the
    polygon (a fraction of the image side), keeping the JSON small.
    """
    import cv2

    height, width = zones.masks.shape[1:]
    outlines = {}
    for name, mask in zip(ZONE_NAMES, zones.masks):
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            outlines[name] = []
            continue
        largest = max(contours, key=cv2.contourArea)
        simple = cv2.approxPolyDP(largest, tolerance * max(height, width), True)[:, 0, :]
        outlines[name] = [[round(float(x) / width, 3), round(float(y) / height, 3)] for x, y in simple]
    return outlines


def heat_per_zone(heatmap: np.ndarray, zones: LungZones) -> np.ndarray:
    """Share of the heatmap's total mass inside each zone (6,); the rest lies outside the lungs."""
    heat = np.asarray(heatmap, dtype=np.float64)
    if heat.shape != zones.masks.shape[1:]:
        raise ValueError(f"heatmap {heat.shape} and zones {zones.masks.shape[1:]} differ in size")
    total = heat.sum()
    if total <= 0:
        return np.zeros(len(ZONE_NAMES))
    return np.array([heat[mask].sum() / total for mask in zones.masks])
