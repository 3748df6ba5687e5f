"""Split invariants, on the fixtures and (when present) on the committed full manifest."""

from __future__ import annotations

import pandas as pd

from pneumolib.data.manifest import load_manifest
from pneumolib.data.split import EXCLUDED, assign_splits, split_units


def check_invariants(manifest: pd.DataFrame) -> None:
    # the official test split is the test split, nothing added, nothing removed
    assert manifest["official_split"].eq("test").equals(manifest["split"].eq("test"))
    # patient-disjoint splits
    splits_per_patient = manifest.groupby("patient_id")["split"].nunique()
    mixed = manifest[manifest["patient_id"].isin(splits_per_patient[splits_per_patient > 1].index)]
    assert set(mixed["split"]) <= {"test", EXCLUDED}, "a patient straddles train and val"
    # no duplicate group straddles two splits (excluded images never reach a model)
    groups = manifest[manifest["dup_group"] != ""]
    kept = groups[groups["split"] != EXCLUDED]
    assert (kept.groupby("dup_group")["split"].nunique() <= 1).all()
    # no training or validation image shares a patient or duplicate with test
    test_patients = set(manifest.loc[manifest["split"] == "test", "patient_id"])
    assert not manifest[manifest["split"].isin(["train", "val"])]["patient_id"].isin(test_patients).any()


def test_fixture_split_invariants(fixture_build):
    manifest = fixture_build.manifest
    check_invariants(manifest)
    leaked = manifest[manifest["split"] == EXCLUDED]
    assert set(leaked["patient_id"]) == {"person1"}  # person1 also has films in the test split
    assert set(manifest.loc[manifest["official_split"] == "val", "split"]) <= {"train", "val"}


def test_deterministic(fixture_build):
    manifest = fixture_build.manifest.drop(columns=["split", "split_note"])
    first = assign_splits(manifest)
    second = assign_splits(manifest.sample(frac=1.0, random_state=3).sort_index())
    assert first.equals(second)


def test_units_join_duplicates_across_patients():
    patients = pd.Series(["a", "a", "b", "c"])
    groups = pd.Series(["", "dup0", "dup0", ""])
    units = split_units(patients, groups)
    assert units[0] == units[1] == units[2] != units[3]


def test_committed_manifest_split_policy():
    manifest = load_manifest()
    check_invariants(manifest)
    assert len(manifest) == 5856
    assert manifest["split"].eq("test").sum() == 624
    train, val = manifest[manifest["split"] == "train"], manifest[manifest["split"] == "val"]
    patient_share = val["patient_id"].nunique() / (val["patient_id"].nunique() + train["patient_id"].nunique())
    assert 0.10 <= patient_share <= 0.15
    normal_share = lambda rows: rows["label"].eq("NORMAL").mean()  # noqa: E731
    assert abs(normal_share(val) - normal_share(train)) < 0.02
    assert val["source_form"].eq("original").mean() > 0.9  # val resembles the all-original test split
    assert manifest.loc[manifest["official_split"] == "val", "split"].isin(["train", "val"]).all()
