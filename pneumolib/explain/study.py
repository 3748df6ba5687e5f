"""Grad-CAM over a whole split: one row per film, for galleries and for the lung-focus summary.

One heatmap per film says little; a few hundred say whether the model habitually looks at the
lungs or at something else (a side marker, the film's edges, the shoulders). :func:`study_split`
scores every film of a split, labels it TP/FP/TN/FN at an operating point, explains **the class
it was assigned at that operating point** (which is what a user of the screening threshold is
shown), and measures how much of the heatmap falls on the lungs of the *original* film.

The heatmaps are kept at the model's input size in float16 (624 test films at 224 px: ~63 MB),
enough to redraw any of them over its original film later.

The randomisation check on a study's films is :mod:`pneumolib.explain.randomisation`; the
tables and sentences that summarise a study are :mod:`pneumolib.explain.describe`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pandas as pd
from torch import nn
from tqdm.auto import tqdm

from pneumolib.constants import DEFAULT_OPERATING_POINT
from pneumolib.data.inputs.arrays import load_split
from pneumolib.data.release.images import read_grayscale
from pneumolib.data.sources.roots import DataRoot, manifest_file
from pneumolib.engine import Engine, calibrated_probability
from pneumolib.explain.explainers import create_explainer
from pneumolib.explain.focus import focus_share
from pneumolib.explain.lung_mask import WORKING_HEIGHT, LungMask, segment_lungs
from pneumolib.explain.methods import DEFAULT_METHOD
from pneumolib.explain.scores import DEFAULT_SCORE

if TYPE_CHECKING:  # randomisation_study builds on this module
    from pneumolib.explain.randomisation import RandomisationStudy

OUTCOMES: tuple[str, ...] = ("TP", "FP", "FN", "TN")
OUTCOME_NAMES = {"TP": "true positive", "FP": "false positive", "FN": "false negative", "TN": "true negative"}
#: Films are shrunk to this height (aspect kept) before the lung mask and the share are computed:
#: the mask is computed at 256 px high anyway, and a 2000 px film would only cost time.
FOCUS_HEIGHT = WORKING_HEIGHT
#: Side of each corner square, as a fraction of the film's width and height: four corners of 25 %
#: x 25 % cover a quarter of the film, so a uniform heatmap puts 0.25 of its mass there.
CORNER_FRACTION = 0.25
TABLE_COLUMNS = ("path", "label", "prob", "predicted", "outcome", "inside_share", "mask_fraction", "corner_share",
                 "lung_sources")

FilmReader = Callable[[str], np.ndarray]


def outcome_labels(labels: Sequence[int] | np.ndarray, predicted: Sequence[int] | np.ndarray) -> np.ndarray:
    """"TP" / "FP" / "FN" / "TN" per image; 1 = pneumonia (the positive class), 0 = normal."""
    labels, predicted = np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    if labels.shape != predicted.shape:
        raise ValueError(f"{labels.shape} labels but {predicted.shape} predictions")
    if not np.isin(labels, (0, 1)).all() or not np.isin(predicted, (0, 1)).all():
        raise ValueError("labels and predictions must be 0 (normal) or 1 (pneumonia)")
    names = np.array([["TN", "FP"], ["FN", "TP"]], dtype=object)
    return names[labels, predicted].astype(str)


def corner_share(heatmap: np.ndarray, fraction: float = CORNER_FRACTION) -> float:
    """Share of heatmap mass in the film's four corner squares (NaN for an all-zero heatmap).

    Side markers ("R", "L") and the film's edges sit in the corners on these films; a uniform
    heatmap scores ``4 * fraction**2`` (0.25). The squash to a square is linear, so the corners of
    the square heatmap are the corners of the original film.
    """
    heatmap = np.asarray(heatmap, dtype=np.float64)
    if not 0.0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    total = float(heatmap.sum())
    if total <= 0.0:
        return math.nan
    height, width = heatmap.shape
    rows, cols = max(1, round(height * fraction)), max(1, round(width * fraction))
    corners = (heatmap[:rows, :cols].sum() + heatmap[:rows, -cols:].sum()
               + heatmap[-rows:, :cols].sum() + heatmap[-rows:, -cols:].sum())
    return float(np.clip(corners / total, 0.0, 1.0))


def film_reader(data_root: DataRoot) -> FilmReader:
    """``path -> original film`` (uint8 grayscale) for manifest paths relative to ``data_root``."""
    return lambda path: read_grayscale(manifest_file(data_root, path))


@dataclass
class GradCamStudy:
    """Per-film predictions, outcomes and lung focus, plus the heatmaps behind them.

    ``table`` columns: path, label (0/1), prob (calibrated P(pneumonia)), predicted (0/1 at the
    operating point), outcome (TP/FP/FN/TN), inside_share (heatmap mass on the lungs),
    mask_fraction (what a uniform heatmap would score: the lung mask's area fraction),
    corner_share (heatmap mass in the four corner squares, where the side markers sit; uniform:
    0.25) and lung_sources ("segmented"/"prior" for the image-left and image-right lung).
    ``images``: the canonical model inputs, kept for the randomisation check.
    """

    table: pd.DataFrame
    heatmaps: np.ndarray  # (N, S, S) float16 in [0, 1], row-aligned with table, explaining `predicted`
    threshold: float
    operating_point: str
    temperature: float
    method: str = DEFAULT_METHOD
    images: np.ndarray | None = None  # (N, S, S) uint8 model inputs, row-aligned with table

    def __len__(self) -> int:
        return len(self.table)

    def heatmap(self, index: int) -> np.ndarray:
        """The heatmap of table row ``index`` (positional), as float32."""
        return self.heatmaps[index].astype(np.float32)

    def called_pneumonia(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The films called pneumonia: their row positions, model inputs (K, S, S) and maps (K, S, S) float32."""
        if self.images is None:
            raise ValueError("this study kept no images")
        called = np.flatnonzero(self.table["predicted"].to_numpy() == 1)
        images = np.asarray(self.images)[called]
        maps = self.heatmaps[called].astype(np.float32)
        return called, images, maps

    def summary(self) -> pd.DataFrame:
        """Per outcome: film count, mean lung-focus share, mean mask fraction, share of films mostly outside."""
        return focus_summary(self.table)

    def mostly_outside(self, threshold: float = 0.5) -> pd.DataFrame:
        """Films whose heatmap mass lies mostly outside the lungs (inside_share < threshold), worst first."""
        table = self.table
        flagged = table[table["inside_share"] < threshold]
        return flagged.sort_values("inside_share", kind="stable")

    def randomisation(self, model: nn.Module, n: int | None = 8, seed: int = 0) -> RandomisationStudy:
        """:func:`randomisation_study` on ``n`` of these films, explaining the class each was called."""
        if self.images is None:
            raise ValueError("this study kept no images; call randomisation_study with them")
        from pneumolib.explain.randomisation import randomisation_study

        return randomisation_study(model, self.images, list(self.table["path"]), self.table["predicted"].to_numpy(),
                                   n=n, seed=seed, method=self.method)


def study_images(
    model: nn.Module,
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    paths: Sequence[str],
    read_film: FilmReader,
    temperature: float = 1.0,
    threshold: float = 0.5,
    operating_point: str = "threshold",
    method: str = DEFAULT_METHOD,
    batch_size: int = 16,
    progress: bool = True,
    engine: Engine | None = None,
    score: str = DEFAULT_SCORE,
) -> GradCamStudy:
    """The study on given canonical images (N, S, S) uint8, their labels and their film paths.

    Each film is called pneumonia when ``sigmoid(margin / temperature) >= threshold`` and its
    heatmap explains that call. The explainer returns argmax heatmaps; calibrated probabilities
    between the threshold and 0.5 disagree with the argmax and are explained once more for the
    class actually called (temperature scaling never moves 0.5, so no other film can disagree).
    ``read_film(path)`` gives the original film for the lung mask. With an ``engine``
    (:func:`pneumolib.inference.engine_for_checkpoint`) the forward passes are the engine's and
    Grad-CAM comes from the head's weights, without a backward pass (same maps). ``score``: what the
    maps explain (:mod:`pneumolib.explain.scores`).
    """
    labels = np.asarray(labels, dtype=np.int64)
    if not len(images) == len(labels) == len(paths):
        raise ValueError(f"{len(images)} images, {len(labels)} labels and {len(paths)} paths")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    explainer = create_explainer(model, method, engine=engine, score=score)
    count, size = len(images), images.shape[-1]
    heatmaps = np.zeros((count, size, size), dtype=np.float16)
    probs = np.zeros(count, dtype=np.float64)
    predicted = np.zeros(count, dtype=np.int64)
    shares, fractions, corners = np.full(count, math.nan), np.full(count, math.nan), np.full(count, math.nan)
    sources = [""] * count
    bar = tqdm(total=count, desc="Grad-CAM + lung focus", disable=not progress)
    for start in range(0, count, batch_size):
        chunk = np.array(images[start : start + batch_size])  # a copy: the cache may be a read-only memmap
        result = explainer.explain(chunk, None, batch_size=batch_size)
        margin = result.logits[:, 1].astype(np.float64) - result.logits[:, 0]
        prob = calibrated_probability(margin, temperature)
        called = (prob >= threshold).astype(np.int64)
        maps = result.heatmaps.copy()
        redo = np.flatnonzero(called != result.predicted_classes)
        if redo.size:
            maps[redo] = explainer.explain(chunk[redo], [int(c) for c in called[redo]], batch_size=batch_size).heatmaps
        for offset, heatmap in enumerate(maps):
            index = start + offset
            lungs = film_lungs(read_film, paths[index])
            shares[index] = focus_share(heatmap, lungs.mask)
            fractions[index], sources[index] = lungs.area_fraction, "/".join(lungs.sources)
            corners[index] = corner_share(heatmap)
            bar.update(1)
        heatmaps[start : start + len(chunk)] = maps
        probs[start : start + len(chunk)] = prob
        predicted[start : start + len(chunk)] = called
    bar.close()
    table = pd.DataFrame({
        "path": list(paths), "label": labels, "prob": probs, "predicted": predicted,
        "outcome": outcome_labels(labels, predicted), "inside_share": shares,
        "mask_fraction": fractions, "corner_share": corners, "lung_sources": sources,
    })
    return GradCamStudy(table, heatmaps, float(threshold), operating_point, float(temperature), method, images)


def study_split(
    model: nn.Module,
    metadata: dict[str, Any],
    manifest: pd.DataFrame,
    split: str,
    data_root: DataRoot,
    max_images: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    operating_point: str = DEFAULT_OPERATING_POINT,
    method: str = DEFAULT_METHOD,
    progress: bool = True,
    engine: Engine | None = None,
) -> GradCamStudy:
    """:func:`study_images` on a split of the manifest (``max_images``: the profile's subset).

    Temperature and threshold come from the checkpoint's metadata (chosen on val by
    ``finalize_checkpoint``); a checkpoint without them gets T = 1 and an error for the
    operating point, rather than a silently invented threshold.
    """
    points = metadata.get("operating_points", {})
    if operating_point not in points:
        raise KeyError(f"the checkpoint has no operating point {operating_point!r} (has {sorted(points)}); "
                       "finalise it first (notebook 03)")
    data = load_split(manifest, split, data_root, metadata["image_size"], metadata["jpeg_quality"],
                      max_images, cache_dir, progress)
    return study_images(model, data.images, data.labels, list(data.rows["path"]), film_reader(data_root),
                        temperature=float(metadata.get("temperature", 1.0)),
                        threshold=float(points[operating_point]["threshold"]), operating_point=operating_point,
                        method=method, progress=progress, engine=engine)


def film_lungs(read_film: FilmReader, path: str) -> LungMask:
    """The lung mask of the original film at ``path``, shrunk to :data:`FOCUS_HEIGHT` first."""
    return segment_lungs(shrink_film(read_film(path), FOCUS_HEIGHT))


def shrink_film(film: np.ndarray, height: int) -> np.ndarray:
    """The film at most ``height`` pixels high, aspect ratio kept."""
    if film.shape[0] <= height:
        return film
    width = max(1, round(film.shape[1] * height / film.shape[0]))
    return cv2.resize(film, (width, height), interpolation=cv2.INTER_AREA)


def focus_summary(table: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """Per outcome (and over all films): lung and corner focus next to what a uniform heatmap gives.

    All-zero heatmaps (NaN shares) are counted in ``films`` but left out of the means.
    """
    def one(group: pd.DataFrame) -> dict[str, Any]:
        shares = group["inside_share"].dropna()
        corners = group["corner_share"].dropna() if "corner_share" in group else pd.Series(dtype=float)
        return {
            "films": len(group),
            "mean inside share": shares.mean() if len(shares) else math.nan,
            "uniform heatmap would give": group["mask_fraction"].mean() if len(group) else math.nan,
            f"mostly outside (< {threshold:g})": float((shares < threshold).mean()) if len(shares) else math.nan,
            "mean corner share (uniform 0.25)": corners.mean() if len(corners) else math.nan,
        }

    rows = {outcome: one(table[table["outcome"] == outcome]) for outcome in OUTCOMES}
    rows["all"] = one(table)
    return pd.DataFrame.from_dict(rows, orient="index")
