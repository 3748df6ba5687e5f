"""Grad-CAM through the whole model with ``pytorch_grad_cam``: any convolutional network (the reference).

Its backward pass runs through the entire backbone and fills every parameter's gradient,
although the target layer sits at the very end: measured on CPU (1 thread, Lite0, 224 px,
batch 1) about 4x a prediction (``scripts/bench_gradcam.py``). The other explainers must agree
with it (``tests/test_explain_gradcam.py``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pneumolib.explain.base import CAMExplainer
from pneumolib.explain.methods import DEFAULT_METHOD
from pneumolib.explain.scores import DEFAULT_SCORE, library_targets
from pneumolib.explain.target_layers import find_target_layer


class FullModelGradCAM(CAMExplainer):
    """``pytorch_grad_cam`` on the whole model: any CNN, full backward pass (the reference)."""

    def __init__(self, model: nn.Module, method: str = DEFAULT_METHOD, target_layer: nn.Module | None = None,
                 score: str = DEFAULT_SCORE) -> None:
        super().__init__(model, method, score)
        self.target_layer = target_layer if target_layer is not None else find_target_layer(model)

    def _cams(self, batch: torch.Tensor, targets: list[int] | None) -> tuple[np.ndarray, np.ndarray]:
        # Hooks live only for this call: a long-lived hook would also record every ordinary
        # forward pass of the model (training, serving) and keep those tensors alive.
        cam = self._cam_class(self.model, [self.target_layer])
        try:
            cams = cam(batch, library_targets(targets, len(batch), self.score))
            return cams, cam.outputs.detach().float().cpu().numpy()
        finally:
            cam.activations_and_grads.release()
