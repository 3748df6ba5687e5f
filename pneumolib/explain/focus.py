"""How much of a heatmap falls on the lungs: a cheap check for shortcut learning.

A pneumonia classifier that looks at text markers, tubes, the shoulders or the abdomen can still
score well on this data set (the hospital's markers differ by class). Summing the heatmap inside
a lung mask tells those cases apart from heatmaps on the lung fields. The share is a *mass*
share: a heatmap spread evenly over the film scores the mask's area fraction (about 0.2-0.35
for these films), not 0.5, so compare with ``mask_fraction`` rather than with one half.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pneumolib.explain.overlay import resize_heatmap


@dataclass(frozen=True)
class FocusEntry:
    name: str
    inside_share: float  # heatmap mass inside the mask / total mass (NaN for an all-zero heatmap)
    mask_fraction: float  # share a uniform heatmap would get: the mask's area fraction

    @property
    def outside_share(self) -> float:
        return 1.0 - self.inside_share


def focus_share(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """Share of heatmap mass inside ``mask``, in [0, 1]; the heatmap is resized to the mask first.

    The heatmap may be the square model-input one and the mask at the original film's size:
    resizing square -> (H, W) undoes the model's squash, as in the overlay.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    weights = resize_heatmap(heatmap, mask.shape).astype(np.float64)
    total = float(weights.sum())
    if total <= 0.0:
        return math.nan
    return float(np.clip(weights[mask].sum() / total, 0.0, 1.0))


def focus_report(
    heatmaps: Sequence[np.ndarray] | np.ndarray,
    masks: Sequence[np.ndarray],
    names: Sequence[str] | None = None,
) -> list[FocusEntry]:
    """One :class:`FocusEntry` per (heatmap, mask) pair, in order."""
    if len(heatmaps) != len(masks):
        raise ValueError(f"{len(heatmaps)} heatmaps but {len(masks)} masks")
    names = [str(i) for i in range(len(masks))] if names is None else list(names)
    if len(names) != len(masks):
        raise ValueError(f"{len(names)} names for {len(masks)} masks")
    return [
        FocusEntry(name, focus_share(heatmap, mask), float(np.asarray(mask, dtype=bool).mean()))
        for name, heatmap, mask in zip(names, heatmaps, masks)
    ]


def mostly_outside(entries: Sequence[FocusEntry], threshold: float = 0.5) -> list[FocusEntry]:
    """Entries whose heatmap mass lies mostly outside the lungs (inside share < threshold), worst first."""
    flagged = [entry for entry in entries if not math.isnan(entry.inside_share) and entry.inside_share < threshold]
    return sorted(flagged, key=lambda entry: entry.inside_share)
