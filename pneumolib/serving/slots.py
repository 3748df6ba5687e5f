"""The service's inference slots, and an idle one lent to a heatmap request until it is wanted.

Each request holds one slot (one share of the cores) while it is decoded and scored; further
requests wait for a slot as spooled uploads. A heatmap request also scores the six lung zones
hidden in turn, six more passes of the model. When a slot stands idle it may score some of them
on the other core, but only while nobody waits: :class:`LentSlot` is asked before each image
(:mod:`pneumolib.engine.lending`) and returns the slot as soon as a request queues, so lending
never keeps a waiting request out for more than one image's pass.
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

    @asynccontextmanager
    async def lend_idle(self, wanted: bool) -> AsyncIterator[LentSlot | None]:
        """A free slot lent to this request (None when not ``wanted`` or none is free: never waits
        for one). It goes back when the request is done, or earlier when another request queues."""
        if not wanted or self._semaphore.locked():
            yield None
            return
        await self._semaphore.acquire()  # free right now: returns at once, with no other task in between
        lent = LentSlot(self, asyncio.get_running_loop())
        try:
            yield lent
        finally:
            lent.give_back()


class LentSlot:
    """An idle slot lent to one request: kept while nobody waits, given back once."""

    def __init__(self, slots: InferenceSlots, loop: asyncio.AbstractEventLoop) -> None:
        self._slots, self._loop = slots, loop
        self._returned = False
        self._lock = threading.Lock()

    @property
    def returned(self) -> bool:
        return self._returned

    def keep(self) -> bool:
        """True while the slot is still lent and no request waits for one."""
        return not self._returned and self._slots.waiting == 0

    def give_back(self) -> None:
        """Release the slot, once, from the event loop or a worker thread."""
        with self._lock:
            if self._returned:
                return
            self._returned = True
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._slots.release()
        else:
            self._loop.call_soon_threadsafe(self._slots.release)
