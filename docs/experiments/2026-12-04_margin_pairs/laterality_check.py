import numpy as np
from pneumolib.config import cache_dir
from pneumolib.data.release.locate import find_dataset_root
from pneumolib.data.split.manifest import load_manifest
from pneumolib.evaluation.selection import val_stress_set, heatmap_measures_on, score_stress_set, balanced_threshold
from pneumolib.evaluation.stress import CLEAN
from pneumolib.inference import engine_for_checkpoint
root = find_dataset_root(None, download=False)
stress = val_stress_set(load_manifest(), root, 224, 75, cache_dir=cache_dir(), progress=False)
stress.arrays = {CLEAN: stress.arrays[CLEAN]}
measure = heatmap_measures_on(stress, root, progress=False)
for name, path in [("shipped", "pneumolib/weights/pneumolib_lite0.pt"), ("single_margin", "pneumo_work/ship/model.pt")]:
    engine, model, md = engine_for_checkpoint(path)
    prob = score_stress_set(engine, stress, float(md["temperature"]), progress=False)[CLEAN]
    t = balanced_threshold(md, stress.labels, prob)
    called = int((prob >= t).sum())
    print(name, "called", called, "lung share %.3f laterality %.3f" % measure(model, prob, t, engine), flush=True)
