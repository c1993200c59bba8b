"""The per-conversation summaries (`chat_summaries`) the message repository keeps current.

As in storage/sql/chats.py: an added message bumps its chat's counts and, if it is the newest
by (created_at, id), becomes the chat's last message; a status change moves the unread count;
a moved message recounts both chats. Unread means a received message (not from me) whose
status is still `received`. `marked_unread` is WhatsApp's "mark as unread" flag on the chat,
cleared by every message added to it.

Beyond the SQL row's columns a summary keeps `first_at`, its oldest message's time (the chat's
pace, which bounds a history page's reads: windows.py); and `chat_counts` keeps each
instance's number of summaries, the conversation list's total (counting them would read them
all on SecantusDB). Neither is in a backup (the backup holds the SQL rows): an import makes
the counts (inventory.py) and leaves `first_at` out where it did not see the messages.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from adapters.storage.mongo.codec import at, key, moment
from adapters.storage.mongo.collections import UNREAD, Collections
from domain.entities import Message, MessageStatus


def is_unread(m: Message) -> bool:
    return not m.from_me and m.status is MessageStatus.RECEIVED


def chat_key(instance_id: str, remote_jid: str) -> str:
    return key(instance_id, remote_jid)


async def added(db: Collections, m: Message, s: AsyncClientSession | None) -> None:
    """Two statements, no read: count the message in, then make it the last one if newer."""
    chat_id, created = chat_key(m.instance_id, m.remote_jid), at(m.created_at)
    result = await db.chat_summaries.update_one(
        {"_id": chat_id},
        {
            "$inc": {"message_count": 1, "unread_count": int(is_unread(m))},
            "$set": {"marked_unread": False},
            "$min": {"first_at": created},
            "$setOnInsert": {
                "instance_id": m.instance_id,
                "remote_jid": m.remote_jid,
                "last_message_id": m.id,
                "last_at": created,
            },
        },
        upsert=True,
        session=s,
    )
    if result.upserted_id is not None:
        await counted(db, m.instance_id, 1, s)
    else:
        newer = [
            {"last_at": {"$lt": created}},
            {"last_at": created, "last_message_id": {"$lt": m.id}},
        ]
        await db.chat_summaries.update_one(
            {"_id": chat_id, "$or": newer},
            {"$set": {"last_message_id": m.id, "last_at": created}},
            session=s,
        )


async def unread_moved(
    db: Collections, instance_id: str, deltas: dict[str, int], s: AsyncClientSession | None
) -> None:
    for remote_jid, delta in deltas.items():
        if delta:
            await db.chat_summaries.update_one(
                {"_id": chat_key(instance_id, remote_jid)},
                {"$inc": {"unread_count": delta}},
                session=s,
            )


async def recount(
    db: Collections, instance_id: str, remote_jid: str, s: AsyncClientSession | None
) -> None:
    """The chat's summary from its messages (after a message moved chat or time); the mark
    stays. A chat left without messages has no summary."""
    chat = {"instance_id": instance_id, "remote_jid": remote_jid}
    chat_id = chat_key(instance_id, remote_jid)
    last = await db.messages.find_one(
        chat, {"_id": 1, "created_at": 1}, sort=[("created_at", -1), ("_id", -1)], session=s
    )
    if last is None:
        gone = await db.chat_summaries.delete_one({"_id": chat_id}, session=s)
        if gone.deleted_count:
            await counted(db, instance_id, -1, s)
        return
    first = await db.messages.find_one(
        chat, {"created_at": 1}, sort=[("created_at", 1), ("_id", 1)], session=s
    )
    assert first is not None  # the chat has a last message
    count = await db.messages.count_documents(chat, session=s)
    unread = await db.messages.count_documents({**chat, **UNREAD}, session=s)
    result = await db.chat_summaries.update_one(
        {"_id": chat_id},
        {
            "$set": {
                **chat,
                "last_message_id": last["_id"],
                "last_at": last["created_at"],
                "first_at": first["created_at"],
                "message_count": count,
                "unread_count": unread,
            },
            "$setOnInsert": {"marked_unread": False},
        },
        upsert=True,
        session=s,
    )
    if result.upserted_id is not None:
        await counted(db, instance_id, 1, s)


def count_doc(instance_id: str, chats: int) -> dict[str, Any]:
    return {"_id": instance_id, "instance_id": instance_id, "chats": chats}


async def counted(
    db: Collections, instance_id: str, delta: int, s: AsyncClientSession | None
) -> None:
    """Moves the instance's chat count, if it has one: a count is only ever made whole (with
    the instance, by an import, or by `make_counts`), never started from a change."""
    await db.chat_counts.update_one({"_id": instance_id}, {"$inc": {"chats": delta}}, session=s)


async def chat_count(db: Collections, instance_id: str, s: AsyncClientSession | None) -> int:
    """The instance's number of chats: its count, or (none made yet) its summaries counted."""
    doc = await db.chat_counts.find_one({"_id": instance_id}, session=s)
    if doc is not None:
        return int(doc["chats"])
    return await db.chat_summaries.count_documents({"instance_id": instance_id}, session=s)


async def make_counts(db: Collections) -> int:
    """Counts the chats of every instance that has no count yet (a database written before
    the counts were kept); how many were made. Run on start, before any unit of work."""
    have = set(await db.chat_counts.distinct("_id"))
    missing = [i for i in await db.instances.distinct("_id") if i not in have]
    for instance_id in missing:
        chats = await db.chat_summaries.count_documents({"instance_id": instance_id})
        await db.chat_counts.update_one(
            {"_id": instance_id},
            {"$setOnInsert": {"instance_id": instance_id, "chats": chats}},
            upsert=True,
        )
    return len(missing)


def last_at(doc: dict[str, Any]) -> Any:
    return moment(doc["last_at"])
