"""Which layer's Grad-CAM shows where in the lungs a model looks? Measured on val only.

Grad-CAM at the last stage gives a 7x7 map for a 224 px input: one blob per film. An earlier
stage gives 14x14, fine enough to tell lung zones apart, but its features are less specific to
the class. This compares, for val films called pneumonia at the balanced point, the mean share of
heat inside the lung outline per candidate layer (a uniform map scores the outline's area share).

Rule, fixed before the comparison: a finer layer replaces the last stage only if its lung share
is higher by at least 0.03 (the last stage is the fast, tested serving path).

    python scripts/compare_cam_layers.py CHECKPOINT [--films 120]
"""

from __future__ import annotations

import argparse

import numpy as np

from pneumolib.checkpoint import load_checkpoint
from pneumolib.data.images import read_grayscale
from pneumolib.data.locate import find_dataset_root
from pneumolib.data.manifest import load_manifest
from pneumolib.evaluation.selection import balanced_threshold
from pneumolib.explain.focus import focus_share
from pneumolib.explain.gradcam import HeadGradCAM, LibraryGradCAM
from pneumolib.explain.lung_mask import segment_lungs
from pneumolib.inference import predict_logits, sigmoid
from pneumolib.data.arrays import load_split

MARGIN = 0.03


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--films", type=int, default=120, help="val films called pneumonia to explain")
    parser.add_argument("--data")
    args = parser.parse_args()
    root = find_dataset_root(args.data, download=False)
    model, metadata = load_checkpoint(args.checkpoint)
    val = load_split(load_manifest(), "val", root, metadata["image_size"], metadata["jpeg_quality"], progress=False)
    prob = sigmoid(predict_logits(model, val.images) / float(metadata.get("temperature", 1.0)))
    called = np.flatnonzero(prob >= balanced_threshold(metadata, val.labels, prob))[: args.films]
    images = np.array(val.images[called])
    masks = [segment_lungs(read_grayscale(root / path)).mask for path in val.rows["path"].iloc[called]]
    blocks = model.backbone.model.blocks
    layers = {"last stage (7x7)": None, "blocks.5 (7x7)": blocks[5], "blocks.4 (14x14)": blocks[4],
              "blocks.3 (14x14)": blocks[3]}
    shares = {}
    for name, layer in layers.items():
        explainer = HeadGradCAM(model) if layer is None else LibraryGradCAM(model, target_layer=layer)
        maps = explainer.explain(images, 1, batch_size=16).heatmaps
        shares[name] = float(np.nanmean([focus_share(h, m) for h, m in zip(maps, masks)]))
        print(f"{name:18s} lung share {shares[name]:.3f}")
    print(f"uniform map        lung share {np.mean([m.mean() for m in masks]):.3f}  ({len(called)} films)")
    best = max(shares, key=shares.get)
    keep = best if shares[best] >= shares["last stage (7x7)"] + MARGIN else "last stage (7x7)"
    print(f"decision: {keep}")


if __name__ == "__main__":
    main()
