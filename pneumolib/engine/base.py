"""What every inference engine does: one batched forward pass, named outputs, no gradients.

An engine turns a batch of model inputs (float32 (B, 1, S, S) in [0, 1]) into any of these arrays,
all from the same single backbone pass:

* ``logits``: the two class scores (B, 2), order ("NORMAL", "PNEUMONIA");
* ``pooled``: the pooled last-stage features (B, F) the head reads;
* ``feature_map``: the last-stage feature map (B, C, h, w) a Grad-CAM heatmap is made from;
* ``gate_features``: the pooled middle/late stages (B, D) the not-a-chest-X-ray gate measures.

Callers that score many images use :meth:`Engine.features_and_logits`; the service asks for
exactly the outputs one request needs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

OUTPUTS = ("logits", "pooled", "feature_map", "gate_features")


def to_model_input(images: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """(N, S, S) uint8 -> (N, 1, S, S) float in [0, 1] on ``device``."""
    if not isinstance(images, torch.Tensor):
        images = np.asarray(images)
        if not images.flags.writeable:  # a slice of a memory-mapped cache: torch wants its own copy
            images = images.copy()
    tensor = torch.as_tensor(images)
    return tensor.to(device, non_blocking=True).unsqueeze(1).float().div_(255.0)


def margin_logits(logits: np.ndarray) -> np.ndarray:
    """Two-class logits -> one pneumonia-vs-normal logit; sigmoid of it is softmax's P(pneumonia)."""
    return logits[:, 1] - logits[:, 0]


def calibrated_probability(margin: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """P(pneumonia) from pneumonia-minus-normal logits and the temperature finalize fitted on val.

    The one place this formula lives; it keeps the logits' dtype (float32 from an engine).
    """
    return 1.0 / (1.0 + np.exp(-margin / temperature))


class Engine(ABC):
    """A model ready to score: subclasses run the forward pass, this class batches it."""

    name: str = "engine"
    gate_layers: tuple[str, ...] = ()
    feature_dim: int = 0
    fallback_reason: str | None = None  # why a preferred engine could not be used, if one could not

    @abstractmethod
    def run(self, batch: np.ndarray | torch.Tensor, outputs: Sequence[str]) -> dict[str, np.ndarray]:
        """The named ``outputs`` for one float32 batch (B, 1, S, S); see the module docstring."""

    def describe(self) -> dict[str, str]:
        """What answers, for ``/health`` and logs."""
        return {"engine": self.name}

    @property
    def runs_on_cpu(self) -> bool:
        """Whether the passes run on the CPU (an engine that names no device does)."""
        return str(self.describe().get("device", "cpu")).startswith("cpu")

    def close(self) -> None:
        """Release what the engine holds on the model (hooks); a no-op unless overridden."""

    def features_and_logits(
        self, images: np.ndarray, batch_size: int = 64, progress: bool = False, desc: str = "features",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pooled features (N, F) and margin logits (N,) of (N, S, S) uint8 images, in order."""
        features, logits = [], []
        for start in tqdm(range(0, len(images), batch_size), desc=desc, disable=not progress, leave=False):
            out = self.run(to_model_input(images[start : start + batch_size]), ("pooled", "logits"))
            features.append(out["pooled"])
            logits.append(margin_logits(out["logits"]))
        if not logits:
            return np.zeros((0, self.feature_dim), dtype=np.float32), np.zeros(0, dtype=np.float32)
        return np.concatenate(features).astype(np.float32), np.concatenate(logits).astype(np.float32)

    def logits(self, images: np.ndarray, batch_size: int = 64, progress: bool = False,
               desc: str = "predicting") -> np.ndarray:
        """Margin logits (N,) of (N, S, S) uint8 images, in order."""
        return self.features_and_logits(images, batch_size, progress, desc)[1]


def check_outputs(outputs: Sequence[str]) -> None:
    unknown = [name for name in outputs if name not in OUTPUTS]
    if unknown:
        raise ValueError(f"unknown engine output(s) {unknown}; choose from {OUTPUTS}")
