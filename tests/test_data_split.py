"""Split invariants, on the fixtures and (when present) on the committed full manifest."""

from __future__ import annotations

import pandas as pd

from pneumolib.data.split.manifest import load_manifest
from pneumolib.data.split.policy import EXCLUDED, assign_splits, split_units


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
    # person1 has bacterial films in train and viral films in test: two children (see naming), none excluded
    assert manifest.loc[manifest["split"] == EXCLUDED].empty
    person1 = manifest[manifest["path"].str.contains("/person1_")]
    assert set(person1["patient_id"]) == {"person1_bacteria", "person1_virus"}
    assert set(manifest.loc[manifest["official_split"] == "val", "split"]) <= {"train", "val"}


def test_a_child_in_the_test_split_is_excluded_from_training():
    manifest = pd.DataFrame({
        "official_split": ["train", "train", "train", "test", "train", "train"],
        "label": ["PNEUMONIA"] * 6,
        "patient_id": ["a", "a", "b", "a", "c", "d"],
        "dup_group": ["", "", "", "", "dup0", "dup0"],
    })
    manifest.loc[5, "official_split"] = "test"  # d is in test, and c's film duplicates one of d's
    split = assign_splits(manifest)["split"]
    assert list(split[:2]) == [EXCLUDED, EXCLUDED] and split[4] == EXCLUDED
    assert split[2] in ("train", "val") and split[3] == split[5] == "test"


def test_split_reads_no_copy_specific_column(fixture_build):
    manifest = fixture_build.manifest.drop(columns=["split", "split_note"])
    altered = manifest.assign(source_form="original", width=1, height=1, file_sha256="", content_hash="", phash="")
    assert assign_splits(manifest).equals(assign_splits(altered))


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
    assert manifest["split"].ne(EXCLUDED).all()  # no child of the training pool is in the test split
    assert manifest.loc[manifest["official_split"] == "val", "split"].isin(["train", "val"]).all()


def test_person_number_evidence_on_the_full_release():
    """The counts quoted in pneumolib.data.release.naming and notebook 02 (the committed manifest holds every file)."""
    from pneumolib.data.split.leakage import person_number_evidence

    table = person_number_evidence(load_manifest()).set_index("finding")
    assert table.loc["image numbers used under both subtypes", "count"] == 874
    assert tuple(table.loc["person numbers with films of both subtypes"]) == (979, 1674)
    assert table.loc["person numbers in both official train/val and test", "count"] == 170
    assert table.loc["... of which share a subtype across that boundary", "count"] == 0
    assert table.loc["train/val films of those person numbers (excluded if personN were the patient)", "count"] == 457


def test_split_tables_in_the_docs_match_the_committed_manifest():
    """The README and model card quote the split's counts by hand: they must be the manifest's."""
    from pathlib import Path

    manifest = load_manifest()
    root = Path(__file__).resolve().parents[1]
    for doc in ("README.md", "MODEL_CARD.md"):
        text = (root / doc).read_text(encoding="utf-8")
        for split in ("train", "val", "test"):
            rows = manifest[manifest["split"] == split]
            normal, pneumonia = int(rows["label"].eq("NORMAL").sum()), int(rows["label"].eq("PNEUMONIA").sum())
            assert f"| {split} | {len(rows):,} | {normal:,} | {pneumonia:,} |" in text, (doc, split)
    train, val = manifest[manifest["split"] == "train"], manifest[manifest["split"] == "val"]
    share = val["patient_id"].nunique() / (val["patient_id"].nunique() + train["patient_id"].nunique())
    assert f"val holds {share:.1%}".replace("%", " %") in (root / "README.md").read_text(encoding="utf-8")
