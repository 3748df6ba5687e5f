"""Plant re-shared Kermany films in an extra source and check that the manifest finds them.

Public pneumonia collections often re-share Kermany films: resized, re-encoded, renamed. This
script builds such a source from the data set itself (``--copies`` films, each resized to 50-90 %,
saved as JPEG at quality 40-90 or as PNG, under a new name) plus ``--new`` films no Kermany film
duplicates (mirrored and cropped), runs ``build_manifest`` with it as an extra source, and prints:

* how many copies were found as duplicates of their own original (recall),
* how many landed in their original's split (or were excluded where the role forbids it),
* how many new films were wrongly matched to a Kermany film.

Usage: python scripts/check_cross_source.py --data PATH/chest_xray [--copies 600] [--role split]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from pneumolib.data.images import read_grayscale
from pneumolib.data.locate import find_dataset_root
from pneumolib.data.manifest import build_manifest, load_manifest
from pneumolib.data.source_split import describe_cross_source
from pneumolib.data.sources import ROLES, ExtraSource
from pneumolib.data.split import EXCLUDED


def _reshare(pixels: np.ndarray, target: Path, rng: np.random.Generator) -> Path:
    image = Image.fromarray(pixels)
    scale = rng.uniform(0.5, 0.9)
    image = image.resize((max(32, int(image.width * scale)), max(32, int(image.height * scale))), Image.Resampling.BILINEAR)
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
    top, left = int(rng.uniform(0, 0.1) * h), int(rng.uniform(0, 0.1) * w)
    return np.ascontiguousarray(mirrored[top : h - int(rng.uniform(0, 0.1) * h), left : w - int(rng.uniform(0, 0.1) * w)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="the Kermany folder (else $PNEUMO_DATA_DIR)")
    parser.add_argument("--copies", type=int, default=600)
    parser.add_argument("--new", type=int, default=200)
    parser.add_argument("--role", choices=ROLES, default="split")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    root = find_dataset_root(args.data, download=False)
    reference = load_manifest()
    rng = np.random.default_rng(args.seed)
    chosen = reference.iloc[rng.choice(len(reference), args.copies + args.new, replace=False)]
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "reshared"
        originals, new = {}, set()
        for number, row in enumerate(chosen.itertuples(index=False)):
            (source / row.label).mkdir(parents=True, exist_ok=True)
            pixels = read_grayscale(root / row.path)
            name = source / row.label / f"img_{number:05d}"
            if number < args.copies:
                originals[f"reshared/{_reshare(pixels, name, rng).relative_to(source).as_posix()}"] = row.path
            else:
                Image.fromarray(_new_film(pixels, rng)).save(name.with_suffix(".jpg"), quality=85)
                new.add(f"reshared/{row.label}/{name.name}.jpg")
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build = build_manifest(root, extras=[ExtraSource("reshared", source, args.role)], reference=reference,
                                   download=False, progress=False)
        seconds = time.perf_counter() - started
    manifest = build.manifest.set_index("path")
    found = sum(bool(manifest.at[c, "dup_group"]) and manifest.at[c, "dup_group"] == manifest.at[o, "dup_group"]
                for c, o in originals.items())
    beside = sum(manifest.at[c, "split"] == manifest.at[o, "split"] for c, o in originals.items())
    excluded = sum(manifest.at[c, "split"] == EXCLUDED for c in originals)
    false_matches = sum(bool(manifest.at[p, "dup_group"]) for p in new)
    kermany_moved = int((manifest.loc[reference["path"], "split"].to_numpy() != reference["split"].to_numpy()).sum())
    print(f"{len(build.manifest)} films ({len(reference)} Kermany + {args.copies} re-shared copies + {args.new} new), "
          f"role {args.role}: manifest built in {seconds:.1f} s")
    print(f"copies found beside their original: {found} / {args.copies} ({found / args.copies:.1%})")
    print(f"copies in their original's split: {beside}; excluded (role forbids that split): {excluded}")
    print(f"new films wrongly matched to another film: {false_matches} / {args.new}")
    print(f"Kermany films whose split moved: {kermany_moved}")
    print(describe_cross_source(build.cross_source))


if __name__ == "__main__":
    main()
