"""The inference slots: a heatmap borrows only an idle one, only while its lent work runs, and gives
it back when a request queues."""

from __future__ import annotations

import asyncio

from pneumolib.serving.slots import InferenceSlots


def test_a_slot_is_taken_only_when_the_lent_work_starts_and_only_if_idle():
    async def scenario() -> list:
        slots = InferenceSlots(2)
        seen = []
        async with slots:
            async with slots.lend_idle(wanted=True) as lent:
                seen.append(("offered, not taken", slots.locked()))
                seen.append(("first keep takes it", await asyncio.to_thread(lent.keep), slots.locked()))
            seen.append(("back after the request", slots.locked()))
            async with slots.lend_idle(wanted=False) as lent:
                seen.append(("not wanted", lent))
            async with slots:  # every slot busy: nothing to take, and no waiting for one
                async with slots.lend_idle(wanted=True) as lent:
                    seen.append(("all busy", await asyncio.to_thread(lent.keep), lent.returned))
        async with slots, slots:  # both free again: two enter without waiting
            seen.append(("both held", slots.locked()))
        return seen

    assert asyncio.run(scenario()) == [("offered, not taken", False), ("first keep takes it", True, True),
                                       ("back after the request", False), ("not wanted", None),
                                       ("all busy", False, True), ("both held", True)]


def test_a_queued_request_takes_the_lent_slot_back():
    async def scenario() -> list:
        slots = InferenceSlots(2)
        seen = []
        async with slots:
            async with slots.lend_idle(wanted=True) as lent:
                seen.append(("lent, nobody waits", await asyncio.to_thread(lent.keep)))
                entered = asyncio.Event()

                async def another_request() -> None:
                    async with slots:
                        entered.set()

                task = asyncio.create_task(another_request())
                await asyncio.sleep(0)  # it queues: no slot is free
                seen.append(("someone waits", slots.waiting, await asyncio.to_thread(lent.keep)))
                await asyncio.to_thread(lent.give_back)  # the lent thread stops and returns the slot
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


def test_an_offer_never_taken_gives_nothing_back():
    async def scenario() -> bool:
        slots = InferenceSlots(1)
        async with slots.lend_idle(wanted=True):
            pass  # no lent work ran
        async with slots:
            return slots.locked()  # one slot, held once: a release too many would have freed it

    assert asyncio.run(scenario()) is True
