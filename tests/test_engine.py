"""The inference engines: ONNX Runtime gives PyTorch's numbers, caches safely, and is chosen in one place."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")

from pneumolib.engine import (  # noqa: E402  # noqa: E402
    EngineUnavailable,
    TorchEngine,
    create_engine,
    engine_preference,
    onnx_engine,
    onnx_graph,
    to_model_input,
)
from pneumolib.engine.onnx_engine import OnnxEngine  # noqa: E402
from pneumolib.models.factory import ARCHITECTURES  # noqa: E402

SIZE = 64
LAYERS = ARCHITECTURES["efficientnet_lite0"].gate_layers
SHA = "ab" * 32


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(3)
    ramp = np.linspace(0, 255, SIZE)
    return np.clip(np.add.outer(ramp, ramp)[None] / 2 + rng.normal(0, 30, (5, SIZE, SIZE)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def engines(imagenet_lite0, one_torch_thread, tmp_path_factory):
    cache = tmp_path_factory.mktemp("onnx")
    onnx = create_engine(imagenet_lite0, SIZE, LAYERS, SHA, prefer="onnx", cache_dir=cache)
    return TorchEngine(imagenet_lite0, LAYERS), onnx, cache


def test_onnx_outputs_equal_pytorch(engines, images):
    torch_engine, onnx, _ = engines
    assert isinstance(onnx, OnnxEngine) and onnx.describe()["engine"] == "onnx"
    batch = to_model_input(images)
    names = ("logits", "pooled", "feature_map", "gate_features")
    expected, got = torch_engine.run(batch, names), onnx.run(batch, names)
    for name in names:
        assert got[name].shape == expected[name].shape, name
        scale = max(1.0, float(np.abs(expected[name]).max()))
        assert np.abs(got[name] - expected[name]).max() <= 1e-4 * scale, name
    assert expected["gate_features"].shape[1] == 112 + 192 + 320  # the three gate stages, pooled


def test_batched_scoring_matches_and_keeps_order(engines, images):
    torch_engine, onnx, _ = engines
    features_t, logits_t = torch_engine.features_and_logits(images, batch_size=2)
    features_o, logits_o = onnx.features_and_logits(images, batch_size=3)
    np.testing.assert_allclose(logits_o, logits_t, atol=1e-4)
    np.testing.assert_allclose(features_o, features_t, atol=1e-4)
    single = onnx.logits(images[3:4])
    np.testing.assert_allclose(single, logits_o[3:4], atol=1e-5)


def test_cached_graph_is_reused_and_a_corrupt_one_rebuilt(engines, imagenet_lite0):
    _, first, cache = engines
    assert first.source == "exported"
    again = create_engine(imagenet_lite0, SIZE, LAYERS, SHA, prefer="onnx", cache_dir=cache)
    assert again.source == "cache"
    graph = next(cache.glob("*.onnx"))
    graph.write_bytes(graph.read_bytes()[:-100] + b"\0" * 100)  # same size, damaged content
    rebuilt = create_engine(imagenet_lite0, SIZE, LAYERS, SHA, prefer="onnx", cache_dir=cache)
    assert rebuilt.source == "exported"
    assert create_engine(imagenet_lite0, SIZE, LAYERS, SHA, prefer="onnx", cache_dir=cache).source == "cache"
    other = create_engine(imagenet_lite0, SIZE, LAYERS, "cd" * 32, prefer="onnx", cache_dir=cache)
    assert other.source == "exported" and len(list(cache.glob("*.onnx"))) == 2  # keyed by checkpoint


def test_a_graph_that_disagrees_is_never_used(imagenet_lite0, monkeypatch, tmp_path):
    monkeypatch.setattr(onnx_engine, "parity_error", lambda *args: 0.5)
    with pytest.raises(EngineUnavailable, match="disagrees"):
        create_engine(imagenet_lite0, SIZE, LAYERS, None, prefer="onnx", cache_dir=tmp_path)
    fallback = create_engine(imagenet_lite0, SIZE, LAYERS, None, prefer="auto", cache_dir=tmp_path)
    assert isinstance(fallback, TorchEngine)
    assert "disagrees" in fallback.describe()["fallback_reason"]


def test_missing_onnxruntime_falls_back_only_in_auto(imagenet_lite0, monkeypatch, tmp_path):
    def unavailable(*args):
        raise EngineUnavailable("the ONNX engine needs onnxruntime: pip install onnxruntime")

    monkeypatch.setattr(onnx_engine, "_session", unavailable)
    assert isinstance(create_engine(imagenet_lite0, SIZE, (), None, cache_dir=tmp_path), TorchEngine)
    with pytest.raises(EngineUnavailable, match="pip install onnxruntime"):
        create_engine(imagenet_lite0, SIZE, (), None, prefer="onnx", cache_dir=tmp_path)


def test_engine_preference(monkeypatch, imagenet_lite0):
    monkeypatch.delenv("PNEUMO_ENGINE", raising=False)
    assert engine_preference() == "auto"
    monkeypatch.setenv("PNEUMO_ENGINE", "Torch")
    assert engine_preference() == "torch"
    assert isinstance(create_engine(imagenet_lite0, SIZE, LAYERS, SHA), TorchEngine)
    assert engine_preference("onnx") == "onnx"  # the caller's choice wins
    monkeypatch.setenv("PNEUMO_ENGINE", "tensorrt")
    with pytest.raises(ValueError, match="PNEUMO_ENGINE"):
        engine_preference()


def test_export_failure_is_reported(imagenet_lite0, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(EngineUnavailable, match="unsupported operator"):
        onnx_graph.export_graph(imagenet_lite0, SIZE, LAYERS)
    assert next(imagenet_lite0.parameters()).device.type == "cpu"


def test_wrong_input_shape_is_refused(engines):
    with pytest.raises(ValueError, match="batches"):
        engines[1].run(np.zeros((1, 1, SIZE + 1, SIZE + 1), np.float32), ("logits",))
    with pytest.raises(ValueError, match="unknown engine output"):
        engines[1].run(np.zeros((1, 1, SIZE, SIZE), np.float32), ("probabilities",))


def test_gate_features_through_the_engine(engines, imagenet_lite0, images):
    from pneumolib.gate.fit import gate_features

    direct = gate_features(imagenet_lite0, images, LAYERS, progress=False)
    through_onnx = gate_features(engines[1], images, LAYERS, progress=False)
    np.testing.assert_allclose(through_onnx, direct, atol=1e-4)
    with pytest.raises(ValueError, match="gate's layers"):
        gate_features(engines[1], images, LAYERS[:1], progress=False)


def test_service_settings_name_the_engine():
    from pneumolib.serving.settings import ServiceSettings

    assert ServiceSettings.from_env({}).engine == "auto"
    assert ServiceSettings.from_env({"PNEUMO_ENGINE": "onnx"}).engine == "onnx"
    with pytest.raises(ValueError, match="PNEUMO_ENGINE"):
        ServiceSettings.from_env({"PNEUMO_ENGINE": "gpu"})
