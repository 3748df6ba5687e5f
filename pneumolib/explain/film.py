"""One call from a decoded film to prediction, heatmap and overlay at the film's own size.

This is the path a viewer or a web service wants: it applies exactly the preprocessing the model
was trained with (:func:`canonical_image`), explains the model's square input, and maps the
heatmap back onto the original film, so nobody has to remember that the model sees a squashed
copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from pneumolib import CLASS_NAMES
from pneumolib.data.inputs.preprocess import CANONICAL_JPEG_QUALITY, canonical_image
from pneumolib.explain._pixels import to_gray_uint8
from pneumolib.explain.base import CAMExplainer
from pneumolib.explain.explainers import create_explainer
from pneumolib.explain.focus import focus_share
from pneumolib.explain.lung_mask import segment_lungs
from pneumolib.explain.methods import DEFAULT_METHOD
from pneumolib.explain.overlay import DEFAULT_OPACITY, encode_png, overlay_heatmap, resize_heatmap


@dataclass(frozen=True)
class FilmExplanation:
    heatmap: np.ndarray  # (H, W) float32 in [0, 1], at the original film's size
    overlay: np.ndarray  # (H, W, 3) uint8 RGB
    probabilities: np.ndarray  # (2,) softmax, order CLASS_NAMES
    explained_class: str
    lung_share: float | None  # heatmap mass inside the lung mask; None when not computed
    lung_mask_sources: tuple[str, str] | None

    @property
    def predicted_class(self) -> str:
        return CLASS_NAMES[int(np.argmax(self.probabilities))]

    @property
    def png(self) -> bytes:
        return encode_png(self.overlay)


def explain_film(
    model: nn.Module | CAMExplainer,
    pixels: np.ndarray,
    image_size: int = 224,
    jpeg_quality: int | None = CANONICAL_JPEG_QUALITY,
    method: str = DEFAULT_METHOD,
    target_class: int | str | None = None,
    opacity: float = DEFAULT_OPACITY,
    lung_focus: bool = True,
) -> FilmExplanation:
    """Explain one film given as decoded pixels (grayscale/RGB, 8- or 16-bit, any size).

    ``image_size`` and ``jpeg_quality`` must be the checkpoint's (its metadata holds both).
    ``model`` may be a ready explainer, to reuse it across calls.
    """
    explainer = model if isinstance(model, CAMExplainer) else create_explainer(model, method)
    gray = to_gray_uint8(pixels)
    result = explainer.explain(canonical_image(gray, image_size, jpeg_quality), target_class)
    heatmap = resize_heatmap(result.heatmaps[0], gray.shape)
    share, sources = None, None
    if lung_focus:
        lungs = segment_lungs(gray)
        share, sources = focus_share(heatmap, lungs.mask), lungs.sources
    return FilmExplanation(
        heatmap=heatmap,
        overlay=overlay_heatmap(pixels, heatmap, opacity),
        probabilities=result.probabilities[0],
        explained_class=CLASS_NAMES[int(result.target_classes[0])],
        lung_share=share,
        lung_mask_sources=sources,
    )
