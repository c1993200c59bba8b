"""Concurrent units of work on every backend: nothing lost, nothing doubled.

On SQLite the units queue for its one writer; on PostgreSQL each is a transaction on its own
pooled connection, racing for real; the fake runs them on one loop. The answers must agree."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from adapters.bus.memory import InMemoryEventBus
from domain.entities import Contact, EventType
from domain.recorder import Recorder
from tests.contract.test_storage_contract import T0, instance, user
from tests.fakes.clock import FakeClock, SequentialIds

DAY = date(2023, 1, 1)
N = 24


async def _one_instance(storage: Any) -> None:
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.instances.add(instance(1))
        await uow.commit()


async def test_parallel_usage_increments_all_count(storage: Any) -> None:
    await _one_instance(storage)

    async def increment() -> None:
        async with storage.unit_of_work() as uow:
            await uow.usage.add("i1", DAY, {"messages_sent": 1, "api_calls": 2})
            await uow.commit()

    await asyncio.gather(*(increment() for _ in range(N)))
    async with storage.unit_of_work(read_only=True) as uow:
        counters = await uow.usage.day("i1", DAY)
    assert counters["messages_sent"] == N and counters["api_calls"] == 2 * N


async def test_parallel_capped_increments_stop_exactly_at_the_limit(storage: Any) -> None:
    await _one_instance(storage)
    cap = N // 3

    async def attempt() -> int | None:
        async with storage.unit_of_work() as uow:
            got = await uow.usage.try_add("i1", DAY, "messages_sent", 1, cap)
            await uow.commit()
            return got

    results = await asyncio.gather(*(attempt() for _ in range(N)))
    accepted = sorted(r for r in results if r is not None)
    assert accepted == list(range(1, cap + 1))
    async with storage.unit_of_work(read_only=True) as uow:
        assert (await uow.usage.day("i1", DAY))["messages_sent"] == cap


async def test_parallel_event_appends_get_strictly_increasing_timestamps(storage: Any) -> None:
    await _one_instance(storage)
    # One frozen millisecond: every timestamp after the first comes from the recorder's +1.
    recorder = Recorder(storage.unit_of_work, InMemoryEventBus(), FakeClock(T0), SequentialIds())

    async def append(n: int) -> int:
        async with recorder.transaction("i1") as txn:
            event = await txn.emit(EventType.MESSAGE_RECEIVED, {"n": n})
            await txn.commit()
        return event.timestamp_ms

    stamps = await asyncio.gather(*(append(n) for n in range(N)))
    async with storage.unit_of_work(read_only=True) as uow:
        stored, more = await uow.events.list_since("i1", since_ms=None, types=None, limit=1000)
    assert not more
    assert sorted(e.data["n"] for e in stored) == list(range(N))  # none lost
    ordered = [e.timestamp_ms for e in stored]
    assert ordered == sorted(set(ordered)) == sorted(stamps)  # strictly increasing, unique


async def test_parallel_contact_upserts_of_one_number_keep_one_row(storage: Any) -> None:
    await _one_instance(storage)
    jid = "79001234567@s.whatsapp.net"

    async def save(n: int) -> None:
        contact = Contact(
            id=f"c{n}",
            instance_id="i1",
            number="79001234567",
            remote_jid=jid,
            is_group=False,
            created_at=T0,
            updated_at=T0,
            name=f"name {n}",
        )
        async with storage.unit_of_work() as uow:
            if n % 2:
                await uow.contacts.touch(contact)
            else:
                await uow.contacts.upsert(contact)
            await uow.commit()

    await asyncio.gather(*(save(n) for n in range(N)))
    async with storage.unit_of_work(read_only=True) as uow:
        found, total = await uow.contacts.list(
            "i1", search=None, only_groups=False, limit=100, skip=0
        )
    assert total == 1 and [c.remote_jid for c in found] == [jid]
