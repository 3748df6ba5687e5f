"""Exporting a classifier to one ONNX graph that gives everything the service needs in one pass.

The graph's input is ``images`` (B, 1, S, S) float32 in [0, 1]; its outputs are the engine's four
arrays (:mod:`pneumolib.engine.base`): logits, pooled features, the last-stage feature map and
the gate's pooled stages. Export uses ``torch.onnx.export`` (TorchScript tracing, opset 17) and is
followed by a parity check against PyTorch on a fixed probe batch, so a graph that disagrees with
the weights it came from is never used.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from pneumolib.engine.base import OUTPUTS
from pneumolib.models.classifier import PneumoniaClassifier

logger = logging.getLogger(__name__)

OPSET = 17
GRAPH_VERSION = 1  # bump when the graph's inputs or outputs change: cached graphs are then rebuilt
PARITY_TOLERANCE = 1e-3  # largest |logit difference| accepted between the graph and PyTorch


class EngineUnavailable(RuntimeError):
    """The ONNX engine cannot be used here (not installed, export failed, or outputs disagree)."""


class _ExportedOutputs(nn.Module):
    """The classifier's forward pass with every engine output returned, hooks made explicit."""

    def __init__(self, model: PneumoniaClassifier, gate_layers: Sequence[str]) -> None:
        super().__init__()
        self.model = model
        modules = dict(model.named_modules())
        self._gate_modules = [modules[name] for name in gate_layers]

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        seen: dict[int, torch.Tensor] = {}
        handles = [module.register_forward_hook(
            lambda _module, _inputs, output, index=index: seen.__setitem__(index, output.mean(dim=(2, 3))))
            for index, module in enumerate(self._gate_modules)]
        try:
            model = self.model
            feature_map = model.feature_map(model.backbone(model.normalise(images)))
            pooled = model.pool(feature_map).flatten(1)
            logits = model.head(pooled)
        finally:
            for handle in handles:
                handle.remove()
        gate = torch.cat([seen[i] for i in range(len(self._gate_modules))], dim=1) if seen else pooled
        return logits, pooled, feature_map, gate


def export_graph(model: PneumoniaClassifier, image_size: int, gate_layers: Sequence[str]) -> bytes:
    """The serialized ONNX graph of ``model`` (a float32 model on the CPU; :func:`create_engine` sees to it)."""
    try:
        import onnx  # noqa: F401  (torch.onnx.export needs it)
    except ImportError as error:
        raise EngineUnavailable("exporting to ONNX needs the 'onnx' package: pip install onnx") from error
    wrapper = _ExportedOutputs(model.eval(), gate_layers).eval()
    probe = torch.zeros(1, 1, image_size, image_size)
    buffer = io.BytesIO()
    batch_axis = {0: "batch"}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on Python control flow and deprecation
            torch.onnx.export(wrapper, (probe,), buffer, dynamo=False, opset_version=OPSET,
                              input_names=["images"], output_names=list(OUTPUTS),
                              dynamic_axes={name: batch_axis for name in ("images", *OUTPUTS)})
    except Exception as error:  # noqa: BLE001 - any exporter failure means: use PyTorch
        raise EngineUnavailable(f"ONNX export failed ({type(error).__name__}: {error})") from error
    return buffer.getvalue()


def probe_batch(image_size: int, count: int = 2) -> np.ndarray:
    """A fixed, film-like batch (smooth gradient plus seeded noise) for parity checks."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.1, 0.9, image_size, dtype=np.float32)
    base = np.add.outer(ramp, ramp) / 2
    return np.clip(base + rng.normal(0, 0.05, (count, 1, image_size, image_size)), 0, 1).astype(np.float32)


def parity_error(model: PneumoniaClassifier, session: object, image_size: int) -> float:
    """Largest |logit difference| between ``session`` and ``model`` on :func:`probe_batch`."""
    batch = probe_batch(image_size)
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(batch)).numpy()
    got = session.run(["logits"], {"images": batch})[0]
    return float(np.abs(got - expected).max())
