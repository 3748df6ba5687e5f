"""The heatmap figures of one model on one split, as plain numbers for the evaluation report.

The same measures notebook 05 draws (:mod:`pneumolib.explain.study`,
:mod:`pneumolib.explain.faithfulness`), reduced to what the README and the model card quote: the
share of heat on the lungs for films called pneumonia (against a uniform map), the deletion curve,
laterality agreement, and which zone carries the call per group. ``evaluate`` computes them on the
test split within its one logged look.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

from pneumolib.constants import DEFAULT_OPERATING_POINT
from pneumolib.engine import Engine, to_model_input
from pneumolib.explain.faithfulness import faithfulness_of_study
from pneumolib.explain.occlusion import occlusion_fill_of
from pneumolib.explain.scores import DEFAULT_SCORE
from pneumolib.explain.study import FilmReader, GradCamStudy, study_images
from pneumolib.explain.zone_weighting import DEFAULT_MAP_STYLE, check_map_style, zone_weighted_study


def heatmap_summary(engine: Engine, model: nn.Module, metadata: Mapping[str, Any], images: np.ndarray,
                    labels: Sequence[int], paths: Sequence[str], subtypes: Mapping[str, str], read_film: FilmReader,
                    operating_point: str = DEFAULT_OPERATING_POINT, progress: bool = True,
                    score: str = DEFAULT_SCORE, maps: str = DEFAULT_MAP_STYLE) -> dict[str, Any]:
    """Lung share, deletion, laterality and top zones for canonical ``images`` (N, S, S) uint8.

    ``score``: what the maps explain (:mod:`pneumolib.explain.scores`); ``maps``: Grad-CAM as it is
    or zone-weighted (:mod:`pneumolib.explain.zone_weighting`).
    """
    study = summary_study(engine, model, metadata, images, labels, paths, read_film, operating_point, progress, score)
    return summarise_study(engine, study, metadata, subtypes, read_film, progress, score, maps)


def summary_study(engine: Engine, model: nn.Module, metadata: Mapping[str, Any], images: np.ndarray,
                  labels: Sequence[int], paths: Sequence[str], read_film: FilmReader,
                  operating_point: str = DEFAULT_OPERATING_POINT, progress: bool = True,
                  score: str = DEFAULT_SCORE) -> GradCamStudy:
    """The Grad-CAM study a summary reads: the checkpoint's temperature and threshold at ``operating_point``."""
    threshold = float(metadata["operating_points"][operating_point]["threshold"])
    return study_images(model, images, labels, paths, read_film, float(metadata.get("temperature", 1.0)),
                        threshold, operating_point, engine=engine, progress=progress, score=score)


def summarise_study(engine: Engine, study: GradCamStudy, metadata: Mapping[str, Any], subtypes: Mapping[str, str],
                    read_film: FilmReader, progress: bool = True, score: str = DEFAULT_SCORE,
                    maps: str = DEFAULT_MAP_STYLE) -> dict[str, Any]:
    """:func:`heatmap_summary` of a study already made (one study can be summarised with each map style)."""
    fill = occlusion_fill_of(metadata)
    if check_map_style(maps) == "zone_weighted":
        study = zone_weighted_study(engine, study, read_film, fill, progress)
    faith = faithfulness_of_study(engine, study, dict(subtypes), fill, progress=progress)
    called = study.table[study.table["predicted"] == 1].dropna(subset=["inside_share"])
    grid = engine.run(to_model_input(np.asarray(study.images[:1])), ("feature_map",))["feature_map"].shape[-2:]
    curve = faith.deletion_curve()
    return {
        "operating_point": study.operating_point,
        "heatmap_score": score,
        "heatmap_style": maps,
        "films": int(len(study)),
        "films_called_pneumonia": int(len(faith.table)),
        "feature_grid": [int(grid[0]), int(grid[1])],
        "lung_share_called_pneumonia": float(called["inside_share"].mean()) if len(called) else None,
        "uniform_share_called_pneumonia": float(called["mask_fraction"].mean()) if len(called) else None,
        "occlusion_fill": fill,
        "deletion_curve": curve.to_dict(orient="records"),
        "laterality_agreement": faith.laterality_agreement() if len(faith.table) else None,
        "uniform_laterality_agreement": faith.uniform_laterality() if len(faith.table) else None,
        "laterality_sides": {hot: {side: int(n) for side, n in row.items()}
                             for hot, row in faith.laterality_sides().iterrows()} if len(faith.table) else {},
        "laterality_by_gap": faith.laterality_by_gap().to_dict(orient="records") if len(faith.table) else [],
        "top_zones": {group: {zone: float(v) for zone, v in row.items()}
                      for group, row in faith.top_zones().iterrows()} if len(faith.table) else {},
        "group_counts": {str(k): int(v) for k, v in faith.table["group"].value_counts().items()}
        if len(faith.table) else {},
    }
