"""Lung share and laterality, select's measure, of checkpoints on clean val at their balanced points.

    python laterality_check.py NAME=CHECKPOINT [NAME=CHECKPOINT ...]
"""

import sys

from pneumolib.config import cache_dir
from pneumolib.data.release.locate import find_dataset_root
from pneumolib.data.split.manifest import load_manifest
from pneumolib.evaluation.selection import balanced_threshold, heatmap_measures_on, score_stress_set, val_stress_set
from pneumolib.evaluation.stress import CLEAN
from pneumolib.inference import engine_for_checkpoint

root = find_dataset_root(None, download=False)
stress = val_stress_set(load_manifest(), root, 224, 75, cache_dir=cache_dir(), progress=False)
stress.arrays = {CLEAN: stress.arrays[CLEAN]}
measure = heatmap_measures_on(stress, root, progress=False)
for name, path in (argument.split("=", 1) for argument in sys.argv[1:]):
    engine, model, metadata = engine_for_checkpoint(path)
    prob = score_stress_set(engine, stress, float(metadata.get("temperature", 1.0)), progress=False)[CLEAN]
    threshold = balanced_threshold(metadata, stress.labels, prob)
    share, laterality = measure(model, prob, threshold, engine)
    print(f"{name}: {int((prob >= threshold).sum())} films called pneumonia, lung share {share:.3f}, "
          f"laterality {laterality:.3f}", flush=True)
