"""Near-duplicate search: the multi-index search against the full pairwise comparison, one run.

On the data set's own 256-bit pHashes (``data_manifest.csv``) and on a synthetic collection of
``--synthetic`` hashes (random hashes plus near copies of them at 0-20 bits), it times both
searches, checks they return the same pairs, and prints the ratio. It measures; it asserts nothing.

    python scripts/bench_near_duplicates.py --synthetic 50000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pneumolib.data.duplicates import NEAR_DUPLICATE_MAX_DISTANCE
from pneumolib.data.hash_index import all_pairs, near_pairs
from pneumolib.data.hashing import hashes_to_words
from pneumolib.data.manifest import load_manifest


def synthetic(n: int, seed: int = 0) -> np.ndarray:
    """``n`` random 256-bit hashes, 2 % of them replaced by near copies of others."""
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2**63, (n, 4), dtype=np.int64).astype(np.uint64) * np.uint64(2) + rng.integers(
        0, 2, (n, 4), dtype=np.int64).astype(np.uint64)
    for target in rng.choice(n, size=n // 50, replace=False):
        source = rng.integers(n)
        words[target] = words[source]
        for bit in rng.choice(256, size=int(rng.integers(0, 21)), replace=False):
            words[target, bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return words


def compare(name: str, words: np.ndarray, max_distance: int) -> None:
    start = time.perf_counter()
    indexed = near_pairs(words, max_distance)
    middle = time.perf_counter()
    full = all_pairs(words, max_distance)
    end = time.perf_counter()
    same = all(np.array_equal(a, b) for a, b in zip(indexed, full))
    print(f"{name}: {len(words):,} hashes, {len(indexed[0]):,} pairs within {max_distance} bits; "
          f"multi-index {middle - start:.2f} s, all pairs {end - middle:.2f} s "
          f"({(end - middle) / max(middle - start, 1e-9):.1f}x); same pairs: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=50_000, help="size of the synthetic collection")
    parser.add_argument("--max-distance", type=int, default=NEAR_DUPLICATE_MAX_DISTANCE)
    args = parser.parse_args()
    manifest = load_manifest()
    compare("data_manifest.csv pHashes", hashes_to_words(list(manifest["phash"])), args.max_distance)
    compare("synthetic", synthetic(args.synthetic), args.max_distance)


if __name__ == "__main__":
    main()
