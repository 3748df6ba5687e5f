"""Ensembles: one classifier whose logits are exactly the members' mean, a checkpoint that loads
and serves through both engines, a class activation map that decomposes the averaged logit, and
refusals that say what to do."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pneumolib.checkpoint import CheckpointError, bundle_checkpoint, load_checkpoint, read_checkpoint, save_checkpoint
from pneumolib.cli import main
from pneumolib.deploy.ensemble import combine_checkpoints, members_table
from pneumolib.deploy.test_time_views import add_test_time_views
from pneumolib.engine import margin_logits
from pneumolib.explain.linear_head_cam import LinearHeadCAM
from pneumolib.inference import engine_for_checkpoint
from pneumolib.models import create_model
from pneumolib.models.ensemble import ENSEMBLE, ensemble_classifier
from pneumolib.models.from_metadata import describe_architecture, gate_layers
from pneumolib.reporting.training_card import render_training_section

SIZE = 64  # Lite0: a 2x2 map at stride 32, 4x4 at stride 16


def _model(architecture: str, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = create_model(architecture, pretrained=False).eval()
    with torch.no_grad():  # a random head would leave one class far ahead; spread the logits
        model.head.weight.normal_(0, 0.5)
        model.head.bias.normal_(0, 0.5)
    return model


def _checkpoint(path, architecture: str, seed: int, **metadata):
    train_config = {"augment_config": {"hflip": 0.5}, "label_smoothing": 0.0, "learning_rate": 1e-3, "weight_decay": 0.01,
                    "batch_size": 8, "warmup_epochs": 1, "epochs": 2, "patience": 2, "seed": seed}
    record = {"architecture": architecture, "image_size": SIZE, "jpeg_quality": 75, "mean": [0.5] * 3, "std": [0.5] * 3,
              "manifest_digest": "abc", "epoch": 2, "val_metrics": {"val_auc": 0.9}, "train_config": train_config,
              "temperature": 1.3, **metadata}
    history = [{"train_seconds": 60.0, "train_images_per_s": 10.0}] * 2  # beside the metadata, as training saves it
    return save_checkpoint(path, _model(architecture, seed), record, history=history)


@pytest.fixture
def members(tmp_path):
    return [_checkpoint(tmp_path / "a.pt", "efficientnet_lite0", 0),
            _checkpoint(tmp_path / "b.pt", "efficientnet_lite0_os16", 1)]


def test_logits_are_the_mean_of_the_members_even_across_strides():
    a, b = _model("efficientnet_lite0", 0), _model("efficientnet_lite0_os16", 1)
    ensemble = ensemble_classifier([a, b]).eval()
    images = torch.rand(3, 1, SIZE, SIZE)
    with torch.no_grad():
        expected = (a(images) + b(images)) / 2
        got = ensemble(images)
        feature_map = ensemble.feature_map(ensemble.backbone(ensemble.normalise(images)))
    assert torch.allclose(got, expected, atol=1e-5)
    assert feature_map.shape[1:] == (2 * 1280, 4, 4)  # the stride-32 member repeated onto the finer grid
    # the class activation map over the film decomposes the averaged margin logit exactly
    weight = ensemble.head.weight[1] - ensemble.head.weight[0]
    per_cell = torch.einsum("c,bchw->bhw", weight, feature_map)
    margin = per_cell.mean(dim=(1, 2)) + ensemble.head.bias[1] - ensemble.head.bias[0]
    assert torch.allclose(margin, expected[:, 1] - expected[:, 0], atol=1e-5)


def test_a_grid_the_coarser_map_does_not_tile_is_refused():
    ensemble = ensemble_classifier([_model("efficientnet_lite0", 0), _model("efficientnet_lite0_os16", 1)]).eval()
    with torch.no_grad(), pytest.raises(ValueError, match="divisible by 32"):
        ensemble(torch.rand(1, 1, 80, 80))  # 3x3 beside 5x5


def test_members_that_read_the_input_differently_are_refused():
    a, b = _model("efficientnet_lite0", 0), _model("efficientnet_lite0", 1)
    b.mean.fill_(0.4)
    with pytest.raises(ValueError, match="normalises its input differently"):
        ensemble_classifier([a, b])
    with pytest.raises(ValueError, match="at least two"):
        ensemble_classifier([a])


def test_checkpoint_loads_serves_through_both_engines_and_keeps_each_members_record(members, tmp_path):
    out = combine_checkpoints(members, tmp_path / "ensemble.pt")
    model, metadata = load_checkpoint(out)
    assert metadata["architecture"] == ENSEMBLE
    assert describe_architecture(metadata) == "ensemble of efficientnet_lite0 + efficientnet_lite0_os16"
    assert [m["checkpoint"] for m in metadata["members"]] == ["a.pt", "b.pt"]
    assert metadata["temperature"] == 1.0 and "val_metrics" not in metadata  # one member's figures are not the ensemble's
    names = dict(model.named_modules())
    assert len(gate_layers(metadata)) == 6 and all(layer in names for layer in gate_layers(metadata))
    images = np.random.default_rng(0).random((2, 1, SIZE, SIZE), dtype=np.float32)
    expected = np.mean([load_checkpoint(p)[0](torch.from_numpy(images)).detach().numpy() for p in members], axis=0)
    for prefer in ("torch", "onnx"):
        engine, _, _ = engine_for_checkpoint(out, prefer=prefer)
        got = engine.run(images, ("logits", "feature_map", "gate_features"))
        assert np.allclose(got["logits"], expected, atol=1e-4), prefer
        assert got["gate_features"].shape == (2, 2 * (112 + 192 + 320))
        cams = LinearHeadCAM(model, engine).explain_feature_maps(got["feature_map"], SIZE, target_class=1)
        assert cams.heatmaps.shape == (2, SIZE, SIZE) and np.isfinite(cams.heatmaps).all()
    assert np.allclose(margin_logits(expected), margin_logits(got["logits"]), atol=1e-4)


def test_bundled_float16_ensemble_loads(members, tmp_path):
    bundled = bundle_checkpoint(combine_checkpoints(members, tmp_path / "e.pt"), tmp_path / "bundled.pt")
    model, _ = load_checkpoint(bundled)
    assert next(model.parameters()).dtype == torch.float32
    assert read_checkpoint(bundled)["metadata"]["weights_dtype"] == "float16"


def test_training_card_has_a_table_per_member(members, tmp_path):
    metadata = read_checkpoint(combine_checkpoints(members, tmp_path / "e.pt"))["metadata"]
    card = render_training_section(metadata, "f" * 64)
    assert "averages the logits of 2 trained networks" in card
    assert card.count("| Architecture |") == 2 and "**Member 2** (`b.pt`" in card
    assert "`efficientnet_lite0_os16`" in card and card.count("2 min of training passes") == 2
    table = members_table(metadata)
    assert list(table["checkpoint"]) == ["a.pt", "b.pt"] and list(table["epoch kept"]) == [2, 2]
    assert members_table({"architecture": "efficientnet_lite0"}).empty


@pytest.mark.parametrize(("change", "message"), [({"image_size": 96}, "image_size"),
                                                 ({"manifest_digest": "other"}, "manifest_digest"),
                                                 ({"mean": [0.4] * 3}, "mean")])
def test_members_from_other_inputs_or_splits_are_refused(members, tmp_path, change, message):
    other = _checkpoint(tmp_path / "c.pt", "efficientnet_lite0", 2, **change)
    with pytest.raises(CheckpointError, match=message):
        combine_checkpoints([members[0], other], tmp_path / "bad.pt")


def test_views_and_nested_ensembles_are_refused_with_what_to_do(members, tmp_path):
    viewed = add_test_time_views(members[0], [0.04], tmp_path / "v.pt")
    with pytest.raises(CheckpointError, match="then run `views` on the ensemble"):
        combine_checkpoints([viewed, members[1]], tmp_path / "bad.pt")
    nested = combine_checkpoints(members, tmp_path / "e.pt")
    with pytest.raises(CheckpointError, match="list its members"):
        combine_checkpoints([nested, members[0]], tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="at least two"):
        combine_checkpoints(members[:1], tmp_path / "bad.pt")


def test_cli_ensemble_writes_a_checkpoint_or_says_what_is_wrong(members, tmp_path, capsys):
    assert main(["ensemble", *map(str, members), "--out", str(tmp_path / "e.pt")]) == 0
    assert read_checkpoint(tmp_path / "e.pt")["metadata"]["architecture"] == ENSEMBLE
    assert main(["ensemble", str(members[0]), "--out", str(tmp_path / "f.pt")]) == 2
    captured = capsys.readouterr()
    assert "at least two" in captured.err and not (tmp_path / "f.pt").exists()
    assert "b.pt" in captured.out and "efficientnet_lite0_os16" in captured.out  # the members it combined
