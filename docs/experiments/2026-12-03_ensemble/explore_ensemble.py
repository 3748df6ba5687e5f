"""Exploration on val + stress val only: does averaging the logits of two or three runs rank better under shift?

Each member is scored once through its own engine (with the 4 % centre-crop view as well when
``+views`` follows its path) and its margin logits are kept in ``scores.npz`` (in the current folder, or
``$SCORES``); every pair and
triple is then the mean of its members' logits, with the balanced point by Youden's J on clean val,
summarised exactly as the selection rule summarises a candidate. The test split is not read.

    PNEUMO_DATA_DIR=<chest_xray> python explore_ensemble.py name=A.pt name=B.pt+views ...
"""

import itertools
import os
import sys
from pathlib import Path

import numpy as np

from pneumolib.config import cache_dir
from pneumolib.data.split.manifest import load_manifest
from pneumolib.engine.views import ViewAveragingEngine
from pneumolib.evaluation.operating_points import youden_threshold
from pneumolib.evaluation.selection import val_stress_set
from pneumolib.evaluation.stress import stress_summary, stress_table
from pneumolib.inference import engine_for_checkpoint, predict_logits, sigmoid
from pneumolib.workflows.inputs import DataInputs

os.environ.setdefault("PNEUMO_OFFLINE", "1")
OUT = Path(os.environ.get("SCORES", "scores.npz"))
inputs_root = DataInputs(os.environ.get("PNEUMO_DATA_DIR"), None, True).root()
stress = val_stress_set(load_manifest(), inputs_root, 224, 75, None, cache_dir(), progress=False)
scores = dict(np.load(OUT)) if OUT.exists() else {}
members = []
for arg in sys.argv[1:]:
    name, path = arg.split("=", 1)
    views = path.endswith("+views")
    path = path.removesuffix("+views")
    members.append(name)
    if f"{name}/clean" in scores:
        continue
    engine, _, _ = engine_for_checkpoint(path, "cpu")
    if views:
        engine = ViewAveragingEngine(engine, (0.04,))
    for shift, images in stress.arrays.items():
        scores[f"{name}/{shift}"] = predict_logits(engine, images, progress=False)
    np.savez(OUT, **scores)
    print("scored", name, flush=True)


def summary(combo):
    probs = {shift: sigmoid(np.mean([scores[f"{m}/{shift}"] for m in combo], axis=0)) for shift in stress.arrays}
    threshold = youden_threshold(stress.labels, probs["clean"])
    return stress_summary(stress_table(stress.labels, probs, threshold))


print(f"{'members':40s} clean_auc worst_flip mean_flip mean_stress_auc worst_stress_auc")
for size in (1, 2, 3):
    for combo in itertools.combinations(members, size):
        s = summary(combo)
        print(f"{'+'.join(combo):40s} {s['clean_auc']:.4f}    {s['worst_flip_rate']:.4f}     {s['mean_flip_rate']:.4f}"
              f"    {s['mean_stress_auc']:.4f}          {s['worst_stress_auc']:.4f}", flush=True)
