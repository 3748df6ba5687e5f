"""Checks that the split is leakage-free, as a table a notebook can show and a test can assert."""

from __future__ import annotations

import pandas as pd

from pneumolib.data.sources.roots import BASE_SOURCE
from pneumolib.data.split.policy import EXCLUDED


def leakage_checks(manifest: pd.DataFrame) -> pd.DataFrame:
    """One row per check: what is checked, what was found, and whether it passes."""
    used = manifest[manifest["split"] != EXCLUDED]
    patient_splits = used.groupby("patient_id")["split"].nunique()
    groups = used[used["dup_group"] != ""]
    group_splits = groups.groupby("dup_group")["split"].nunique()
    test_patients = set(manifest.loc[manifest["split"] == "test", "patient_id"])
    model_rows = manifest[manifest["split"].isin(["train", "val"])]
    kermany = manifest["source"].eq(BASE_SOURCE)
    official_test = manifest["official_split"].eq("test")
    rows = [
        ("patients in more than one split", int((patient_splits > 1).sum())),
        ("duplicate groups in more than one split", int((group_splits > 1).sum())),
        ("train/val images of a patient who is in test", int(model_rows["patient_id"].isin(test_patients).sum())),
        ("official test images not in the test split", int((kermany & official_test & manifest["split"].ne("test")).sum())),
        ("non-test images in the test split", int((kermany & ~official_test & manifest["split"].eq("test")).sum())),
    ]
    table = pd.DataFrame(rows, columns=["check", "found"])
    table["passes"] = table["found"].eq(0)
    return table


def split_summary(manifest: pd.DataFrame) -> pd.DataFrame:
    """Images, patients, normal share and original-form share per split."""
    grouped = manifest.groupby("split")
    return pd.DataFrame({
        "images": grouped.size(),
        "patients": grouped["patient_id"].nunique(),
        "normal_share": grouped["label"].apply(lambda s: round(s.eq("NORMAL").mean(), 3)),
        "original_form_share": grouped["source_form"].apply(lambda s: round(s.eq("original").mean(), 3)),
    }).reindex(["train", "val", "test", EXCLUDED]).dropna()


def split_agreement(manifest: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Per split of the reference: how many of its images got the same split in ``manifest``.

    Lets anyone who rebuilt the manifest (from the Kaggle originals, say) confirm that they are
    training and testing on exactly the project's split.
    """
    joined = reference[["path", "split"]].merge(manifest[["path", "split"]], on="path", how="left",
                                                suffixes=("_reference", "_rebuilt"))
    joined["same"] = joined["split_reference"].eq(joined["split_rebuilt"])
    return joined.groupby("split_reference").agg(images=("path", "size"), rebuilt=("split_rebuilt", "count"),
                                                 same_split=("same", "sum"))


def person_number_evidence(manifest: pd.DataFrame) -> pd.DataFrame:
    """Is ``personN`` one child, or one child per subtype? The counts that decide it.

    A pneumonia file is named ``personN_<subtype>_M``. If ``N`` named one child, a child's
    bacterial and viral films would share its image counter ``M`` rarely and its subtypes would
    cross the official train/test boundary as often as its films do. The rows below count what
    the release shows instead (see :mod:`pneumolib.data.release.naming` for the conclusion).
    """
    pneumonia = manifest[manifest["label"] == "PNEUMONIA"]
    names = pneumonia["path"].str.rsplit("/", n=1).str[-1]
    parts = names.str.extract(r"^(person\d+)_(bacteria|virus)_(\d+)", flags=2)
    parts.columns = ["person", "subtype", "image_number"]
    parts["person"], parts["subtype"] = parts["person"].str.lower(), parts["subtype"].str.lower()
    parts["official_split"] = pneumonia["official_split"].to_numpy()
    subtypes_per_number = parts.groupby("image_number")["subtype"].nunique()
    subtypes_per_person = parts.groupby("person")["subtype"].nunique()
    test = parts[parts["official_split"] == "test"]
    pool = parts[parts["official_split"] != "test"]
    crossing = sorted(set(test["person"]) & set(pool["person"]))
    shared = sum(bool(set(pool.loc[pool["person"] == p, "subtype"]) & set(test.loc[test["person"] == p, "subtype"]))
                 for p in crossing)
    rows = [
        ("image numbers used under both subtypes", int((subtypes_per_number > 1).sum()), len(subtypes_per_number)),
        ("person numbers with films of both subtypes", int((subtypes_per_person > 1).sum()), len(subtypes_per_person)),
        ("person numbers in both official train/val and test", len(crossing), len(subtypes_per_person)),
        ("... of which share a subtype across that boundary", shared, len(crossing)),
        ("train/val films of those person numbers (excluded if personN were the patient)",
         int(pool["person"].isin(crossing).sum()), len(pool)),
    ]
    return pd.DataFrame(rows, columns=["finding", "count", "out of"])
