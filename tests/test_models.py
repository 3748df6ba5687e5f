"""Model factory: every architecture, normalisation, pretrained loading, missing-weights errors."""

from __future__ import annotations

import pytest
import torch

from pneumolib.models import ARCHITECTURES, PretrainedWeightsNotFound, create_model
from pneumolib.models import pretrained as pretrained_module


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_each_architecture_builds(architecture):
    torch.manual_seed(0)
    model = create_model(architecture, pretrained=False).eval()
    images = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        logits = model(images)
        features = model.features(images)
    assert logits.shape == (2, 2)
    assert features.shape == (2, 1280)
    spec = ARCHITECTURES[architecture]
    assert torch.allclose(model.mean.flatten(), torch.tensor(spec.mean))
    assert torch.allclose(model.std.flatten(), torch.tensor(spec.std))
    # grayscale input is the same as its three-channel copy
    with torch.no_grad():
        assert torch.allclose(model(images.expand(-1, 3, -1, -1)), logits, atol=1e-5)


def test_normalisations_differ_per_architecture():
    assert ARCHITECTURES["efficientnet_lite0"].mean == (0.5, 0.5, 0.5)
    assert ARCHITECTURES["efficientnet_b0"].mean == (0.485, 0.456, 0.406)


def test_lite0_pretrained_weights_are_loaded():
    torch.manual_seed(0)
    random = create_model("efficientnet_lite0", pretrained=False)
    trained = create_model("efficientnet_lite0", pretrained=True)
    random_stem = random.backbone.model.conv_stem.weight
    trained_stem = trained.backbone.model.conv_stem.weight
    assert not torch.allclose(random_stem, trained_stem)
    # ImageNet stems learn smooth oriented filters: far larger weights than a fresh init's
    assert trained_stem.abs().mean() > 2 * random_stem.abs().mean()
    # the weights file's own values, not something derived from them
    source = torch.load(pretrained_module.lite0_weights_file(), map_location="cpu", weights_only=True)
    assert torch.equal(trained_stem, source["_conv_stem.weight"])


def test_missing_b0_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv(pretrained_module.WEIGHTS_ENV, raising=False)

    def offline(url, dst, progress=True):
        raise ConnectionError("network unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(PretrainedWeightsNotFound) as error:
        create_model("efficientnet_b0", pretrained=True)
    message = str(error.value)
    assert "efficientnet_b0_rwightman-7f5810bc.pth" in message
    assert str(tmp_path) in message  # says where to put the file
    assert "efficientnet_lite0" in message and "pretrained=False" in message


def test_explicit_missing_weights_file(tmp_path):
    with pytest.raises(PretrainedWeightsNotFound, match="does not exist"):
        create_model("efficientnet_b0", pretrained=True, weights_path=tmp_path / "nope.pth")


def test_b0_loads_from_hub_cache(tmp_path, monkeypatch):
    """Offline with the file placed in the torch hub cache: it is used, no download tried."""
    from torchvision.models import efficientnet_b0

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    reference = efficientnet_b0(weights=None)
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(reference.state_dict(), cache / pretrained_module.TORCHVISION_B0_FILE)
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("tried to download"))
    model = create_model("efficientnet_b0", pretrained=True)
    assert torch.equal(model.backbone[0][0].weight, reference.features[0][0].weight)
