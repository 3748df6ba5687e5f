"""The project's patient-level train / val / test split.

Policy (see notebook 02 for the why):

* the official test split stays the test split, untouched, for final reports only;
* the 16-image official val split is folded back into the training pool;
* images are grouped into *units*: all images of a patient, joined with every image that is a
  duplicate of one of them (a duplicate under another patient id is treated as the same child);
* training-pool units that share a patient or a duplicate with the test split are *excluded*
  from training, so no child is graded on films the model has seen (with patients keyed as
  :mod:`pneumolib.data.release.naming` explains, none are in this release);
* ``val`` takes whole units, per label, until it holds ``val_fraction`` of that label's images,
  in draw order;
* the draw order is a sha256 of the seed and the unit key: deterministic on every machine and
  every library version.

The split reads only what every copy of the release shares: file names (patient, label,
subtype), the official split, and the duplicate groups. Nothing copy-specific (file sizes,
encodings, a copy's own metadata) takes part, so the Kaggle originals and a re-encoded copy get
the same split. :func:`pneumolib.data.split.manifest.build_manifest` takes the split of every file the
committed manifest knows from it, and says so when a copy's duplicate search finds other groups.
"""

from __future__ import annotations

import hashlib

import pandas as pd

VAL_FRACTION = 0.10
SPLIT_SEED = "pneumolib-split-v2"
EXCLUDED = "excluded"
TEST_LEAK_REASON = "shares a patient or duplicate with the official test split"


def split_units(patient_ids: pd.Series, dup_groups: pd.Series) -> pd.Series:
    """A unit key per image: connected components of 'same patient' and 'same duplicate group'."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for patient, group in zip(patient_ids, dup_groups):
        a = root(f"patient:{patient}")
        if isinstance(group, str) and group:
            b = root(f"dup:{group}")
            if a != b:
                parent[max(a, b)] = min(a, b)
    return pd.Series([root(f"patient:{p}") for p in patient_ids], index=patient_ids.index)


def _draw_order(unit: str, seed: str) -> str:
    return hashlib.sha256(f"{seed}|{unit}".encode()).hexdigest()


def assign_splits(
    manifest: pd.DataFrame,
    val_fraction: float = VAL_FRACTION,
    seed: str = SPLIT_SEED,
) -> pd.DataFrame:
    """Return ``split`` and ``split_note`` columns for a manifest.

    Needs the columns ``official_split``, ``label``, ``patient_id`` and ``dup_group``; no other
    column is read, so the split is the same on every copy of the data.
    """
    if not 0.0 < val_fraction < 0.5:
        raise ValueError(f"val_fraction must be in (0, 0.5), got {val_fraction}")
    units = split_units(manifest["patient_id"], manifest["dup_group"].fillna(""))
    is_test = manifest["official_split"].eq("test")
    test_units = set(units[is_test])

    split = pd.Series("train", index=manifest.index, dtype=object)
    note = pd.Series("", index=manifest.index, dtype=object)
    split[is_test] = "test"
    leaked = ~is_test & units.isin(test_units)
    split[leaked] = EXCLUDED
    note[leaked] = TEST_LEAK_REASON

    pool = manifest[~is_test & ~leaked]
    pool_units = units[pool.index]
    chosen: set[str] = set()
    for _, images in pool.groupby("label"):
        target = round(val_fraction * len(images))
        sizes = pool_units[images.index].value_counts()
        order = sorted(sizes.index, key=lambda u: _draw_order(u, seed))
        taken = 0
        for unit in order:
            if taken >= target:
                break
            chosen.add(unit)
            taken += int(sizes[unit])
    # whole units move, so a unit holding both labels never straddles train and val
    split[pool.index[pool_units.isin(chosen)]] = "val"
    return pd.DataFrame({"split": split, "split_note": note})
