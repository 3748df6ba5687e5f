"""The training and validation sets as cached uint8 arrays, read from the manifest's split."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pneumolib import CLASS_NAMES
from pneumolib.data.inputs.cache import load_image_array
from pneumolib.data.sources.roots import DataRoot


@dataclass
class SplitArrays:
    """One split: canonical images, integer labels, and the manifest rows they came from."""

    images: np.ndarray  # (N, S, S) uint8
    labels: np.ndarray  # (N,) int64, 1 = pneumonia
    rows: pd.DataFrame


def label_indices(rows: pd.DataFrame) -> np.ndarray:
    """The manifest's label names as class indices (1 = pneumonia)."""
    return rows["label"].map({name: index for index, name in enumerate(CLASS_NAMES)}).to_numpy(np.int64)


def subset_rows(rows: pd.DataFrame, max_images: int | None) -> pd.DataFrame:
    """At most ``max_images`` rows, half per label, picked by a hash of the path (deterministic).

    The quick profile's subset: same code, fewer images, both classes present.
    """
    if max_images is None or len(rows) <= max_images:
        return rows
    order = rows["path"].map(lambda p: hashlib.sha256(p.encode()).hexdigest())
    parts = [group.loc[order[group.index].sort_values().index[: max_images // len(CLASS_NAMES)]]
             for _, group in rows.groupby("label")]
    return pd.concat(parts).sort_values("path")


def load_split(
    manifest: pd.DataFrame,
    split: str,
    data_root: DataRoot,
    image_size: int,
    jpeg_quality: int | None,
    max_images: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> SplitArrays:
    rows = subset_rows(manifest[manifest["split"] == split], max_images).reset_index(drop=True)
    if rows.empty:
        raise ValueError(f"The manifest has no images in split {split!r}.")
    images = load_image_array(data_root, list(rows["path"]), image_size, jpeg_quality, cache_dir, progress,
                              desc=f"caching {split} images")
    return SplitArrays(images, label_indices(rows), rows)


def class_weights(labels: np.ndarray, num_classes: int = len(CLASS_NAMES)) -> np.ndarray:
    """Inverse-frequency weights, n / (k * n_c): each class contributes equally to the loss."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    if (counts == 0).any():
        raise ValueError(f"every class needs training images; counts per class: {counts.tolist()}")
    return counts.sum() / (num_classes * counts)
