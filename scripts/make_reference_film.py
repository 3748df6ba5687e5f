"""Rebuild ``pneumolib/resources/reference_normal_film.png``, the ``reference`` occlusion fill's film.

The rule (:func:`pneumolib.explain.reference_film.most_typical`) reads the train split only: the
normal training film closest to the mean of all normal training films. Stored as the canonical
image (the model's preprocessing, at the size given) in 8-bit grayscale.

    python scripts/make_reference_film.py [--data DIR] [--size 224]
"""

from __future__ import annotations

import argparse

import cv2

from pneumolib.config import cache_dir
from pneumolib.data.inputs.arrays import load_split
from pneumolib.data.release.locate import find_dataset_root
from pneumolib.data.split.manifest import load_manifest
from pneumolib.explain.reference_film import REFERENCE_FILE_NAME, most_typical
from pneumolib.resources import packaged_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="dataset folder (else $PNEUMO_DATA_DIR)")
    parser.add_argument("--size", type=int, default=224, help="canonical image size (default 224)")
    parser.add_argument("--jpeg-quality", type=int, default=75, help="the inputs' JPEG round trip (default 75)")
    args = parser.parse_args()
    train = load_split(load_manifest(), "train", find_dataset_root(args.data, download=False), args.size,
                       args.jpeg_quality, None, cache_dir())
    normal = train.labels == 0
    index = most_typical(train.images[normal])
    path = train.rows[normal].iloc[index]["path"]
    out = packaged_file(REFERENCE_FILE_NAME)
    cv2.imwrite(str(out), train.images[normal][index])
    print(f"{path}: the most typical of {int(normal.sum())} normal training films\nwrote {out}")


if __name__ == "__main__":
    main()
