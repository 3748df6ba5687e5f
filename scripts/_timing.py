"""Shared by the benchmarks that time several ways of doing one thing in the same process.

Rounds are interleaved (each round runs every way once, in turn) so that background load on the
machine falls on all of them alike, and the figures can be compared as ratios.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping


def interleaved_timings(ways: Mapping[str, Callable[[], object]], repeats: int,
                        warmup: int = 0) -> dict[str, list[float]]:
    """Seconds per call of each way, ``repeats`` interleaved rounds after ``warmup`` untimed ones."""
    for _ in range(warmup):
        for way in ways.values():
            way()
    timings: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeats):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            timings[name].append(time.perf_counter() - start)
    return timings
