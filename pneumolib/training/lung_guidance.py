"""Lung guidance: a training term that keeps the model's evidence on the lung fields.

Trained on labels alone, the model is free to read pneumonia from anything that differs between
the classes in this data: the heart's outline, the film's framing, the mediastinum. Its class
activation map (the head's weights applied to the last feature map, exactly what Grad-CAM shows
for this pooled linear head) then sits on the heart on both classes, and hiding a lung barely
moves the call. Lung guidance adds one term to the loss: the share of the map's absolute
evidence (for either class) that lies outside the lung mask,

    outside = sum(|cam| * (1 - lung)) / sum(|cam|),   loss = cross-entropy + weight * mean(outside)

where ``lung`` is the classical mask of :mod:`pneumolib.explain.lung_mask` (computed once per
cached image, warped with the image by the geometric augmentation, and averaged down to the
feature map's cells). It is the "right for the right reasons" idea (Ross et al., 2017) with a
coarse, anatomical annotation that costs nothing to make. It does not say *where in the lungs*
the evidence must be, and the mask overshoots the medial border (see its module), so the term
moves the map onto the lung fields without forcing it onto the hilum's edge.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from pneumolib.data.inputs.cache import cache_key
from pneumolib.explain.lung_mask import segment_lungs


def lung_mask_array(images: np.ndarray, cache_file: str | os.PathLike | None = None,
                    progress: bool = True) -> np.ndarray:
    """(N, H, W) uint8 lung masks (0/1) of a cached (N, H, W) image array, saved beside it.

    A side where segmentation fails gets the anatomical prior, as everywhere in the package.
    """
    if cache_file is not None and Path(cache_file).is_file():
        return np.load(cache_file, mmap_mode="r")
    masks = np.empty(images.shape, dtype=np.uint8)
    for index in tqdm(range(len(images)), desc="lung masks", disable=not progress):
        masks[index] = segment_lungs(np.asarray(images[index])).mask
    if cache_file is not None:
        path = Path(cache_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp.npy")
        np.save(temporary, masks)
        temporary.replace(path)
    return masks


def mask_cache_file(cache_dir: str | os.PathLike | None, paths: list[str], size: int,
                    jpeg_quality: int | None) -> Path | None:
    """Where the masks of the image array for ``paths`` are kept: beside it, under the same content key."""
    return None if cache_dir is None else Path(cache_dir) / f"lung_masks_{size}px_{cache_key(paths, size, jpeg_quality)}.npy"


def widened(masks: np.ndarray, margin: int) -> np.ndarray:
    """(N, H, W) uint8 masks grown by ``margin`` pixels (a disc): with a margin, evidence along the
    lungs' borders (the heart's edge, the diaphragm, the hila) costs nothing, and only evidence well
    outside the lungs (the film's frame, labels, the abdomen) is penalised."""
    if margin <= 0:
        return np.asarray(masks)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    return np.stack([cv2.dilate(np.asarray(mask, dtype=np.uint8), kernel) for mask in masks])


def evidence_map(features: torch.Tensor, head: torch.nn.Linear) -> torch.Tensor:
    """(B, h, w) class activation map of pneumonia against normal from a (B, C, h, w) feature map.

    Its mean plus the head's bias difference is the pneumonia-minus-normal logit: the map is an
    exact decomposition of the call over the feature map's cells (before dropout).
    """
    direction = (head.weight[1] - head.weight[0]).to(features.dtype)
    return torch.einsum("bchw,c->bhw", features, direction)


def outside_lung_share(cam: torch.Tensor, masks: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """(B,) share of each map's absolute evidence outside the lungs; ``masks`` (B, 1, H, W) in [0, 1]."""
    lung = F.adaptive_avg_pool2d(masks.to(cam.dtype), cam.shape[-2:])[:, 0]
    weight = cam.abs()
    return (weight * (1 - lung)).sum(dim=(1, 2)) / (weight.sum(dim=(1, 2)) + eps)


@contextmanager
def captured_feature_map(model: torch.nn.Module) -> Iterator[list[torch.Tensor]]:
    """Record the classifier's ``feature_map`` output during forward passes (works under DDP)."""
    inner = model.module if hasattr(model, "module") else model
    store: list[torch.Tensor] = []
    handle = inner.feature_map.register_forward_hook(lambda module, inputs, output: store.append(output))
    try:
        yield store
    finally:
        handle.remove()
