"""The classifier every architecture is wrapped in: normalise, backbone, pool, dropout, linear.

Putting the input normalisation inside the model (as buffers) means a checkpoint carries its own
preprocessing: callers always feed grayscale or RGB images scaled to [0, 1], whatever backbone
was trained. ``feature_map`` is an identity layer on the backbone's last convolutional stage: a
fixed place for Grad-CAM to hook, the same for every architecture.
"""

from __future__ import annotations

import torch
from torch import nn


class PneumoniaClassifier(nn.Module):
    def __init__(
        self,
        backbone: nn.Module,
        num_features: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        num_classes: int = 2,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.backbone = backbone
        self.feature_map = nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(num_features, num_classes)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """[0, 1] images with 1 or 3 channels -> the backbone's normalised RGB input."""
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        return (images - self.mean) / self.std

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled feature vectors (B, num_features): what the out-of-distribution gate measures."""
        return self.pool(self.feature_map(self.backbone(self.normalise(images)))).flatten(1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits (B, 2) in the order ("NORMAL", "PNEUMONIA")."""
        return self.head(self.dropout(self.features(images)))
