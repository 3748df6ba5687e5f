"""The classifier's head as a network of its own, fed with the last-stage feature map.

Grad-CAM at the last stage needs the gradient of a class score with respect to that stage's
output. Only the layers *after* it (pool -> dropout -> linear) lie on that path, so the backbone
can run once without autograd (exactly like a plain prediction) and the library's CAM code can
run on this small head instead of the whole model: same numbers, a fraction of the cost (see
``scripts/bench_gradcam.py``). The head shares the classifier's modules, so it always uses the
current weights; it has its own identity layer as the hook point, so the classifier itself is
never hooked.
"""

from __future__ import annotations

import torch
from torch import nn

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
