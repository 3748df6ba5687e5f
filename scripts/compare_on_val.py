"""Compare candidate checkpoints on the val split only: ROC AUC and where their Grad-CAM looks.

Choosing between models is a decision, so it is made on val, never on test. Besides AUC it
reports the share of heatmap mass inside the lung fields and in the film's corners (where side
markers sit), per true class: a model that scores well by reading markers is not the one to ship.

    python scripts/compare_on_val.py CHECKPOINT [CHECKPOINT ...]
"""

from __future__ import annotations

import argparse

import pandas as pd
from sklearn.metrics import roc_auc_score

from pneumolib.checkpoint import load_checkpoint
from pneumolib.config import work_dir
from pneumolib.data.locate import find_dataset_root
from pneumolib.data.manifest import load_manifest
from pneumolib.explain.study import film_reader, study_images
from pneumolib.training.data import load_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--data")
    args = parser.parse_args()
    root = find_dataset_root(args.data, download=False)
    manifest = load_manifest()
    rows = []
    for path in args.checkpoints:
        model, metadata = load_checkpoint(path)
        val = load_split(manifest, "val", root, metadata["image_size"], metadata["jpeg_quality"], cache_dir=work_dir() / "cache")
        study = study_images(model, val.images, val.labels, list(val.rows["path"]), film_reader(root))
        table = study.table
        row = {"checkpoint": path, "epoch": metadata.get("epoch"), "val_auc": roc_auc_score(table["label"], table["prob"])}
        for label, name in ((1, "pneumonia"), (0, "normal")):
            films = table[table["label"] == label]
            row[f"lung_share_{name}"] = films["inside_share"].mean()
            row[f"corner_share_{name}"] = films["corner_share"].mean()
        row["uniform_lung_share"] = table["mask_fraction"].mean()
        rows.append(row)
    print(pd.DataFrame(rows).set_index("checkpoint").round(4).T.to_string())


if __name__ == "__main__":
    main()
