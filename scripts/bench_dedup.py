"""Near-duplicate search at scale: multi-index search time, every-pair cost, recall of planted copies.

One run, three parts; it measures and checks, it asserts nothing.

1. Real data: the committed manifest's 256-bit pHashes (``phash`` column), searched by the
   multi-index search and by comparing every pair; prints the pair count and whether the two
   give identical pairs.
2. A synthetic collection of ``--images`` hashes with planted near-duplicates: copies of distinct
   films with 0..``--max-distance`` bits flipped, as many at each count (so some exact copies and
   some exactly at the threshold). Prints the search time, the candidate pairs it compared, peak
   memory, recall (planted pairs found / planted), extra pairs (non-planted pairs within the
   threshold, each distance re-checked independently), and every pair of a ``--brute-sample``
   subsample compared in full, timed and extrapolated quadratically to all ``--images``.
3. Realism of the synthetic films against the real ones: per-bit 1-frequency, and the distance
   from a film to its nearest distinct film (more than ``--max-distance`` bits away).

Why "realistic" synthetic films: uniformly random 256-bit hashes are too easy for multi-index
hashing (every piece value is nearly unique). Chest-film pHashes are not random: all films share
one layout, many low-frequency bits are almost always 0 or 1, every hash has exactly 128 bits set
(pHash thresholds at the median), and the closest different films are only ~38 bits apart. A
realistic film is a real pHash (from the manifest) with a random share of its bits (uniform in
``--resample``) redrawn from the real per-bit frequencies, then as many of the redrawn bits
flipped back as restore the real film's count of set bits. ``--resample 0.30 0.40`` makes a
synthetic set of the real set's size have nearest-distinct-film distances like the real one (the
script prints both). ``--synthetic-kind uniform`` gives independent fair bits instead.

    python scripts/bench_dedup.py --images 100000
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

import numpy as np

from pneumolib.data.duplicates.groups import NEAR_DUPLICATE_MAX_DISTANCE
from pneumolib.data.duplicates.hash_index import all_pairs, near_pairs, search_plan
from pneumolib.data.duplicates.hashing import bits_to_words, hamming_distances, hashes_to_words, words_to_bits
from pneumolib.data.split.manifest import load_manifest

BITS = 256
_BLOCK = 8192
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)


def _pick(scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per row, a mask of the ``counts[row]`` positions with the smallest scores."""
    order = np.argsort(scores, axis=1)
    mask = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(mask, order, np.arange(scores.shape[1])[None, :] < counts[:, None], axis=1)
    return mask


def realistic_films(real: np.ndarray, n: int, rng: np.random.Generator, resample: tuple[float, float]) -> np.ndarray:
    """``n`` synthetic film hashes (bool bits) drawn around the real ones (see the module docstring)."""
    p = real.mean(axis=0)
    films = np.empty((n, real.shape[1]), dtype=bool)
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        base = real[rng.integers(len(real), size=m)]
        redrawn = rng.random((m, real.shape[1])) < rng.uniform(*resample, size=(m, 1))
        bits = np.where(redrawn, rng.random((m, real.shape[1])) < p, base)
        excess = bits.sum(axis=1) - base.sum(axis=1)  # set bits gained (> 0) or lost (< 0) by redrawing
        # undo the excess among redrawn bits, favouring bits that are usually the other way (exponential race)
        race = -np.log(rng.random(bits.shape))
        weight = np.where((excess > 0)[:, None], 1 - p, p).clip(1e-3)
        eligible = redrawn & (bits == (excess > 0)[:, None])
        films[start : start + m] = bits ^ _pick(np.where(eligible, race / weight, np.inf), np.abs(excess))
    return films


def uniform_films(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.random((n, BITS)) < 0.5


def plant_copies(films: np.ndarray, copies: int, max_distance: int, rng: np.random.Generator):
    """Films plus ``copies`` near copies of distinct films, shuffled; the planted pairs and their flip counts."""
    sources = rng.choice(len(films), size=copies, replace=False)
    flips = np.arange(copies) % (max_distance + 1)  # as many copies at each distance 0..max_distance
    rng.shuffle(flips)
    copied = films[sources] ^ _pick(rng.random((copies, films.shape[1])), flips)
    bits = np.concatenate([films, copied])
    order = rng.permutation(len(bits))
    where = np.empty(len(bits), dtype=np.int64)
    where[order] = np.arange(len(bits))  # row of item i after shuffling
    a, b = where[sources], where[len(films) + np.arange(copies)]
    return bits[order], np.minimum(a, b), np.maximum(a, b), flips


def nearest_distinct(queries: np.ndarray, reference: np.ndarray, exclude: np.ndarray, max_distance: int) -> np.ndarray:
    """For each query row, the distance to the nearest reference row more than ``max_distance`` away
    (``exclude[i]``: the query's own row in ``reference``, or -1)."""
    out = np.empty(len(queries), dtype=np.int64)
    for i, query in enumerate(queries):
        d = hamming_distances(query, reference)
        if exclude[i] >= 0:
            d[exclude[i]] = BITS + 1
        d[d <= max_distance] = BITS + 1
        out[i] = d.min()
    return out


def describe(values: np.ndarray) -> str:
    q = np.percentile(values, PERCENTILES)
    return "  ".join(f"p{p}={v:.0f}" for p, v in zip(PERCENTILES, q)) + f"  min={values.min()}"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def real_check(words: np.ndarray, max_distance: int) -> None:
    start = time.perf_counter()
    indexed = near_pairs(words, max_distance)
    middle = time.perf_counter()
    full = all_pairs(words, max_distance)
    end = time.perf_counter()
    same = all(np.array_equal(a, b) for a, b in zip(indexed, full))
    print(f"real data: {len(words):,} pHashes from the manifest, max distance {max_distance}: "
          f"{len(indexed[0]):,} pairs (every-pair comparison: {len(full[0]):,}); identical: {same}; "
          f"multi-index {middle - start:.2f} s, every pair {end - middle:.2f} s")


def realism(real: np.ndarray | None, films: np.ndarray, make, max_distance: int, sample: int,
            rng: np.random.Generator) -> None:
    """Per-bit frequencies and nearest-distinct-film distances, real against synthetic."""
    p_syn = films.mean(axis=0)
    print("realism:")
    if real is None:
        print(f"  per-bit 1-frequency, synthetic: min {p_syn.min():.3f}, max {p_syn.max():.3f} (no real hashes to compare)")
    else:
        p_real = real.mean(axis=0)
        diff = np.abs(p_real - p_syn)
        print(f"  per-bit 1-frequency, real: {np.sum((p_real < 0.1) | (p_real > 0.9))} of {BITS} bits below 0.1 or "
              f"above 0.9; synthetic: {np.sum((p_syn < 0.1) | (p_syn > 0.9))}; |real - synthetic| mean "
              f"{diff.mean():.3f}, max {diff.max():.3f}")
        print("  first 16 bits (DCT row 0), real:      " + " ".join(f"{v:.2f}" for v in p_real[:16]))
        print("  first 16 bits (DCT row 0), synthetic: " + " ".join(f"{v:.2f}" for v in p_syn[:16]))
        print(f"  set bits per hash, real: {np.unique(real.sum(axis=1))[:5].tolist()}; synthetic films: "
              f"{np.percentile(films.sum(axis=1), [0, 50, 100]).astype(int).tolist()} (min, median, max)")
    print(f"  distance to the nearest distinct film (> {max_distance} bits away):")
    if real is not None:
        real_words = bits_to_words(real)
        print(f"    real, all {len(real):,} films:".ljust(44) + describe(
            nearest_distinct(real_words, real_words, np.arange(len(real)), max_distance)))
        same_size = bits_to_words(make(len(real)))
        print(f"    synthetic, a set of {len(real):,} films:".ljust(44) + describe(
            nearest_distinct(same_size, same_size, np.arange(len(real)), max_distance)))
    all_words = bits_to_words(films)
    chosen = rng.choice(len(films), size=min(sample, len(films)), replace=False)
    print(f"    synthetic, {len(chosen):,} of the {len(films):,} films:".ljust(44) + describe(
        nearest_distinct(all_words[chosen], all_words, chosen, max_distance)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000, help="synthetic hashes, planted copies included")
    parser.add_argument("--planted", type=float, default=0.02, help="share of the hashes that are planted copies")
    parser.add_argument("--synthetic-kind", choices=("realistic", "uniform"), default="realistic")
    parser.add_argument("--resample", type=float, nargs=2, default=(0.30, 0.40), metavar=("LOW", "HIGH"),
                        help="share of a real hash's bits redrawn to make a realistic film")
    parser.add_argument("--max-distance", type=int, default=NEAR_DUPLICATE_MAX_DISTANCE)
    parser.add_argument("--brute-sample", type=int, default=10_000, help="hashes compared pair by pair")
    parser.add_argument("--realism-sample", type=int, default=1_000,
                        help="synthetic films whose nearest distinct film is looked up among all")
    parser.add_argument("--manifest", help="manifest with a phash column (default: the committed one)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    d = args.max_distance
    rng = np.random.default_rng(args.seed)

    real = None
    try:
        manifest = load_manifest(args.manifest)
        real_words = hashes_to_words(list(manifest["phash"]))
        real_check(real_words, d)
        real = words_to_bits(real_words).astype(bool)
    except (FileNotFoundError, ValueError, KeyError) as error:
        print(f"real data: skipped ({error})")
    if args.synthetic_kind == "realistic" and real is None:
        sys.exit("realistic synthetic hashes are drawn around the manifest's pHashes: give --manifest, "
                 "or use --synthetic-kind uniform")

    copies = round(args.images * args.planted)
    if not 0 <= copies <= args.images // 2:
        sys.exit("--planted must be between 0 and 0.5")
    if args.synthetic_kind == "realistic":
        def make(n: int) -> np.ndarray:
            return realistic_films(real, n, rng, tuple(args.resample))
    else:
        def make(n: int) -> np.ndarray:
            return uniform_films(n, rng)
    start = time.perf_counter()
    films = make(args.images - copies)
    bits, first, second, flips = plant_copies(films, copies, d, rng)
    words = bits_to_words(bits)
    print(f"synthetic ({args.synthetic_kind}, seed {args.seed}): {len(words):,} hashes = {len(films):,} films + "
          f"{copies:,} planted copies of distinct films with 0..{d} bits flipped ({np.sum(flips == 0)} exact, "
          f"{np.sum(flips == d)} at exactly {d}); made in {time.perf_counter() - start:.1f} s")
    del bits

    rss_before = rss_mb()
    start = time.perf_counter()
    found = near_pairs(words, d)
    search_s = time.perf_counter() - start
    tracemalloc.start()  # a second, untimed run: tracing slows the search down
    near_pairs(words, d)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    plan, adjacent = search_plan(words, d), search_plan(words, d, balance=False)
    print(f"search: {len(words):,} hashes in {search_s:.2f} s (multi-index, {len(plan.pieces)} pieces, "
          f"{plan.candidates:,} candidate pairs compared, largest run {plan.largest_run:,}; pieces of adjacent bits "
          f"would give {adjacent.candidates:,}, largest run {adjacent.largest_run:,}); "
          f"memory: search peak {traced_peak / 2**20:.0f} MB allocated (tracemalloc), process peak "
          f"{rss_mb():.0f} MB (before the search {rss_before:.0f} MB)")

    found_first, found_second, found_distance = found
    n = len(words)
    found_keys, planted_keys = found_first * n + found_second, first * n + second
    hit = np.isin(planted_keys, found_keys)
    print(f"recall: {hit.sum():,} / {copies:,} planted pairs found ({100 * hit.mean() if copies else 100:.1f} %); "
          f"exact copies {hit[flips == 0].sum()}/{np.sum(flips == 0)}, at {d} bits {hit[flips == d].sum()}/"
          f"{np.sum(flips == d)}")
    all_bits = words_to_bits(words)
    checked = (all_bits[found_first] != all_bits[found_second]).sum(axis=1)
    extra = ~np.isin(found_keys, planted_keys)
    print(f"extra pairs: {extra.sum():,} found pairs were not planted; every reported pair re-checked bit by bit: "
          f"distances agree {np.array_equal(checked, found_distance)}, all within {d} bits {bool((checked <= d).all())}"
          + (f" (extra pairs' distances: {np.bincount(checked[extra]).nonzero()[0].tolist()})" if extra.any() else ""))

    m = min(args.brute_sample, n)
    sample = np.sort(rng.choice(n, size=m, replace=False))
    start = time.perf_counter()
    full = all_pairs(words[sample], d)
    brute_s = time.perf_counter() - start
    same = all(np.array_equal(a, b) for a, b in zip(near_pairs(words[sample], d), full))
    scale = n * (n - 1) / (m * (m - 1))
    print(f"brute force: every pair of {m:,} of the hashes in {brute_s:.2f} s -> {brute_s * scale:.0f} s for "
          f"{n:,} (quadratic extrapolation, {brute_s * scale / search_s:.0f}x the multi-index search); "
          f"multi-index on the same {m:,}: identical pairs: {same}")

    realism(real, films, make, d, args.realism_sample, rng)


if __name__ == "__main__":
    main()
