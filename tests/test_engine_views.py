"""Test-time views: the logits average the film and its centre crops; every other output is the film's own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pneumolib.checkpoint import read_checkpoint, save_checkpoint
from pneumolib.cli import main
from pneumolib.deploy.test_time_views import add_test_time_views
from pneumolib.engine import TorchEngine, ViewAveragingEngine, with_views
from pneumolib.engine.views import METADATA_KEY, centre_crop_view, check_crops
from pneumolib.inference import engine_for_checkpoint
from pneumolib.models import create_model


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return create_model("efficientnet_lite0", pretrained=False).eval()


def test_a_centre_crop_keeps_the_middle_and_the_size():
    batch = torch.zeros(1, 1, 20, 20)
    batch[..., 2:18, 2:18] = 1.0  # a frame of zeros 2 px wide: 10 % of the side
    view = centre_crop_view(batch, 0.1)
    assert view.shape == batch.shape
    assert torch.allclose(view, torch.ones_like(view))  # the frame is gone, the middle fills the film


@pytest.mark.parametrize(("crops", "message"), [([0.0], "fraction"), ([0.3], "fraction"), ([0.04, 0.04], "twice")])
def test_bad_crops_are_refused(crops, message):
    with pytest.raises(ValueError, match=message):
        check_crops(crops)


def test_logits_are_the_mean_over_views_and_the_feature_map_the_films_own(tiny_model):
    inner = TorchEngine(tiny_model)
    engine = ViewAveragingEngine(inner, [0.04, 0.08])
    batch = torch.rand(3, 1, 64, 64)
    out = engine.run(batch, ("logits", "feature_map"))
    expected = np.mean([inner.run(view, ("logits",))["logits"] for view in
                        (batch, centre_crop_view(batch, 0.04), centre_crop_view(batch, 0.08))], axis=0)
    assert np.allclose(out["logits"], expected, atol=1e-5)
    assert np.allclose(out["feature_map"], inner.run(batch, ("feature_map",))["feature_map"], atol=1e-6)
    assert not np.allclose(out["logits"], inner.run(batch, ("logits",))["logits"], atol=1e-6)
    assert "3 views" in engine.name and "crop 4%" in engine.describe()["test_time_views"]


def test_no_views_asked_for_means_the_engine_itself(tiny_model):
    inner = TorchEngine(tiny_model)
    assert with_views(inner, {}) is inner
    assert isinstance(with_views(inner, {METADATA_KEY: [0.04]}), ViewAveragingEngine)


def test_a_checkpoint_with_views_is_scored_through_them_and_must_be_finalized_again(tmp_path, tiny_model):
    source = save_checkpoint(tmp_path / "m.pt", tiny_model, {"architecture": "efficientnet_lite0", "image_size": 64,
                                                              "jpeg_quality": 75, "temperature": 1.4,
                                                              "operating_points": {"balanced": {"threshold": 0.3}}})
    out = add_test_time_views(source, [0.04], tmp_path / "views.pt")
    metadata = read_checkpoint(out)["metadata"]
    assert metadata[METADATA_KEY] == [0.04]
    assert metadata["temperature"] == 1.0 and "balanced" not in metadata["operating_points"]
    engine, _, _ = engine_for_checkpoint(out, prefer="torch")
    assert isinstance(engine, ViewAveragingEngine)
    plain, _, _ = engine_for_checkpoint(source, prefer="torch")
    assert not isinstance(plain, ViewAveragingEngine)


def test_cli_views(tmp_path, tiny_model, capsys):
    source = save_checkpoint(tmp_path / "m.pt", tiny_model, {"architecture": "efficientnet_lite0", "image_size": 64})
    assert main(["views", str(source), "--crops", "0.04,0.08", "--out", str(tmp_path / "v.pt")]) == 0
    assert read_checkpoint(tmp_path / "v.pt")["metadata"][METADATA_KEY] == [0.04, 0.08]
    assert main(["views", str(source), "--crops", "0.5", "--out", str(tmp_path / "w.pt")]) == 2
    assert "fraction" in capsys.readouterr().err


def test_both_engines_give_the_same_averaged_logits(tmp_path, tiny_model):
    pytest.importorskip("onnxruntime")
    source = save_checkpoint(tmp_path / "m.pt", tiny_model, {"architecture": "efficientnet_lite0", "image_size": 64,
                                                              "jpeg_quality": 75})
    out = add_test_time_views(source, [0.06], tmp_path / "views.pt")
    batch = torch.rand(2, 1, 64, 64)
    onnx, _, _ = engine_for_checkpoint(out, prefer="onnx")
    torch_engine, _, _ = engine_for_checkpoint(out, prefer="torch")
    assert "onnx" in onnx.name.lower()
    assert np.allclose(onnx.run(batch, ("logits",))["logits"], torch_engine.run(batch, ("logits",))["logits"], atol=1e-4)
