"""Is the heatmap what the model used? Deletion, laterality and per-zone occlusion over a split.

A heatmap can look anatomical and still be unfaithful: bright where features are strong, while
the call rests elsewhere. Three measures put it to the test on films called pneumonia:

* **Deletion.** Hide the film's hottest pixels (as many as a given share of its lung area) and
  compare the drop in P(pneumonia) with hiding as many pixels of a *random smooth blob* inside
  the lungs (a random map of the heatmap's own resolution, upsampled, so both removals are blobs
  of the same area). A faithful map's drop is larger; the curve over several shares is the
  deletion curve.
* **Laterality.** The side (the patient's right or left lung) holding more heat should be the side
  whose occlusion lowers P(pneumonia) more; the sides' table and the agreement by how far apart
  the two lungs' occlusion drops are say where the two part ways.
* **Zones.** Each of the six zones hidden in turn (:mod:`pneumolib.explain.occlusion`): which zone
  carries the call, by class and subtype (bacterial / viral).

Everything hides with the same fill, chosen on val (:func:`pneumolib.explain.occlusion.choose_fill`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from pneumolib.engine import Engine
from pneumolib.explain.occlusion import DEFAULT_FILL, occluded, probabilities
from pneumolib.explain.study import GradCamStudy
from pneumolib.explain.zones import SIDES, ZONE_NAMES, LungZones, heat_per_zone

DELETION_SHARES = (0.05, 0.10, 0.20, 0.30, 0.50)  # of the film's lung area
LATERALITY_GAPS = (0.0, 0.01, 0.05, 0.10, 0.20)  # least |drop right - drop left| in P(pneumonia)


def hottest(heatmap: np.ndarray, count: int) -> np.ndarray:
    """(S, S) bool: the ``count`` pixels with the most heat (ties broken by position)."""
    flat = np.asarray(heatmap, dtype=np.float64).ravel()
    out = np.zeros(flat.size, dtype=bool)
    if count > 0:
        out[np.argsort(-flat, kind="stable")[:count]] = True
    return out.reshape(np.shape(heatmap))


def random_blob(lungs: np.ndarray, count: int, rng: np.random.Generator, grid: int = 14) -> np.ndarray:
    """(S, S) bool: ``count`` lung pixels, the top of a random smooth map (``grid`` x ``grid``, upsampled)."""
    lungs = np.asarray(lungs, dtype=bool)
    noise = rng.standard_normal((grid, grid)).astype(np.float32)
    smooth = cv2.resize(noise, lungs.shape[::-1], interpolation=cv2.INTER_CUBIC)
    smooth[~lungs] = -np.inf
    return hottest(smooth, min(count, int(lungs.sum())))


def hotter_side(heatmap: np.ndarray, side_masks: Sequence[np.ndarray]) -> int:
    """Index (into :data:`SIDES`) of the lung holding more of ``heatmap``'s heat."""
    return int(np.argmax([float(np.asarray(heatmap)[mask].sum()) for mask in side_masks]))


@dataclass
class FaithfulnessStudy:
    """One row per film: its probability, the drops, the laterality call and the zones."""

    table: pd.DataFrame
    fill: str

    def deletion_curve(self) -> pd.DataFrame:
        """Mean drop in P(pneumonia) per share of lung area hidden: heatmap order against random blobs."""
        rows = [{"share_of_lung_area": share,
                 "heatmap": self.table[f"drop_heat_{share:.2f}"].mean(),
                 "random": self.table[f"drop_random_{share:.2f}"].mean()} for share in DELETION_SHARES]
        curve = pd.DataFrame(rows)
        return curve.assign(ratio=curve["heatmap"] / curve["random"].where(curve["random"].abs() > 1e-9))

    def laterality_agreement(self) -> float:
        """Share of films whose hotter side is the side whose occlusion lowers P(pneumonia) more."""
        return float((self.table["hot_side"] == self.table["decisive_side"]).mean())

    def uniform_laterality(self) -> float:
        """The same agreement for a uniform map, whose hotter side is simply the larger lung.

        The baseline laterality is measured against, as a uniform map is for the lung share: hiding
        the larger lung tends to lower P(pneumonia) more, so "half would be chance" flatters a map.
        """
        return float((self.table["larger_side"] == self.table["decisive_side"]).mean())

    def laterality_sides(self) -> pd.DataFrame:
        """Films per (side with more heat, side whose occlusion lowers P(pneumonia) more): where the
        two disagree, and whether the map leans to one lung more often than occlusion does."""
        table = pd.crosstab(self.table["hot_side"], self.table["decisive_side"])
        return table.reindex(index=list(SIDES), columns=list(SIDES), fill_value=0).rename_axis(
            index="side with more heat", columns="side whose occlusion matters more")

    def laterality_by_gap(self, gaps: Sequence[float] = LATERALITY_GAPS) -> pd.DataFrame:
        """Laterality agreement among the films whose two lungs' occlusion drops differ by at least
        each gap. Where hiding either lung moves P(pneumonia) about as much, "the side the call rests
        on" is close to a coin toss; if agreement rose steeply with the gap, the disagreements would
        be such near ties, and if it stays flat, the map and occlusion differ on clear-cut films too."""
        gap = (self.table[f"side_drop {SIDES[0]}"] - self.table[f"side_drop {SIDES[1]}"]).abs()
        agree = self.table["hot_side"] == self.table["decisive_side"]
        return pd.DataFrame([{"least_gap": float(g), "films": int((gap >= g).sum()),
                              "agreement": float(agree[gap >= g].mean()) if (gap >= g).any() else float("nan")}
                             for g in gaps])

    def top_zones(self, by: str = "group") -> pd.DataFrame:
        """How often each zone is the one whose occlusion lowers P(pneumonia) most, per ``by``."""
        counts = pd.crosstab(self.table[by], self.table["top_zone"]).reindex(columns=list(ZONE_NAMES), fill_value=0)
        return counts.div(counts.sum(axis=1), axis=0)


def faithfulness_study(
    engine: Engine,
    images: np.ndarray,
    heatmaps: np.ndarray,
    zones: Sequence[LungZones],
    groups: Sequence[str],
    temperature: float = 1.0,
    fill: str = DEFAULT_FILL,
    seed: int = 0,
    progress: bool = True,
) -> FaithfulnessStudy:
    """The three measures for canonical images (N, S, S) uint8 with their heatmaps (N, S, S) and zones.

    ``groups`` labels each film for :meth:`FaithfulnessStudy.top_zones` (e.g. "bacteria", "virus",
    "normal"). One batched pass per film: the original, the deletions, the two sides, the six zones.
    """
    if not len(images) == len(heatmaps) == len(zones) == len(groups):
        raise ValueError(f"{len(images)} images, {len(heatmaps)} heatmaps, {len(zones)} zone sets, {len(groups)} groups")
    rng = np.random.default_rng(seed)
    rows = []
    for image, heatmap, film_zones, group in tqdm(list(zip(images, heatmaps, zones, groups)), desc="faithfulness",
                                                  disable=not progress):
        picture = np.asarray(image, dtype=np.float32) / 255.0
        heat = np.asarray(heatmap, dtype=np.float32)
        lungs = film_zones.masks.any(axis=0)
        area = int(lungs.sum())
        removals = []
        for share in DELETION_SHARES:
            count = max(1, round(share * area))
            removals += [hottest(heat, count), random_blob(lungs, count, rng)]
        sides = [film_zones.side_mask(side) for side in SIDES]
        masks = np.stack([*removals, *sides, *film_zones.masks])
        probs = probabilities(engine, np.concatenate([picture[None], occluded(picture, masks, fill)]), temperature)
        base, drops = probs[0], probs[0] - probs[1:]
        row = {"group": group, "prob": float(base)}
        for i, share in enumerate(DELETION_SHARES):
            row[f"drop_heat_{share:.2f}"] = float(drops[2 * i])
            row[f"drop_random_{share:.2f}"] = float(drops[2 * i + 1])
        side_drops = drops[2 * len(DELETION_SHARES) : 2 * len(DELETION_SHARES) + 2]
        zone_drops = drops[2 * len(DELETION_SHARES) + 2 :]
        row["hot_side"] = SIDES[hotter_side(heat, sides)]
        row["larger_side"] = SIDES[hotter_side(np.ones_like(heat), sides)]
        row["decisive_side"] = SIDES[int(np.argmax(side_drops))]
        row["top_zone"] = ZONE_NAMES[int(np.argmax(zone_drops))]
        row["mask_source"] = film_zones.source
        row.update({f"side_drop {side}": float(d) for side, d in zip(SIDES, side_drops)})
        row.update({f"zone_drop {name}": float(d) for name, d in zip(ZONE_NAMES, zone_drops)})
        row.update({f"zone_heat {name}": float(s) for name, s in zip(ZONE_NAMES, heat_per_zone(heat, film_zones))})
        rows.append(row)
    return FaithfulnessStudy(pd.DataFrame(rows), fill)


def faithfulness_of_study(engine: Engine, study: GradCamStudy, subtypes: dict[str, str], fill: str = DEFAULT_FILL,
                          seed: int = 0, progress: bool = True) -> FaithfulnessStudy:
    """:func:`faithfulness_study` on the films a :class:`GradCamStudy` called pneumonia.

    Their heatmaps explain "pneumonia" already. ``subtypes`` maps a film's path to "bacteria" /
    "virus" (the manifest's ``subtype``); normal films called pneumonia are grouped as "normal".
    """
    from pneumolib.explain.zones import lung_zones

    called, images, heatmaps = study.called_pneumonia()
    rows = study.table.iloc[called]
    groups = ["normal" if label == 0 else (subtypes.get(path) or "pneumonia")
              for path, label in zip(rows["path"], rows["label"])]
    zones = [lung_zones(image) for image in images]
    result = faithfulness_study(engine, images, heatmaps, zones, groups, study.temperature, fill, seed, progress)
    result.table.insert(0, "path", list(rows["path"]))
    return result
