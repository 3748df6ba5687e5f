"""The inference slots: a heatmap borrows only an idle one, and gives it back when a request queues."""

from __future__ import annotations

import asyncio

from pneumolib.serving.slots import InferenceSlots


def test_a_slot_is_lent_only_when_idle_and_always_returned():
    async def scenario() -> list:
        slots = InferenceSlots(2)
        seen = []
        async with slots:
            async with slots.lend_idle(wanted=True) as lent:
                seen.append((lent is not None, slots.locked()))
            async with slots.lend_idle(wanted=False) as lent:
                seen.append((lent is not None, slots.locked()))
            async with slots:  # every slot busy: nothing to lend, and no waiting for one
                async with slots.lend_idle(wanted=True) as lent:
                    seen.append((lent is not None, slots.locked()))
        async with slots, slots:  # both free again: two enter without waiting
            seen.append(("both held", slots.locked()))
        return seen

    assert asyncio.run(scenario()) == [(True, True), (False, False), (False, True), ("both held", True)]


def test_a_queued_request_takes_the_lent_slot_back():
    async def scenario() -> list:
        slots = InferenceSlots(2)
        seen = []
        async with slots:
            async with slots.lend_idle(wanted=True) as lent:
                seen.append(("lent, nobody waits", lent.keep()))
                entered = asyncio.Event()

                async def another_request() -> None:
                    async with slots:
                        entered.set()

                task = asyncio.create_task(another_request())
                await asyncio.sleep(0)  # it queues: no slot is free
                seen.append(("someone waits", slots.waiting, lent.keep()))
                await asyncio.to_thread(lent.give_back)  # the lending thread stops and returns the slot
                await asyncio.wait_for(entered.wait(), 1)
                seen.append(("the queued request ran", entered.is_set(), lent.returned))
                await task
            # leaving lend_idle does not return the slot a second time
            async with slots:
                seen.append(("one free besides ours, none more", slots.locked()))
        return seen

    assert asyncio.run(scenario()) == [("lent, nobody waits", True), ("someone waits", 1, False),
                                       ("the queued request ran", True, True),
                                       ("one free besides ours, none more", True)]
