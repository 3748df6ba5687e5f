"""Near-duplicate search that scales: multi-index hashing over 256-bit perceptual hashes.

Comparing every pair costs n^2 / 2 Hamming distances: 17 million at 5,856 images, 5 billion at
100,000. Multi-index hashing (Norouzi, Punjani and Fleet, 2012) avoids most of them exactly, not
approximately: cut the 256 bits into ``d + 1`` disjoint pieces; two hashes at most ``d`` bits
apart differ in at most ``d`` pieces, so at least one piece is identical (pigeonhole). Sorting the
hashes by each piece puts every such pair in a run of equal pieces; only pairs inside a run are
compared in full. The result is the same set of pairs as the full comparison
(``tests/test_data_hash_index.py``); ``scripts/bench_dedup.py`` measures the speed-up.

Chest-film pHashes are far from uniform: every film shares one layout, so the low-frequency bits
are nearly constant (some are always 0 or always 1) and a piece made of them puts thousands of
unrelated films in one run. Pigeonhole holds for any disjoint pieces, so the pieces are chosen
from the data: bits are dealt out, most informative first, to the piece with the least entropy
so far (:func:`balanced_pieces`). On hashes like this data set's that cuts the candidate pairs
2.4-fold against pieces of adjacent bits (``scripts/bench_dedup.py``). When the pieces would still yield more
candidates than half of all pairs (a large ``max_distance``, or a collection of near copies),
the search compares every pair instead: same answer, less work.

Memory stays linear in n plus the pairs found: candidates are generated run by run, one offset at
a time (at most n pairs per step); each candidate is compared word by word, the most varied word
first, and dropped as soon as it is past the threshold; a pair found again in a later piece is not
kept twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pneumolib.data.duplicates.hashing import hamming_distances, words_to_bits

_ROW_BLOCK = 1 << 16
"""Rows unpacked to bits at a time (256 bits x 65,536 rows = 16 MB)."""
_KEY_BITS = 64
_INDEX_MAX_CANDIDATE_SHARE = 0.5
"""From this share of all n (n - 1) / 2 pairs as candidates on, every pair is compared instead: a
candidate costs the index about 1.3 times what a pair costs the full comparison (measured)."""


def _bit_frequencies(words: np.ndarray) -> np.ndarray:
    """Share of rows with each bit set (bit order as in :func:`~pneumolib.data.duplicates.hashing.words_to_bits`)."""
    counts = np.zeros(words.shape[1] * 64, dtype=np.int64)
    for start in range(0, len(words), _ROW_BLOCK):
        counts += words_to_bits(words[start : start + _ROW_BLOCK]).sum(axis=0, dtype=np.int64)
    return counts / max(len(words), 1)


def _entropy(p: np.ndarray) -> np.ndarray:
    """Binary entropy in bits of a bit that is 1 with probability ``p``."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def balanced_pieces(frequencies: np.ndarray, pieces: int) -> list[np.ndarray]:
    """Split bit positions into ``pieces`` disjoint pieces of (nearly) equal size and entropy.

    ``frequencies[j]`` is the share of hashes with bit ``j`` set. Bits are taken from most to
    least entropy and each goes to the piece with the least entropy so far that still has room
    (pieces as large as ``np.array_split`` makes them); ties go to the lower piece, so the result
    is deterministic. Every position lands in exactly one piece; positions come back sorted.
    """
    total_bits = len(frequencies)
    if not 1 <= pieces <= total_bits:
        raise ValueError(f"pieces must be between 1 and {total_bits}, not {pieces}")
    capacity = [len(c) for c in np.array_split(np.arange(total_bits), pieces)]
    entropy = _entropy(frequencies)
    members: list[list[int]] = [[] for _ in range(pieces)]
    load = np.zeros(pieces)
    for bit in np.argsort(-entropy, kind="stable"):
        open_pieces = [i for i in range(pieces) if len(members[i]) < capacity[i]]
        target = min(open_pieces, key=lambda i: (load[i], i))
        members[target].append(int(bit))
        load[target] += entropy[bit]
    return [np.array(sorted(m), dtype=np.int64) for m in members]


def _key_dtype(width: int) -> np.dtype:
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if np.dtype(dtype).itemsize * 8 >= width:
            return np.dtype(dtype)
    raise ValueError(f"pieces must be at most {_KEY_BITS} bits wide, not {width}")


def _piece_keys(words: np.ndarray, columns: list[np.ndarray]) -> list[np.ndarray]:
    """One key per row for each piece (at most 64 bits wide): its bits, packed into the smallest
    unsigned integer type that holds them (small keys sort fastest)."""
    by_word = np.ascontiguousarray(words.T)
    keys = []
    for cols in columns:
        dtype = _key_dtype(len(cols))
        key = np.zeros(len(words), dtype=dtype)
        for position, column in enumerate(cols):
            word, bit = divmod(int(column), 64)
            key |= ((by_word[word] >> np.uint64(63 - bit)) & np.uint64(1)).astype(dtype) << dtype.type(position)
        keys.append(key)
    return keys


def _runs(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``order`` sorting ``key`` and, for each sorted position, the end of its run of equal keys."""
    order = np.argsort(key, kind="stable")  # radix sort for keys of up to 16 bits
    sorted_key = key[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_key[1:] != sorted_key[:-1])))
    sizes = np.diff(np.append(starts, len(key)))
    return order, np.repeat(starts + sizes, sizes)


@dataclass(frozen=True)
class SearchPlan:
    """How :func:`near_pairs` searches a collection (for reports, benchmarks and tests)."""

    pieces: list[np.ndarray]  # bit positions of each piece (bit 0: most significant of word 0)
    candidates: int  # pairs sharing a piece, counted once per piece they share
    largest_run: int  # most rows sharing one piece value
    compare_all: bool  # too many candidates (or nothing to index): every pair is compared instead


Runs = tuple[np.ndarray, np.ndarray]  # (order, run end) of one piece's keys, see _runs


def _plan(words: np.ndarray, max_distance: int,
          frequencies: np.ndarray | None) -> tuple[SearchPlan, list[np.ndarray], list[Runs]]:
    """The plan, each piece's keys and their runs; ``frequencies`` None: pieces of adjacent bits."""
    n, total_bits = words.shape[0], words.shape[1] * 64
    if n < 2 or max_distance >= total_bits:
        return SearchPlan([], 0, n, True), [], []
    # d + 1 pieces suffice (pigeonhole); more keep every key within 64 bits (some piece stays clean).
    pieces = max(max_distance + 1, math.ceil(total_bits / _KEY_BITS))
    if frequencies is None:
        columns = np.array_split(np.arange(total_bits), pieces)
    else:
        columns = balanced_pieces(frequencies, pieces)
    keys = _piece_keys(words, columns)
    runs = [_runs(key) for key in keys]  # sorted once: counted here, searched by near_pairs
    candidates, largest = 0, 0
    for _, run_end in runs:
        later = run_end - np.arange(n) - 1  # same-key rows after each sorted position
        candidates += int(later.sum())
        largest = max(largest, int(later.max()) + 1)
    compare_all = candidates >= _INDEX_MAX_CANDIDATE_SHARE * (n * (n - 1) // 2)
    return SearchPlan(columns, candidates, largest, compare_all), keys, runs


def _checked(words: np.ndarray, max_distance: int) -> tuple[np.ndarray, int]:
    if max_distance < 0:
        raise ValueError("max_distance must be >= 0")
    words = np.asarray(words, dtype=np.uint64)
    if words.ndim == 1:  # one word per hash
        words = words[:, None]
    return np.ascontiguousarray(words), int(max_distance)


def search_plan(words: np.ndarray, max_distance: int, *, balance: bool = True) -> SearchPlan:
    """The pieces, candidate count and choice :func:`near_pairs` makes for ``words``.

    ``balance=False``: what pieces of adjacent bits would give instead (for comparison).
    """
    words, max_distance = _checked(words, max_distance)
    return _plan(words, max_distance, _bit_frequencies(words) if balance else None)[0]


def near_pairs(words: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (i < j) of rows of ``words`` at most ``max_distance`` bits apart, and its distance.

    Returns ``(first, second, distance)`` int64 arrays sorted by (first, second): exactly what
    :func:`all_pairs` returns.
    """
    words, max_distance = _checked(words, max_distance)
    n = len(words)
    frequencies = _bit_frequencies(words)
    plan, keys, runs = _plan(words, max_distance, frequencies)
    if plan.compare_all:
        return all_pairs(words, max_distance)
    # Words as separate columns, the most varied first: most far-apart candidates are dropped after
    # one or two words, before the others are gathered.
    word_entropy = _entropy(frequencies).reshape(words.shape[1], 64).sum(axis=1)
    columns = [np.ascontiguousarray(words[:, w]) for w in np.argsort(-word_entropy, kind="stable")]
    found = []
    for piece, (order, run_end) in enumerate(runs):
        position = np.arange(n)
        active = position[run_end - position > 1]  # sorted positions with a same-key row after them
        offset = 1
        while active.size:  # pairs (position, position + offset) inside one run: at most n per step
            a, b = order[active], order[active + offset]
            distance = np.zeros(len(a), dtype=np.int32)
            for column in columns:
                distance += np.bitwise_count(column[a] ^ column[b])
                close = np.flatnonzero(distance <= max_distance)
                if len(close) < len(a):
                    a, b, distance = a[close], b[close], distance[close]
                if not len(a):
                    break
            for earlier in keys[:piece]:  # report a pair only in the first piece it shares
                if not len(a):
                    break
                new = earlier[a] != earlier[b]
                a, b = a[new], b[new]
            if len(a):
                found.append(np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b))
            offset += 1
            active = active[run_end[active] - active > offset]
    empty = np.zeros(0, dtype=np.int64)
    if not found:
        return empty, empty, empty
    encoded = np.sort(np.concatenate(found))
    first, second = encoded // n, encoded % n
    distance = np.bitwise_count(np.bitwise_xor(words[first], words[second])).sum(axis=1).astype(np.int64)
    return first, second, distance


def all_pairs(words: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The full comparison, row by row (the reference the index must agree with)."""
    words = np.asarray(words, dtype=np.uint64)
    empty = np.zeros(0, dtype=np.int64)
    if len(words) < 2:
        return empty, empty, empty
    first, second, distance = [], [], []
    for i in range(len(words) - 1):
        d = hamming_distances(words[i], words[i + 1 :])
        hits = np.flatnonzero(d <= max_distance)
        first.append(np.full(len(hits), i, dtype=np.int64))
        second.append(hits.astype(np.int64) + i + 1)
        distance.append(d[hits])
    return np.concatenate(first), np.concatenate(second), np.concatenate(distance).astype(np.int64)
