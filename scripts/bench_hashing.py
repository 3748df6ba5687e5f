"""Decoding and hashing images for the manifest: one process against a pool of worker processes.

Scans the same files with ``pneumolib.data.duplicates.scan.scan_files`` twice, ``workers=1`` (a plain loop)
and ``--workers`` processes, checks the results are identical, and prints files per second for
both and their ratio. The files are read once beforehand, so both runs find them in the page
cache, and a few files are scanned first so one-off start-up costs (lazy imports) are not
counted; starting the worker processes is. It measures; it asserts nothing.

    python scripts/bench_hashing.py --data PATH/TO/chest_xray            # every image
    PNEUMO_DATA_DIR=PATH/TO/chest_xray python scripts/bench_hashing.py --limit 1000
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

from pneumolib.data.duplicates.scan import scan_files


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the pool's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("PNEUMO_DATA_DIR"),
                        help="data set folder (split/label/*.jpeg); default $PNEUMO_DATA_DIR")
    parser.add_argument("--limit", type=int, help="scan this many files, spread evenly over the sorted list")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="processes of the parallel run")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the fastest counts")
    parser.add_argument("--progress", action="store_true", help="show the progress bars")
    args = parser.parse_args()
    if not args.data:
        sys.exit("give --data or set PNEUMO_DATA_DIR")
    files = sorted(Path(args.data).glob("*/*/*.jpeg"))
    if not files:
        sys.exit(f"no */*/*.jpeg files under {args.data}")
    if args.limit and args.limit < len(files):
        step = len(files) / args.limit
        files = [files[int(i * step)] for i in range(args.limit)]
    megabytes = sum(len(f.read_bytes()) for f in files) / 1e6  # also warms the page cache
    scan_files(files[:20], workers=1, progress=False)  # first-call costs (lazy imports) out of the timing
    print(f"{len(files):,} files ({megabytes:.0f} MB), {os.cpu_count()} CPU cores")

    print(f"load average before: {os.getloadavg()[0]:.2f} (other processes on the cores skew the figures)")

    timings = {}
    results = {}
    for workers in (1, args.workers):
        best = float("inf")
        for _ in range(args.repeat):
            cpu_before, start = cpu_seconds(), time.perf_counter()
            results[workers] = scan_files(files, workers=workers, progress=args.progress, desc=f"workers={workers}")
            elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu_before
            best = min(best, elapsed)
        timings[workers] = best
        errors = sum(scan.error is not None for scan in results[workers])
        print(f"workers={workers}: {best:.1f} s, {len(files) / best:.1f} files/s (last run: {cpu:.1f} CPU s, "
              f"{1000 * cpu / len(files):.2f} CPU ms per file){f', {errors} files could not be decoded' if errors else ''}")
    print(f"parallel / serial: {timings[1] / timings[args.workers]:.2f}x faster with {args.workers} workers; "
          f"identical results: {results[1] == results[args.workers]}")


if __name__ == "__main__":
    main()
