"""Heatmaps whose heat per lung zone follows the zones' occlusion; Grad-CAM's detail inside each zone.

A Grad-CAM map shows where the features the head weighs are strong; hiding a zone and scoring the
film again (:mod:`pneumolib.explain.occlusion`) shows how much the call depends on it. The two can
disagree: the map can be hotter on one lung while hiding the other lowers P(pneumonia) more. A
zone-weighted map keeps the Grad-CAM pattern inside each of the six zones and scales each zone so
that its share of the lungs' heat is its share of the zones' positive contributions (a zone whose
occlusion raises P(pneumonia) gets none). Heat outside the lung outline is left as it is, so the
map's share inside the lungs does not change. Where no zone lowers P(pneumonia) when hidden, the
Grad-CAM map is returned unchanged.

Its laterality is built from occlusion, so measuring it against the whole lungs' occlusion checks
that the zones' drops add up like the lung's (and that picture and sentence agree), not that
Grad-CAM found the lung: the record ``docs/experiments/2026-12-04_zone_weighted_maps`` says what
the measures can show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from torch import nn
from tqdm.auto import tqdm

from pneumolib.engine import Engine, as_engine
from pneumolib.explain.explainers import create_explainer
from pneumolib.explain.focus import focus_share
from pneumolib.explain.map_choice import checked_option, replaces_map
from pneumolib.explain.occlusion import DEFAULT_FILL, zone_drops
from pneumolib.explain.randomisation import RandomisationResult, randomised_copy, spearman_similarity
from pneumolib.explain.study import FilmReader, GradCamStudy, film_lungs
from pneumolib.explain.zones import ZONE_NAMES, LungZones, lung_zones

MAP_STYLES = ("cam", "zone_weighted")
DEFAULT_MAP_STYLE = "cam"


def check_map_style(style: str) -> str:
    """``style`` if it is one of :data:`MAP_STYLES`, else ValueError."""
    return checked_option(style, MAP_STYLES, "heatmap style")


def zone_weighted(heatmap: np.ndarray, zones: LungZones, contributions: Sequence[float]) -> np.ndarray:
    """(S, S) float32 in [0, 1]: ``heatmap`` with each zone's heat proportional to its positive contribution.

    ``contributions``: per zone, in :data:`pneumolib.explain.zones.ZONE_NAMES` order, P(pneumonia)
    of the film minus P(pneumonia) with that zone hidden. The lungs keep their total heat (a zone
    with no heat of its own gets its share spread evenly), the rest of the film keeps its own.
    """
    heat = np.clip(np.asarray(heatmap, dtype=np.float64), 0.0, None)
    if heat.shape != zones.masks.shape[1:]:
        raise ValueError(f"heatmap {heat.shape} and zones {zones.masks.shape[1:]} differ in size")
    weights = np.clip(np.asarray(contributions, dtype=np.float64), 0.0, None)
    if weights.shape != (len(ZONE_NAMES),):
        raise ValueError(f"expected {len(ZONE_NAMES)} zone contributions, got {weights.shape}")
    if weights.sum() <= 0.0:
        return _unit(heat)
    lungs = zones.masks.any(axis=0)
    lung_heat = float(heat[lungs].sum()) or float(lungs.sum())  # a map cold on the lungs: one unit per lung pixel
    out = heat.copy()
    out[lungs] = 0.0
    for mask, weight in zip(zones.masks, weights):  # the six zones do not overlap
        target = lung_heat * weight / weights.sum()
        zone_heat = float(heat[mask].sum())
        out[mask] = heat[mask] * (target / zone_heat) if zone_heat > 0 else target / max(int(mask.sum()), 1)
    return _unit(out)


def _unit(heat: np.ndarray) -> np.ndarray:
    peak = float(heat.max())
    return (heat / peak if peak > 0 else heat).astype(np.float32)


def zone_weighted_maps(engine: Engine, images: np.ndarray, heatmaps: np.ndarray, zones: Sequence[LungZones],
                       temperature: float = 1.0, fill: str = DEFAULT_FILL, progress: bool = True) -> np.ndarray:
    """(N, S, S) float32: :func:`zone_weighted` maps of canonical ``images`` (N, S, S) uint8, each film's six
    zones occluded and scored (:func:`pneumolib.explain.occlusion.zone_drops`)."""
    if not len(images) == len(heatmaps) == len(zones):
        raise ValueError(f"{len(images)} images, {len(heatmaps)} heatmaps and {len(zones)} zone sets")
    out = np.zeros(np.shape(heatmaps), dtype=np.float32)
    for index in tqdm(range(len(images)), desc="zone weighting", disable=not progress):
        _, drops = zone_drops(engine, np.asarray(images[index], dtype=np.float32) / 255.0, zones[index], fill,
                              temperature)
        out[index] = zone_weighted(heatmaps[index], zones[index], drops)
    return out


def zone_weighted_study(engine: Engine, study: GradCamStudy, read_film: FilmReader, fill: str = DEFAULT_FILL,
                        progress: bool = True) -> GradCamStudy:
    """A copy of ``study`` whose films called pneumonia carry zone-weighted maps, their lung share re-measured.

    Films called normal keep their maps (they explain "normal", which the zones' drops in
    P(pneumonia) do not weigh). The zones are those the faithfulness study hides (the model input's
    lungs); the lung share is measured on the original film, as :func:`study_images` does.
    """
    called, images, cam_maps = study.called_pneumonia()
    zones = [lung_zones(image) for image in images]
    maps = zone_weighted_maps(engine, images, cam_maps, zones, study.temperature, fill, progress)
    heatmaps, table = study.heatmaps.copy(), study.table.copy()
    for row, heatmap in zip(called, maps):
        heatmaps[row] = heatmap
        table.iloc[row, table.columns.get_loc("inside_share")] = focus_share(
            heatmap, film_lungs(read_film, table["path"].iloc[row]).mask)
    return replace(study, table=table, heatmaps=heatmaps)


def weighted_randomisation(model: nn.Module, images: np.ndarray, temperature: float = 1.0, fill: str = DEFAULT_FILL,
                           seed: int = 0, randomised: nn.Module | None = None) -> RandomisationResult:
    """The randomisation check for zone-weighted maps of pneumonia on canonical ``images`` (N, S, S) uint8.

    The trained model's maps are weighted by its own zones' occlusion, the re-initialised copy's
    (``randomised``; default :func:`pneumolib.explain.randomisation.randomised_copy`) by the copy's:
    both the picture and its proportions must depend on the learned weights.
    """
    other = randomised if randomised is not None else randomised_copy(model, seed)
    zones = [lung_zones(image) for image in images]
    pneumonia = [1] * len(images)
    weighted = [zone_weighted_maps(as_engine(net), images, create_explainer(net).explain(images, pneumonia).heatmaps,
                                   zones, temperature, fill, progress=False) for net in (model, other)]
    rho = np.array([spearman_similarity(a, b) for a, b in zip(*weighted)], dtype=np.float64)
    return RandomisationResult(rho, "zone_weighted")


def prefers_zone_weighting(cam: Mapping[str, Any], weighted: Mapping[str, Any], randomisation_rho: float,
                           verbose: bool = True) -> tuple[bool, str]:
    """The rule, fixed before the comparison it decides: does the zone-weighted map replace Grad-CAM's?

    ``cam`` / ``weighted``: :func:`pneumolib.explain.summary.heatmap_summary` of one model on val for
    each style; ``randomisation_rho``: the weighted maps' mean rank correlation with a
    re-initialised copy's weighted maps. The conditions are :func:`pneumolib.explain.map_choice.replaces_map`'s.
    """
    return replaces_map(cam, weighted, randomisation_rho, "cam", "zone_weighted", verbose)
