"""Grad-CAM target layer: the classifier's feature_map for every architecture, probed otherwise."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pneumolib.explain import TARGET_LAYER_BY_ARCHITECTURE, find_target_layer, target_layer_name
from pneumolib.models import ARCHITECTURES, create_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_every_architecture_has_an_entry():
    assert set(TARGET_LAYER_BY_ARCHITECTURE) == set(ARCHITECTURES)


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_classifier_target_is_last_stage_feature_map(architecture):
    model = create_model(architecture, pretrained=False).eval()
    layer = find_target_layer(model)
    assert layer is model.feature_map
    assert target_layer_name(model) == TARGET_LAYER_BY_ARCHITECTURE[architecture]
    seen = []
    handle = layer.register_forward_hook(lambda _m, _i, out: seen.append(out))
    with torch.no_grad():
        model(torch.rand(1, 1, 64, 64))
    handle.remove()
    # The last stage of an EfficientNet: 1280 channels at 1/32 of the input size (1/16 for the
    # output-stride-16 variant), after activation.
    side = 4 if architecture.endswith("_os16") else 2
    assert seen[0].shape == (1, 1280, side, side)
    # The probe, run on the bare backbone, finds a layer whose output is that same map.
    probed = find_target_layer(model.backbone)
    probe_out = []
    handle = probed.register_forward_hook(lambda _m, _i, out: probe_out.append(out))
    with torch.no_grad():
        model(torch.rand(1, 1, 64, 64))
    handle.remove()
    assert probe_out[0].shape == seen[0].shape


def test_probe_on_plain_networks():
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16),
        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 2),
    )
    assert find_target_layer(net) is net[4]  # after the norm and activation, before pooling
    assert target_layer_name(net) == "4"

    from torchvision.models import efficientnet_b0

    torchvision_b0 = efficientnet_b0(weights=None)
    assert target_layer_name(torchvision_b0) == "features"  # its last stage (features[8]) ends it
    assert torchvision_b0.training  # the probe restores the training flag


def test_probe_needs_a_convolution():
    with pytest.raises(ValueError, match="no Conv2d"):
        find_target_layer(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
