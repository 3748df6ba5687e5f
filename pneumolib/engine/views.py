"""Test-time views: the film as given plus a few centre crops, their logits averaged.

A model that reads a film's framing calls a zoomed-in film differently from the same film as
taken; averaging the logits of the film and of one or two slightly zoomed-in copies (each
centre crop scaled back to the input size) makes the call depend less on where the film's edges
fall. Every other output (the feature map a heatmap is made from, the pooled features the gate
measures) comes from the film as given, so a heatmap still shows the film the user sent.

A checkpoint asks for views in its metadata (``test_time_views``: the crop fractions, e.g.
``[0.04]`` for 4 % off every side), so selection, finalize, evaluation and the service all score
the same way; ``python -m pneumolib views`` writes such a checkpoint. Each view is one more
forward pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from pneumolib.engine.base import Engine

METADATA_KEY = "test_time_views"
MAX_CROP = 0.25


def check_crops(crops: Sequence[float]) -> tuple[float, ...]:
    """The crop fractions as floats, each in (0, :data:`MAX_CROP`], without repeats."""
    values = tuple(float(c) for c in crops)
    bad = [c for c in values if not 0.0 < c <= MAX_CROP]
    if bad:
        raise ValueError(f"each view crops a fraction in (0, {MAX_CROP}] off every side (got {bad}); "
                         "the film as given is always the first view")
    if len(set(values)) != len(values):
        raise ValueError(f"the same crop is listed twice: {list(values)}")
    return values


def centre_crop_view(batch: torch.Tensor, fraction: float) -> torch.Tensor:
    """``fraction`` of the side cut off every edge of (B, C, H, W), scaled back to (H, W) bilinearly."""
    height, width = batch.shape[-2:]
    top, left = round(height * fraction), round(width * fraction)
    crop = batch[..., top:height - top, left:width - left]
    return F.interpolate(crop, size=(height, width), mode="bilinear", align_corners=False)


class ViewAveragingEngine(Engine):
    """An engine whose ``logits`` are the mean over the film and its centre crops; other outputs from the film."""

    def __init__(self, inner: Engine, crops: Sequence[float]) -> None:
        self.inner = inner
        self.crops = check_crops(crops)
        self.name = f"{inner.name}, {len(self.crops) + 1} views"
        self.gate_layers = inner.gate_layers
        self.feature_dim = inner.feature_dim
        self.fallback_reason = inner.fallback_reason

    def run(self, batch: np.ndarray | torch.Tensor, outputs: Sequence[str]) -> dict[str, np.ndarray]:
        tensor = torch.as_tensor(batch, dtype=torch.float32)
        result = self.inner.run(tensor, outputs)
        if "logits" in outputs:
            views = [self.inner.run(centre_crop_view(tensor, crop), ("logits",))["logits"] for crop in self.crops]
            result["logits"] = np.mean([result["logits"], *views], axis=0).astype(np.float32)
        return result

    def describe(self) -> dict[str, str]:
        return {**self.inner.describe(), "test_time_views": ", ".join(["as given", *(f"crop {c:.0%}" for c in self.crops)])}

    def close(self) -> None:
        self.inner.close()


def with_views(engine: Engine, metadata: Mapping[str, Any]) -> Engine:
    """``engine`` wrapped in the views the checkpoint's metadata asks for; ``engine`` itself when none."""
    crops = metadata.get(METADATA_KEY) or ()
    return ViewAveragingEngine(engine, crops) if crops else engine
