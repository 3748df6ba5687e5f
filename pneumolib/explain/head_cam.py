"""Grad-CAM on the classifier head alone, fed with the last-stage feature map.

Grad-CAM at the last stage needs the gradient of a class score with respect to that stage's
output. Only the layers *after* it (pool -> dropout -> linear) lie on that path, so the backbone
can run once without autograd (exactly like a plain prediction) and the library's CAM code can
run on this small head instead of the whole model: same numbers, a fraction of the cost (see
``scripts/bench_gradcam.py``). The head shares the classifier's modules, so it always uses the
current weights; it has its own identity layer as the hook point, so the classifier itself is
never hooked.

Prediction + heatmap take 1.1-1.2x the prediction alone on CPU (1 thread, Lite0, 224 px, batch
1), against about 4x for :class:`~pneumolib.explain.full_model_cam.FullModelGradCAM`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pneumolib.explain.base import (
    CAMExplainer,
    Explanation,
    TargetClass,
    resolve_targets,
    to_input_size,
    untouched,
)
from pneumolib.explain.methods import DEFAULT_METHOD
from pneumolib.explain.scores import DEFAULT_SCORE, library_targets
from pneumolib.models.classifier import PneumoniaClassifier


class ClassifierHead(nn.Module):
    """``feature map (B, C, h, w) -> logits (B, classes)``, mirroring ``PneumoniaClassifier.forward``."""

    def __init__(self, classifier: PneumoniaClassifier) -> None:
        super().__init__()
        self.feature_map = nn.Identity()
        self.pool = classifier.pool
        self.dropout = classifier.dropout
        self.head = classifier.head

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.pool(self.feature_map(feature_map)).flatten(1)))


def backbone_feature_map(classifier: PneumoniaClassifier, images: torch.Tensor) -> torch.Tensor:
    """The last-stage feature map, computed without autograd (the expensive part, done once)."""
    with torch.no_grad():
        return classifier.feature_map(classifier.backbone(classifier.normalise(images)))


def supports_head_path(model: nn.Module) -> bool:
    """True when ``model`` has the classifier layout the head path relies on."""
    parts = ("backbone", "feature_map", "pool", "dropout", "head")
    return isinstance(model, PneumoniaClassifier) and all(isinstance(getattr(model, p, None), nn.Module) for p in parts)


class HeadOnlyGradCAM(CAMExplainer):
    """``pytorch_grad_cam`` on the classifier head only: the backbone runs once, without autograd."""

    def __init__(self, model: nn.Module, method: str = DEFAULT_METHOD, score: str = DEFAULT_SCORE) -> None:
        if not supports_head_path(model):
            raise TypeError(f"HeadOnlyGradCAM needs a PneumoniaClassifier, got {type(model).__name__}; use FullModelGradCAM")
        super().__init__(model, method, score)
        self.head = ClassifierHead(model)

    def explain_feature_maps(
        self, feature_maps: torch.Tensor, input_size: int | tuple[int, int], target_class: TargetClass = None
    ) -> Explanation:
        """Like :meth:`explain`, from last-stage feature maps (B, C, h, w) already computed.

        For a caller that has just run the backbone anyway (the service, for its prediction):
        the heatmap then costs only the head's backward pass. ``input_size`` is the model
        input's side (or (height, width)) the heatmaps are upsampled to.
        """
        size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        targets = resolve_targets(target_class, len(feature_maps))
        with untouched(self.model):
            cams, logits = self._head_cams(feature_maps.detach().float(), targets)
        explained = logits.argmax(axis=1) if targets is None else np.asarray(targets, dtype=np.int64)
        return Explanation(to_input_size(cams, size), explained.astype(np.int64), logits.astype(np.float32), self.method,
                           self.score)

    def _cams(self, batch: torch.Tensor, targets: list[int] | None) -> tuple[np.ndarray, np.ndarray]:
        return self._head_cams(backbone_feature_map(self.model, batch), targets)

    def _head_cams(self, feature_maps: torch.Tensor, targets: list[int] | None) -> tuple[np.ndarray, np.ndarray]:
        features = feature_maps.clone().requires_grad_(True)
        cam = self._cam_class(self.head, [self.head.feature_map])
        try:
            cams = cam(features, library_targets(targets, len(features), self.score))
            return cams, cam.outputs.detach().float().cpu().numpy()
        finally:
            cam.activations_and_grads.release()
