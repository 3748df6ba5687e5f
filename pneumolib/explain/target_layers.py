"""Where Grad-CAM looks: the output of the last convolutional stage.

Grad-CAM weighs a layer's feature maps by the gradient of a class score. The last convolutional
stage is the usual choice: it has the most class-specific features while keeping some spatial
layout (7x7 for a 224 px EfficientNet input). Every :class:`PneumoniaClassifier` exposes that
point as ``model.feature_map`` (an identity on the backbone's output, whatever the backbone), so
for our models the lookup is one attribute. For any other network the fallback runs one small
probe forward and takes the last module, in execution order, whose output is still a spatial map
(N, C, H, W) with H, W > 1: the end of the last stage, after its normalisation and activation,
rather than the bare last ``Conv2d`` (whose pre-activation output can be negative everywhere).
"""

from __future__ import annotations

import torch
from torch import nn

#: Target layer (attribute path) per architecture of :mod:`pneumolib.models.factory`. All are the
#: classifier's ``feature_map``: the backbone adapters end exactly at the last stage.
TARGET_LAYER_BY_ARCHITECTURE: dict[str, str] = {
    "efficientnet_b0": "feature_map",  # torchvision features[8]: 1x1 conv -> BN -> SiLU, 1280 ch
    "efficientnet_b0_lukemelas": "feature_map",  # extract_features: _conv_head -> _bn1 -> swish, 1280 ch
    "efficientnet_lite0": "feature_map",  # timm forward_features: conv_head -> bn2 (+ReLU6), 1280 ch
    "efficientnet_lite0_os16": "feature_map",  # the same layer, 14x14 at 224 px
}


def find_target_layer(model: nn.Module, probe_size: int = 96) -> nn.Module:
    """The Grad-CAM target layer: ``model.feature_map`` if present, else the probed last stage."""
    feature_map = getattr(model, "feature_map", None)
    if isinstance(feature_map, nn.Module):
        return feature_map
    return _probe_last_spatial_module(model, probe_size)


def target_layer_name(model: nn.Module, probe_size: int = 96) -> str:
    """Dotted name of :func:`find_target_layer`'s answer ("" for the model itself), for reports."""
    layer = find_target_layer(model, probe_size)
    for name, module in model.named_modules():
        if module is layer:
            return name
    raise LookupError("target layer is not a submodule of the model")


def _probe_last_spatial_module(model: nn.Module, probe_size: int) -> nn.Module:
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer: Grad-CAM needs a convolutional network")
    in_channels = convs[0].in_channels
    last: list[nn.Module] = []

    def remember(module: nn.Module, _inputs: object, output: object) -> None:
        if isinstance(output, torch.Tensor) and output.ndim == 4 and output.shape[-1] > 1 and output.shape[-2] > 1:
            last[:] = [module]

    handles = [m.register_forward_hook(remember) for m in model.modules()]
    was_training = model.training
    try:
        model.eval()
        parameter = next(model.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        with torch.no_grad():
            model(torch.zeros(1, in_channels, probe_size, probe_size, device=device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    if not last:
        raise ValueError(f"no layer of {type(model).__name__} outputs a spatial map at {probe_size} px")
    return last[0]
