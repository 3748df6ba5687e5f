"""Grad-CAM without a backward pass, for a classifier whose head is global pooling + one linear layer.

Behind global average pooling the gradient of class ``c``'s score with respect to the last-stage
activation ``A_k(i, j)`` is ``w_ck / (h * w)`` at every location, so Grad-CAM's channel weights
(the spatial mean of that gradient) are the head's weights scaled by ``1 / (h * w)``, and the map is
``ReLU(sum_k w_ck / (h * w) * A_k)``: the class activation map of Zhou et al. (2016). Computing it
directly needs only the feature map a prediction already produced, from any engine (PyTorch or
ONNX Runtime), and no autograd. The scaling to [0, 1] follows ``pytorch_grad_cam`` step by step,
so the maps equal :class:`pneumolib.explain.head_cam.HeadOnlyGradCAM`'s
(``tests/test_explain_linear_head.py``). With the ``log_odds`` score (:mod:`pneumolib.explain.scores`)
the weights ``w_c`` become the gradient of the log-odds, ``w_c - w_other`` for two classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pneumolib.engine import Engine, as_engine
from pneumolib.explain.base import CAMExplainer, Explanation, TargetClass, resolve_targets, to_input_size
from pneumolib.explain.head_cam import supports_head_path
from pneumolib.explain.scores import DEFAULT_SCORE, channel_weights
from pneumolib.models.classifier import PneumoniaClassifier


def _scale(cams: np.ndarray) -> np.ndarray:
    """``pytorch_grad_cam``'s per-image min-max scaling."""
    cams = cams - cams.min(axis=(1, 2), keepdims=True)
    return cams / (1e-7 + cams.max(axis=(1, 2), keepdims=True))


def gradcam_from_feature_maps(feature_maps: np.ndarray, head_weight: np.ndarray, targets: Sequence[int],
                              logits: np.ndarray | None = None, score: str = DEFAULT_SCORE) -> np.ndarray:
    """Grad-CAM maps (B, h, w) in [0, 1] of class ``targets[b]`` from feature maps (B, C, h, w).

    ``logits`` (B, classes) are needed for the ``log_odds`` score with more than two classes.
    """
    feature_maps = np.asarray(feature_maps, dtype=np.float32)
    height, width = feature_maps.shape[-2:]
    if logits is None:
        logits = np.zeros((len(feature_maps), len(head_weight)), dtype=np.float32)
    weights = channel_weights(head_weight, logits, targets, score) / np.float32(height * width)  # (B, C)
    cams = np.maximum(np.einsum("bc,bchw->bhw", weights, feature_maps), 0)
    # once for the layer, once for the (single-layer) aggregate, as the library does
    return _scale(np.maximum(_scale(cams), 0)).astype(np.float32)


def head_weight(model: PneumoniaClassifier) -> np.ndarray:
    """The linear head's weights (classes, C) as float32."""
    return model.head.weight.detach().float().cpu().numpy()


class LinearHeadCAM(CAMExplainer):
    """Grad-CAM from the engine's feature map and the head's weights: one forward pass, no backward."""

    def __init__(self, model: PneumoniaClassifier, engine: Engine | None = None, score: str = DEFAULT_SCORE) -> None:
        if not supports_head_path(model):
            raise TypeError(f"LinearHeadCAM needs a PneumoniaClassifier, got {type(model).__name__}")
        super().__init__(model, "gradcam", score)
        self.engine = engine if engine is not None else as_engine(model)
        self.weight = head_weight(model)

    def explain_feature_maps(self, feature_maps: np.ndarray | torch.Tensor, input_size: int | tuple[int, int],
                             target_class: TargetClass = None) -> Explanation:
        """Heatmaps from feature maps (B, C, h, w) a prediction already computed."""
        if isinstance(feature_maps, torch.Tensor):
            feature_maps = feature_maps.detach().float().cpu().numpy()
        size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        pooled = feature_maps.mean(axis=(2, 3))
        logits = (pooled @ self.weight.T + self.model.head.bias.detach().float().cpu().numpy()).astype(np.float32)
        targets = resolve_targets(target_class, len(feature_maps))
        explained = logits.argmax(axis=1) if targets is None else np.asarray(targets, dtype=np.int64)
        cams = gradcam_from_feature_maps(feature_maps, self.weight, explained, logits, self.score)
        return Explanation(to_input_size(cams, size), explained.astype(np.int64), logits, self.method, self.score)

    def _cams(self, batch: torch.Tensor, targets: list[int] | None) -> tuple[np.ndarray, np.ndarray]:
        out = self.engine.run(batch, ("logits", "feature_map"))
        explained = out["logits"].argmax(axis=1) if targets is None else targets
        return gradcam_from_feature_maps(out["feature_map"], self.weight, explained, out["logits"], self.score), out["logits"]
