"""Parallel decoding and hashing: the same results as the serial loop, in order, errors per file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pneumolib.data.duplicates.hashing import content_hash, perceptual_hash
from pneumolib.data.duplicates.scan import FileScan, scan_file, scan_files
from pneumolib.data.release.images import read_grayscale
from pneumolib.file_digest import file_sha256


@pytest.fixture(scope="module")
def fixture_files(fixture_root) -> list[Path]:
    files = sorted(fixture_root.glob("*/*/*.jpeg"))
    assert len(files) >= 30
    return files


@pytest.fixture(scope="module")
def serial(fixture_files) -> list[FileScan]:
    return scan_files(fixture_files, workers=1, progress=False)


def broken_reader(path: Path) -> np.ndarray:
    """Top level, so it pickles: fails on one file in a way a decoder might (not a CorruptImageError)."""
    if path.name.startswith("person1_"):
        raise RuntimeError("decoder gave up")
    return read_grayscale(path)


def colour_reader(path: Path) -> np.ndarray:
    return np.zeros((4, 4, 3), dtype=np.uint8)


def test_hashes_are_those_of_the_decoded_pixels(fixture_files, serial):
    assert [scan.path for scan in serial] == fixture_files
    for scan in serial:
        pixels = read_grayscale(scan.path)
        assert scan.error is None
        assert (scan.height, scan.width) == pixels.shape
        assert scan.file_sha256 == file_sha256(scan.path)
        assert scan.content_hash == content_hash(pixels)
        assert scan.phash == perceptual_hash(pixels)


def test_parallel_gives_the_serial_results_in_input_order(fixture_files, serial):
    assert scan_files(fixture_files, workers=2, progress=False) == serial
    shuffled = [fixture_files[i] for i in np.random.default_rng(0).permutation(len(fixture_files))]
    by_path = {scan.path: scan for scan in serial}
    assert scan_files(shuffled, workers=3, progress=False) == [by_path[p] for p in shuffled]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_corrupt_file_is_reported_by_name_and_the_scan_goes_on(tmp_path, fixture_files, serial, workers):
    bad = tmp_path / "garbage.jpeg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not the rest of a JPEG" * 20)
    files = fixture_files[:10] + [bad] + fixture_files[10:]
    scans = scan_files(files, workers=workers, progress=False)
    assert [scan.path for scan in scans] == files
    broken = scans[10]
    assert broken.error is not None and str(bad) in broken.error
    assert (broken.width, broken.height, broken.file_sha256, broken.content_hash, broken.phash) == (0, 0, "", "", "")
    assert scans[:10] + scans[11:] == serial


def test_a_missing_file_is_an_error_too(tmp_path):
    missing = tmp_path / "gone.jpeg"
    (scan,) = scan_files([missing], workers=1, progress=False)
    assert scan.error is not None and str(missing) in scan.error


@pytest.mark.parametrize("workers", [1, 2])
def test_any_reader_failure_is_reported_with_the_file(fixture_files, workers):
    scans = scan_files(fixture_files, reader=broken_reader, workers=workers, progress=False)
    failed = [scan for scan in scans if scan.error is not None]
    assert failed and all(scan.path.name.startswith("person1_") for scan in failed)
    assert all(str(scan.path) in scan.error and "RuntimeError: decoder gave up" in scan.error for scan in failed)
    assert len(scans) == len(fixture_files)


def test_a_reader_must_return_a_grayscale_image(fixture_files):
    scan = scan_file(fixture_files[0], reader=colour_reader)
    assert scan.error is not None and "2-D" in scan.error and str(fixture_files[0]) in scan.error


def test_a_reader_that_cannot_be_sent_to_workers_is_refused_up_front(fixture_files):
    with pytest.raises(TypeError, match="top-level function"):
        scan_files(fixture_files[:4], reader=lambda path: read_grayscale(path), workers=2, progress=False)
    assert len(scan_files(fixture_files[:2], reader=lambda path: read_grayscale(path), workers=1, progress=False)) == 2


def test_edge_cases_and_progress_bar(fixture_files, capsys):
    assert scan_files([], progress=False) == []
    with pytest.raises(ValueError, match="workers"):
        scan_files(fixture_files[:2], workers=0)
    scans = scan_files(fixture_files[:3], workers=None, progress=True, desc="hashing fixtures")
    assert len(scans) == 3 and all(scan.error is None for scan in scans)
    assert "hashing fixtures" in capsys.readouterr().err
