"""Decode and hash many image files, in parallel over processes, with a progress bar.

Why processes: building the manifest decodes every film in full (a Kermany JPEG is about
2,000 x 1,500 pixels) and hashes it three ways (file bytes, pixels, pHash). That is CPU work in
Pillow, NumPy and SciPy, one file independent of the next, and much of it holds the GIL, so
threads barely help while a pool of processes scales with the cores. ``workers=1`` keeps a plain
loop in this process (no pool, easiest to debug and to profile); the pool returns exactly the same
results (``tests/test_data_scan.py``), in input order, whatever order the workers finish in.
``scripts/bench_hashing.py`` measures the speed-up.

A file that cannot be decoded is never dropped or fatal: its :class:`FileScan` carries an
``error`` that names the file, and the scan goes on with the next one.
"""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from pneumolib.data.duplicates.hashing import content_hash, perceptual_hash
from pneumolib.data.release.images import read_grayscale
from pneumolib.file_digest import file_sha256

Reader = Callable[[Path], np.ndarray]

_MAX_CHUNK = 32
"""Files per task sent to a worker: enough to make the pickling round trip negligible, few enough
that the progress bar moves and the last tasks do not leave a core idle for long."""
_CHUNKS_PER_WORKER = 8


@dataclass(frozen=True)
class FileScan:
    """What one file gave: its pixel size and its three hashes, or why it could not be read.

    When ``error`` is set (a message naming the file), ``width`` and ``height`` are 0 and the
    hashes are empty strings.
    """

    path: Path
    width: int
    height: int
    file_sha256: str
    content_hash: str
    phash: str
    error: str | None = None


def _error_message(path: Path, error: Exception) -> str:
    message = str(error)
    if str(path) in message:  # CorruptImageError from read_grayscale already names the file
        return message
    return f"cannot decode image {path}: {type(error).__name__}: {message}"


def scan_file(path: str | os.PathLike, reader: Reader = read_grayscale) -> FileScan:
    """Decode one file with ``reader`` and hash it; any failure becomes ``FileScan.error``."""
    path = Path(path)
    try:
        pixels = reader(path)
        if pixels.ndim != 2:
            raise ValueError(f"the reader returned an array of shape {pixels.shape}, not a 2-D grayscale image")
        return FileScan(path, int(pixels.shape[1]), int(pixels.shape[0]), file_sha256(path),
                        content_hash(pixels), perceptual_hash(pixels))
    except Exception as error:  # noqa: BLE001 - CorruptImageError or any other decode failure, reported per file
        return FileScan(path, 0, 0, "", "", "", _error_message(path, error))


def _scan_chunk(paths: list[Path], reader: Reader) -> list[FileScan]:
    """One task for a worker process (top level, so it pickles)."""
    return [scan_file(path, reader) for path in paths]


def _chunk_size(n_files: int, workers: int) -> int:
    return max(1, min(_MAX_CHUNK, math.ceil(n_files / (workers * _CHUNKS_PER_WORKER))))


def usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def scan_files(
    files: Sequence[str | os.PathLike],
    *,
    reader: Reader = read_grayscale,
    workers: int | None = None,
    progress: bool = True,
    desc: str = "hashing images",
) -> list[FileScan]:
    """Decode and hash every file; one :class:`FileScan` per file, in the order of ``files``.

    ``workers``: processes to use (``None``: one per usable core); ``1`` runs a plain loop in this
    process. With more than one, ``reader`` must pickle: a function defined at the top level of an
    importable module, not a lambda or a nested function.
    """
    paths = [Path(f) for f in files]
    if workers is None:
        workers = usable_cores()
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    workers = min(workers, len(paths))
    if workers <= 1:
        return [scan_file(path, reader) for path in tqdm(paths, desc=desc, unit="file", disable=not progress)]
    try:
        pickle.dumps(reader)
    except Exception as error:
        raise TypeError(f"reader {reader!r} cannot be sent to worker processes ({error}); pass a top-level "
                        "function, or workers=1") from error
    size = _chunk_size(len(paths), workers)
    results: list[FileScan | None] = [None] * len(paths)
    with ProcessPoolExecutor(max_workers=workers) as pool, tqdm(
        total=len(paths), desc=desc, unit="file", disable=not progress
    ) as bar:
        futures = {pool.submit(_scan_chunk, paths[start : start + size], reader): start
                   for start in range(0, len(paths), size)}
        try:
            for future in as_completed(futures):
                start, scans = futures[future], future.result()
                results[start : start + len(scans)] = scans
                bar.update(len(scans))
        except BaseException:  # Ctrl-C or a worker that died: do not wait for the queued chunks
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return results  # type: ignore[return-value]  # every slot filled: each chunk's future completed
