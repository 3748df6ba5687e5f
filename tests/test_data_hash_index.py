"""The multi-index near-duplicate search finds exactly the pairs a full comparison finds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pneumolib.data.duplicates import hash_index
from pneumolib.data.duplicates.hash_index import (
    all_pairs,
    balanced_pieces,
    near_pairs,
    search_plan,
)


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


def skewed(n: int, copies: int, seed: int, constant_bits: int = 40) -> np.ndarray:
    """Hashes like chest-film pHashes: some bits (nearly) constant, the rest biased, plus near copies."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.7, 0.7, size=256)
    p[rng.choice(256, size=constant_bits, replace=False)] = rng.choice([0.0, 1.0], size=constant_bits)
    bits = rng.random((n, 256)) < p
    for _ in range(copies):
        source, target = rng.choice(n, size=2, replace=False)
        bits[target] = bits[source]
        bits[target, rng.choice(256, size=int(rng.integers(0, 24)), replace=False)] ^= True
    return np.packbits(bits, axis=1).view(">u8").astype(np.uint64)


def assert_same_as_full(words: np.ndarray, max_distance: int) -> tuple[np.ndarray, ...]:
    indexed, full = near_pairs(words, max_distance), all_pairs(words, max_distance)
    for got, expected in zip(indexed, full):
        np.testing.assert_array_equal(got, expected)
    return indexed


@pytest.fixture
def always_index(monkeypatch):
    """Never fall back to comparing every pair: the pigeonhole search itself is what is tested."""
    monkeypatch.setattr(hash_index, "_INDEX_MAX_CANDIDATE_SHARE", float("inf"))


@pytest.mark.parametrize("max_distance", [0, 1, 2, 3, 8, 16, 23, 40])
def test_skewed_bits_same_pairs_through_the_index(always_index, max_distance):
    words = skewed(1200, 300, seed=max_distance)
    assert not search_plan(words, max_distance).compare_all
    pairs = assert_same_as_full(words, max_distance)
    if max_distance >= 8:
        assert len(pairs[0]) > 0


@pytest.mark.parametrize("max_distance", [0, 16, 40])
def test_skewed_bits_same_pairs_with_the_fallback(max_distance):
    assert_same_as_full(skewed(1200, 300, seed=100 + max_distance), max_distance)


def test_a_crowd_of_near_copies_and_exact_copies(always_index):
    rng = np.random.default_rng(7)
    words = skewed(600, 0, seed=7)
    crowd = np.repeat(words[:1], 400, axis=0)
    for row in crowd[1:]:
        for bit in rng.choice(256, size=int(rng.integers(0, 4)), replace=False):
            row[bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
    words = np.concatenate([words, crowd, crowd[:50]])[rng.permutation(1050)]
    first, _, distance = assert_same_as_full(words, 16)
    assert len(first) > 400 * 399 // 2 and (distance == 0).sum() >= 50


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 200), st.integers(0, 30), st.integers(0, 120))
def test_property_same_pairs_as_the_full_comparison(seed, n, max_distance, constant_bits):
    hash_index_share = hash_index._INDEX_MAX_CANDIDATE_SHARE
    hash_index._INDEX_MAX_CANDIDATE_SHARE = float("inf")
    try:
        assert_same_as_full(skewed(n, n // 3, seed, constant_bits), max_distance)
    finally:
        hash_index._INDEX_MAX_CANDIDATE_SHARE = hash_index_share


def test_balanced_pieces_partition_the_bits_and_spread_the_entropy():
    rng = np.random.default_rng(0)
    frequencies = np.concatenate([np.ones(40), np.zeros(24), rng.uniform(0.2, 0.8, 192)])  # constant bits first
    pieces = balanced_pieces(frequencies, 17)
    sizes = sorted(len(p) for p in pieces)
    assert sizes == sorted(len(p) for p in np.array_split(np.arange(256), 17))
    assert np.array_equal(np.sort(np.concatenate(pieces)), np.arange(256))
    assert all(np.array_equal(p, np.sort(p)) for p in pieces)
    entropy = hash_index._entropy(frequencies)
    loads = [entropy[p].sum() for p in pieces]
    adjacent = [entropy[p].sum() for p in np.array_split(np.arange(256), 17)]
    assert min(adjacent) < 1e-6  # a piece of constant bits: every hash would share it
    assert max(loads) - min(loads) < 1.0 < max(adjacent) - min(adjacent)
    again = balanced_pieces(frequencies, 17)
    assert all(np.array_equal(a, b) for a, b in zip(pieces, again))
    with pytest.raises(ValueError, match="pieces"):
        balanced_pieces(frequencies, 0)


def test_balanced_pieces_cut_the_candidates_on_skewed_bits():
    words = skewed(3000, 0, seed=3, constant_bits=0)
    words[:, 0] = np.uint64(0x0123456789ABCDEF)  # the first 64 bits the same in every hash
    balanced, adjacent = search_plan(words, 16), search_plan(words, 16, balance=False)
    assert adjacent.candidates >= 3000 * 2999 // 2 and adjacent.compare_all
    assert not balanced.compare_all and balanced.candidates < adjacent.candidates / 10
    assert len(balanced.pieces) == 17 and balanced.largest_run < adjacent.largest_run == 3000


def test_pieces_stay_within_64_bits_and_cover_wider_hashes():
    words = skewed(200, 50, seed=11)
    plan = search_plan(words, 0)
    assert len(plan.pieces) == 4 and max(len(p) for p in plan.pieces) <= 64
    wide = np.concatenate([words, words[::-1]], axis=1)  # 512-bit hashes
    assert len(search_plan(wide, 2).pieces) == 8
    assert_same_as_full(wide, 2)
    assert_same_as_full(wide, 30)


def test_one_word_hashes_and_empty_input():
    first, second, distance = near_pairs(np.array([1, 3, 7, 2**63], dtype=np.uint64), 1)
    assert list(zip(first, second, distance)) == [(0, 1, 1), (1, 2, 1)]
    assert all(len(a) == 0 for a in near_pairs(np.zeros((0, 4), dtype=np.uint64), 16))
    assert search_plan(np.zeros((1, 4), dtype=np.uint64), 16).compare_all
