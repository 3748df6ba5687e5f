"""A demonstration source of re-shared Kermany films, to see cross-source duplicate search work.

Public pneumonia collections often re-share Kermany films: resized, re-encoded, renamed, mixed
with films of their own. :func:`make_reshared_source` writes such a source from the data set
itself, remembering which file copies which film; :func:`planted_copies_found` then counts how
many of those copies a manifest placed beside their originals. Notebook 02 and
``scripts/check_cross_source.py`` use both; nothing else in the package does.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from pneumolib.data.release.images import read_grayscale
from pneumolib.data.sources.roots import DataRoot, manifest_file
from pneumolib.data.split.policy import EXCLUDED


@dataclass
class ResharedSource:
    """Where the source was written and what it holds (manifest paths, ``<name>/...``)."""

    folder: Path
    name: str
    originals: dict[str, str] = field(default_factory=dict)  # copy -> the Kermany film it copies
    new: list[str] = field(default_factory=list)  # films that duplicate nothing


def _reshare(pixels: np.ndarray, target: Path, rng: np.random.Generator) -> Path:
    """Resized to 50-90 %, saved as JPEG (quality 40-90) or PNG under ``target``'s new name."""
    image = Image.fromarray(pixels)
    scale = rng.uniform(0.5, 0.9)
    image = image.resize((max(32, int(image.width * scale)), max(32, int(image.height * scale))),
                         Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        target = target.with_suffix(".png")
        image.save(target, format="PNG")
    else:
        target = target.with_suffix(".jpg")
        image.save(target, format="JPEG", quality=int(rng.integers(40, 91)))
    return target


def _new_film(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A film no Kermany film duplicates: mirrored, then cropped by up to a tenth on each side."""
    mirrored = pixels[:, ::-1]
    h, w = mirrored.shape
    top, bottom = int(rng.uniform(0, 0.1) * h), h - int(rng.uniform(0, 0.1) * h)
    left, right = int(rng.uniform(0, 0.1) * w), w - int(rng.uniform(0, 0.1) * w)
    return np.ascontiguousarray(mirrored[top:bottom, left:right])


_MARKER = ".reshared_source"
"""Written into every folder this module fills, so that only such a folder is ever emptied."""


def _empty_folder(folder: Path) -> None:
    """Make ``folder`` an empty folder of ours (a re-run replaces an earlier demonstration source)."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / _MARKER).is_file():
            raise FileExistsError(f"{folder} is not empty and was not written by make_reshared_source: choose a new folder")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / _MARKER).touch()


def make_reshared_source(
    root: DataRoot,
    manifest: pd.DataFrame,
    folder: str | os.PathLike,
    copies: int,
    new: int,
    name: str = "reshared",
    seed: int = 0,
    progress: bool = True,
) -> ResharedSource:
    """Write ``copies`` altered copies of random manifest films and ``new`` unrelated films.

    Laid out ``<LABEL>/img_NNNNN.<ext>`` under ``folder`` (a source for ``--extra``); the films
    are drawn with ``seed`` from ``manifest``, whose paths are read under ``root``. ``folder``
    must be new, empty, or an earlier source of this function (which is replaced).
    """
    if copies + new > len(manifest):
        raise ValueError(f"{copies} copies + {new} new films need that many films; the manifest has {len(manifest)}")
    folder = Path(folder)
    _empty_folder(folder)
    rng = np.random.default_rng(seed)
    chosen = manifest.iloc[rng.choice(len(manifest), copies + new, replace=False)]
    source = ResharedSource(folder, name)
    rows = tqdm(list(chosen.itertuples(index=False)), desc="writing the re-shared source", disable=not progress)
    for number, row in enumerate(rows):
        (folder / row.label).mkdir(parents=True, exist_ok=True)
        pixels = read_grayscale(manifest_file(root, row.path))
        target = folder / row.label / f"img_{number:05d}"
        if number < copies:
            written = _reshare(pixels, target, rng)
            source.originals[f"{name}/{written.relative_to(folder).as_posix()}"] = row.path
        else:
            Image.fromarray(_new_film(pixels, rng)).save(target.with_suffix(".jpg"), quality=85)
            source.new.append(f"{name}/{row.label}/{target.name}.jpg")
    return source


def planted_copies_found(manifest: pd.DataFrame, source: ResharedSource) -> pd.Series:
    """How the manifest treated the planted films: found, kept in the original's split, excluded, false matches."""
    films = manifest.set_index("path")
    groups, splits = films["dup_group"], films["split"]
    copies = list(source.originals)
    return pd.Series({
        "copies planted": len(copies),
        "found beside their original": sum(bool(groups[c]) and groups[c] == groups[o] for c, o in source.originals.items()),
        "in their original's split": sum(splits[c] == splits[o] for c, o in source.originals.items()),
        "excluded (the role forbids that split)": sum(splits[c] == EXCLUDED for c in copies),
        "new films planted": len(source.new),
        "new films matched to another film": sum(bool(groups[p]) for p in source.new),
    })
