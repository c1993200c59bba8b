"""bench/mongo.py seeds what the Mongo adapter itself would store: the same documents, the chat
summaries the adapter's own recount makes, and usage counters that add up, so the figures of
`bench/reads.py --provider mongodb` are of a database the server could have written."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.security import FernetBox
from adapters.storage.mongo import chats as summaries
from adapters.storage.mongo.codec import from_doc, to_doc
from adapters.storage.mongo.uow import MongoStorage
from domain.entities import Contact, Message
from tests.contract.test_storage_contract import instance, user
from tests.services.mongo import fresh_url

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import mongo as bench_mongo
import reads

TOTAL, CHATS = 40, 4


@pytest.fixture
async def seeded() -> AsyncIterator[MongoStorage]:
    storage = MongoStorage(await fresh_url(), FernetBox("bench"))
    await storage.migrate()
    async with storage.unit_of_work() as uow:
        await uow.users.add(user(1))
        await uow.instances.add(instance(1))
        await uow.commit()
    rows = reads.message_rows("i1", TOTAL, CHATS)
    contacts = reads.contact_rows("i1", CHATS)
    await asyncio.to_thread(bench_mongo.seed, storage.url, rows, contacts)
    yield storage
    await storage.client.drop_database(storage.database)
    await storage.close()


def _without_id(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "_id"}


async def test_seeded_documents_are_the_adapters_own(seeded: MongoStorage) -> None:
    db = seeded.collections
    for doc in await db.messages.find({}).to_list():
        assert _without_id(doc) == to_doc(from_doc(Message, doc))
        assert doc["_id"] == doc["id"]
    for doc in await db.contacts.find({}).to_list():
        assert _without_id(doc) == to_doc(from_doc(Contact, doc))


async def test_seeded_summaries_are_what_the_adapter_recounts(seeded: MongoStorage) -> None:
    db = seeded.collections
    seeded_rows = {d["_id"]: d for d in await db.chat_summaries.find({}).to_list()}
    assert len(seeded_rows) == CHATS
    for doc in seeded_rows.values():
        await summaries.recount(db, "i1", doc["remote_jid"], None)
    assert {d["_id"]: d for d in await db.chat_summaries.find({}).to_list()} == seeded_rows
    assert (await db.chat_counts.find_one({"_id": "i1"}) or {}).get("chats") == CHATS
    async with seeded.unit_of_work(read_only=True) as uow:
        page, total = await uow.messages.chats("i1", limit=50, skip=0)
        history, count = await uow.messages.list_chat(
            "i1", f"{reads.phone(1)}@s.whatsapp.net", start=None, end=None, limit=3, skip=0
        )
    assert total == CHATS and page[0].remote_jid == f"{reads.phone(CHATS - 1)}@s.whatsapp.net"
    assert {(c.message_count, c.unread_count) for c in page} == {
        (TOTAL // CHATS, reads.UNREAD_PER_CHAT)
    }
    assert count == TOTAL // CHATS and len(history) == 3


async def test_seeded_usage_counts_every_message(seeded: MongoStorage) -> None:
    async with seeded.unit_of_work(read_only=True) as uow:
        days = await uow.usage.daily("i1", None)
        contact = await uow.contacts.get("i1", f"{reads.phone(2)}@s.whatsapp.net")
    assert sum(c["messages_sent"] for _, c in days) == TOTAL // 2
    assert sum(c["messages_received"] for _, c in days) == TOTAL // 2
    assert contact is not None and contact.name == "Contact 2"
