"""Decode and canonicalise images once, into one uint8 array kept in memory (and optionally on disk).

Decoding JPEGs is the slowest part of a naive input pipeline; with every image already at the
model's size in a (N, S, S) uint8 array (5,856 images at 224 px are 294 MB), later epochs never
touch a JPEG and batches are plain array slices.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from pneumolib.data.inputs.preprocess import CANONICAL_JPEG_QUALITY, canonical_image
from pneumolib.data.release.images import read_grayscale
from pneumolib.data.sources.roots import DataRoot, manifest_file


def cache_key(paths: Sequence[str], size: int, jpeg_quality: int | None, variant: str = "") -> str:
    """A short hash of what an image array holds: the files, the input size, the JPEG quality (and a variant)."""
    digest = hashlib.sha256(f"{variant}{size}|{jpeg_quality}|".encode())
    for path in paths:
        digest.update(path.encode() + b"\n")
    return digest.hexdigest()[:16]


def load_image_array(
    root: DataRoot,
    paths: Sequence[str],
    size: int,
    jpeg_quality: int | None = CANONICAL_JPEG_QUALITY,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    desc: str = "decoding images",
) -> np.ndarray:
    """(N, size, size) uint8 array of the canonical images at ``root/path`` for each path.

    With ``cache_dir`` the array is saved as ``.npy`` (keyed by the paths, size and JPEG quality)
    and memory-mapped back on the next call, so a second run, or a second notebook, skips decoding.
    """
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"images_{size}px_{cache_key(paths, size, jpeg_quality)}.npy"
        if cache_file.is_file():
            return np.load(cache_file, mmap_mode="r")
    images = np.empty((len(paths), size, size), dtype=np.uint8)
    for index, path in enumerate(tqdm(paths, desc=desc, disable=not progress)):
        images[index] = canonical_image(read_grayscale(manifest_file(root, path)), size, jpeg_quality)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache_file.with_suffix(".tmp.npy")
        np.save(temporary, images)
        temporary.replace(cache_file)
    return images
