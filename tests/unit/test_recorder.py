"""The event cursor: strictly increasing timestamps per instance, published only on commit."""

from __future__ import annotations

import asyncio

import pytest

from domain.entities import EventType
from domain.instances import NewInstance
from domain.times import to_ms
from tests.unit.conftest import Core


async def test_events_in_one_millisecond_get_distinct_increasing_stamps(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await core.instances.create(owner, NewInstance(name="x"))
    # The clock does not move: every event still gets its own millisecond.
    for n in range(5):
        await core.listener.on_qr(inst.id, f"qr-{n}")
    stamps = [e.timestamp_ms for e in core.bus.published]
    assert stamps == sorted(set(stamps))
    assert stamps[0] == to_ms(core.clock.now())
    assert stamps[-1] == stamps[0] + 4


async def test_concurrent_writers_are_serialised_per_instance(core: Core) -> None:
    owner = await core.principal("a@example.com")
    inst = await core.instances.create(owner, NewInstance(name="x"))
    await asyncio.gather(*(core.listener.on_qr(inst.id, f"qr-{n}") for n in range(20)))
    events, _ = await core.instances.events(owner, inst.id, limit=100)
    assert len(events) == 20
    assert len({e.timestamp_ms for e in events}) == 20


async def test_rolled_back_transaction_publishes_nothing(core: Core) -> None:
    with pytest.raises(RuntimeError):
        async with core.recorder.transaction("i-1") as txn:
            await txn.emit(EventType.CONNECTED, {})
            raise RuntimeError("boom")
    async with core.recorder.transaction("i-1") as txn:
        await txn.emit(EventType.CONNECTED, {})  # never committed
    assert core.bus.published == []
    assert core.storage.state.events == []


async def test_committed_events_are_published_after_commit(core: Core) -> None:
    async with core.recorder.transaction("i-1") as txn:
        event = await txn.emit(EventType.QR_RECEIVED, {"qrCode": "q"})
        assert core.bus.published == []
        await txn.commit()
    assert core.bus.published == [event]
    assert event.data == {"instanceId": "i-1", "qrCode": "q"}


async def test_timestamps_continue_after_restart(core: Core) -> None:
    async with core.recorder.transaction("i-1") as txn:
        first = await txn.emit(EventType.CONNECTED, {})
        await txn.commit()
    core.recorder.forget("i-1")  # as after a restart: nothing cached
    core.clock.advance(seconds=-10)  # even if the clock went backwards
    async with core.recorder.transaction("i-1") as txn:
        second = await txn.emit(EventType.CONNECTED, {})
        await txn.commit()
    assert second.timestamp_ms == first.timestamp_ms + 1
