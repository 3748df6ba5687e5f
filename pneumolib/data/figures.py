"""Figures for exploring the dataset (notebooks 01 and 02). Each function returns a Figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from sklearn.metrics import roc_auc_score

from pneumolib.data.duplicates.hashing import hamming_distances, hashes_to_words
from pneumolib.data.release.images import read_grayscale
from pneumolib.data.sources.roots import DataRoot, manifest_file

SPLIT_ORDER = ["train", "val", "test"]


def sample_grid(root: DataRoot, images: pd.DataFrame, per_class: int = 4, seed: int = 0) -> plt.Figure:
    """A few random films per class (``images`` needs ``path`` and ``label``), with name and size."""
    fig, axes = plt.subplots(2, per_class, figsize=(3 * per_class, 6.4), squeeze=False)
    for row, (label, rows) in enumerate(images.groupby("label")):
        chosen = rows.sample(min(per_class, len(rows)), random_state=seed)
        for ax, (_, item) in zip(axes[row], chosen.iterrows()):
            pixels = read_grayscale(manifest_file(root, item["path"]))
            ax.imshow(pixels, cmap="gray")
            ax.set_title(f"{label}\n{Path(item['path']).name}\n{pixels.shape[1]}x{pixels.shape[0]} px", fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    return fig


def class_balance(manifest: pd.DataFrame, split_column: str = "split") -> plt.Figure:
    """Images per class in each split."""
    order = [s for s in SPLIT_ORDER + ["excluded"] if s in set(manifest[split_column])]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.countplot(data=manifest, x=split_column, hue="label", order=order, ax=ax, palette=["#4C72B0", "#DD8452"])
    for container in ax.containers:
        ax.bar_label(container, fontsize=8)
    ax.set_title(f"Images per class and {split_column.replace('_', ' ')}")
    fig.tight_layout()
    return fig


def size_and_aspect(manifest: pd.DataFrame) -> plt.Figure:
    """Width, height and aspect ratio per class, original-form images only (the squashed copies are 1:1)."""
    originals = manifest[manifest["source_form"] == "original"].assign(aspect=lambda d: d["width"] / d["height"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    sns.scatterplot(data=originals, x="width", y="height", hue="label", s=8, alpha=0.5, ax=axes[0])
    axes[0].set_title("Stored size (original-form images)")
    sns.histplot(data=originals, x="aspect", hue="label", bins=50, stat="density", common_norm=False, ax=axes[1])
    axes[1].set_title(f"Aspect ratio: width/height alone gives AUC {aspect_ratio_auc(originals):.3f}")
    fig.tight_layout()
    return fig


def aspect_ratio_auc(manifest: pd.DataFrame) -> float:
    """How well width/height alone separates pneumonia from normal: a shortcut, not a finding."""
    return float(roc_auc_score(manifest["label"].eq("PNEUMONIA"), manifest["width"] / manifest["height"]))


def images_per_patient(manifest: pd.DataFrame) -> plt.Figure:
    counts = manifest.groupby(["label", "patient_id"]).size().rename("images").reset_index()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.histplot(data=counts, x="images", hue="label", discrete=True, multiple="dodge", shrink=0.8, ax=ax)
    ax.set_yscale("log")
    ax.set_title("Films per patient (log scale)")
    fig.tight_layout()
    return fig


def hash_distance_histogram(manifest: pd.DataFrame, threshold: int, max_distance: int = 80) -> plt.Figure:
    """Nearest-pair Hamming distances between all perceptual hashes, with the chosen threshold."""
    words = hashes_to_words(list(manifest["phash"]))
    counts = np.zeros(257, dtype=np.int64)
    for i in range(len(words) - 1):
        counts += np.bincount(hamming_distances(words[i], words[i + 1 :]), minlength=257)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.bar(np.arange(max_distance + 1), counts[: max_distance + 1], color="#4C72B0")
    ax.set_yscale("symlog")
    ax.axvline(threshold + 0.5, color="crimson", linestyle="--", label=f"threshold {threshold}")
    ax.set_xlabel("Hamming distance between 256-bit pHashes (all pairs of images)")
    ax.set_ylabel("pairs")
    ax.legend()
    fig.tight_layout()
    return fig


def duplicate_pairs_figure(root: DataRoot, pairs: pd.DataFrame, n: int = 6) -> plt.Figure:
    """Duplicate pairs side by side, closest first, with their distance."""
    shown = pairs.sort_values(["distance", "path_a"]).drop_duplicates("path_a").head(n)
    fig, axes = plt.subplots(len(shown), 2, figsize=(6, 3 * len(shown)), squeeze=False)
    for row, (_, pair) in enumerate(shown.iterrows()):
        for col, key in enumerate(("path_a", "path_b")):
            axes[row, col].imshow(read_grayscale(manifest_file(root, pair[key])), cmap="gray")
            axes[row, col].set_title(f"{pair[key]}\n{pair['kind']}, distance {pair['distance']}", fontsize=7)
            axes[row, col].axis("off")
    fig.tight_layout()
    return fig
