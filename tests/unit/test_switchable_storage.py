"""The switchable storage's write gate on in-memory backends: writes held while it is
closed land on the backend swapped in; units open when it closes finish on the old one; a
task already inside a unit enters another without waiting on itself."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from adapters.storage.switchable import SwitchableStorage
from api.bootstrap import NoInventory
from domain.database import Databases
from domain.entities import Role, User
from domain.ports import Backend
from domain.record_copy import WATERMARK_MARGIN
from tests.fakes.clock import FakeClock
from tests.fakes.storage import MemoryStorage

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _backend(name: str) -> tuple[Backend, MemoryStorage]:
    memory = MemoryStorage()
    return Backend(name, name, memory, NoInventory()), memory


def _user(user_id: str) -> User:
    return User(user_id, f"{user_id}@example.com", "", "", Role.USER, "h", "k", "s", True, NOW, NOW)


async def _write(storage: SwitchableStorage, user_id: str) -> None:
    async with storage.unit_of_work() as uow:
        await uow.users.add(_user(user_id))
        await uow.commit()


async def test_writes_held_by_the_gate_land_on_the_backend_swapped_in() -> None:
    old, old_memory = _backend("old")
    new, new_memory = _backend("new")
    storage = SwitchableStorage(old)
    async with storage.closed_for_writes(30.0):
        held = asyncio.create_task(_write(storage, "during"))
        await asyncio.sleep(0.01)
        assert not held.done()  # waiting at the gate
        storage.swap(new)
    await held
    assert "during" in new_memory.state.users and "during" not in old_memory.state.users
    await storage.close()


async def test_a_unit_open_when_the_gate_closes_finishes_on_the_old_backend() -> None:
    old, old_memory = _backend("old")
    new, new_memory = _backend("new")
    storage = SwitchableStorage(old)
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        async with storage.unit_of_work() as uow:
            entered.set()
            await release.wait()
            await uow.users.add(_user("slow"))
            await uow.commit()

    task = asyncio.create_task(slow())
    await entered.wait()
    gate = storage.closed_for_writes(30.0)
    closing = asyncio.create_task(gate.__aenter__())
    await asyncio.sleep(0.01)
    assert not closing.done()  # waits for the open unit
    release.set()
    await task
    await closing
    storage.swap(new)
    await gate.__aexit__(None, None, None)
    await storage.close()
    assert "slow" in old_memory.state.users and "slow" not in new_memory.state.users


async def test_a_task_inside_a_unit_opens_another_while_the_gate_closes() -> None:
    backend, memory = _backend("only")
    storage = SwitchableStorage(backend)
    inside = asyncio.Event()
    go_on = asyncio.Event()

    async def nested() -> None:
        async with storage.unit_of_work() as outer:
            inside.set()
            await go_on.wait()
            await _write(storage, "inner")  # same task: no wait on its own hold
            await outer.users.add(_user("outer"))
            await outer.commit()

    task = asyncio.create_task(nested())
    await inside.wait()
    gate = storage.closed_for_writes(30.0)
    closing = asyncio.create_task(gate.__aenter__())
    await asyncio.sleep(0.01)
    go_on.set()
    await asyncio.wait_for(task, 30.0)  # no deadlock on its own hold
    await closing
    await gate.__aexit__(None, None, None)
    assert "outer" in memory.state.users


async def test_closing_gives_up_after_its_timeout_and_reopens() -> None:
    backend, _ = _backend("only")
    storage = SwitchableStorage(backend)
    entered, release = asyncio.Event(), asyncio.Event()

    async def stuck() -> None:
        async with storage.unit_of_work():
            entered.set()
            await release.wait()

    task = asyncio.create_task(stuck())
    await entered.wait()
    with pytest.raises(TimeoutError):
        async with storage.closed_for_writes(0.05):
            pass
    assert not storage.gate.is_closed
    await asyncio.wait_for(_write(storage, "after"), 1.0)  # open again
    release.set()
    await task


async def test_reads_are_never_held() -> None:
    backend, _ = _backend("only")
    storage = SwitchableStorage(backend)
    async with storage.closed_for_writes(30.0):
        async with storage.unit_of_work(read_only=True) as uow:
            assert await uow.users.get("nobody") is None


async def test_the_watermark_goes_back_to_the_oldest_open_write_unit() -> None:
    """A unit open when the bulk snapshot begins may commit after it, stamped earlier: the
    catch-up must look from before that unit began (and a margin before)."""
    backend, _ = _backend("only")
    storage = SwitchableStorage(backend)
    clock = FakeClock()
    databases = Databases(
        live=storage,
        backends=None,  # type: ignore[arg-type]
        choice=None,  # type: ignore[arg-type]
        connections=None,  # type: ignore[arg-type]
        on_swap=[],
        clock=clock,
    )
    assert storage.oldest_write_age_s() == 0.0
    assert databases._watermark() == clock.now() - WATERMARK_MARGIN
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        async with storage.unit_of_work():
            entered.set()
            await release.wait()

    task = asyncio.create_task(slow())
    await entered.wait()
    await asyncio.sleep(0.05)
    async with storage.unit_of_work():  # a younger unit: the oldest one counts
        age = storage.oldest_write_age_s()
        assert age >= 0.04  # slept 0.05 s (a timer may fire a hair early)
        assert databases._watermark() <= clock.now() - WATERMARK_MARGIN - timedelta(seconds=0.04)
    release.set()
    await task
    assert storage.oldest_write_age_s() == 0.0
    await storage.close()
