"""Figures for notebook 03: what augmentation does, and how training went."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from pneumolib.data.inputs.augment import AugmentConfig, augment_batch
from pneumolib.engine import to_model_input


def augmentation_examples(images: np.ndarray, n_images: int = 3, n_versions: int = 4, seed: int = 0,
                          config: AugmentConfig = AugmentConfig()) -> plt.Figure:
    """Each row: one cached film, then ``n_versions`` augmented copies of it."""
    n_images = min(n_images, len(images))
    generator = torch.Generator().manual_seed(seed)
    batch = to_model_input(images[:n_images])
    fig, axes = plt.subplots(n_images, n_versions + 1, figsize=(2.2 * (n_versions + 1), 2.3 * n_images), squeeze=False)
    versions = [batch] + [augment_batch(batch, generator, config) for _ in range(n_versions)]
    for col, version in enumerate(versions):
        for row in range(n_images):
            axes[row, col].imshow(version[row, 0].numpy(), cmap="gray", vmin=0, vmax=1)
            axes[row, col].set_title("input" if col == 0 else f"augmented {col}", fontsize=8)
            axes[row, col].axis("off")
    fig.tight_layout()
    return fig


def learning_curves(history: pd.DataFrame) -> plt.Figure:
    """Training and validation loss, and validation ROC AUC, per epoch; the best epoch marked."""
    fig, (loss_ax, auc_ax) = plt.subplots(1, 2, figsize=(11, 3.8))
    loss_ax.plot(history["epoch"], history["train_loss"], "o-", label="train (weighted, smoothed, augmented)")
    loss_ax.plot(history["epoch"], history["val_loss"], "o-", label="val")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("cross-entropy")
    loss_ax.legend()
    auc_ax.plot(history["epoch"], history["val_auc"], "o-", color="tab:green")
    best = history.loc[history["val_auc"].idxmax()]
    auc_ax.axvline(best["epoch"], color="grey", linestyle="--",
                   label=f"best: epoch {int(best['epoch'])}, AUC {best['val_auc']:.4f}")
    auc_ax.set_xlabel("epoch")
    auc_ax.set_ylabel("val ROC AUC")
    auc_ax.legend()
    fig.tight_layout()
    return fig
