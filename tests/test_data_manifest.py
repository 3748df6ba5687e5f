"""Manifest build, round trip, corrupt files, and agreement with the committed manifest."""

from __future__ import annotations

import shutil
import warnings

import pandas as pd
import pytest
from conftest import full_data_root

from pneumolib.data.split.leakage import split_agreement
from pneumolib.data.split.manifest import (
    COLUMNS,
    DuplicateGroupsDiffer,
    adopt_reference_split,
    build_manifest,
    load_manifest,
    manifest_digest,
    write_manifest,
)


def test_the_packaged_manifest_is_the_committed_one():
    """The wheel ships a copy of the top-level reference split (pneumolib.resources): the same bytes."""
    from conftest import REPO

    from pneumolib.resources import packaged_manifest

    committed, packaged = REPO / "data_manifest.csv", packaged_manifest()
    assert packaged.read_bytes() == committed.read_bytes(), (
        f"{packaged} differs from {committed}, the source of truth: run `python -m pneumolib manifest` (it refreshes "
        f"both), or `cp data_manifest.csv {packaged.relative_to(REPO)}`")


def test_a_clone_reads_its_top_level_manifest_an_installed_package_its_own_copy(monkeypatch, tmp_path):
    from pneumolib import config
    from pneumolib.data.split.manifest import default_manifest_path, manifest_output_path, refresh_packaged_manifest
    from pneumolib.resources import packaged_manifest

    for name in ("PNEUMO_MANIFEST", "PNEUMO_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PNEUMO_WORK_DIR", str(tmp_path / "work"))
    committed = config.REPOSITORY_ROOT / "data_manifest.csv"
    assert default_manifest_path() == manifest_output_path() == committed
    monkeypatch.setattr(config, "REPOSITORY_ROOT", tmp_path / "site-packages")  # no clone around the package
    assert default_manifest_path() == packaged_manifest()
    assert len(load_manifest()) == 5856
    assert manifest_output_path() == tmp_path / "work" / "data_manifest.csv"  # never inside the package
    assert refresh_packaged_manifest(manifest_output_path()) is None
    monkeypatch.setenv("PNEUMO_MANIFEST", str(tmp_path / "mine.csv"))
    assert default_manifest_path() == manifest_output_path() == tmp_path / "mine.csv"


def test_rewriting_the_reference_refreshes_the_packaged_copy(monkeypatch, tmp_path):
    from pneumolib import config
    from pneumolib.data.split import manifest as manifests

    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "setup.py").write_text("")
    (clone / "data_manifest.csv").write_text("path,label\n")
    monkeypatch.setattr(config, "REPOSITORY_ROOT", clone)
    monkeypatch.setattr(manifests, "packaged_manifest", lambda: tmp_path / "packaged.csv")
    assert manifests.refresh_packaged_manifest(tmp_path / "elsewhere.csv") is None
    assert manifests.refresh_packaged_manifest(clone / "data_manifest.csv") == tmp_path / "packaged.csv"
    assert (tmp_path / "packaged.csv").read_text() == "path,label\n"


def test_fixture_manifest_columns(fixture_build):
    manifest = fixture_build.manifest
    assert list(manifest.columns) == COLUMNS
    assert len(manifest) == 39
    assert manifest["path"].str.match(r"^(train|val|test)/(NORMAL|PNEUMONIA)/").all()
    pneumonia = manifest[manifest["label"] == "PNEUMONIA"]
    assert pneumonia["subtype"].isin(["bacteria", "virus"]).all()
    assert manifest.loc[manifest["label"] == "NORMAL", "subtype"].eq("").all()
    assert set(manifest["source_form"]) == {"original", "resized_224x224_by_source"}
    pairs = fixture_build.duplicate_pairs
    assert len(pairs) == 3 and set(pairs["kind"]) == {"exact"}


def test_round_trip(fixture_build, tmp_path):
    path = write_manifest(fixture_build.manifest, tmp_path / "m.csv")
    loaded = load_manifest(path)
    pd.testing.assert_frame_equal(loaded.astype(str), fixture_build.manifest.astype(str))
    assert manifest_digest(loaded) == manifest_digest(fixture_build.manifest)


def test_corrupt_files_are_reported_not_fatal(fixture_root, tmp_path):
    data = tmp_path / "chest_xray"
    shutil.copytree(fixture_root, data)
    victim = data / "train" / "NORMAL" / "IM-0117-0001.jpeg"
    victim.write_bytes(victim.read_bytes()[:300])  # truncated JPEG
    (data / "train" / "PNEUMONIA" / "notes.txt").write_text("not an image")
    (data / "test" / "NORMAL" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build = build_manifest(data, download=False, progress=False)
    reported = set(build.problems["path"])
    assert reported == {"train/NORMAL/IM-0117-0001.jpeg", "train/PNEUMONIA/notes.txt", "test/NORMAL/.DS_Store"}
    assert build.problems["problem"].str.startswith("left out").all()
    assert len(build.manifest) == 38  # 39 fixtures minus the truncated one
    assert not build.manifest["path"].isin(reported).any()
    assert sum("IM-0117-0001.jpeg" in str(w.message) for w in caught) == 1


def test_unrecognised_name_is_kept_and_flagged(fixture_root, tmp_path):
    data = tmp_path / "chest_xray"
    shutil.copytree(fixture_root, data)
    shutil.copy(data / "train" / "NORMAL" / "IM-0117-0001.jpeg", data / "train" / "NORMAL" / "scan 7.jpeg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build = build_manifest(data, download=False, progress=False)
    row = build.manifest.set_index("path").loc["train/NORMAL/scan 7.jpeg"]
    assert row["patient_id"] == "file:scan 7"
    assert build.problems["problem"].str.startswith("kept").sum() == 1
    assert row["dup_group"] != ""  # an exact copy of IM-0117-0001


def test_quick_subset(fixture_root):
    build = build_manifest(fixture_root, max_per_folder=2, download=False, progress=False)
    assert len(build.manifest) == 12  # 3 splits x 2 labels x 2 files


@pytest.mark.full_data
@pytest.mark.skipif(full_data_root() is None, reason="full dataset not present")
def test_regenerated_manifest_matches_committed():
    build = build_manifest(full_data_root(), download=False, progress=False)
    committed = load_manifest()
    pd.testing.assert_frame_equal(build.manifest.astype(str), committed.astype(str))
    assert build.problems.empty


def test_partial_data_gets_its_own_manifest(fixture_root):
    from pneumolib.data.split.manifest import manifest_for_data

    with pytest.warns(UserWarning, match="not in"):
        manifest = manifest_for_data(fixture_root)
    assert len(manifest) == 39 and set(manifest["split"]) >= {"train", "test"}


@pytest.mark.full_data
@pytest.mark.skipif(full_data_root() is None, reason="full dataset not present")
def test_full_data_uses_the_committed_manifest():
    from pneumolib.data.split.manifest import manifest_for_data

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        manifest = manifest_for_data(full_data_root())
    pd.testing.assert_frame_equal(manifest, load_manifest())


@pytest.mark.full_data
@pytest.mark.skipif(full_data_root() is None, reason="full dataset not present")
def test_a_copy_without_its_own_metadata_gets_the_same_split(tmp_path):
    """As kagglehub delivers the data: the same file names, no MANIFEST.csv (so no source_form)."""
    source = full_data_root()
    copy = tmp_path / "chest_xray"
    for image in source.glob("*/*/*.jpeg"):
        target = copy / image.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(image)
    assert not (copy / "MANIFEST.csv").exists()
    committed = load_manifest()
    from_policy = build_manifest(copy, download=False, progress=False)  # the split policy from scratch
    assert set(from_policy.manifest["source_form"]) == {"original"}
    agreement = split_agreement(from_policy.manifest, committed)
    assert int(agreement["same_split"].sum()) == len(committed) == 5856
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same duplicate groups: nothing to report
        adopted = adopt_reference_split(from_policy.manifest, committed)
    assert adopted["split"].equals(from_policy.manifest["split"])


def test_reference_split_is_kept_and_different_duplicate_groups_reported(fixture_build):
    manifest = fixture_build.manifest
    reference = manifest.copy()
    reference["split"] = reference["split"].where(reference["official_split"].eq("test"), "train")
    train_rows = reference.index[reference["split"].eq("train") & reference["dup_group"].eq("")]
    reference.loc[train_rows[:2], "dup_group"] = "dup9999"  # the reference paired two films this copy does not
    with pytest.warns(DuplicateGroupsDiffer, match="missed 1 of its pairs; the reference split is kept"):
        adopted = adopt_reference_split(manifest, reference)
    assert adopted["split"].equals(reference["split"])
