"""Scoring a few images one at a time, on the caller's thread and on a core lent for a while.

A heatmap request scores six occluded copies of the film. The service gives each request one
core; when the other core stands idle the request may borrow it (``serving.slots``), but a heatmap
should not keep a core another request is waiting for. So the work is handed out one image at a
time: the caller's thread takes the next image until none is left, and the lent thread takes the
next one only while :meth:`Lent.keep` says the core is still spare, then gives it back. A request
that starts waiting is served after at most one image's pass (about 50 ms on a 2-core CPU), not
after the rest of the batch.

One image per engine call is also the faster order on a small CPU with one thread per call: six
single passes of the bundled ensemble took 0.90x the time of one batch of six with ONNX Runtime on
a 2-core CPU (``scripts/bench_occlusion.py`` prints the figures on the machine at hand).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import numpy as np

Item = TypeVar("Item")


class Lent(Protocol):
    """A core lent to one job for as long as nobody else wants it."""

    def keep(self) -> bool:
        """May the lent thread start one more image? (Asked before each one.)"""

    def give_back(self) -> None:
        """Called once, when the lent thread stops; it must be safe to call from any thread."""


def run_one_by_one(score: Callable[[Item], np.ndarray], items: Sequence[Item], lent: Lent | None = None) -> np.ndarray:
    """``score(item)`` for every item, stacked in input order; on the caller's thread and, while
    ``lent`` lets it, on a second. The lent core is given back as soon as its thread stops, and an
    error on either thread reaches the caller."""
    if not len(items):
        return np.empty(0)
    results: list[np.ndarray | None] = [None] * len(items)
    counter = itertools.count()  # next() on a count is atomic: each index is handed out once
    errors: list[BaseException] = []

    def work(may_continue: Callable[[], bool]) -> None:
        try:
            while not errors and may_continue():
                index = next(counter)
                if index >= len(items):
                    return
                results[index] = score(items[index])
        except BaseException as error:  # noqa: BLE001 - raised again on the caller's thread below
            errors.append(error)

    def lent_work() -> None:
        try:
            work(lent.keep)
        finally:
            lent.give_back()

    helper = None
    if lent is not None and len(items) > 1:
        helper = threading.Thread(target=lent_work, name="lent-core", daemon=True)
        helper.start()
    elif lent is not None:
        lent.give_back()
    work(lambda: True)
    if helper is not None:
        helper.join()
    if errors:
        raise errors[0]
    return np.stack(results)
