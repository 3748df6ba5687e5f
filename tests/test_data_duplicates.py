"""Duplicate detection on planted copies of real fixture films."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pneumolib.data.duplicates.groups import NEAR_DUPLICATE_MAX_DISTANCE, connected_groups, find_duplicate_pairs
from pneumolib.data.duplicates.hashing import content_hash, hamming_distances, hashes_to_words, perceptual_hash
from pneumolib.data.release.images import read_grayscale


def reencode(pixels: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))


def resize(pixels: np.ndarray, factor: float) -> np.ndarray:
    image = Image.fromarray(pixels)
    return np.asarray(image.resize((round(image.width * factor), round(image.height * factor)), Image.LANCZOS))


@pytest.fixture(scope="module")
def films(fixture_root):
    # six different children (the fixture's NORMAL2-IM-0095/0096 pair is left out: it is a duplicate)
    paths = sorted(fixture_root.glob("test/PNEUMONIA/*.jpeg"))[:4] + sorted(fixture_root.glob("test/NORMAL/IM-*.jpeg"))[:2]
    return [read_grayscale(p) for p in paths]


def test_content_hash_is_exact(films):
    a = films[0]
    assert content_hash(a) == content_hash(a.copy())
    b = a.copy()
    b[0, 0] ^= 1
    assert content_hash(a) != content_hash(b)


def test_perceptual_hash_format(films):
    digest = perceptual_hash(films[0])
    assert len(digest) == 64 and int(digest, 16) >= 0
    words = hashes_to_words([digest, digest])
    assert hamming_distances(words[0], words).tolist() == [0, 0]


@pytest.mark.parametrize("kind", ["exact", "reencoded", "resized", "brighter"])
def test_planted_copies_are_found(films, kind):
    original = films[1]
    planted = {
        "exact": original.copy(),
        "reencoded": reencode(original, 60),
        "resized": resize(original, 0.9),
        "brighter": np.clip(original.astype(int) + 12, 0, 255).astype(np.uint8),
    }[kind]
    images = films + [planted]
    pairs = find_duplicate_pairs([content_hash(i) for i in images], [perceptual_hash(i) for i in images])
    found = {(p.first, p.second): p for p in pairs}
    assert (1, len(films)) in found, f"planted {kind} copy not found"
    assert found[(1, len(films))].kind == ("exact" if kind == "exact" else "near")
    # and nothing else: the other fixture films are different children
    assert set(found) == {(1, len(films))}


def test_different_films_are_far_apart(films):
    words = hashes_to_words([perceptual_hash(i) for i in films])
    for i in range(len(films)):
        distances = hamming_distances(words[i], words)
        distances[i] = 999
        assert distances.min() > NEAR_DUPLICATE_MAX_DISTANCE


def test_connected_groups_chain():
    groups = connected_groups(6, [(0, 1), (1, 2), (4, 5)])
    assert groups[0] == groups[1] == groups[2]
    assert groups[4] == groups[5] != groups[0]
    assert groups[3] == -1
