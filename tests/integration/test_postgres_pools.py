"""PostgreSQL's two pools and its instance cache (adapters/storage/sql/pooled.py, cache.py):
read-only units cannot write, connections the server closed are replaced before a read uses
them, and instances are remembered for reads without hiding this process's own writes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from adapters.security import FernetBox
from adapters.storage.sql.cache import SqlCache
from adapters.storage.sql.uow import SqlStorage
from api.settings import postgres_url
from tests.contract.test_messaging_contract import ALICE, message
from tests.contract.test_storage_contract import instance, user
from tests.services import postgres

BOX = FernetBox("pools")


@pytest.fixture
async def url() -> AsyncIterator[str]:
    found = await postgres.fresh_database()
    yield found
    await postgres.drop_databases([found.rsplit("/", 1)[1]])


def _storage(url: str, **options: Any) -> SqlStorage:
    return SqlStorage(postgres_url(url).render_as_string(hide_password=False), BOX, **options)


async def _seeded(url: str, **options: Any) -> SqlStorage:
    storage = _storage(url, **options)
    await storage.migrate()
    async with storage.unit_of_work() as uow:
        if await uow.users.get("u1") is None:
            await uow.users.add(user(1))
            await uow.instances.add(instance(1))
            await uow.commit()
    return storage


async def test_a_read_only_unit_cannot_write(url: str) -> None:
    storage = await _seeded(url)
    try:
        with pytest.raises(DBAPIError, match="read-only transaction"):
            async with storage.unit_of_work(read_only=True) as uow:
                await uow.users.add(user(2))
                await uow.commit()
        async with storage.unit_of_work(read_only=True) as uow:
            assert await uow.users.get("u2") is None
            assert (await uow.instances.get("i1")) is not None  # reads work there
    finally:
        await storage.close()


def _returned_drivers(storage: SqlStorage) -> list[Any]:
    """The asyncpg connections given back to either pool from now on."""
    found: list[Any] = []
    for engine in (storage.engine, storage.read_engine):
        assert engine is not None

        @event.listens_for(engine.sync_engine.pool, "checkin")
        def _returned(dbapi_conn: Any, _record: Any) -> None:
            found.append(dbapi_conn.driver_connection)

    return found


async def test_connections_the_server_closed_are_replaced_before_a_unit_uses_them(
    url: str,
) -> None:
    """What a restart of PostgreSQL does to the pools: no unit fails for it, and no unit
    paid a ping for it (asyncpg already knows the connection is gone)."""
    storage = await _seeded(url)
    try:
        idle = _returned_drivers(storage)
        async with storage.unit_of_work() as uow:
            assert await uow.instances.get("i1") is not None
        async with storage.unit_of_work(read_only=True) as uow:
            assert await uow.instances.get("i1") is not None
        assert len(set(idle)) == 2  # one in each pool
        admin = await asyncpg.connect(postgres.ADMIN_URL)
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                url.rsplit("/", 1)[1],
            )
        finally:
            await admin.close()
        async with asyncio.timeout(30):  # the loop reads each closed socket's end
            while not all(driver.is_closed() for driver in idle):  # noqa: ASYNC110 - no event to wait on
                await asyncio.sleep(0.01)
        async with storage.unit_of_work(read_only=True) as uow:
            assert (await uow.instances.get("i1")) is not None
        async with storage.unit_of_work() as uow:
            await uow.users.add(user(2))
            await uow.commit()
        async with storage.unit_of_work(read_only=True) as uow:
            assert await uow.users.get("u2") is not None
    finally:
        await storage.close()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_instances_are_cached_for_reads_and_this_servers_writes_apply_at_once(
    url: str,
) -> None:
    here = await _seeded(url, instance_cache_ttl_s=5)
    clock = Clock()
    here.shared_cache = SqlCache(ttl_s=5, now=clock)
    other = await _seeded(url)  # another server on the same database
    try:
        async with here.unit_of_work(read_only=True) as uow:
            first = await uow.instances.get("i1")
        assert first is not None and first.name == instance(1).name

        # This server's own write: every read after its commit sees it.
        async with here.unit_of_work() as uow:
            await uow.instances.update(replace(first, name="renamed here"))
            await uow.commit()
        async with here.unit_of_work(read_only=True) as uow:
            assert (await uow.instances.get("i1")).name == "renamed here"  # type: ignore[union-attr]

        # Another server's write: a unit that writes reads the database at once; reads see
        # it once what this server remembered is older than the TTL.
        async with other.unit_of_work() as uow:
            there = await uow.instances.get("i1")
            assert there is not None
            await uow.instances.update(replace(there, name="renamed there"))
            await uow.commit()
        async with here.unit_of_work() as uow:
            assert (await uow.instances.get("i1")).name == "renamed there"  # type: ignore[union-attr]
        async with here.unit_of_work(read_only=True) as uow:
            assert (await uow.instances.get("i1")).name == "renamed here"  # type: ignore[union-attr]
        clock.now += 5
        async with here.unit_of_work(read_only=True) as uow:
            assert (await uow.instances.get("i1")).name == "renamed there"  # type: ignore[union-attr]

        # A deletion here is seen at once too.
        async with here.unit_of_work() as uow:
            await uow.instances.delete("i1")
            await uow.commit()
        async with here.unit_of_work(read_only=True) as uow:
            assert await uow.instances.get("i1") is None
    finally:
        await here.close()
        await other.close()


async def test_prepared_writes_on_the_driver_stay_inside_their_units_transaction(
    url: str,
) -> None:
    """A unit's first statement goes through SQLAlchemy, which begins the transaction; the
    prepared writes after it run on asyncpg inside it, so they go with its rollback."""
    storage = await _seeded(url)
    try:
        async with storage.unit_of_work() as uow:
            assert await uow.instances.get("i1") is not None  # begins the transaction
            await uow.messages.add(message(1, ALICE))  # the message and its chat summary
            await uow.messages.add(message(2, ALICE))
            await uow.rollback()
        async with storage.unit_of_work() as uow:
            await uow.messages.add(message(3, ALICE))
            await uow.commit()
        async with storage.unit_of_work(read_only=True) as uow:
            page, total = await uow.messages.list_chat(
                "i1", ALICE, start=None, end=None, limit=10, skip=0
            )
            chats, count = await uow.messages.chats("i1", limit=10, skip=0)
        assert ([m.id for m in page], total) == ([message(3, ALICE).id], 1)
        assert count == 1 and chats[0].message_count == 1
    finally:
        await storage.close()
