"""Extra labelled sources: listing, safe decoding, cross-source duplicates, roles, reading for training."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dicom_fixtures import dicom_bytes
from PIL import Image

from pneumolib.data.inputs.arrays import load_split
from pneumolib.data.release.images import CorruptImageError, read_grayscale
from pneumolib.data.sources.listing import SourceLayoutError, list_source
from pneumolib.data.sources.roots import (
    ExtraSource,
    SourceRoots,
    data_roots,
    extra_sources,
    manifest_file,
    parse_extra,
    read_sources,
)
from pneumolib.data.split.leakage import leakage_checks
from pneumolib.data.split.manifest import build_manifest, load_manifest, write_manifest
from pneumolib.data.split.policy import EXCLUDED

# Kermany fixture films copied into the extra source: (original, copy name, how it is altered)
COPIES = {
    "train/PNEUMONIA": "scan_0001.jpg",
    "train/NORMAL": "scan_0002.png",
    "val/NORMAL": "scan_0003.jpg",
    "test/PNEUMONIA": "scan_0004.png",
}


def _first(root: Path, folder: str) -> str:
    return f"{folder}/{sorted(p.name for p in (root / folder).iterdir())[0]}"


def _save_copy(pixels: np.ndarray, target: Path) -> None:
    """A re-shared copy: resized to 80 %, re-encoded (JPEG q70 or PNG), renamed."""
    image = Image.fromarray(pixels)
    image = image.resize((int(image.width * 0.8), int(image.height * 0.8)), Image.Resampling.BILINEAR)
    if target.suffix == ".jpg":
        image.save(target, format="JPEG", quality=70)
    else:
        image.save(target, format="PNG")


def _new_films(root: Path) -> list[np.ndarray]:
    """Films no Kermany fixture duplicates: mirrored fixture films (their pHash lies far from any other)."""
    sources = [root / _first(root, "train/NORMAL"), root / _first(root, "train/PNEUMONIA")]
    return [np.ascontiguousarray(read_grayscale(p)[:, ::-1]) for p in sources]


@pytest.fixture(scope="module")
def extra_folder(tmp_path_factory, fixture_root) -> tuple[Path, dict[str, str]]:
    """An extra source laid out LABEL/<files>: 4 renamed copies of Kermany films, 2 new JPEGs,
    a new film as 16-bit PNG, one as DICOM, and a corrupt file."""
    folder = tmp_path_factory.mktemp("public")
    originals = {}
    for kermany_folder, name in COPIES.items():
        label = kermany_folder.split("/")[1]
        (folder / label).mkdir(exist_ok=True)
        original = _first(fixture_root, kermany_folder)
        _save_copy(read_grayscale(fixture_root / original), folder / label / name)
        originals[f"public/{label}/{name}"] = original
    mirrored_normal, mirrored_pneumonia = _new_films(fixture_root)
    Image.fromarray(mirrored_normal).save(folder / "NORMAL" / "new_a.jpg", quality=90)
    Image.fromarray(mirrored_pneumonia).save(folder / "PNEUMONIA" / "new_b.jpg", quality=90)
    deep = (mirrored_normal.astype(np.uint16) * 257)[::2, ::2]  # a 16-bit export of another film
    Image.fromarray(np.ascontiguousarray(deep[::-1, :])).save(folder / "NORMAL" / "new_c.png")
    (folder / "PNEUMONIA" / "new_d.dcm").write_bytes(dicom_bytes(np.ascontiguousarray(mirrored_pneumonia[::-1, :])))
    (folder / "PNEUMONIA" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a whole JPEG")
    return folder, originals


def _build(fixture_root: Path, *sources: ExtraSource):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_manifest(fixture_root, extras=sources, download=False, progress=False, workers=1)


def test_extra_names_and_roles_are_checked(tmp_path):
    assert parse_extra(f"site_a={tmp_path}") == ("site_a", tmp_path)
    for bad in ("site_a", "=x", "test=/x", "kermany=/x", "a/b=/x"):
        with pytest.raises(ValueError):
            parse_extra(bad)
    with pytest.raises(ValueError, match="role"):
        extra_sources([f"a={tmp_path}"], ["a=holdout"])
    with pytest.raises(ValueError, match="no --extra"):
        extra_sources([f"a={tmp_path}"], ["b=test-only"])
    with pytest.raises(FileNotFoundError):
        extra_sources([f"a={tmp_path / 'missing'}"])
    assert extra_sources([f"a={tmp_path}"], ["a=test-only"]) == [ExtraSource("a", tmp_path, "test-only")]


def test_folder_and_csv_listings(tmp_path, extra_folder):
    folder, _ = extra_folder
    listing = list_source(ExtraSource("public", folder))
    assert set(listing["label"]) == {"NORMAL", "PNEUMONIA"} and listing["official_split"].eq("").all()
    assert "PNEUMONIA/new_d.dcm" in set(listing["path"])
    (tmp_path / "labels.csv").write_text("path,label,patient_id\na.png,1,p1\nb.png,normal,p1\n")
    table = list_source(ExtraSource("csvsource", tmp_path / "labels.csv"))
    assert list(table["label"]) == ["PNEUMONIA", "NORMAL"] and list(table["patient_id"]) == ["p1", "p1"]
    (tmp_path / "bad.csv").write_text("path,label\na.png,maybe\n")
    with pytest.raises(SourceLayoutError, match="maybe"):
        list_source(ExtraSource("csvsource", tmp_path / "bad.csv"))
    with pytest.raises(SourceLayoutError, match="NORMAL"):
        list_source(ExtraSource("empty", tmp_path))


def test_copies_land_with_their_kermany_originals(fixture_root, extra_folder):
    folder, originals = extra_folder
    alone = _build(fixture_root).manifest
    build = _build(fixture_root, ExtraSource("public", folder, "split"))
    manifest = build.manifest.set_index("path")
    # Kermany's split does not move when a source is added
    kermany = manifest[manifest["source"] == "kermany"]
    assert kermany["split"].to_dict() == alone.set_index("path")["split"].to_dict()
    for copy, original in originals.items():
        assert manifest.at[copy, "dup_group"] and manifest.at[copy, "dup_group"] == manifest.at[original, "dup_group"]
        assert manifest.at[copy, "split"] == manifest.at[original, "split"], copy
    assert set(build.cross_source["path"]) == set(originals)
    assert dict(zip(build.cross_source["path"], build.cross_source["duplicate_of"])) == originals
    new = manifest.loc[[p for p in manifest.index if "/new_" in p]]
    assert len(new) == 4 and new["dup_group"].eq("").all()  # 16-bit PNG and DICOM decoded and hashed too
    assert new["patient_id"].str.startswith("public:").all()
    assert "public/PNEUMONIA/broken.jpg" in set(build.problems["path"])
    assert "public/PNEUMONIA/broken.jpg" not in manifest.index
    assert leakage_checks(build.manifest)["passes"].all()


def test_roles_decide_what_a_source_may_be_used_for(fixture_root, extra_folder):
    folder, originals = extra_folder
    external = _build(fixture_root, ExtraSource("public", folder, "test-only")).manifest.set_index("path")
    train_only = _build(fixture_root, ExtraSource("public", folder, "train-only")).manifest.set_index("path")
    for copy, original in originals.items():
        kermany_split = external.at[original, "split"]
        assert external.at[copy, "split"] == ("test" if kermany_split == "test" else EXCLUDED)
        assert train_only.at[copy, "split"] == ("train" if kermany_split == "train" else EXCLUDED)
        if kermany_split != "test":
            assert "cannot use" in external.at[copy, "split_note"]
    new = [p for p in external.index if "/new_" in p]
    assert external.loc[new, "split"].eq("test").all() and train_only.loc[new, "split"].eq("train").all()


def test_a_csv_source_keeps_a_patient_together(tmp_path, fixture_root, extra_folder):
    folder, _ = extra_folder
    rows = ["path,label,patient_id"] + [f"{folder.name}/NORMAL/new_a.jpg,NORMAL,child7",
                                        f"{folder.name}/PNEUMONIA/new_b.jpg,PNEUMONIA,child7"]
    csv = folder.parent / "labels.csv"
    csv.write_text("\n".join(rows) + "\n")
    manifest = _build(fixture_root, ExtraSource("hospital", csv, "split")).manifest
    films = manifest[manifest["source"] == "hospital"]
    assert len(films) == 2 and films["patient_id"].eq("hospital:child7").all()
    assert films["split"].nunique() == 1


def test_manifest_with_sources_round_trips_and_reads_for_training(tmp_path, fixture_root, extra_folder):
    folder, _ = extra_folder
    source = ExtraSource("public", folder, "train-only")
    build = _build(fixture_root, source)
    out = write_manifest(build.manifest, tmp_path / "with_sources.csv", build.sources)
    assert json.loads((tmp_path / "with_sources.sources.json").read_text())["sources"][0]["role"] == "train-only"
    assert read_sources(out) == [ExtraSource("public", folder.resolve(), "train-only")]
    loaded = load_manifest(out)
    pd.testing.assert_frame_equal(loaded, build.manifest, check_dtype=False)
    roots = data_roots(fixture_root, out)
    assert isinstance(roots, SourceRoots)
    assert manifest_file(roots, "public/PNEUMONIA/new_d.dcm") == folder.resolve() / "PNEUMONIA" / "new_d.dcm"
    assert manifest_file(roots, "train/NORMAL/x.jpeg") == fixture_root / "train/NORMAL/x.jpeg"
    train = load_split(loaded, "train", roots, 32, None, progress=False)
    extra = train.rows["source"].eq("public").to_numpy()
    assert extra.sum() >= 4 and train.images[extra].std() > 0  # the DICOM and 16-bit films were read
    assert data_roots(fixture_root, tmp_path / "no_such_manifest.csv") == fixture_root
    with pytest.raises(FileNotFoundError, match="sources.json"):  # the sources record was lost
        load_split(loaded, "train", fixture_root, 32, None, progress=False)
    write_manifest(build.manifest, out)  # rewritten without sources: the stale record goes
    assert read_sources(out) == []


def test_old_manifests_without_a_source_column_still_load(tmp_path, fixture_build):
    old = fixture_build.manifest.drop(columns=["source"])
    old.to_csv(tmp_path / "old.csv", index=False)
    assert load_manifest(tmp_path / "old.csv")["source"].eq("kermany").all()


def test_an_unreadable_extra_file_is_named(extra_folder):
    folder, _ = extra_folder
    broken = folder / "PNEUMONIA" / "broken.jpg"
    with pytest.raises(CorruptImageError, match="broken.jpg"):
        read_grayscale(broken)


def test_each_test_source_is_reported_on_its_own(tmp_path, fixture_root, extra_folder):
    from pneumolib.checkpoint import BUNDLED_CHECKPOINT
    from pneumolib.evaluation.run import evaluate_checkpoint, source_results_table
    from pneumolib.evaluation.test_access import read_test_log

    folder, originals = extra_folder
    build = _build(fixture_root, ExtraSource("public", folder, "test-only"))
    out = write_manifest(build.manifest, tmp_path / "m.csv", build.sources)
    log = tmp_path / "log.csv"
    result = evaluate_checkpoint(BUNDLED_CHECKPOINT, load_manifest(out), data_roots(fixture_root, out),
                                 n_resamples=20, progress=False, test_log=log)
    kermany_test = build.manifest[(build.manifest["source"] == "kermany") & (build.manifest["split"] == "test")]
    public_test = build.manifest[(build.manifest["source"] == "public") & (build.manifest["split"] == "test")]
    assert sorted(result.predictions["test"]["path"]) == sorted(kermany_test["path"])  # Kermany's test set, alone
    assert sorted(result.predictions["test_public"]["path"]) == sorted(public_test["path"])
    assert result.report["test_by_source"]["public"]["data"]["n_images"] == len(public_test)
    table = source_results_table(result.report)
    assert list(table.index) == ["kermany", "public"] and list(table["images"]) == [len(kermany_test), len(public_test)]
    assert len(read_test_log(log)) == 2  # both looks are logged


def test_manifest_command_with_an_extra_source(tmp_path, fixture_root, extra_folder, capsys):
    from pneumolib.cli import main

    folder, originals = extra_folder
    out = tmp_path / "m.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["manifest", "--data", str(fixture_root), "--offline", "--out", str(out), "--workers", "2",
                     "--extra", f"public={folder}", "--role", "public=test-only"])
    printed = capsys.readouterr().out
    assert code == 0 and read_sources(out)[0].role == "test-only"
    assert f"cross-source duplicates: {len(originals)} extra films duplicate a film of another source" in printed
    cross = pd.read_csv(tmp_path / "m_cross_source_duplicates.csv")
    assert set(cross["path"]) == set(originals)
    assert "public/PNEUMONIA/broken.jpg" in set(pd.read_csv(tmp_path / "m_problems.csv")["path"])
    assert main(["manifest", "--data", str(fixture_root), "--offline", "--out", str(out),
                 "--extra", f"public={folder}", "--role", "public=holdout"]) == 2


def test_a_reshared_demonstration_source_is_found_and_counted(tmp_path, fixture_root, fixture_build):
    from pneumolib.data.sources.reshare import make_reshared_source, planted_copies_found

    kermany = fixture_build.manifest
    demo = make_reshared_source(fixture_root, kermany, tmp_path / "demo", copies=6, new=2, progress=False)
    demo = make_reshared_source(fixture_root, kermany, tmp_path / "demo", copies=6, new=2, progress=False)  # a re-run
    assert len(list((tmp_path / "demo").rglob("img_*"))) == 8
    counts = planted_copies_found(_build(fixture_root, ExtraSource(demo.name, demo.folder, "split")).manifest, demo)
    assert counts["found beside their original"] == counts["in their original's split"] == 6
    assert counts["new films matched to another film"] == 0
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        make_reshared_source(fixture_root, kermany, tmp_path / "mine", copies=1, new=0, progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_a_csv_path_outside_its_folder_is_refused(tmp_path):
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "list.csv").write_text(f"path,label\n{tmp_path / 'labels' / 'a.png'},1\n{tmp_path / 'b.png'},0\n")
    with pytest.raises(SourceLayoutError, match="outside the CSV's folder"):
        list_source(ExtraSource("site", tmp_path / "labels" / "list.csv"))
    (tmp_path / "labels" / "list.csv").write_text(f"path,label\n{tmp_path / 'labels' / 'a.png'},1\n")
    assert list(list_source(ExtraSource("site", tmp_path / "labels" / "list.csv"))["path"]) == ["a.png"]
