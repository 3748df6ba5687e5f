"""Layer taps: the gate's features come from the prediction's own forward pass, per thread."""

from __future__ import annotations

import threading

import pytest
import torch

from pneumolib.models import ARCHITECTURES, create_model
from pneumolib.models.taps import PooledLayerTap


@pytest.fixture(scope="module")
def lite0():
    return create_model("efficientnet_lite0", pretrained=False).eval()


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_every_architecture_taps_three_stages_of_known_width(architecture):
    model = create_model(architecture, pretrained=False).eval()
    tap = PooledLayerTap(model, ARCHITECTURES[architecture].gate_layers)
    with torch.inference_mode(), tap.capture() as capture:
        model(torch.rand(2, 1, 64, 64))
    assert [capture.outputs[i].shape[1] for i in range(3)] == [112, 192, 320]
    assert capture.pooled().shape == (2, 624)


def test_pooled_values_are_the_spatial_means(lite0):
    name = "backbone.model.blocks.6"
    seen = {}
    handle = dict(lite0.named_modules())[name].register_forward_hook(lambda m, i, o: seen.setdefault("x", o))
    tap = PooledLayerTap(lite0, [name])
    with torch.inference_mode(), tap.capture() as capture:
        lite0(torch.rand(1, 1, 64, 64))
    handle.remove()
    tap.remove()
    assert torch.allclose(capture.pooled(), seen["x"].mean(dim=(2, 3)))


def test_nothing_is_recorded_outside_a_capture_and_hooks_come_off(lite0):
    tap = PooledLayerTap(lite0, ["backbone.model.blocks.4"])
    with torch.inference_mode():
        lite0(torch.rand(1, 1, 64, 64))
        with tap.capture() as capture:
            pass
    with pytest.raises(RuntimeError, match="no forward pass reached"):
        capture.pooled()
    tap.remove()
    assert not any(module._forward_hooks for module in lite0.modules())


def test_unknown_or_no_layers_are_refused(lite0):
    with pytest.raises(ValueError, match="no layer named 'backbone.nope'"):
        PooledLayerTap(lite0, ["backbone.nope"])
    with pytest.raises(ValueError, match="at least one"):
        PooledLayerTap(lite0, [])


def test_concurrent_threads_each_get_their_own_images_features(lite0):
    """Service worker threads share one model; a capture must never see another request's pass."""
    tap = PooledLayerTap(lite0, ARCHITECTURES["efficientnet_lite0"].gate_layers)
    inputs = [torch.full((1, 1, 64, 64), value) for value in (0.0, 0.3, 0.6, 1.0)]
    expected = []
    for image in inputs:
        with torch.inference_mode(), tap.capture() as capture:
            lite0(image)
        expected.append(capture.pooled())
    results: dict[int, list[torch.Tensor]] = {i: [] for i in range(len(inputs))}

    def worker(index: int) -> None:
        for _ in range(15):
            with torch.inference_mode(), tap.capture() as capture:
                lite0(inputs[index])
            results[index].append(capture.pooled())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tap.remove()
    for index, got in results.items():
        assert len(got) == 15
        assert all(torch.allclose(g, expected[index], atol=1e-5) for g in got), index
