"""Exact and near-duplicate detection, and grouping of duplicates into connected groups.

Duplicates matter for honest evaluation: if a copy of a training image sits in validation, the
model is graded on something it memorised. Pairs are found by content hash (exact) and by
perceptual-hash Hamming distance (near, through the multi-index search of
:mod:`pneumolib.data.duplicates.hash_index`, which scales past a full pairwise comparison); groups are the
connected components of those pairs, so a chain A~B~C lands in one group and can be kept in one split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pneumolib.data.duplicates.hash_index import near_pairs
from pneumolib.data.duplicates.hashing import hashes_to_words

NEAR_DUPLICATE_MAX_DISTANCE = 16
"""Hamming threshold on 256-bit pHashes, chosen by looking at the pairs (notebook 02). In this set
the same radiograph saved twice lies 0-2 bits apart, and the closest pair of different films lies
38 bits apart; 16 sits in that gap with room for re-encoding and mild rescaling."""


@dataclass(frozen=True)
class DuplicatePair:
    first: int
    second: int
    distance: int  # 0 for exact (content hash) duplicates
    kind: str  # "exact" or "near"


def find_duplicate_pairs(
    content_hashes: list[str],
    perceptual_hashes: list[str],
    max_distance: int = NEAR_DUPLICATE_MAX_DISTANCE,
) -> list[DuplicatePair]:
    """All pairs (i < j) that are exact or near duplicates, in index order."""
    if len(content_hashes) != len(perceptual_hashes):
        raise ValueError("content_hashes and perceptual_hashes must have the same length")
    pairs: dict[tuple[int, int], DuplicatePair] = {}
    first_seen: dict[str, list[int]] = {}
    for index, digest in enumerate(content_hashes):
        first_seen.setdefault(digest, []).append(index)
    for members in first_seen.values():
        for a_pos, a in enumerate(members):
            for b in members[a_pos + 1 :]:
                pairs[(a, b)] = DuplicatePair(a, b, 0, "exact")
    first, second, distance = near_pairs(hashes_to_words(perceptual_hashes), max_distance)
    for i, j, d in zip(first.tolist(), second.tolist(), distance.tolist()):
        pairs.setdefault((i, j), DuplicatePair(i, j, d, "near"))
    return [pairs[key] for key in sorted(pairs)]


def connected_groups(n_items: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    """Union-find: a group number per item; items in no pair get -1."""
    parent = list(range(n_items))

    def root(item: int) -> int:
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    in_pair = np.zeros(n_items, dtype=bool)
    for a, b in pairs:
        in_pair[a] = in_pair[b] = True
    groups = np.full(n_items, -1, dtype=np.int64)
    numbering: dict[int, int] = {}
    for item in range(n_items):
        if in_pair[item]:
            groups[item] = numbering.setdefault(root(item), len(numbering))
    return groups
