"""Training steps, class weights, checkpoints (round trip, corrupt files) and resume, on fixtures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pneumolib.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from pneumolib.data.inputs.arrays import class_weights
from pneumolib.data.inputs.augment import augment_batch
from pneumolib.models import create_model
from pneumolib.training.trainer import TrainConfig, train


def test_class_weights():
    weights = class_weights(np.array([0, 1, 1, 1]))
    assert weights == pytest.approx([2.0, 2 / 3])
    # each class then contributes the same total weight
    assert weights[0] * 1 == pytest.approx(weights[1] * 3)
    with pytest.raises(ValueError, match="every class"):
        class_weights(np.array([1, 1]))


def test_few_steps_reduce_loss():
    torch.manual_seed(0)
    model = create_model("efficientnet_lite0", pretrained=True, dropout=0.0).train()
    images, labels = torch.rand(8, 1, 64, 64), torch.tensor([0, 1] * 4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_augmentation_keeps_shape_range_and_varies():
    images = torch.rand(4, 1, 48, 48)
    out = augment_batch(images, torch.Generator().manual_seed(1))
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    again = augment_batch(images, torch.Generator().manual_seed(1))
    assert torch.equal(out, again)  # seeded: reproducible
    assert not torch.allclose(out[0], images[0])


def test_checkpoint_round_trip(tmp_path):
    model = create_model("efficientnet_lite0", pretrained=False).eval()
    path = save_checkpoint(tmp_path / "m.pt", model, {"architecture": "efficientnet_lite0", "image_size": 64})
    loaded, metadata = load_checkpoint(path)
    images = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(images), loaded(images))
    assert metadata["class_names"] == ["NORMAL", "PNEUMONIA"]
    assert "package_version" in metadata


def test_corrupt_and_foreign_checkpoints(tmp_path):
    truncated = tmp_path / "truncated.pt"
    model = create_model("efficientnet_lite0", pretrained=False)
    save_checkpoint(truncated, model, {"architecture": "efficientnet_lite0"})
    truncated.write_bytes(truncated.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not a pneumolib checkpoint"):
        load_checkpoint(foreign)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError):
        load_checkpoint(text)
    with pytest.raises(CheckpointError, match="No checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_train_resume_and_history(fixture_build, tmp_path):
    config = TrainConfig(image_size=48, batch_size=8, epochs=2, seed=3)
    first = train(config, fixture_build.manifest, fixture_build.root, tmp_path / "a", progress=False)
    assert list(first.history["epoch"]) == [1, 2]
    assert (tmp_path / "a" / "history.csv").is_file()
    # an interrupted run: 1 epoch, then resumed to 2, ends where an uninterrupted run ends
    train(TrainConfig(**{**config.__dict__, "epochs": 1}), fixture_build.manifest, fixture_build.root, tmp_path / "b",
          progress=False)
    resumed = train(config, fixture_build.manifest, fixture_build.root, tmp_path / "b", progress=False)
    assert list(resumed.history["epoch"]) == [1, 2]
    _, meta_a = load_checkpoint(first.last_checkpoint)
    model_a, _ = load_checkpoint(first.last_checkpoint)
    model_b, _ = load_checkpoint(resumed.last_checkpoint)
    for (name, a), b in zip(model_a.state_dict().items(), model_b.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), name
    assert meta_a["manifest_digest"] and meta_a["train_config"]["epochs"] == 2


def test_training_never_reads_the_test_split(fixture_build, tmp_path, monkeypatch):
    from pneumolib.data.inputs import cache

    seen = []
    original = cache.read_grayscale
    monkeypatch.setattr(cache, "read_grayscale", lambda path: seen.append(str(path)) or original(path))
    train(TrainConfig(image_size=32, batch_size=8, epochs=1), fixture_build.manifest, fixture_build.root, tmp_path,
          progress=False)
    assert seen and not any("/test/" in p for p in seen)


def test_border_erasing_only_touches_the_edges():
    from pneumolib.data.inputs.augment import erase_borders

    images = torch.full((64, 1, 40, 40), 0.5)
    out = erase_borders(images, torch.Generator().manual_seed(0), probability=1.0, max_fraction=0.15)
    centre = out[:, :, 7:33, 7:33]  # 15 % of 40 px = 6 px: the centre is never touched
    assert torch.equal(centre, images[:, :, 7:33, 7:33])
    assert (out != 0.5).any()  # and some edges were filled
    untouched = erase_borders(images, torch.Generator().manual_seed(0), probability=0.0, max_fraction=0.15)
    assert torch.equal(untouched, images)


def test_bundled_copy_is_half_precision_and_equivalent(tmp_path):
    from pneumolib.checkpoint import bundle_checkpoint, read_checkpoint

    model = create_model("efficientnet_lite0", pretrained=True).eval()
    source = save_checkpoint(tmp_path / "full.pt", model, {"architecture": "efficientnet_lite0"},
                             optimizer={"state": {}})
    bundled = bundle_checkpoint(source, tmp_path / "bundled.pt")
    payload = read_checkpoint(bundled)
    assert payload["state_dict"]["head.weight"].dtype == torch.float16
    assert "optimizer" not in payload
    assert bundled.stat().st_size < 0.6 * source.stat().st_size
    loaded, _ = load_checkpoint(bundled)
    images = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(torch.softmax(model(images), 1), torch.softmax(loaded(images), 1), atol=2e-2)


@pytest.mark.parametrize("capability, expected", [((7, 5), torch.float16), ((8, 0), torch.bfloat16), ((9, 0), torch.bfloat16)])
def test_mixed_precision_uses_bf16_only_where_native(monkeypatch, capability, expected):
    from pneumolib.engine import autocast_dtype

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # a T4 says yes too
    assert autocast_dtype("cuda") is expected
    assert autocast_dtype("cpu") is None


def test_old_checkpoints_read_back_their_recipe_without_the_newer_steps():
    from pneumolib.data.inputs.augment import LEGACY_OFF, AugmentConfig

    old = {"max_rotation_degrees": 7.0, "scale_range": [0.9, 1.1], "border_erase_probability": 0.6}
    config = AugmentConfig.from_dict(old)
    assert config.scale_range == (0.9, 1.1) and config.aspect_range == (1.0, 1.0)
    assert all(getattr(config, key) == value for key, value in LEGACY_OFF.items())
    assert AugmentConfig.from_dict({}) == AugmentConfig()  # nothing recorded: today's recipe


@pytest.mark.parametrize("fill, black, white", [(0.0, 1.0, 0.0), (1.0, 0.0, 1.0)])
def test_zooming_out_puts_the_film_on_a_black_or_white_margin(fill, black, white):
    from pneumolib.data.inputs.augment import AugmentConfig, random_geometry

    images = torch.full((2, 1, 32, 32), 0.5)
    config = AugmentConfig(max_rotation_degrees=0.0, scale_range=(0.5, 0.5), aspect_range=(1.0, 1.0), max_translate=0.0,
                           margin_black_probability=black, margin_white_probability=white)
    out = random_geometry(images, torch.Generator().manual_seed(0), config)
    assert torch.allclose(out[:, :, 0, 0], torch.tensor(fill))  # the corner lies outside the film
    assert torch.allclose(out[:, :, 16, 16], torch.tensor(0.5))  # the centre is still the film


def test_independent_stretch_changes_width_not_height():
    from pneumolib.data.inputs.augment import AugmentConfig, random_geometry

    images = torch.zeros(1, 1, 64, 64)
    images[..., 16:48, 16:48] = 1.0  # a centred square
    config = AugmentConfig(max_rotation_degrees=0.0, scale_range=(1.0, 1.0), aspect_range=(1.44, 1.44), max_translate=0.0,
                           margin_black_probability=0.0, margin_white_probability=0.0)
    out = random_geometry(images, torch.Generator().manual_seed(0), config)[0, 0] > 0.5
    width, height = int(out[32].sum()), int(out[:, 32].sum())
    assert width == pytest.approx(32 * 1.2, abs=2) and height == pytest.approx(32 / 1.2, abs=2)


def test_histogram_equalisation_matches_opencv():
    import cv2

    from pneumolib.data.inputs.augment import equalize_histogram

    image = (np.random.default_rng(0).beta(2, 5, size=(40, 50)) * 255).astype(np.uint8)
    ours = equalize_histogram(torch.as_tensor(image).float().div(255).view(1, 1, 40, 50))[0, 0]
    assert np.abs(ours.numpy() * 255 - cv2.equalizeHist(image)).max() <= 1.01
