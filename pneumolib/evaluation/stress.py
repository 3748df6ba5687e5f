"""Stress val: the val films under fixed shifts, and what a model's calls and ranking do there.

Val is nearly separable on this data (ROC AUC about 0.999), so clean val AUC cannot tell a model
that reads the lungs from one that reads the film's width, framing or exposure. Under a shift
that keeps the diagnosis (:data:`pneumolib.data.inputs.shifts.STRESS_SHIFTS`), a model that reads the
lungs keeps its calls; one that leans on a shortcut flips them. Per shift this module reports:

* ROC AUC on the shifted films (does the ranking survive?);
* flips of the balanced call in each direction (pneumonia -> normal, normal -> pneumonia),
  against the same model's calls on the clean films, at the same threshold;
* the mean change in the probability of pneumonia (a shift that pushes every film one way is a
  shortcut even before calls flip).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

from pneumolib.data.inputs.cache import cache_key
from pneumolib.data.inputs.preprocess import canonical_image
from pneumolib.data.inputs.shifts import STRESS_SHIFTS, Shift
from pneumolib.data.release.images import read_grayscale
from pneumolib.data.sources.roots import DataRoot, manifest_file

CLEAN = "clean"


@dataclass
class StressSet:
    """The same films, clean and under every shift, as canonical (N, S, S) uint8 arrays."""

    labels: np.ndarray  # (N,) 1 = pneumonia
    arrays: dict[str, np.ndarray]  # "clean" first, then one per shift, in STRESS_SHIFTS order
    paths: list[str]

    @property
    def shift_names(self) -> list[str]:
        return [name for name in self.arrays if name != CLEAN]


def _cache_file(cache_dir: Path, paths: Sequence[str], name: str, size: int, quality: int | None) -> Path:
    return cache_dir / f"stress_{size}px_{cache_key(paths, size, quality, variant=f'stress-v1|{name}|')}.npy"


def build_stress_set(
    data_root: DataRoot,
    paths: Sequence[str],
    labels: np.ndarray,
    size: int,
    jpeg_quality: int | None,
    shifts: Mapping[str, Shift] = STRESS_SHIFTS,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> StressSet:
    """Decode each film once, apply every shift at its original size, canonicalise as in serving.

    With ``cache_dir`` each shifted array is kept as ``.npy`` (keyed by shift, paths and size).
    """
    cache = Path(cache_dir) if cache_dir is not None else None
    names = [CLEAN, *shifts]
    files = {name: _cache_file(cache, paths, name, size, jpeg_quality) for name in names} if cache else {}
    if cache and all(f.is_file() for f in files.values()):
        return StressSet(np.asarray(labels), {n: np.load(files[n]) for n in names}, list(paths))
    arrays = {name: np.empty((len(paths), size, size), dtype=np.uint8) for name in names}
    for index, path in enumerate(tqdm(paths, desc="stress val: shifting films", disable=not progress)):
        film = read_grayscale(manifest_file(data_root, path))
        arrays[CLEAN][index] = canonical_image(film, size, jpeg_quality)
        for name, shift in shifts.items():
            arrays[name][index] = canonical_image(shift(film), size, jpeg_quality)
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
        for name, array in arrays.items():
            np.save(files[name], array)
    return StressSet(np.asarray(labels), arrays, list(paths))


def _auc(labels: np.ndarray, prob: np.ndarray) -> float:
    return float(roc_auc_score(labels, prob)) if len(np.unique(labels)) == 2 else float("nan")


def stress_table(labels: np.ndarray, probabilities: Mapping[str, np.ndarray], threshold: float) -> pd.DataFrame:
    """One row per shift: AUC, flips of the call at ``threshold`` in each direction, probability change.

    ``probabilities`` maps "clean" and each shift name to the probability of pneumonia of the
    same films in the same order.
    """
    labels = np.asarray(labels)
    clean = np.asarray(probabilities[CLEAN], dtype=np.float64)
    clean_call = clean >= threshold
    rows = [{"shift": CLEAN, "roc_auc": _auc(labels, clean), "flips_to_normal": 0, "flips_to_pneumonia": 0,
             "flip_rate": 0.0, "mean_change": 0.0, "mean_abs_change": 0.0}]
    for name, prob in probabilities.items():
        if name == CLEAN:
            continue
        prob = np.asarray(prob, dtype=np.float64)
        call = prob >= threshold
        to_normal, to_pneumonia = int((clean_call & ~call).sum()), int((~clean_call & call).sum())
        rows.append({"shift": name, "roc_auc": _auc(labels, prob), "flips_to_normal": to_normal,
                     "flips_to_pneumonia": to_pneumonia, "flip_rate": (to_normal + to_pneumonia) / len(prob),
                     "mean_change": float(np.mean(prob - clean)), "mean_abs_change": float(np.mean(np.abs(prob - clean)))})
    return pd.DataFrame(rows)


def stress_summary(table: pd.DataFrame) -> dict[str, float]:
    """The figures a selection rule compares: worst and mean flip rate, mean and worst shifted AUC."""
    shifted = table[table["shift"] != CLEAN]
    return {
        "clean_auc": float(table.loc[table["shift"] == CLEAN, "roc_auc"].iloc[0]),
        "worst_flip_rate": float(shifted["flip_rate"].max()),
        "mean_flip_rate": float(shifted["flip_rate"].mean()),
        "mean_stress_auc": float(shifted["roc_auc"].mean()),
        "worst_stress_auc": float(shifted["roc_auc"].min()),
        "worst_abs_change": float(shifted["mean_abs_change"].max()),
    }
