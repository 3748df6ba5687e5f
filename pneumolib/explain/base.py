"""The base of every CAM explainer: input conversion, choice of class, resizing, the model left as found.

One explainer per file, each a :class:`CAMExplainer` implementing ``_cams``:

* :class:`~pneumolib.explain.full_model_cam.FullModelGradCAM`: ``pytorch_grad_cam`` on the whole
  model, any CNN, a backward pass through the whole backbone (the reference);
* :class:`~pneumolib.explain.head_cam.HeadOnlyGradCAM`: ``pytorch_grad_cam`` on the classifier
  head alone, fed with the feature map a forward pass without autograd produced;
* :class:`~pneumolib.explain.linear_head_cam.LinearHeadCAM`: the same map in closed form from the
  head's weights, from any engine, no backward pass.

:func:`pneumolib.explain.explainers.create_explainer` picks one. Heatmaps come back at the model's
input size (bilinear upsampling of the feature-map grid), each scaled to [0, 1] on its own, so
they show *where*, not *how strongly*, compared with other images.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from pneumolib import CLASS_NAMES
from pneumolib.explain.methods import DEFAULT_METHOD, cam_class
from pneumolib.explain.scores import DEFAULT_SCORE, check_score

TargetClass = int | str | Sequence[int | str] | None


@dataclass(frozen=True)
class Explanation:
    """Heatmaps plus the prediction they came with (one forward pass gives both)."""

    heatmaps: np.ndarray  # (B, S, S) float32 in [0, 1], at the model's input size
    target_classes: np.ndarray  # (B,) int64: the class each heatmap explains
    logits: np.ndarray  # (B, num_classes) float32
    method: str
    score: str = DEFAULT_SCORE  # what the maps explain: the class logit or its log-odds (explain.scores)

    def __len__(self) -> int:
        return len(self.heatmaps)

    @property
    def probabilities(self) -> np.ndarray:
        """Softmax of the logits, (B, num_classes)."""
        shifted = self.logits - self.logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted.astype(np.float64))
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

    @property
    def predicted_classes(self) -> np.ndarray:
        return self.logits.argmax(axis=1)


class CAMExplainer(ABC):
    """Common part: input conversion, choice of class, resizing, and leaving the model as found.

    Subclasses only implement :meth:`_cams`. The model is put in eval mode for the call (dropout
    off, BatchNorm on running statistics, so a batch gives the same maps as its images one by
    one) and its training flag and parameter gradients are restored afterwards, so explaining
    never disturbs a model that is being trained or served.
    """

    def __init__(self, model: nn.Module, method: str = DEFAULT_METHOD, score: str = DEFAULT_SCORE) -> None:
        self.model = model
        self.method = method
        self.score = check_score(score)
        self._cam_class = cam_class(method)

    def __call__(self, images: np.ndarray | torch.Tensor, target_class: TargetClass = None) -> np.ndarray:
        """Heatmaps only: (B, S, S), or (S, S) for a single unbatched image."""
        single = _is_single(images)
        heatmaps = self.explain(images, target_class).heatmaps
        return heatmaps[0] if single else heatmaps

    def explain(
        self, images: np.ndarray | torch.Tensor, target_class: TargetClass = None, batch_size: int = 16
    ) -> Explanation:
        """Heatmaps, explained classes and logits for a batch (or one image).

        ``images``: uint8 canonical images (S, S) / (B, S, S) as produced by
        :func:`pneumolib.data.inputs.preprocess.canonical_image`, or float tensors in [0, 1] shaped
        (C, S, S) / (B, C, S, S). ``target_class``: ``None`` for each image's predicted class, a
        class index or name ("PNEUMONIA") for all images, or one per image.
        """
        batch = as_model_batch(images, device_of(self.model))
        targets = resolve_targets(target_class, len(batch))
        heatmaps, logits = [], []
        with untouched(self.model):
            for start in range(0, len(batch), batch_size):
                chunk = batch[start : start + batch_size]
                chunk_targets = None if targets is None else targets[start : start + batch_size]
                cams, chunk_logits = self._cams(chunk, chunk_targets)
                heatmaps.append(to_input_size(cams, chunk.shape[-2:]))
                logits.append(chunk_logits)
        logits_array = np.concatenate(logits).astype(np.float32)
        explained = logits_array.argmax(axis=1) if targets is None else np.asarray(targets, dtype=np.int64)
        return Explanation(np.concatenate(heatmaps), explained.astype(np.int64), logits_array, self.method, self.score)

    @abstractmethod
    def _cams(self, batch: torch.Tensor, targets: list[int] | None) -> tuple[np.ndarray, np.ndarray]:
        """CAMs (B, h, w) scaled to [0, 1], and logits (B, classes), for one chunk."""


def as_model_batch(images: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (S, S) / (B, S, S) or float (C, S, S) / (B, C, S, S) in [0, 1] -> float (B, C, S, S)."""
    tensor = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.ascontiguousarray(images))
    if tensor.dtype == torch.uint8:
        if tensor.ndim not in (2, 3):
            raise ValueError(f"uint8 images must be (S, S) or (B, S, S), got {tuple(tensor.shape)}")
        tensor = tensor.reshape(-1, 1, *tensor.shape[-2:]).float().div(255.0)
    elif tensor.ndim == 3:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 4:
        raise ValueError(f"float images must be (C, S, S) or (B, C, S, S), got {tuple(tensor.shape)}")
    return tensor.float().to(device)


def _is_single(images: np.ndarray | torch.Tensor) -> bool:
    uint8 = images.dtype == torch.uint8 if isinstance(images, torch.Tensor) else np.asarray(images).dtype == np.uint8
    return images.ndim == (2 if uint8 else 3)


def _class_index(value: int | str) -> int:
    if isinstance(value, str):
        if value.upper() not in CLASS_NAMES:
            raise ValueError(f"unknown class {value!r}; classes are {CLASS_NAMES}")
        return CLASS_NAMES.index(value.upper())
    return int(value)


def resolve_targets(target_class: TargetClass, count: int) -> list[int] | None:
    if target_class is None:
        return None
    if isinstance(target_class, (int, np.integer, str)):
        return [_class_index(target_class)] * count
    targets = [_class_index(value) for value in target_class]
    if len(targets) != count:
        raise ValueError(f"{len(targets)} target classes for {count} images")
    return targets


def to_input_size(cams: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Bilinear upsampling to (S, S), then min-max again, as the library does for its own output."""
    height, width = int(size[0]), int(size[1])
    out = np.empty((len(cams), height, width), dtype=np.float32)
    for i, cam in enumerate(cams):
        cam = cam.astype(np.float32)
        if cam.shape != (height, width):
            cam = cv2.resize(cam, (width, height), interpolation=cv2.INTER_LINEAR)
        cam = cam - cam.min()
        out[i] = cam / (1e-7 + cam.max())
    return np.clip(out, 0.0, 1.0)


def device_of(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


@contextlib.contextmanager
def untouched(model: nn.Module) -> Iterator[None]:
    """Eval mode during the call; every module's training flag and every ``.grad`` restored afterwards."""
    modes = [(module, module.training) for module in model.modules()]
    grads = [(parameter, parameter.grad) for parameter in model.parameters()]
    model.eval()
    try:
        yield
    finally:
        for parameter, grad in grads:
            parameter.grad = grad
        for module, training in modes:
            module.training = training
