"""Labelled image sources beyond the Kermany release, and where each one's files live.

A research team can add its own labelled chest X-rays as further *sources*. Each source has a
name, a location (a folder laid out ``[<split>/]<LABEL>/<files>``, or a CSV with
``path,label[,patient_id]``) and a role:

* ``train-only``: every film is used for training, never for validation or testing;
* ``split``: the source is divided by patient like the Kermany pool (its own ``test/`` folder,
  when it has one, is its test set; otherwise a share of its patients is drawn for test);
* ``test-only``: an external test set, reported on its own and never trained on.

In the manifest a source's files are named ``<source>/<path inside the source>``, so paths stay
unique, readable and independent of where the data sits on a machine; the folders themselves
are recorded in a small JSON file beside the manifest (:func:`sources_file`), and
:func:`manifest_file` turns a manifest path back into a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

BASE_SOURCE = "kermany"
"""The source name of the Kermany et al. (2018) release: the project's reference data."""

ROLES = ("train-only", "split", "test-only")
DEFAULT_ROLE = "split"

RESERVED_NAMES = frozenset({BASE_SOURCE, "train", "val", "test"})
"""Names a source cannot take: the base source's, and the Kermany split folders its paths start with."""


def official_rows(manifest: pd.DataFrame, split: str | None = None) -> pd.DataFrame:
    """The manifest's Kermany rows (of ``split`` when given): the official test split is ``split="test"``."""
    rows = manifest[manifest["source"].eq(BASE_SOURCE)]
    return rows if split is None else rows[rows["split"].eq(split)]


@dataclass(frozen=True)
class ExtraSource:
    """One additional labelled source: its name, folder or CSV, and what it may be used for."""

    name: str
    location: Path
    role: str = DEFAULT_ROLE

    def __post_init__(self) -> None:
        check_source_name(self.name)
        if self.role not in ROLES:
            raise ValueError(f"source {self.name!r}: role {self.role!r} is not one of {', '.join(ROLES)}")

    @property
    def root(self) -> Path:
        """The folder the source's manifest paths are relative to (a CSV's own folder)."""
        return self.location.parent if self.location.suffix.lower() == ".csv" else self.location


def check_source_name(name: str) -> None:
    """Refuse names that would be ambiguous in a manifest path."""
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"source name {name!r}: use letters, digits, '-' and '_' only")
    if name.lower() in RESERVED_NAMES:
        raise ValueError(f"source name {name!r} is reserved; choose another")


def parse_extra(text: str) -> tuple[str, Path]:
    """``NAME=PATH`` (the ``--extra`` option) as a name and a path."""
    name, sep, path = text.partition("=")
    if not sep or not path:
        raise ValueError(f"--extra {text!r}: write NAME=PATH, e.g. --extra hospital_a=/data/hospital_a")
    check_source_name(name)
    return name, Path(path).expanduser()


def parse_role(text: str) -> tuple[str, str]:
    """``NAME=ROLE`` (the ``--role`` option) as a name and a role."""
    name, sep, role = text.partition("=")
    if not sep or role not in ROLES:
        raise ValueError(f"--role {text!r}: write NAME=ROLE with ROLE one of {', '.join(ROLES)}")
    return name, role


def extra_sources(extras: list[str], roles: list[str] | None = None) -> list[ExtraSource]:
    """The ``--extra`` and ``--role`` options as sources; every role must name a given source."""
    located = dict(parse_extra(text) for text in extras)
    if len(located) != len(extras):
        raise ValueError("each --extra needs its own NAME")
    chosen = dict(parse_role(text) for text in roles or [])
    unknown = sorted(set(chosen) - set(located))
    if unknown:
        raise ValueError(f"--role names {unknown}, which no --extra gives")
    for name, location in located.items():
        if not location.exists():
            raise FileNotFoundError(f"source {name!r}: {location} does not exist")
    return [ExtraSource(name, location, chosen.get(name, DEFAULT_ROLE)) for name, location in located.items()]


@dataclass(frozen=True)
class SourceRoots:
    """Where every source's files are: the Kermany folder plus one folder per extra source."""

    base: Path
    extras: Mapping[str, Path] = field(default_factory=dict)

    def file(self, path: str) -> Path:
        """The file behind a manifest path (``<source>/...`` for extras, Kermany-relative otherwise)."""
        head, _, rest = path.partition("/")
        if head in self.extras:
            return self.extras[head] / rest
        return _kermany_file(self.base, path)


DataRoot = str | os.PathLike | SourceRoots
"""What the data readers accept: the Kermany folder alone, or every source's folder."""


def _kermany_file(base: Path, path: str) -> Path:
    """A Kermany path (``<split>/<LABEL>/<file>``); any other is an extra source's with no known folder."""
    head = path.partition("/")[0]
    if head not in RESERVED_NAMES:
        raise FileNotFoundError(
            f"{path!r} belongs to the extra source {head!r}, but no folder is known for it: keep the "
            "<manifest>.sources.json that `python -m pneumolib manifest --extra` wrote beside the manifest "
            "(and pass that manifest with --manifest), or rebuild the manifest with --extra")
    return base / path


def manifest_file(root: DataRoot, path: str) -> Path:
    """The file of a manifest ``path`` under ``root`` (a folder, or :class:`SourceRoots`)."""
    if isinstance(root, SourceRoots):
        return root.file(path)
    return _kermany_file(Path(root), path)


def sources_file(manifest_path: str | os.PathLike) -> Path:
    """``<manifest stem>.sources.json``: the extra sources of the manifest at ``manifest_path``."""
    path = Path(manifest_path)
    return path.with_name(f"{path.stem}.sources.json")


def write_sources(manifest_path: str | os.PathLike, sources: list[ExtraSource]) -> Path | None:
    """Record the extra sources beside their manifest (removes a stale record when there are none)."""
    target = sources_file(manifest_path)
    if not sources:
        target.unlink(missing_ok=True)
        return None
    payload = {"sources": [{"name": s.name, "location": str(s.location.resolve()), "role": s.role} for s in sources]}
    target.write_text(json.dumps(payload, indent=2) + "\n")
    return target


def read_sources(manifest_path: str | os.PathLike) -> list[ExtraSource]:
    """The extra sources recorded beside a manifest; none when it has no record."""
    target = sources_file(manifest_path)
    if not target.is_file():
        return []
    entries = json.loads(target.read_text())["sources"]
    return [ExtraSource(e["name"], Path(e["location"]), e["role"]) for e in entries]


def data_roots(base: str | os.PathLike, manifest_path: str | os.PathLike | None) -> DataRoot:
    """What the readers need for a manifest: its extra sources' folders when it has any, else ``base``."""
    sources = read_sources(manifest_path) if manifest_path is not None else []
    if not sources:
        return Path(base)
    missing = [f"{s.name} ({s.location})" for s in sources if not s.location.exists()]
    if missing:
        raise FileNotFoundError(f"the manifest's extra sources are not where {sources_file(manifest_path).name} says: "
                                f"{', '.join(missing)}. Move them back or rebuild the manifest with --extra.")
    return SourceRoots(Path(base), {s.name: s.root for s in sources})
