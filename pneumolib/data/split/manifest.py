"""The data manifest: one row per image with its label, patient, hashes, duplicates and split.

``build_manifest`` is the one function that produces ``data_manifest.csv``; the committed file is
the project's reference split, and every later step (training, evaluation) reads it instead of
walking folders, so everybody trains and tests on exactly the same images.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pneumolib import environment
from pneumolib.config import checkout_root, work_dir
from pneumolib.data.duplicates.groups import NEAR_DUPLICATE_MAX_DISTANCE, connected_groups, find_duplicate_pairs
from pneumolib.data.duplicates.scan import scan_files
from pneumolib.data.release.locate import find_dataset_root, list_release_files
from pneumolib.data.release.naming import UnrecognisedFileName, parse_file_name
from pneumolib.data.sources.listing import list_source
from pneumolib.data.sources.roots import BASE_SOURCE, ExtraSource, write_sources
from pneumolib.data.sources.split import assign_source_splits, cross_source_duplicates
from pneumolib.data.split.policy import assign_splits
from pneumolib.resources import MANIFEST_FILE_NAME, packaged_manifest

MANIFEST_ENV = environment.MANIFEST
SOURCE_MANIFEST_NAME = "MANIFEST.csv"
COLUMNS = [
    "path", "source", "label", "official_split", "split", "split_note", "patient_id", "subtype",
    "source_form", "width", "height", "file_sha256", "content_hash", "phash", "dup_group",
]


@dataclass
class ManifestBuild:
    """What :func:`build_manifest` found: the manifest, the files left out, the duplicate pairs."""

    root: Path
    manifest: pd.DataFrame
    problems: pd.DataFrame  # path, problem, detail: every file left out or kept with a caveat
    duplicate_pairs: pd.DataFrame  # path_a, path_b, distance, kind
    sources: list[ExtraSource] = field(default_factory=list)
    cross_source: pd.DataFrame = field(default_factory=pd.DataFrame)  # see cross_source_duplicates

    def source_summary(self) -> pd.DataFrame:
        """Images per source and split (the extra sources' share of the data at a glance)."""
        return self.manifest.groupby(["source", "split"]).size().unstack(fill_value=0)


def _source_forms(root: Path) -> dict[str, str]:
    """``source_form`` per relative path from the copy's own MANIFEST.csv, when it has one.

    The Kaggle release has no such file and holds only original-form images.
    """
    source = root / SOURCE_MANIFEST_NAME
    if not source.is_file():
        return {}
    table = pd.read_csv(source, usecols=["path", "source_form"])
    prefix = root.name + "/"
    return {p[len(prefix):] if p.startswith(prefix) else p: f for p, f in zip(table["path"], table["source_form"])}


def _hashed_rows(listing: pd.DataFrame, root: Path, source: str, workers: int | None, progress: bool,
                 problems: list[tuple[str, str, str]]) -> list[dict]:
    """Decode and hash every listed file (in parallel); undecodable files go to ``problems``."""
    scans = scan_files([root / p for p in listing["path"]], workers=workers, progress=progress,
                       desc=f"hashing {source} images")
    prefix = "" if source == BASE_SOURCE else f"{source}/"
    rows = []
    for item, scan in zip(listing.itertuples(index=False), scans):
        path = prefix + item.path
        if scan.error is not None:
            problems.append((path, "left out: cannot decode", scan.error))
            continue
        if item.name_problem:
            problems.append((path, "kept: unrecognised file name, treated as its own patient", item.name_problem))
        rows.append({"path": path, "source": source, "label": item.label, "official_split": item.official_split,
                     "patient_id": item.patient_id, "subtype": item.subtype, "source_form": item.source_form,
                     "width": scan.width, "height": scan.height, "file_sha256": scan.file_sha256,
                     "content_hash": scan.content_hash, "phash": scan.phash})
    return rows


def _kermany_listing(root: Path, max_per_folder: int | None) -> pd.DataFrame:
    """The release's files with the patient and subtype their names give."""
    forms = _source_forms(root)
    files = list_release_files(root)
    if max_per_folder is not None:
        files = files.groupby(["official_split", "label"], sort=False).head(max_per_folder)
    rows = []
    for rel_path, official_split, label in files[["path", "official_split", "label"]].itertuples(index=False):
        name = rel_path.rsplit("/", 1)[1]
        try:
            parsed = parse_file_name(name)
            patient_id, subtype, name_problem = parsed.patient_id, parsed.subtype, ""
        except UnrecognisedFileName as error:  # reported once the file is known to decode
            patient_id, subtype, name_problem = f"file:{Path(name).stem}", "", str(error)
        rows.append((rel_path, label, official_split, patient_id, subtype, forms.get(rel_path, "original"), name_problem))
    return pd.DataFrame(rows, columns=["path", "label", "official_split", "patient_id", "subtype", "source_form",
                                       "name_problem"])


def _extra_listing(source: ExtraSource, max_per_folder: int | None, problems: list[tuple[str, str, str]]) -> pd.DataFrame:
    """An extra source's files; patient ids namespaced by the source (``name:id``)."""
    listing = list_source(source)
    if max_per_folder is not None:
        listing = listing.groupby(["official_split", "label"], sort=False).head(max_per_folder)
    unnamed = listing["patient_id"].eq("")
    if unnamed.any():
        problems.append((f"{source.name}/", f"kept: {int(unnamed.sum())} files without a patient id, each treated as "
                         "its own patient", "give a CSV with a patient_id column to keep a child's films together"))
    listing["patient_id"] = [f"{source.name}:{pid or 'file:' + Path(path).stem}"
                             for path, pid in zip(listing["path"], listing["patient_id"])]
    return listing.assign(subtype="", source_form="original", name_problem="")


def build_manifest(
    root: str | os.PathLike | None = None,
    *,
    extras: Sequence[ExtraSource] = (),
    max_per_folder: int | None = None,
    max_distance: int = NEAR_DUPLICATE_MAX_DISTANCE,
    progress: bool = True,
    download: bool = True,
    reference: pd.DataFrame | None = None,
    workers: int | None = None,
) -> ManifestBuild:
    """Scan the dataset (and any extra sources), hash every image, find duplicates, assign the split.

    ``max_per_folder`` keeps the first N files (by name) of each split/label folder: the quick
    profile's subset, same code. A file that cannot be decoded is listed in ``problems`` and left
    out with a warning; it never stops the scan. Files are hashed by ``workers`` processes
    (default: one per CPU core).

    With a ``reference`` manifest (the CLI passes the committed one) every Kermany file it knows
    keeps its reference split (:func:`adopt_reference_split`); without one, the split policy of
    :mod:`pneumolib.data.split.policy` assigns it from scratch. The Kermany split is made from Kermany
    films alone, so adding sources never moves it; extra sources are placed around it by
    :mod:`pneumolib.data.sources.split`, and duplicates are searched across all sources.
    """
    root = find_dataset_root(root, download=download)
    problems: list[tuple[str, str, str]] = []
    rows = _hashed_rows(_kermany_listing(root, max_per_folder), root, BASE_SOURCE, workers, progress, problems)
    for source in extras:
        rows += _hashed_rows(_extra_listing(source, max_per_folder, problems), source.root, source.name, workers,
                             progress, problems)
    manifest = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("split", "split_note", "dup_group")])
    pairs = find_duplicate_pairs(list(manifest["content_hash"]), list(manifest["phash"]), max_distance)
    groups = connected_groups(len(manifest), [(p.first, p.second) for p in pairs])
    manifest["dup_group"] = _group_names(groups)
    manifest = manifest.join(_kermany_split(manifest, pairs))
    if reference is not None:
        manifest = adopt_reference_split(manifest, reference)
    if extras:
        manifest[["split", "split_note"]] = assign_source_splits(manifest, {s.name: s.role for s in extras})
    manifest = manifest[COLUMNS]
    pair_table = pd.DataFrame(
        [(manifest.at[p.first, "path"], manifest.at[p.second, "path"], p.distance, p.kind) for p in pairs],
        columns=["path_a", "path_b", "distance", "kind"],
    )
    problem_table = pd.DataFrame(problems, columns=["path", "problem", "detail"])
    for path, problem, detail in problems:
        warnings.warn(f"{path}: {problem} ({detail})", stacklevel=2)
    return ManifestBuild(root, manifest.reset_index(drop=True), problem_table, pair_table, list(extras),
                         cross_source_duplicates(manifest))


def _group_names(groups: np.ndarray) -> list[str]:
    """``dup0007`` for a group number, ``""`` for an image in no group (-1)."""
    return [f"dup{g:04d}" if g >= 0 else "" for g in groups]


def _kermany_split(manifest: pd.DataFrame, pairs: list) -> pd.DataFrame:
    """The split policy applied to the Kermany films, with duplicate groups among them alone."""
    base = manifest["source"].eq(BASE_SOURCE).to_numpy()
    index = np.flatnonzero(base)
    position = {int(i): n for n, i in enumerate(index)}
    inside = [(position[p.first], position[p.second]) for p in pairs if base[p.first] and base[p.second]]
    groups = connected_groups(len(index), inside)
    kermany = manifest.loc[base].assign(dup_group=_group_names(groups))
    splits = pd.DataFrame({"split": "", "split_note": ""}, index=manifest.index)
    splits.loc[base] = assign_splits(kermany).to_numpy()
    return splits


class DuplicateGroupsDiffer(UserWarning):
    """A copy's duplicate search grouped files differently from the reference manifest."""


def _group_pairs(manifest: pd.DataFrame, paths: set[str]) -> set[tuple[str, str]]:
    """Every pair of ``paths`` that one duplicate group joins."""
    rows = manifest[manifest["path"].isin(paths) & manifest["dup_group"].ne("")]
    pairs = set()
    for _, group in rows.groupby("dup_group"):
        members = sorted(group["path"])
        pairs.update((a, b) for i, a in enumerate(members) for b in members[i + 1:])
    return pairs


def adopt_reference_split(manifest: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Give every file the reference knows its reference split; compare the duplicate groups.

    The reference (the committed ``data_manifest.csv``) is the project's split: whoever rebuilds
    the manifest, from Kaggle's originals or another copy, trains and tests on the same images.
    Duplicate search on a differently encoded copy can find other near-duplicate pairs; that is
    reported (with the pairs that would now straddle two splits), never silently re-split.
    Files the reference does not know keep the split the policy gave them.
    """
    base = manifest["source"].eq(BASE_SOURCE) if "source" in manifest.columns else pd.Series(True, index=manifest.index)
    known = base & manifest["path"].isin(set(reference["path"]))
    by_path = reference.set_index("path")
    manifest = manifest.copy()
    for column in ("split", "split_note"):
        manifest.loc[known, column] = manifest.loc[known, "path"].map(by_path[column])
    common = set(manifest.loc[known, "path"])
    ours, theirs = _group_pairs(manifest, common), _group_pairs(reference, common)
    if ours != theirs:
        split_of = dict(zip(manifest["path"], manifest["split"]))
        straddling = sorted(p for p in ours - theirs if split_of[p[0]] != split_of[p[1]])
        warnings.warn(
            f"this copy's duplicate search found {len(ours - theirs)} duplicate pairs the reference manifest does "
            f"not have and missed {len(theirs - ours)} of its pairs; the reference split is kept"
            + (f". {len(straddling)} new pairs join two splits, e.g. {straddling[:3]}: check them by eye"
               if straddling else ""),
            DuplicateGroupsDiffer, stacklevel=2)
    if (base & ~known).any():
        warnings.warn(f"{int((base & ~known).sum())} files are not in the reference manifest: their split comes from the "
                      "split policy, not from the reference", stacklevel=2)
    return manifest


def write_manifest(manifest: pd.DataFrame, path: str | os.PathLike, sources: Sequence[ExtraSource] = ()) -> Path:
    """Write the manifest CSV and, beside it, where its extra sources are (:mod:`pneumolib.data.sources.roots`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest.to_csv(path, index=False, lineterminator="\n")
    write_sources(path, list(sources))
    return path


def committed_manifest_path() -> Path | None:
    """The project's reference split, ``data_manifest.csv`` at a clone's top; None in an installed package."""
    root = checkout_root()
    return root / MANIFEST_FILE_NAME if root is not None else None


def default_manifest_path() -> Path:
    """The manifest every step reads: ``$PNEUMO_MANIFEST``, else the reference split.

    The reference is the clone's top-level ``data_manifest.csv`` (its source of truth) or, in an
    installed package, the copy shipped inside it (:mod:`pneumolib.resources`): the same bytes.
    """
    env = environment.read(MANIFEST_ENV)
    if env:
        return Path(env)
    committed = committed_manifest_path()
    return committed if committed is not None and committed.is_file() else packaged_manifest()


def manifest_output_path() -> Path:
    """Where ``python -m pneumolib manifest`` writes without ``--out``.

    ``$PNEUMO_MANIFEST``, else the clone's reference (re-deriving the project's split), else,
    in an installed package, ``<work folder>/data_manifest.csv``: never inside the package.
    """
    env = environment.read(MANIFEST_ENV)
    if env:
        return Path(env)
    committed = committed_manifest_path()
    return committed if committed is not None else work_dir() / MANIFEST_FILE_NAME


def refresh_packaged_manifest(written: str | os.PathLike) -> Path | None:
    """Copy a rewritten reference split into the package's copy; None when ``written`` is not the reference."""
    committed = committed_manifest_path()
    if committed is None or Path(written).resolve() != committed.resolve():
        return None
    target = packaged_manifest()
    shutil.copyfile(committed, target)
    return target


def load_manifest(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read a manifest (default: the committed reference) with stable dtypes."""
    path = Path(path) if path is not None else default_manifest_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"No manifest at {path}. Build one with `python -m pneumolib manifest`, or point "
            f"{MANIFEST_ENV} at a data_manifest.csv."
        )
    manifest = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "source" not in manifest.columns:  # written before extra sources existed: Kermany films only
        manifest.insert(1, "source", BASE_SOURCE)
    missing = [c for c in COLUMNS if c not in manifest.columns]
    if missing:
        raise ValueError(f"{path} is not a pneumolib manifest: missing columns {missing}")
    manifest[["width", "height"]] = manifest[["width", "height"]].astype(int)
    return manifest


def manifest_digest(manifest: pd.DataFrame) -> str:
    """A short hash of what defines the data (paths, labels, splits, pixel hashes).

    Checkpoints record it so a model is always traceable to the split it was trained on.
    """
    key = manifest[["path", "label", "split", "content_hash"]].to_csv(index=False, lineterminator="\n")
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def manifest_for_data(root: str | os.PathLike, reference: str | os.PathLike | None = None) -> pd.DataFrame:
    """The committed reference manifest when ``root`` holds all its images, else one built from ``root``.

    Everyone with the full data set (Kaggle download or a copy) trains and tests on the project's
    split; a partial copy (the test fixtures, a sample) gets a manifest of its own, with a warning,
    instead of failing on files it does not have.
    """
    manifest = load_manifest(reference)
    root = Path(root)
    missing = sum(not (root / path).is_file() for path in manifest["path"])
    if not missing:
        return manifest
    warnings.warn(f"{missing} of the {len(manifest)} images of the reference manifest are not in {root}: "
                  "using a manifest built from the images that are there (its split is not the project's).",
                  stacklevel=2)
    return build_manifest(root, download=False, progress=False).manifest
