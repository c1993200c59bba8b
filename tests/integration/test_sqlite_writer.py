"""The SQLite writer on a real database file: group commit, a failing unit rolled back alone,
read-your-writes across the units of a batch, read-only units that cannot write, and long
prepared reads moved off the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Integer, bindparam, func, literal_column, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from adapters.security import FernetBox
from adapters.storage.sql.prepared import PREFIX, Prepared
from adapters.storage.sql.reader import ReadUnit
from adapters.storage.sql.tables import instances
from adapters.storage.sql.uow import SqlStorage
from domain.entities import Instance, InstanceStatus
from tests.contract.test_storage_contract import instance, user

DAY = date(2024, 5, 1)


async def open_storage(tmp_path: Path, **kwargs: float) -> SqlStorage:
    url = f"sqlite+aiosqlite:///{tmp_path / 'writer.db'}"
    storage = SqlStorage(url, FernetBox("writer"), **kwargs)  # type: ignore[arg-type]
    await storage.migrate()
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.commit()
    return storage


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqlStorage]:
    # A long delay: only "nobody else waits" or the batch size ends a batch, so the
    # number of COMMITs is exact whatever the machine's speed.
    storage = await open_storage(tmp_path, writer_delay_ms=60_000)
    yield storage
    await storage.close()


async def add_instance(storage: SqlStorage, n: int) -> None:
    async with storage.unit_of_work() as uow:
        await uow.instances.add(instance(n))
        await uow.commit()


async def stored_ids(storage: SqlStorage) -> set[str]:
    async with storage.unit_of_work(read_only=True) as uow:
        return {i.id for i in await uow.instances.list()}


async def test_units_queued_together_share_one_commit(storage: SqlStorage) -> None:
    assert storage.writer is not None
    before = storage.writer.commits
    await asyncio.gather(*(add_instance(storage, n) for n in range(20)))
    assert storage.writer.commits - before == 1
    assert await stored_ids(storage) == {f"i{n}" for n in range(20)}


async def test_a_batch_holds_at_most_max_batch_units(tmp_path: Path) -> None:
    storage = await open_storage(tmp_path, writer_batch=5, writer_delay_ms=60_000)
    try:
        assert storage.writer is not None
        before = storage.writer.commits
        await asyncio.gather(*(add_instance(storage, n) for n in range(20)))
        assert storage.writer.commits - before == 4
        assert len(await stored_ids(storage)) == 20
    finally:
        await storage.close()


async def test_a_failing_unit_rolls_back_alone(storage: SqlStorage) -> None:
    await add_instance(storage, 1)

    async def duplicate() -> None:
        async with storage.unit_of_work() as uow:
            await uow.instances.add(instance(2))  # its own row, undone with the unit
            await uow.instances.add(instance(1))  # taken: the unit fails
            await uow.commit()

    results = await asyncio.gather(
        add_instance(storage, 3), duplicate(), add_instance(storage, 4), return_exceptions=True
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], IntegrityError)
    assert await stored_ids(storage) == {"i1", "i3", "i4"}


async def test_commit_returns_once_other_connections_see_the_unit(storage: SqlStorage) -> None:
    async with storage.unit_of_work() as uow:
        await uow.instances.add(instance(1))
        await uow.commit()
        # a pooled read-only connection sees only what is committed
        assert await stored_ids(storage) == {"i1"}


async def test_a_unit_reads_what_earlier_units_of_its_batch_wrote(storage: SqlStorage) -> None:
    first = storage.unit_of_work()
    await first.__aenter__()
    await first.instances.add(instance(1))  # takes the turn
    seen: dict[str, object] = {}

    async def second() -> None:
        async with storage.unit_of_work() as uow:
            usage = await uow.usage.day("i1", DAY)  # waits for the turn
            seen["writer"] = await uow.instances.get("i1")
            seen["committed"] = await stored_ids(storage)  # not committed yet: i1 is not
            await uow.usage.add("i1", DAY, {"messages_sent": 1 + usage["messages_sent"]})
            await uow.commit()

    waiting = asyncio.create_task(second())
    await asyncio.sleep(0.05)  # it now waits for the turn the first unit holds
    await first.commit()  # applied; committed together with the second unit
    await first.__aexit__(None, None, None)
    await waiting
    assert isinstance(seen["writer"], Instance) and seen["committed"] == set()
    async with storage.unit_of_work(read_only=True) as uow:
        assert (await uow.usage.day("i1", DAY))["messages_sent"] == 1


async def test_limits_stay_exact_under_concurrent_units(storage: SqlStorage) -> None:
    await add_instance(storage, 1)

    async def take() -> int | None:
        async with storage.unit_of_work() as uow:
            got = await uow.usage.try_add("i1", DAY, "messages_sent", 1, 10)
            await uow.commit()
            return got

    async with storage.unit_of_work(read_only=True) as uow:  # fills the cache first
        assert (await uow.usage.day("i1", DAY))["messages_sent"] == 0
    results = await asyncio.gather(*(take() for _ in range(25)))
    assert sorted(r for r in results if r is not None) == list(range(1, 11))
    assert results.count(None) == 15


async def test_a_read_only_unit_cannot_write(storage: SqlStorage) -> None:
    with pytest.raises(DBAPIError, match="readonly"):
        async with storage.unit_of_work(read_only=True) as uow:
            await uow.instances.add(instance(1))
            await uow.commit()
    assert await stored_ids(storage) == set()


async def test_a_unit_that_writes_inside_another_fails_instead_of_waiting_forever(
    storage: SqlStorage,
) -> None:
    async with storage.unit_of_work() as outer:
        await outer.instances.add(instance(1))
        with pytest.raises(RuntimeError, match="inside another"):
            async with storage.unit_of_work() as inner:
                await inner.instances.add(instance(2))
        await outer.commit()
    assert await stored_ids(storage) == {"i1"}


async def test_a_cancelled_commit_still_ends_its_unit_and_passes_the_turn(
    storage: SqlStorage,
) -> None:
    async def commit_then_cancelled() -> None:
        async with storage.unit_of_work() as uow:
            await uow.instances.add(instance(1))
            await uow.commit()

    task = asyncio.create_task(commit_then_cancelled())
    await asyncio.sleep(0)  # it holds the turn and is committing
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(add_instance(storage, 2), timeout=30)  # the turn was passed on
    assert "i2" in await stored_ids(storage)


async def test_cached_instances_follow_every_write(storage: SqlStorage) -> None:
    await add_instance(storage, 1)
    async with storage.unit_of_work(read_only=True) as uow:
        assert (await uow.instances.get("i1")).status is InstanceStatus.CONNECTING  # type: ignore[union-attr]
    async with storage.unit_of_work() as uow:
        changed = await uow.instances.get("i1")
        assert changed is not None
        changed.status = InstanceStatus.CONNECTED
        changed.limits["maxApiCalls"] = 5
        await uow.instances.update(changed)
        await uow.commit()
    async with storage.unit_of_work(read_only=True) as uow:
        got = await uow.instances.get("i1")
        assert got is not None and got.status is InstanceStatus.CONNECTED
        got.limits.clear()  # a copy: changing it changes nothing cached
    async with storage.unit_of_work(read_only=True) as uow:
        assert (await uow.instances.get("i1")).limits == {"maxApiCalls": 5}  # type: ignore[union-attr]
    async with storage.unit_of_work() as uow:
        await uow.instances.delete("i1")
        await uow.commit()
    async with storage.unit_of_work(read_only=True) as uow:
        assert await uow.instances.get("i1") is None


async def test_the_wal_is_checkpointed_off_the_writer_connection(storage: SqlStorage) -> None:
    writer = storage.writer
    assert writer is not None
    writer.checkpoint_interval_s = 0.01
    # The writer's own COMMITs never checkpoint: SQLite would do it on the event loop.
    assert (
        await writer.run(lambda conn: conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar())
        == 0
    )
    for n in range(5):
        await add_instance(storage, n)
    deadline = asyncio.get_running_loop().time() + 30
    while writer.checkpointer is None or writer.checkpointer.last is None:
        assert asyncio.get_running_loop().time() < deadline, "no checkpoint ran"
        await asyncio.sleep(0.01)
    busy, frames, copied = writer.checkpointer.last
    assert busy == 0 and frames > 0 and copied == frames


async def test_a_read_only_unit_fetches_prepared_selects_and_refuses_prepared_writes(
    storage: SqlStorage,
) -> None:
    await add_instance(storage, 1)
    names = Prepared(
        lambda _d: select(instances.c.name).where(instances.c.id == bindparam(PREFIX + "id")),
        {"id": instances.c.id.type},
    )
    rename = Prepared.update_by_id(instances, ["name"])
    reader = storage.reader
    assert reader is not None
    unit = reader.unit()
    try:
        assert await unit.fetch(names, {"id": "i1"}) == [("instance 1 中文",)]
        with pytest.raises(DBAPIError, match="readonly"):
            await unit.fetch(rename, {"id": "i1", "name": "renamed"})
    finally:
        await unit.close()
    async with storage.unit_of_work(read_only=True) as uow:
        assert (await uow.instances.get("i1")).name == "instance 1 中文"  # type: ignore[union-attr]


async def test_a_prepared_read_past_its_budget_moves_to_a_reader_thread_in_its_snapshot(
    storage: SqlStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Short prepared reads run on the loop; one past the VM-step budget is interrupted and
    run again on a reader thread, in the same read transaction (it sees the same snapshot)."""
    await add_instance(storage, 1)
    count = Prepared(lambda _d: select(func.count()).select_from(instances), {})
    # Counts the instances once per row of a long generated series: ~10 VM steps a row.
    rows = bindparam(PREFIX + "rows", type_=Integer)
    series = select(literal_column("1").label("n")).cte("series", recursive=True)
    series = series.union_all(select(series.c.n + literal_column("1")).where(series.c.n < rows))
    long_count = Prepared(
        lambda _d: select(
            func.count(), select(func.count()).select_from(instances).scalar_subquery()
        ).select_from(series),
        {"rows": Integer()},
    )
    ran_on: list[str] = []
    fetch = ReadUnit._fetch

    def recorded(unit: ReadUnit, prepared: Prepared, values: dict[str, Any]) -> Any:
        ran_on.append(threading.current_thread().name)
        return fetch(unit, prepared, values)

    monkeypatch.setattr(ReadUnit, "_fetch", recorded)
    reader = storage.reader
    assert reader is not None
    loop_thread = threading.current_thread().name
    unit = reader.unit()
    try:
        assert await unit.fetch(count, {}) == [(1,)]
        assert ran_on == [loop_thread]
        await add_instance(storage, 2)  # committed after the unit's snapshot began
        assert await unit.fetch(long_count, {"rows": 200_000}) == [(200_000, 1)]
        assert ran_on[1] == loop_thread and ran_on[2].startswith("sqlite-reader"), ran_on
        assert len(ran_on) == 3
    finally:
        await unit.close()
    fresh = reader.unit()
    try:
        assert await fresh.fetch(count, {}) == [(2,)]
    finally:
        await fresh.close()
