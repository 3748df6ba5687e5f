"""Weight averaging: exact arithmetic, refusals that say why, and a checkpoint that loads and runs."""

from __future__ import annotations

import pytest
import torch

from pneumolib.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from pneumolib.cli import main
from pneumolib.constants import UNCALIBRATED
from pneumolib.models import create_model
from pneumolib.training.weight_averaging import average_checkpoints, average_state_dicts


def _state(value: float, steps: int = 3, dtype=torch.float32) -> dict[str, torch.Tensor]:
    return {"weight": torch.full((2, 2), value, dtype=dtype), "bn.num_batches_tracked": torch.tensor(steps)}


def test_weighted_mean_of_floats_and_counters_from_the_chosen_state():
    averaged = average_state_dicts([_state(1.0, steps=3), _state(5.0, steps=9)], [0.25, 0.75], like=1)
    assert torch.allclose(averaged["weight"], torch.full((2, 2), 4.0))
    assert averaged["bn.num_batches_tracked"].item() == 9


def test_result_takes_the_dtype_of_the_chosen_state():
    averaged = average_state_dicts([_state(1.0, dtype=torch.float16), _state(2.0)], [0.5, 0.5], like=1)
    assert averaged["weight"].dtype == torch.float32
    assert torch.allclose(averaged["weight"], torch.full((2, 2), 1.5))


@pytest.mark.parametrize(("weights", "message"), [([0.5, 0.6], "sum to 1"), ([1.5, -0.5], "non-negative"),
                                                  ([1.0], "one weight per")])
def test_bad_weights_are_refused(weights, message):
    with pytest.raises(ValueError, match=message):
        average_state_dicts([_state(1.0), _state(2.0)], weights)


def test_different_architectures_are_refused():
    other = {"weight": torch.zeros(3, 2), "bn.num_batches_tracked": torch.tensor(1)}
    with pytest.raises(ValueError, match="shape"):
        average_state_dicts([_state(1.0), other], [0.5, 0.5])
    with pytest.raises(ValueError, match="one architecture"):
        average_state_dicts([_state(1.0), {"other": torch.zeros(2, 2)}], [0.5, 0.5])


def _checkpoint(path, seed: int, **metadata):
    torch.manual_seed(seed)
    model = create_model("efficientnet_lite0", pretrained=False).eval()
    return save_checkpoint(path, model, {"architecture": "efficientnet_lite0", "image_size": 64, **metadata}), model


def test_averaged_checkpoint_loads_runs_and_records_its_recipe(tmp_path):
    first, model_a = _checkpoint(tmp_path / "a.pt", 0, temperature=1.7, ood_gate={"kind": "x"})
    second, model_b = _checkpoint(tmp_path / "b.pt", 1, epoch=5)
    out = average_checkpoints([first, second], tmp_path / "mean.pt", [0.5, 0.5], base=0)
    averaged, metadata = load_checkpoint(out)
    key = "backbone.model.conv_stem.weight"
    expected = (model_a.state_dict()[key] + model_b.state_dict()[key]) / 2
    assert torch.allclose(averaged.state_dict()[key], expected, atol=1e-6)
    with torch.no_grad():
        logits = averaged(torch.rand(2, 1, 64, 64))
    assert logits.shape[0] == 2 and torch.isfinite(logits).all()
    # what belongs to one set of weights (temperature, the gate, the epoch) is dropped; the recipe is kept
    assert "ood_gate" not in metadata and "epoch" not in metadata
    assert metadata["temperature"] == UNCALIBRATED["temperature"]
    assert metadata["operating_points"] == UNCALIBRATED["operating_points"]
    assert [(m["checkpoint"], m["weight"]) for m in metadata["averaged_from"]] == [("a.pt", 0.5), ("b.pt", 0.5)]


def test_equal_weights_by_default_and_sizes_must_match(tmp_path):
    first, _ = _checkpoint(tmp_path / "a.pt", 0)
    second, _ = _checkpoint(tmp_path / "b.pt", 1)
    out = average_checkpoints([first, second, second], tmp_path / "mean.pt")
    assert [m["weight"] for m in read_checkpoint(out)["metadata"]["averaged_from"]] == pytest.approx([1 / 3] * 3)
    other, _ = _checkpoint(tmp_path / "c.pt", 2, image_size=96)
    with pytest.raises(CheckpointError, match="input sizes"):
        average_checkpoints([first, other], tmp_path / "bad.pt")


def test_cli_average_writes_a_checkpoint_or_says_what_is_wrong(tmp_path, capsys):
    first, _ = _checkpoint(tmp_path / "a.pt", 0)
    second, _ = _checkpoint(tmp_path / "b.pt", 1)
    assert main(["average", str(first), str(second), "--weights", "0.3,0.7", "--out", str(tmp_path / "m.pt")]) == 0
    assert (tmp_path / "m.pt").is_file()
    assert main(["average", str(first), str(second), "--weights", "0.3,0.3", "--out", str(tmp_path / "n.pt")]) == 2
    assert "sum to 1" in capsys.readouterr().err
    assert not (tmp_path / "n.pt").exists()
