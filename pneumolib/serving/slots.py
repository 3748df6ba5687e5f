"""The service's inference slots, and an idle one lent to a heatmap request until it is wanted.

Each request holds one slot (one share of the cores) while it is decoded and scored; further
requests wait for a slot as spooled uploads. A heatmap request also scores the six lung zones
hidden in turn, six more passes of the model. When a slot stands idle it may score some of them
on the other core, but only while nobody waits: :class:`LentSlot` takes the slot when those passes
start (not for the whole request), is asked before each image (:mod:`pneumolib.engine.lending`)
and returns the slot as soon as a request queues, so lending never keeps a waiting request out for
more than one image's pass.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class InferenceSlots:
    """``count`` slots; ``async with slots:`` holds one. Counts the requests waiting for one."""

    def __init__(self, count: int) -> None:
        self._semaphore = asyncio.Semaphore(count)
        self.waiting = 0  # read from worker threads: a plain int, updated on the event loop only

    async def __aenter__(self) -> InferenceSlots:
        self.waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        """Free one slot (on the event loop)."""
        self._semaphore.release()

    def locked(self) -> bool:
        """No slot is free."""
        return self._semaphore.locked()

    async def try_borrow(self) -> bool:
        """Take a slot if one is free and nobody waits for one; never waits."""
        if self.waiting or self.locked():
            return False
        await self._semaphore.acquire()  # free right now: returns at once, with no other task in between
        return True

    @asynccontextmanager
    async def lend_idle(self, wanted: bool) -> AsyncIterator[LentSlot | None]:
        """An offer of an idle slot to this request (None when not ``wanted``). The slot is taken
        only when the request's lent work starts and only if one is free then (never waited for),
        and it goes back when that work stops, when another request queues, or at the latest when
        the request is done."""
        if not wanted:
            yield None
            return
        lent = LentSlot(self, asyncio.get_running_loop())
        try:
            yield lent
        finally:
            lent.give_back()


class LentSlot:
    """An idle slot offered to one request: taken at the first :meth:`keep`, kept while nobody
    waits, given back once. :meth:`keep` and :meth:`give_back` are called from a worker thread."""

    def __init__(self, slots: InferenceSlots, loop: asyncio.AbstractEventLoop) -> None:
        self._slots, self._loop = slots, loop
        self._held = self._returned = False
        self._lock = threading.Lock()

    @property
    def returned(self) -> bool:
        return self._returned

    def keep(self) -> bool:
        """True while the slot is lent and no request waits for one. The first call takes the slot,
        if one is free; from a worker thread only (the event loop does the taking, and the lock is
        never held while waiting for the loop)."""
        with self._lock:
            if self._returned:
                return False
            first = not self._held
        if first:
            taken = asyncio.run_coroutine_threadsafe(self._slots.try_borrow(), self._loop).result()
            with self._lock:
                if self._returned:  # given back while it was being taken: return it at once
                    if taken:
                        self._loop.call_soon_threadsafe(self._slots.release)
                    return False
                self._held = taken
                if not taken:
                    self._returned = True
                    return False
        return self._slots.waiting == 0

    def give_back(self) -> None:
        """Release the slot, once, from the event loop or a worker thread (nothing if never taken)."""
        with self._lock:
            if self._returned:
                return
            self._returned = True
            if not self._held:
                return
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._slots.release()
        else:
            self._loop.call_soon_threadsafe(self._slots.release)
