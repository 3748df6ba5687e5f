"""The PyTorch engine: the model itself, in eval mode, with mixed precision on a GPU."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext

import numpy as np
import torch

from pneumolib.engine.base import Engine, check_outputs
from pneumolib.models.classifier import PneumoniaClassifier
from pneumolib.models.taps import PooledLayerTap


def autocast_dtype(device: torch.device | str) -> torch.dtype | None:
    """The mixed-precision type for ``device``: None on a CPU (float32 is faster there).

    bfloat16 only where the GPU computes it natively (compute capability 8.0 and up: A100, L4,
    H100); ``torch.cuda.is_bf16_supported()`` also says yes on older GPUs such as Colab's T4,
    which only emulate it (no bf16 tensor cores or cuDNN convolutions). Those get float16, which
    training pairs with a gradient scaler.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return None
    major, _minor = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if major >= 8 else torch.float16


class TorchEngine(Engine):
    """Runs :class:`PneumoniaClassifier` directly; the gate's layers are read through hooks."""

    name = "torch"

    def __init__(self, model: PneumoniaClassifier, gate_layers: Sequence[str] = (),
                 device: torch.device | str | None = None) -> None:
        self.model = model.eval()
        parameter = next(model.parameters(), None)
        self.device = torch.device(device) if device is not None else (
            parameter.device if parameter is not None else torch.device("cpu"))
        self.gate_layers = tuple(gate_layers)
        self.feature_dim = int(model.head.in_features)
        self._tap = PooledLayerTap(model, self.gate_layers) if self.gate_layers else None

    def describe(self) -> dict[str, str]:
        found = {"engine": self.name, "device": str(self.device)}
        if self.fallback_reason:
            found["fallback_reason"] = self.fallback_reason
        return found

    @torch.no_grad()
    def run(self, batch: np.ndarray | torch.Tensor, outputs: Sequence[str]) -> dict[str, np.ndarray]:
        check_outputs(outputs)
        images = torch.as_tensor(batch).to(self.device, non_blocking=True).float()
        amp_dtype = autocast_dtype(self.device)
        tapping = self._tap.capture() if "gate_features" in outputs and self._tap else nullcontext()
        with tapping as capture, torch.autocast(device_type=self.device.type, dtype=amp_dtype or torch.float32,
                                                enabled=amp_dtype is not None):
            model = self.model
            feature_map = model.feature_map(model.backbone(model.normalise(images)))
            pooled = model.pool(feature_map).flatten(1)
            logits = model.head(pooled)
        found = {"logits": logits, "pooled": pooled, "feature_map": feature_map}
        found["gate_features"] = capture.pooled() if capture is not None else pooled  # no layers: the head's input
        return {name: found[name].float().cpu().numpy() for name in outputs}

    def close(self) -> None:
        """Take the gate's hooks off the model."""
        if self._tap is not None:
            self._tap.remove()
            self._tap = None
