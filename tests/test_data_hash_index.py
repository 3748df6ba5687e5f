"""The multi-index near-duplicate search finds exactly the pairs a full comparison finds."""

from __future__ import annotations

import numpy as np
import pytest

from pneumolib.data.hash_index import all_pairs, near_pairs


def collection(n: int, copies: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2**63, (n, 4), dtype=np.int64).astype(np.uint64)
    for _ in range(copies):
        source, target = rng.choice(n, size=2, replace=False)
        words[target] = words[source]
        for bit in rng.choice(256, size=int(rng.integers(0, 24)), replace=False):
            words[target, bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return words


@pytest.mark.parametrize("max_distance", [0, 1, 5, 16, 23, 40, 200])
def test_same_pairs_as_the_full_comparison(max_distance):
    words = collection(1500, 300, seed=max_distance)
    indexed, full = near_pairs(words, max_distance), all_pairs(words, max_distance)
    for got, expected in zip(indexed, full):
        np.testing.assert_array_equal(got, expected)
    if 0 < max_distance <= 40:
        assert len(indexed[0]) > 0  # the planted copies are found


def test_pairs_at_the_threshold_and_just_past_it():
    base = np.zeros((1, 4), dtype=np.uint64)
    at, past = base.copy(), base.copy()
    at[0, 0] = np.uint64((1 << 16) - 1)  # 16 bits set, all in one word
    past[0, 1], past[0, 3] = np.uint64((1 << 9) - 1), np.uint64((1 << 8) - 1)  # 17 bits, two words
    first, second, distance = near_pairs(np.concatenate([base, at, past]), 16)
    assert list(zip(first, second, distance)) == [(0, 1, 16)]


def test_identical_hashes_and_tiny_inputs():
    same = np.ones((5, 4), dtype=np.uint64)
    first, second, distance = near_pairs(same, 0)
    assert len(first) == 10 and (distance == 0).all() and (first < second).all()
    assert all(len(a) == 0 for a in near_pairs(same[:1], 16))
    with pytest.raises(ValueError, match="max_distance"):
        near_pairs(same, -1)
