"""What the MongoDB adapter promises beyond the contract suite: atomic counters and notices
under concurrent units, the write turn, idempotent indexes, the URL's database name, and a
clear refusal of a server without transactions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date

import pytest

from adapters.security import FernetBox
from adapters.storage.mongo.collections import INDEXES
from adapters.storage.mongo.uow import MongoStorage, database_name
from api.settings import Settings
from domain.entities import Event, EventType
from tests.contract.test_storage_contract import instance, user
from tests.services.mongo import MongoService, fresh_url

DAY = date(2023, 1, 1)


@pytest.fixture
async def mongo() -> AsyncIterator[MongoStorage]:
    storage = MongoStorage(await fresh_url(), FernetBox("mongo"))
    await storage.migrate()
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.instances.add(instance(1))
        await uow.commit()
    yield storage
    await storage.client.drop_database(storage.database)
    await storage.close()


async def test_concurrent_units_never_pass_a_cap_and_notice_once(mongo: MongoStorage) -> None:
    async def call() -> tuple[int | None, bool]:
        async with mongo.unit_of_work() as uow:
            added = await uow.usage.try_add("i1", DAY, "api_calls", 1, 25)
            first = False if added is not None else await uow.usage.first_notice("i1", DAY, "c")
            await uow.usage.add("i1", DAY, {"messages_sent": 1})
            await uow.commit()
            return added, first

    results = await asyncio.gather(*(call() for _ in range(60)))
    assert sorted(a for a, _ in results if a is not None) == list(range(1, 26))
    assert sum(first for _, first in results) == 1
    async with mongo.unit_of_work(read_only=True) as uow:
        counters = await uow.usage.day("i1", DAY)
    assert counters["api_calls"] == 25 and counters["messages_sent"] == 60


async def test_concurrent_event_writers_get_distinct_increasing_seqs(mongo: MongoStorage) -> None:
    async def add(n: int) -> None:
        async with mongo.unit_of_work() as uow:
            await uow.events.add(Event(f"e{n}", "i1", EventType.CONNECTED, {"n": n}, 1000))
            await uow.commit()

    await asyncio.gather(*(add(n) for n in range(30)))
    async with mongo.unit_of_work(read_only=True) as uow:
        found, more = await uow.events.list_since("i1", since_ms=None, types=None, limit=100)
    seqs = [e.seq for e in found]
    assert not more and len(found) == 30 and seqs == sorted(set(seqs))


async def test_a_unit_sees_its_own_writes_and_others_only_after_commit(
    mongo: MongoStorage,
) -> None:
    async with mongo.unit_of_work() as uow:
        await uow.usage.add("i1", DAY, {"media_bytes": 7})
        assert (await uow.usage.day("i1", DAY))["media_bytes"] == 7
        async with mongo.unit_of_work(read_only=True) as other:
            assert (await other.usage.day("i1", DAY))["media_bytes"] == 0
        await uow.commit()
    async with mongo.unit_of_work(read_only=True) as other:
        assert (await other.usage.day("i1", DAY))["media_bytes"] == 7


async def test_a_writing_unit_inside_another_fails_instead_of_waiting_for_itself(
    mongo: MongoStorage,
) -> None:
    async with mongo.unit_of_work() as outer:
        await outer.users.get("u1")  # takes the write turn
        with pytest.raises(RuntimeError, match="inside another"):
            async with mongo.unit_of_work() as inner:
                await inner.users.get("u1")
    async with mongo.unit_of_work(read_only=True) as reader:
        with pytest.raises(RuntimeError, match="read-only"):
            await reader.usage.add("i1", DAY, {"api_calls": 1})


async def test_migrate_is_idempotent_and_makes_every_index(mongo: MongoStorage) -> None:
    await mongo.migrate()
    for name, models in INDEXES.items():
        made = await mongo.collections.named(name).index_information()
        assert {m.document["name"] for m in models} <= set(made), name


async def test_a_standalone_server_is_refused_with_what_to_do() -> None:
    server = MongoService(standalone=True)
    try:
        url = await asyncio.to_thread(server.fresh_url)
        storage = MongoStorage(url, FernetBox("mongo"))
        with pytest.raises(RuntimeError, match="replica set"):
            await storage.migrate()
        await storage.close()
    finally:
        await asyncio.to_thread(server.stop)


def test_the_database_is_the_urls_or_wamux() -> None:
    assert database_name("mongodb://127.0.0.1:27017/chats") == "chats"
    assert database_name("mongodb://u:p%2F@h1:1,h2:2/db?replicaSet=rs0") == "db"
    assert database_name("mongodb://127.0.0.1:27017") == "wamux"
    assert database_name("mongodb://127.0.0.1:27017/?replicaSet=rs0") == "wamux"
    for bad in ("postgresql://h/db", "127.0.0.1:27017", "mongodb://h/a.b"):
        with pytest.raises(ValueError, match="DATABASE_URL"):
            database_name(bad)


def test_settings_refuse_a_missing_url_and_mask_the_password() -> None:
    with pytest.raises(ValueError, match="needs DATABASE_URL"):
        Settings(database_provider="mongodb", database_url=None).storage_url()
    with pytest.raises(ValueError, match="DATABASE_URL must start with mongodb://"):
        Settings(database_provider="mongodb", database_url="http://h/db").storage_url()
    settings = Settings(
        database_provider="mongodb", database_url="mongodb://wamux:s3cret@db:27017/wamux"
    )
    assert settings.storage_url() == "mongodb://wamux:s3cret@db:27017/wamux"
    assert settings.display_url() == "mongodb://wamux:***@db:27017/wamux"


async def test_the_inventory_reports_its_schema_and_the_gauges(mongo: MongoStorage) -> None:
    from adapters.storage.mongo.inventory import MongoInventory
    from tests.contract.test_outbox_usage_contract import delivery

    inventory = MongoInventory(mongo)
    assert await inventory.stored_version() == inventory.schema_version()
    async with mongo.unit_of_work() as uow:
        await uow.webhooks.add(delivery(1))
        await uow.commit()
    gauges = await inventory.gauges()
    assert gauges.instances == {("sandbox", "connecting"): 1} and gauges.webhook_queue == 1
    async with inventory.snapshot() as snap:
        assert await snap.count("webhook_deliveries") == 1
