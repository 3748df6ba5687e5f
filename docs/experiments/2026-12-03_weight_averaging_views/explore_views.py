"""Exploration on val + stress val only: do averaged test-time views raise ranking under shift?

Views are centre crops of the canonical 224 px films (OpenCV area resampling), scored with each
checkpoint's engine; thresholds by Youden's J on clean val for every model. This chose the crop
that the packaged views (pneumolib.engine.views) then use; the selection rule measured those.

    PNEUMO_DATA_DIR=<chest_xray> python explore_views.py A.pt B.pt ...
"""

import os
import sys

import cv2
import numpy as np

from pneumolib.config import cache_dir
from pneumolib.data.split.manifest import load_manifest
from pneumolib.evaluation.operating_points import youden_threshold
from pneumolib.evaluation.selection import val_stress_set
from pneumolib.evaluation.stress import stress_summary, stress_table
from pneumolib.inference import engine_for_checkpoint, predict_logits, sigmoid
from pneumolib.workflows.inputs import DataInputs

os.environ.setdefault("PNEUMO_OFFLINE", "1")


def crop(images: np.ndarray, fraction: float) -> np.ndarray:
    side = images.shape[1]
    m = int(round(side * fraction))
    return np.stack([cv2.resize(im[m:side - m, m:side - m], (side, side), interpolation=cv2.INTER_AREA) for im in images])


VIEWS = {"identity": lambda x: x, "crop4": lambda x: crop(x, 0.04), "crop8": lambda x: crop(x, 0.08)}
inputs = DataInputs(os.environ.get("PNEUMO_DATA_DIR"), None, True)
stress = val_stress_set(load_manifest(), inputs.root(), 224, 75, None, cache_dir(), progress=False)
for ckpt in sys.argv[1:]:
    engine, _, _ = engine_for_checkpoint(ckpt, "cpu")
    logits = {view: {name: predict_logits(engine, make(images), progress=False) for name, images in stress.arrays.items()}
              for view, make in VIEWS.items()}
    for combo in (["identity"], ["identity", "crop4"], ["identity", "crop4", "crop8"], ["identity", "crop8"]):
        probs = {name: sigmoid(np.mean([logits[v][name] for v in combo], axis=0)) for name in stress.arrays}
        thr = youden_threshold(stress.labels, probs["clean"])
        s = stress_summary(stress_table(stress.labels, probs, thr))
        print(os.path.basename(ckpt), "+".join(combo), {k: round(v, 4) for k, v in s.items()}, flush=True)
