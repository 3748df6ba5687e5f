"""The files and labels of an extra source: a labelled folder tree, or a CSV.

Two layouts are read, the two that labelled chest X-ray collections are usually shared in:

* a folder ``[<split>/]<LABEL>/<files>``, like the Kermany release: ``LABEL`` is ``NORMAL`` or
  ``PNEUMONIA`` (any case), ``split`` (optional) is ``train``, ``val`` or ``test``;
* a CSV with the columns ``path,label[,patient_id]``; ``path`` is relative to the CSV's folder
  and ``label`` is ``NORMAL``/``PNEUMONIA`` (any case) or ``0``/``1`` (1 = pneumonia).

Without a patient id every file is its own patient: the split can then only keep a child's
films together where they are duplicates, and the build says so.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pneumolib.constants import CLASS_NAMES
from pneumolib.data.release.locate import SPLITS
from pneumolib.data.sources.roots import ExtraSource

LISTING_COLUMNS = ["path", "label", "official_split", "patient_id"]
CSV_COLUMNS = ("path", "label")  # required; patient_id is optional
_LABEL_WORDS = {name.lower(): name for name in CLASS_NAMES} | {"0": CLASS_NAMES[0], "1": CLASS_NAMES[1]}


class SourceLayoutError(ValueError):
    """An extra source that is neither a labelled folder tree nor a readable labels CSV."""


def _label(word: str) -> str | None:
    return _LABEL_WORDS.get(str(word).strip().lower())


def _folder_listing(root: Path) -> pd.DataFrame:
    rows = []
    for split_dir in [None, *(root / s for s in SPLITS)]:
        base = root if split_dir is None else split_dir
        if not base.is_dir():
            continue
        for label_dir in sorted(p for p in base.iterdir() if p.is_dir() and _label(p.name)):
            for file in sorted(p for p in label_dir.rglob("*") if p.is_file()):  # junk is reported, not skipped
                rows.append((file.relative_to(root).as_posix(), _label(label_dir.name),
                             "" if split_dir is None else split_dir.name, ""))
    if not rows:
        raise SourceLayoutError(f"{root} has no NORMAL/ or PNEUMONIA/ folder (directly or under train/, val/, test/): "
                                "lay it out as [<split>/]<LABEL>/<files>, or give a CSV with path,label[,patient_id]")
    return pd.DataFrame(rows, columns=LISTING_COLUMNS)


def _inside(csv: Path, path: str) -> str:
    """A CSV's ``path`` relative to the CSV's folder (the source's root), where it must lie."""
    given = Path(path)
    if not given.is_absolute():
        return given.as_posix()
    try:
        return given.resolve().relative_to(csv.parent.resolve()).as_posix()
    except ValueError:
        raise SourceLayoutError(f"{csv}: {path} is outside the CSV's folder; list paths relative to "
                                f"{csv.parent} (or move the CSV to the images' common folder)") from None


def _csv_listing(csv: Path) -> pd.DataFrame:
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    missing = [c for c in CSV_COLUMNS if c not in table.columns]
    if missing:
        raise SourceLayoutError(f"{csv} lacks the columns {missing}: it needs path,label[,patient_id]")
    labels = table["label"].map(_label)
    bad = table.loc[labels.isna(), "label"].unique().tolist()
    if bad:
        raise SourceLayoutError(f"{csv}: labels {bad[:5]} are not NORMAL/PNEUMONIA or 0/1")
    paths = [_inside(csv, p) for p in table["path"]]
    patients = table["patient_id"] if "patient_id" in table.columns else pd.Series("", index=table.index)
    listing = pd.DataFrame({"path": paths, "label": labels, "official_split": "", "patient_id": patients.str.strip()})
    repeated = listing["path"][listing["path"].duplicated()].tolist()
    if repeated:
        raise SourceLayoutError(f"{csv} lists {len(repeated)} files twice, e.g. {repeated[:3]}")
    return listing


def list_source(source: ExtraSource) -> pd.DataFrame:
    """``path`` (inside the source), ``label``, ``official_split`` ('' if none), ``patient_id`` ('' if none)."""
    if source.location.is_file():
        return _csv_listing(source.location)
    if source.location.is_dir():
        return _folder_listing(source.location)
    raise SourceLayoutError(f"source {source.name!r}: {source.location} is neither a folder nor a CSV file")
