"""Grad-CAM heatmaps: shape and range, class choice, batching, and head path == library path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from pneumolib.explain import CAM_METHODS, FullModelGradCAM, HeadOnlyGradCAM, as_model_batch, cam_class, create_explainer
from pneumolib.models import create_model

SIZE = 96  # 3x3 feature map: small, but enough for spatial structure


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny inputs: one thread is faster


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("efficientnet_lite0", pretrained=False).eval()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (4, SIZE, SIZE), dtype=np.uint8)


def test_heatmap_shape_range_and_prediction(model, images):
    result = create_explainer(model).explain(images)
    assert result.heatmaps.shape == (4, SIZE, SIZE)
    assert result.heatmaps.dtype == np.float32
    assert result.heatmaps.min() >= 0.0 and result.heatmaps.max() <= 1.0
    assert np.allclose(result.heatmaps.reshape(4, -1).max(axis=1), 1.0, atol=1e-5)  # each map scaled to its own max
    with torch.no_grad():
        logits = model(as_model_batch(images)).numpy()
    np.testing.assert_allclose(result.logits, logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(result.target_classes, logits.argmax(axis=1))
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0, rtol=1e-6)


def test_single_image_gives_2d_heatmap(model, images):
    explainer = create_explainer(model)
    single = explainer(images[0])
    assert single.shape == (SIZE, SIZE)
    float_single = explainer(torch.as_tensor(images[0]).float().div(255).unsqueeze(0))  # (C, S, S)
    np.testing.assert_allclose(single, float_single, atol=1e-6)


@pytest.mark.parametrize("fast", [True, False])
def test_batch_equals_per_image(model, images, fast):
    explainer = create_explainer(model, fast=fast)
    batch = explainer.explain(images, target_class=[0, 1, 1, 0])
    for i, target in enumerate([0, 1, 1, 0]):
        alone = explainer.explain(images[i : i + 1], target_class=target)
        np.testing.assert_allclose(batch.heatmaps[i], alone.heatmaps[0], atol=1e-5)
    chunked = explainer.explain(images, target_class=[0, 1, 1, 0], batch_size=3)
    np.testing.assert_allclose(batch.heatmaps, chunked.heatmaps, atol=1e-5)


@pytest.mark.parametrize("method", sorted(CAM_METHODS))
def test_head_path_equals_library_on_whole_model(model, images, method):
    head = HeadOnlyGradCAM(model, method).explain(images, target_class="PNEUMONIA")
    library = FullModelGradCAM(model, method).explain(images, target_class="PNEUMONIA")
    np.testing.assert_allclose(head.heatmaps, library.heatmaps, atol=1e-5)
    np.testing.assert_allclose(head.logits, library.logits, atol=1e-5)


def test_library_path_equals_plain_pytorch_grad_cam(model, images):
    """Our wrapper adds nothing to the library's numbers (guards the resizing/normalising)."""
    batch = as_model_batch(images)
    with GradCAM(model, [model.feature_map]) as cam:
        expected = cam(batch, [ClassifierOutputTarget(1)] * len(batch))
    ours = FullModelGradCAM(model).explain(images, target_class=1).heatmaps
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_target_class_changes_the_map(model, images):
    explainer = create_explainer(model)
    normal = explainer.explain(images, target_class="normal")
    pneumonia = explainer.explain(images, target_class=1)
    assert list(normal.target_classes) == [0] * 4 and list(pneumonia.target_classes) == [1] * 4
    assert np.abs(normal.heatmaps - pneumonia.heatmaps).max() > 0.1


def test_model_state_left_as_found(model, images):
    model.zero_grad(set_to_none=True)
    model.train()
    model.head.weight.grad = torch.ones_like(model.head.weight)
    try:
        for fast in (True, False):
            create_explainer(model, fast=fast).explain(images[:1])
            assert model.training and model.backbone.training
            assert torch.equal(model.head.weight.grad, torch.ones_like(model.head.weight))
            assert all(p.grad is None for p in model.backbone.parameters())
            assert not model.feature_map._forward_hooks  # no hook left behind
    finally:
        model.head.weight.grad = None
        model.eval()


def test_bad_arguments(model, images):
    with pytest.raises(ValueError, match="unknown CAM method"):
        cam_class("scorecam")
    assert cam_class("Grad-CAM") is cam_class("gradcam")
    assert cam_class("gradcampp") is cam_class("gradcam++") and cam_class("gradcam++").__name__ == CAM_METHODS["gradcam++"]
    with pytest.raises(ValueError, match="target classes"):
        create_explainer(model).explain(images, target_class=[0, 1])
    with pytest.raises(ValueError, match="unknown class"):
        create_explainer(model).explain(images, target_class="COVID")
    with pytest.raises(TypeError):
        HeadOnlyGradCAM(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3)))


def test_from_precomputed_feature_maps_equals_from_images(model, images):
    """The service reuses its prediction's backbone pass; the heatmaps must not change."""
    from pneumolib.explain.head_cam import backbone_feature_map

    explainer = HeadOnlyGradCAM(model)
    feature_maps = backbone_feature_map(model, as_model_batch(images))
    before = feature_maps.clone()
    for target in (None, 1, [0, 1, 0, 1]):
        direct = explainer.explain(images, target)
        reused = explainer.explain_feature_maps(feature_maps, SIZE, target)
        np.testing.assert_allclose(reused.heatmaps, direct.heatmaps, atol=1e-6)
        np.testing.assert_allclose(reused.logits, direct.logits, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(reused.target_classes, direct.target_classes)
    assert torch.equal(feature_maps, before) and not feature_maps.requires_grad  # caller's tensor untouched
    assert explainer.explain_feature_maps(feature_maps, (SIZE, 2 * SIZE), 1).heatmaps.shape == (4, SIZE, 2 * SIZE)
