"""Lung guidance: the map is the logit's decomposition, the share is right, masks move with the film."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pneumolib.data.inputs.augment import AugmentConfig, augment_batch
from pneumolib.models import create_model
from pneumolib.training.lung_guidance import (
    captured_feature_map,
    evidence_map,
    lung_mask_array,
    outside_lung_share,
)
from pneumolib.training.trainer import TrainConfig, train


def test_evidence_map_is_an_exact_decomposition_of_the_logit():
    torch.manual_seed(0)
    model = create_model("efficientnet_lite0", pretrained=False).eval()
    images = torch.rand(3, 1, 64, 64)
    with torch.no_grad(), captured_feature_map(model) as maps:
        logits = model(images)
    cam = evidence_map(maps[-1], model.head)
    bias = model.head.bias[1] - model.head.bias[0]
    assert torch.allclose(cam.mean(dim=(1, 2)) + bias, logits[:, 1] - logits[:, 0], atol=1e-5)
    assert not model.feature_map._forward_hooks  # the hook is gone after the block


def test_outside_share_counts_evidence_of_either_sign():
    masks = torch.zeros(2, 1, 8, 8)
    masks[:, :, :, :4] = 1  # the left half is lung
    cam = torch.zeros(2, 4, 4)
    cam[0, :, :2] = 3.0  # all inside
    cam[1, :, :2] = 1.0  # a quarter of the evidence inside ...
    cam[1, :, 2:] = -3.0  # ... three quarters outside, arguing for "normal"
    assert outside_lung_share(cam, masks).tolist() == pytest.approx([0.0, 0.75], abs=1e-6)


def test_masks_take_the_images_warp_and_do_not_change_the_draws():
    images = torch.rand(4, 1, 48, 48)
    masks = torch.zeros(4, 1, 48, 48)
    masks[:, :, 10:30, 5:20] = 1
    plain = augment_batch(images, torch.Generator().manual_seed(5))
    with_masks, warped = augment_batch(images, torch.Generator().manual_seed(5), masks=masks)
    assert torch.equal(plain, with_masks)
    assert warped.shape == masks.shape and 0 <= warped.min() and warped.max() <= 1
    still = AugmentConfig(max_rotation_degrees=0, scale_range=(1, 1), aspect_range=(1, 1), max_translate=0)
    _, same = augment_batch(images, torch.Generator().manual_seed(5), still, masks)
    assert torch.allclose(same, masks, atol=1e-5)  # no geometry: the mask stays put
    shifted = AugmentConfig(max_rotation_degrees=0, scale_range=(1, 1), aspect_range=(1, 1), max_translate=0.2)
    _, moved = augment_batch(images, torch.Generator().manual_seed(5), shifted, masks)
    assert not torch.allclose(moved, masks)


def test_mask_array_is_cached_and_falls_back_to_the_prior(tmp_path):
    images = np.full((2, 64, 64), 128, dtype=np.uint8)  # no lungs to find: both sides on the prior
    cache = tmp_path / "masks.npy"
    masks = lung_mask_array(images, cache, progress=False)
    assert masks.shape == images.shape and masks.dtype == np.uint8 and 0.05 < masks.mean() < 0.5
    assert cache.is_file() and np.array_equal(lung_mask_array(images, cache, progress=False), masks)


def test_guided_training_records_the_outside_share(fixture_build, tmp_path):
    config = TrainConfig(image_size=48, batch_size=8, epochs=1, seed=3, lung_guidance=1.0)
    result = train(config, fixture_build.manifest, fixture_build.root, tmp_path / "run", tmp_path / "cache", progress=False)
    share = float(result.history["train_outside_lung_share"].iloc[0])
    assert 0.0 < share < 1.0
    (masks,) = (tmp_path / "cache").glob("lung_masks_*.npy")  # keyed like the image array it belongs to
    assert (tmp_path / "cache" / masks.name.replace("lung_masks_", "images_")).is_file()


def test_a_margin_widens_the_masks_and_only_outward():
    from pneumolib.training.lung_guidance import widened

    masks = np.zeros((2, 40, 40), np.uint8)
    masks[0, 10:30, 5:15] = 1
    grown = widened(masks, 3)
    assert grown.shape == masks.shape and not grown[1].any()
    assert (grown[0] >= masks[0]).all() and grown[0, 10:30, 2:18].all() and not grown[0, 10:30, 19:].any()
    assert np.array_equal(widened(masks, 0), masks)
