"""Grad-CAM explanations: heatmaps, overlays on the original film, lung focus and a sanity check.

Typical use::

    from pneumolib.checkpoint import load_checkpoint
    from pneumolib.explain import explain_film

    model, meta = load_checkpoint("best.pt")
    result = explain_film(model, pixels, meta["image_size"], meta["jpeg_quality"])
    open("overlay.png", "wb").write(result.png)
"""

from __future__ import annotations

from typing import Any

from pneumolib.explain.base import CAMExplainer, Explanation, as_model_batch
from pneumolib.explain.describe import describe_focus
from pneumolib.explain.explainers import create_explainer
from pneumolib.explain.film import FilmExplanation, explain_film
from pneumolib.explain.focus import FocusEntry, focus_report, focus_share, mostly_outside
from pneumolib.explain.full_model_cam import FullModelGradCAM
from pneumolib.explain.head_cam import HeadOnlyGradCAM
from pneumolib.explain.linear_head_cam import LinearHeadCAM, gradcam_from_feature_maps
from pneumolib.explain.lung_mask import LungMask, lung_mask, prior_lung_mask, segment_lungs
from pneumolib.explain.methods import CAM_METHODS, DEFAULT_METHOD, cam_class
from pneumolib.explain.overlay import colorize_heatmap, encode_png, overlay_heatmap, overlay_png, resize_heatmap
from pneumolib.explain.randomisation import (
    RandomisationResult,
    RandomisationStudy,
    randomisation_check,
    randomisation_study,
    randomised_copy,
    spearman_similarity,
)
from pneumolib.explain.study import OUTCOMES, GradCamStudy, corner_share, focus_summary, outcome_labels, study_images, study_split
from pneumolib.explain.target_layers import TARGET_LAYER_BY_ARCHITECTURE, find_target_layer, target_layer_name

__all__ = [
    "CAM_METHODS", "CAMExplainer", "DEFAULT_METHOD", "Explanation", "FilmExplanation", "FocusEntry", "HeadOnlyGradCAM",
    "FullModelGradCAM", "LinearHeadCAM", "LungMask", "RandomisationResult", "TARGET_LAYER_BY_ARCHITECTURE", "as_model_batch",
    "cam_class", "colorize_heatmap", "create_explainer", "encode_png", "explain_film", "find_target_layer",
    "focus_report", "focus_share", "gradcam_from_feature_maps", "lung_mask", "mostly_outside", "overlay_heatmap", "overlay_png",
    "prior_lung_mask", "randomisation_check", "randomised_copy", "resize_heatmap", "segment_lungs",
    "spearman_similarity", "target_layer_name",
    # split-level study and notebook 05's figures
    "OUTCOMES", "GradCamStudy", "RandomisationStudy", "corner_share", "describe_focus", "focus_summary",
    "lung_focus_figure", "outcome_gallery", "outcome_labels", "outside_gallery", "randomisation_figure",
    "randomisation_study", "study_images", "study_split",
]

_FIGURES = ("lung_focus_figure", "outcome_gallery", "outside_gallery", "randomisation_figure")


def __getattr__(name: str) -> Any:
    """Notebook 05's figures, imported on first use: the service imports this package without matplotlib."""
    if name in _FIGURES:
        from pneumolib.explain import figures

        return getattr(figures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
