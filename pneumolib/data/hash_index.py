"""Near-duplicate search that scales: multi-index hashing over 256-bit perceptual hashes.

Comparing every pair costs n^2 / 2 Hamming distances: 17 million at 5,856 images, 8.5 billion at
130,000. Multi-index hashing (Norouzi, Punjani and Fleet, 2012) avoids most of them exactly, not
approximately: cut the 256 bits into ``d + 1`` disjoint pieces; two hashes at most ``d`` bits
apart differ in at most ``d`` pieces, so at least one piece is identical (pigeonhole). Sorting the
hashes by each piece puts every such pair next to others with the same piece; only those
candidates are compared in full. The result is the same set of pairs as the full comparison
(``tests/test_data_hash_index.py``); ``scripts/bench_near_duplicates.py`` measures the speed-up.
"""

from __future__ import annotations

import numpy as np

from pneumolib.data.hashing import hamming_distances


def _bits(words: np.ndarray) -> np.ndarray:
    """(n, w) uint64 words -> (n, 64 w) bits (0/1, uint8)."""
    as_bytes = np.ascontiguousarray(words.astype(">u8")).view(np.uint8).reshape(len(words), -1)
    return np.unpackbits(as_bytes, axis=1)


def _piece_keys(bits: np.ndarray, pieces: int) -> list[np.ndarray]:
    """One integer key per hash for each of ``pieces`` disjoint runs of bit positions."""
    keys = []
    for columns in np.array_split(np.arange(bits.shape[1]), pieces):
        weights = (np.uint64(1) << np.arange(len(columns), dtype=np.uint64))[::-1]
        keys.append((bits[:, columns].astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64))
    return keys


def near_pairs(words: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (i < j) of rows of ``words`` at most ``max_distance`` bits apart, and its distance.

    Returns ``(first, second, distance)`` arrays sorted by (first, second).
    """
    words = np.asarray(words, dtype=np.uint64)
    n, total_bits = len(words), words.shape[1] * 64 if words.ndim == 2 else 0
    empty = np.zeros(0, dtype=np.int64)
    if n < 2:
        return empty, empty, empty
    if max_distance < 0:
        raise ValueError("max_distance must be >= 0")
    if max_distance + 1 > total_bits // 2:  # pieces of one bit or so: nothing to gain, compare everything
        return all_pairs(words, max_distance)
    found: set[int] = set()
    for key in _piece_keys(_bits(words), max_distance + 1):
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        offset = 1
        while offset < n:
            same = sorted_key[:-offset] == sorted_key[offset:]
            if not same.any():
                break  # sorted: no equal keys this far apart means none further apart either
            a, b = order[:-offset][same], order[offset:][same]
            distance = np.bitwise_count(np.bitwise_xor(words[a], words[b])).sum(axis=1)
            close = distance <= max_distance
            low, high = np.minimum(a[close], b[close]), np.maximum(a[close], b[close])
            found.update((low.astype(np.int64) * n + high).tolist())
            offset += 1
    if not found:
        return empty, empty, empty
    encoded = np.array(sorted(found), dtype=np.int64)
    first, second = encoded // n, encoded % n
    distance = np.bitwise_count(np.bitwise_xor(words[first], words[second])).sum(axis=1).astype(np.int64)
    return first, second, distance


def all_pairs(words: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The full comparison, row by row (the reference the index must agree with)."""
    first, second, distance = [], [], []
    for i in range(len(words) - 1):
        d = hamming_distances(words[i], words[i + 1 :])
        hits = np.flatnonzero(d <= max_distance)
        first.append(np.full(len(hits), i, dtype=np.int64))
        second.append(hits.astype(np.int64) + i + 1)
        distance.append(d[hits])
    return np.concatenate(first), np.concatenate(second), np.concatenate(distance).astype(np.int64)
