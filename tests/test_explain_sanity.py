"""Adebayo et al. randomisation check: heatmaps must change when the learned weights are replaced.

Without the (uncommitted) trained checkpoint, the "trained" model is Lite0 with its real ImageNet
weights; the check compares it with the same network re-initialised.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from pneumolib.data.inputs.preprocess import canonical_image
from pneumolib.explain import randomisation_check, randomised_copy, spearman_similarity
from pneumolib.models import create_model

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "chest_xray" / "test").glob("*/*.jpeg"))
SIZE = 224  # a 7x7 map, as in use; smaller inputs leave too few cells for a rank correlation


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def films() -> np.ndarray:
    return np.stack([canonical_image(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE), SIZE) for p in FIXTURES[::2]])


def test_gradcam_depends_on_the_learned_weights(imagenet_lite0, films):
    result = randomisation_check(imagenet_lite0, films, method="gradcam")
    assert result.undefined == 0
    assert result.mean < 0.5, f"Grad-CAM maps barely change with random weights: rho {result.per_image}"


def test_the_weight_only_gradcam_depends_on_the_learned_weights(imagenet_lite0, films):
    """The service's Grad-CAM (head weights on the feature map, no backward pass) passes too."""
    from pneumolib.explain import LinearHeadCAM

    trained = LinearHeadCAM(imagenet_lite0).explain(films, 1).heatmaps
    random_maps = LinearHeadCAM(randomised_copy(imagenet_lite0)).explain(films, 1).heatmaps
    rho = np.array([spearman_similarity(a, b) for a, b in zip(trained, random_maps)])
    assert not np.isnan(rho).any()
    assert rho.mean() < 0.5, f"maps barely change with random weights: rho {rho}"


def test_the_check_can_fail(imagenet_lite0, films):
    """Same weights on both sides: rho must be 1, so the low value above is not an artefact."""
    result = randomisation_check(imagenet_lite0, films, randomised=copy.deepcopy(imagenet_lite0))
    np.testing.assert_allclose(result.per_image, 1.0, atol=1e-6)


def test_zone_weighted_maps_depend_on_the_learned_weights(imagenet_lite0, films):
    """Grad-CAM weighted by each model's own zone occlusion; the same weights on both sides give rho 1."""
    from pneumolib.explain.zone_weighting import weighted_randomisation

    result = weighted_randomisation(imagenet_lite0, films[:4])
    assert result.undefined == 0 and result.method == "zone_weighted"
    assert result.mean < 0.5, f"weighted maps barely change with random weights: rho {result.per_image}"
    same = weighted_randomisation(imagenet_lite0, films[:4], randomised=copy.deepcopy(imagenet_lite0))
    np.testing.assert_allclose(same.per_image, 1.0, atol=1e-6)


def test_randomised_copy_replaces_every_weight_and_keeps_the_original():
    model = create_model("efficientnet_b0", pretrained=False).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    clone = randomised_copy(model, seed=1)
    for name, parameter in clone.named_parameters():
        original = before[name]
        if original.numel() > 1 and not torch.all(original == original.flatten()[0]):
            assert not torch.equal(parameter, original), name  # random tensors are redrawn
    torch.testing.assert_close(clone.mean, model.mean)  # the input normalisation is not learned
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])  # the original is untouched
    torch.testing.assert_close(randomised_copy(model, seed=1).state_dict(), clone.state_dict())  # seeded


def test_randomised_copy_still_responds_to_its_input():
    """A re-initialised net whose output is constant would make any comparison meaningless."""
    clone = randomised_copy(create_model("efficientnet_lite0", pretrained=False), seed=0)
    with torch.no_grad():
        logits = clone(torch.rand(3, 1, 64, 64))
    assert (logits - logits[0]).abs().max() > 1e-3 * logits.abs().max()


def test_spearman_similarity():
    a = np.arange(16.0).reshape(4, 4)
    assert spearman_similarity(a, a ** 3) == pytest.approx(1.0)
    assert spearman_similarity(a, -a) == pytest.approx(-1.0)
    assert math.isnan(spearman_similarity(a, np.zeros((4, 4))))
    with pytest.raises(ValueError):
        spearman_similarity(a, np.zeros((3, 3)))
