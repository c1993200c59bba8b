"""MongoDB reads a history page and a conversation list over bounded index ranges: the server
examines about the page's documents, not the chat's or the instance's (counted by the server's
own `explain` of every `find` the adapter sent); and the chat counts behind the conversation
list's total are made for databases written before them, and by imports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from pymongo import monitoring

from adapters.security import FernetBox
from adapters.storage.mongo.inventory import MongoInventory
from adapters.storage.mongo.uow import MongoStorage
from domain.entities import Message
from tests.contract.test_messaging_contract import message
from tests.contract.test_storage_contract import T0, instance, user
from tests.services.mongo import fresh_url

CHAT_SIZE, CHATS = 300, 40


class Finds(monitoring.CommandListener):
    """Every `find` the adapter sends, as (collection, the command)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.sent.append((str(event.command["find"]), dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _message(n: int, jid: str, minutes: int) -> Message:
    m = message(n % 10_000, jid)
    m.id, m.message_id = f"i1-z{n:05d}", f"3EB3{n:06d}"
    m.created_at = m.updated_at = m.status_updated_at = T0 + timedelta(minutes=minutes)
    return m


def _jid(chat: int) -> str:
    return f"1555{chat:07d}@s.whatsapp.net"


@pytest.fixture
async def listened() -> AsyncIterator[tuple[MongoStorage, Finds]]:
    finds = Finds()
    storage = MongoStorage(await fresh_url(), FernetBox("mongo"), event_listeners=[finds])
    await storage.migrate()
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.instances.add(instance(1))
        for n in range(CHAT_SIZE):  # one long chat, a message a minute
            await uow.messages.add(_message(n, _jid(0), n))
        for chat in range(1, CHATS):  # and short ones, one more recent than the other
            await uow.messages.add(_message(CHAT_SIZE + chat, _jid(chat), CHAT_SIZE + chat))
        await uow.commit()
    yield storage, finds
    await storage.client.drop_database(storage.database)
    await storage.close()


async def _examined(storage: MongoStorage, finds: Finds, collection: str) -> int:
    """Documents the server examined for the finds on `collection` sent since the last call."""
    total = 0
    db = storage.client[storage.database]
    for name, command in finds.sent:
        if name != collection:
            continue
        asked = {k: v for k, v in command.items() if k not in ("lsid", "$db", "$clusterTime")}
        explained = await db.command({"explain": asked, "verbosity": "executionStats"})
        total += int(explained["executionStats"]["totalDocsExamined"])
    finds.sent.clear()
    return total


async def test_a_history_page_examines_about_the_page_not_the_chat(
    listened: tuple[MongoStorage, Finds],
) -> None:
    storage, finds = listened
    finds.sent.clear()
    async with storage.unit_of_work(read_only=True) as uow:
        page, total = await uow.messages.list_chat(
            "i1", _jid(0), start=None, end=None, limit=20, skip=0
        )
    assert total == CHAT_SIZE and [m.id for m in page][:2] == ["i1-z00299", "i1-z00298"]
    examined = await _examined(storage, finds, "messages")
    assert 20 <= examined <= 30, examined  # the chat's pace sized one window of ~25 messages
    async with storage.unit_of_work(read_only=True) as uow:  # a deep page: keys, then 20
        page, _ = await uow.messages.list_chat(
            "i1", _jid(0), start=None, end=T0 + timedelta(minutes=200), limit=20, skip=40
        )
    assert [m.id for m in page][:1] == ["i1-z00160"]
    assert await _examined(storage, finds, "messages") <= 60 * 1.3 + 20  # keys, then the page


async def test_a_conversation_list_examines_about_the_page_once_read(
    listened: tuple[MongoStorage, Finds],
) -> None:
    storage, finds = listened

    async def first_ten() -> list[str]:
        async with storage.unit_of_work(read_only=True) as uow:
            chats, total = await uow.messages.chats("i1", limit=10, skip=0)
        assert total == CHATS
        return [c.remote_jid for c in chats]

    finds.sent.clear()
    assert await first_ten() == [_jid(c) for c in range(CHATS - 1, CHATS - 11, -1)]
    assert await _examined(storage, finds, "chat_summaries") == CHATS  # the first read: all
    assert await first_ten() == [_jid(c) for c in range(CHATS - 1, CHATS - 11, -1)]
    assert await _examined(storage, finds, "chat_summaries") == 10  # bounded by the last read
    async with storage.unit_of_work() as uow:  # the long chat becomes the most recent
        await uow.messages.add(_message(50_000, _jid(0), 10_000))
        await uow.commit()
    assert await first_ten() == [_jid(0)] + [_jid(c) for c in range(CHATS - 1, CHATS - 10, -1)]
    assert await _examined(storage, finds, "chat_summaries") == 11


async def test_chat_counts_are_made_for_a_database_written_before_them(
    listened: tuple[MongoStorage, Finds],
) -> None:
    storage, _ = listened
    db = storage.collections
    assert (await db.chat_counts.find_one({"_id": "i1"}) or {}).get("chats") == CHATS
    await db.chat_counts.delete_many({})  # as an older release left it
    async with storage.unit_of_work(read_only=True) as uow:
        assert (await uow.messages.chats("i1", limit=1, skip=0))[1] == CHATS  # counted
    async with storage.unit_of_work() as uow:
        await uow.messages.add(_message(60_000, _jid(99), 1))  # not counted from nothing
        await uow.commit()
    assert await db.chat_counts.count_documents({}) == 0
    await storage.migrate()
    assert (await db.chat_counts.find_one({"_id": "i1"}) or {}).get("chats") == CHATS + 1
    async with storage.unit_of_work() as uow:
        await uow.instances.delete("i1")
        await uow.commit()
    assert await db.chat_counts.count_documents({}) == 0


async def test_an_import_counts_the_chats_and_keeps_each_chats_first_moment(
    listened: tuple[MongoStorage, Finds],
) -> None:
    source, _ = listened
    target = MongoStorage(await fresh_url(), FernetBox("mongo"))
    await target.migrate()
    try:
        inventory = MongoInventory(target)
        async with MongoInventory(source).snapshot() as snap:
            for kind in inventory.kinds():
                async for batch in snap.records(kind, 100):
                    await inventory.write(kind, batch)
        fields = {"_id": 0, "remote_jid": 1, "first_at": 1, "message_count": 1}
        read = [
            await s.collections.chat_summaries.find({}, fields).sort("remote_jid").to_list()
            for s in (source, target)
        ]
        assert read[0] == read[1] and len(read[0]) == CHATS and "first_at" in read[0][0]
        assert await target.collections.chat_counts.find_one({"_id": "i1"}, {"_id": 0}) == {
            "instance_id": "i1",
            "chats": CHATS,
        }
    finally:
        await target.client.drop_database(target.database)
        await target.close()
