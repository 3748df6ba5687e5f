"""Grad-CAM from the head's weights (no backward pass) equals the library's Grad-CAM."""

from __future__ import annotations

import numpy as np
import pytest

from pneumolib.engine import TorchEngine, create_engine
from pneumolib.explain import FullModelGradCAM, HeadOnlyGradCAM, LinearHeadCAM, create_explainer
from pneumolib.explain.base import as_model_batch
from pneumolib.explain.head_cam import backbone_feature_map

SIZE = 96


@pytest.fixture(scope="module")
def images(ramp_images) -> np.ndarray:
    assert ramp_images.shape[-1] == SIZE
    return ramp_images


@pytest.mark.parametrize("target", [None, 0, 1, [1, 0, 0, 1]])
def test_equals_library_gradcam(imagenet_lite0, one_torch_thread, images, target):
    reference = HeadOnlyGradCAM(imagenet_lite0).explain(images, target)
    closed = LinearHeadCAM(imagenet_lite0).explain(images, target)
    np.testing.assert_array_equal(closed.target_classes, reference.target_classes)
    np.testing.assert_allclose(closed.logits, reference.logits, atol=1e-5)
    assert np.abs(closed.heatmaps - reference.heatmaps).max() <= 1e-5


def test_equals_whole_model_gradcam(imagenet_lite0, one_torch_thread, images):
    reference = FullModelGradCAM(imagenet_lite0).explain(images, 1).heatmaps
    closed = LinearHeadCAM(imagenet_lite0).explain(images, 1).heatmaps
    assert np.abs(closed - reference).max() <= 1e-4  # a full backward pass adds float noise


def test_from_feature_maps_and_onnx_engine(imagenet_lite0, one_torch_thread, images, tmp_path):
    pytest.importorskip("onnxruntime")
    feature_maps = backbone_feature_map(imagenet_lite0, as_model_batch(images))
    reference = HeadOnlyGradCAM(imagenet_lite0).explain_feature_maps(feature_maps, SIZE, 1).heatmaps
    explainer = LinearHeadCAM(imagenet_lite0)
    assert np.abs(explainer.explain_feature_maps(feature_maps.numpy(), SIZE, 1).heatmaps - reference).max() <= 1e-5
    engine = create_engine(imagenet_lite0, SIZE, (), None, prefer="onnx", cache_dir=tmp_path)
    via_onnx = LinearHeadCAM(imagenet_lite0, engine).explain(images, 1).heatmaps
    assert np.abs(via_onnx - reference).max() <= 1e-4


def test_create_explainer_uses_the_engine_for_gradcam_only(imagenet_lite0):
    engine = TorchEngine(imagenet_lite0)
    assert isinstance(create_explainer(imagenet_lite0, engine=engine), LinearHeadCAM)
    assert isinstance(create_explainer(imagenet_lite0, "gradcam++", engine=engine), HeadOnlyGradCAM)
    assert isinstance(create_explainer(imagenet_lite0), HeadOnlyGradCAM)
