"""Plant re-shared Kermany films in an extra source and check that the manifest finds them.

Public pneumonia collections often re-share Kermany films: resized, re-encoded, renamed. This
script writes such a source from the data set itself (``--copies`` films, each resized to 50-90 %,
saved as JPEG at quality 40-90 or as PNG, under a new name) plus ``--new`` films no Kermany film
duplicates (mirrored and cropped), builds the manifest with it as an extra source, and prints how
many copies were found beside their originals, how many landed in their original's split (or were
excluded where the role forbids it), how many new films were wrongly matched, and whether any
Kermany film's split moved.

Usage: python scripts/check_cross_source.py --data PATH/chest_xray [--copies 600] [--role split]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

from pneumolib.data.release.locate import find_dataset_root
from pneumolib.data.sources.reshare import make_reshared_source, planted_copies_found
from pneumolib.data.sources.roots import ROLES, ExtraSource
from pneumolib.data.sources.split import describe_cross_source
from pneumolib.data.split.manifest import build_manifest, load_manifest


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
    with tempfile.TemporaryDirectory() as folder:
        source = make_reshared_source(root, reference, folder, args.copies, args.new, seed=args.seed, progress=False)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build = build_manifest(root, extras=[ExtraSource(source.name, source.folder, args.role)],
                                   reference=reference, download=False, progress=False)
        seconds = time.perf_counter() - started
    kermany = build.manifest.set_index("path").loc[reference["path"], "split"]
    moved = int((kermany.to_numpy() != reference["split"].to_numpy()).sum())
    print(f"{len(build.manifest)} films ({len(reference)} Kermany + {args.copies} re-shared copies + {args.new} new), "
          f"role {args.role}: manifest built in {seconds:.1f} s")
    print(planted_copies_found(build.manifest, source).to_string())
    print(f"Kermany films whose split moved: {moved}")
    print(describe_cross_source(build.cross_source))


if __name__ == "__main__":
    main()
