"""Every MongoDB collection as plain JSON records (backups, provider switches), in exactly
the shape the SQL inventory gives its rows: the kinds are the SQL tables, in their
foreign-key order, and each record has the table's columns (times as ISO text with the
offset, JSON columns as values). So `wamux export` on one provider and `wamux import` on the
other lose nothing."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from pymongo import ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from sqlalchemy import Column, Table

from adapters.storage.mongo.chats import count_doc
from adapters.storage.mongo.codec import at, key, moment
from adapters.storage.mongo.collections import INDEXES
from adapters.storage.mongo.owned import remove_instances
from adapters.storage.mongo.uow import SCHEMA_KEY, MongoStorage
from adapters.storage.sql.tables import UTCDateTime, metadata
from domain.ports import StorageGauges

# The kinds whose `seq` a counter document hands out (owned.next_seq): set past the records.
_SEQUENCED = ("events", "webhook_deliveries")


def schema_head() -> str:
    """The schema revision the records' shape is (the SQL migrations' head)."""
    from alembic.script import ScriptDirectory

    from migrations import alembic_config

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


def _table(kind: str) -> Table:
    table = metadata.tables.get(kind)
    if table is None:
        raise ValueError(f"unknown record kind {kind!r}")
    return table


def _is_time(column: Column[Any]) -> bool:
    return isinstance(column.type, UTCDateTime)


def _doc_id(table: Table, values: dict[str, Any]) -> str:
    if "id" in table.columns:
        return str(values["id"])
    return key(*(str(values[c.name]) for c in table.primary_key.columns))


def _led_by_instance(kind: str, field: str) -> bool:
    """Whether an index orders the collection by (instance_id, field)."""
    return any(
        list(model.document["key"])[:2] == ["instance_id", field] for model in INDEXES.get(kind, [])
    )


def _sort(table: Table) -> list[tuple[str, int]]:
    """The SQL inventory's order: by primary key."""
    return [(c.name, 1) for c in table.primary_key.columns]


def _default(column: Column[Any]) -> Any:
    """A column the backup predates: the value SQL would give it."""
    if column.default is not None and not callable(getattr(column.default, "arg", None)):
        return column.default.arg  # type: ignore[attr-defined]
    server = column.server_default
    if server is not None:
        text = str(getattr(server.arg, "text", server.arg))  # type: ignore[attr-defined]
        try:
            return json.loads(text)
        except ValueError:
            return text
    return None


def _record(table: Table, doc: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for column in table.columns:
        value = doc.get(column.name)
        if value is not None and _is_time(column):
            value = moment(value).isoformat()
        record[column.name] = value
    return record


def _doc(table: Table, record: dict[str, Any]) -> dict[str, Any]:
    unknown = set(record) - {c.name for c in table.columns}
    if unknown:
        raise ValueError(f"{table.name} has no column {sorted(unknown)[0]!r}")
    doc: dict[str, Any] = {}
    for column in table.columns:
        value = record[column.name] if column.name in record else _default(column)
        if value is not None and _is_time(column):
            if isinstance(value, str):
                value = datetime.fromisoformat(value)
            if isinstance(value, datetime) and value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            value = at(value)
        doc[column.name] = value
    return {"_id": _doc_id(table, doc), **doc}


async def _pages(cursor: Any, table: Table, batch: int) -> AsyncIterator[list[dict[str, Any]]]:
    """A cursor's documents as records, `batch` at a time."""
    page: list[dict[str, Any]] = []
    async for doc in cursor.batch_size(batch):
        page.append(_record(table, doc))
        if len(page) >= batch:
            yield page
            page = []
    if page:
        yield page


class MongoSnapshot:
    def __init__(self, storage: MongoStorage, session: AsyncClientSession) -> None:
        self._db = storage.collections
        self._s = session

    async def count(self, kind: str) -> int:
        return await self._db.named(_table(kind).name).count_documents({}, session=self._s)

    async def records(self, kind: str, batch: int) -> AsyncIterator[list[dict[str, Any]]]:
        table = _table(kind)
        cursor = self._db.named(kind).find({}, session=self._s).sort(_sort(table))
        async for page in _pages(cursor, table, batch):
            yield page

    async def since(
        self, kind: str, field: str, value: Any, batch: int
    ) -> AsyncIterator[list[dict[str, Any]]]:
        table = _table(kind)
        if _is_time(table.c[field]) and isinstance(value, datetime):
            value = at(value)
        query: dict[str, Any] = {field: {"$gte": value}}
        if _led_by_instance(kind, field):
            # Every document's instance exists: the condition changes nothing but lets the
            # (instance_id, field) index answer instead of a scan.
            ids = await self._db.instances.distinct("_id", {}, session=self._s)
            query["instance_id"] = {"$in": ids}
        # In no order: sorting by key would have the planner walk the key's index instead.
        cursor = self._db.named(kind).find(query, session=self._s)
        async for page in _pages(cursor, table, batch):
            yield page


class MongoInventory:
    def __init__(self, storage: MongoStorage) -> None:
        self._storage = storage
        # Each chat's oldest message time among the messages written so far, for summaries
        # written after them (`first_at`, chats.py).
        self._first_at: dict[tuple[str, str], str] = {}

    def kinds(self) -> list[str]:
        return [t.name for t in metadata.sorted_tables]

    def schema_version(self) -> str:
        return schema_head()

    async def stored_version(self) -> str | None:
        doc = await self._storage.collections.meta.find_one({"_id": SCHEMA_KEY})
        return None if doc is None else str(doc["version"])

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[MongoSnapshot]:
        # A read-only transaction: one snapshot of everything (SecantusDB's `snapshot=True`
        # sessions see later writes, see the README), and it never conflicts with writers.
        async with self._storage.client.start_session() as session:
            await session.start_transaction()
            try:
                yield MongoSnapshot(self._storage, session)
            finally:
                await session.abort_transaction()

    async def write(self, kind: str, records: Sequence[dict[str, Any]]) -> None:
        table = _table(kind)
        docs = [_doc(table, r) for r in records]
        if not docs:
            return
        db = self._storage.collections
        if kind == "chat_summaries":
            for d in docs:
                first = self._first_at.get((d["instance_id"], d["remote_jid"]))
                if first is not None:
                    d["first_at"] = first
        await db.named(kind).insert_many(docs, ordered=True)
        if kind == "messages":
            await self._first_messages(docs)
        await self._count_chats(kind, docs)
        if kind in _SEQUENCED:
            top = max(int(d["seq"]) for d in docs)
            await db.counters.update_one({"_id": kind}, {"$max": {"seq": top}}, upsert=True)

    def key(self, kind: str) -> tuple[str, ...]:
        return tuple(c.name for c in _table(kind).primary_key.columns)

    async def upsert(self, kind: str, records: Sequence[dict[str, Any]]) -> None:
        table = _table(kind)
        docs = [_doc(table, r) for r in records]
        if not docs:
            return
        db = self._storage.collections
        if kind == "chat_summaries":
            await self._upsert_summaries(docs)
            return
        replaced = [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs]
        await db.named(kind).bulk_write(replaced, ordered=True)
        if kind == "messages":
            await self._first_messages(docs)
        elif kind == "instances":
            await self._count_missing(docs)
        if kind in _SEQUENCED:
            top = max(int(d["seq"]) for d in docs)
            await db.counters.update_one({"_id": kind}, {"$max": {"seq": top}}, upsert=True)

    async def delete(self, kind: str, keys: Sequence[tuple[Any, ...]]) -> None:
        table = _table(kind)
        if not keys:
            return
        db = self._storage.collections
        if kind in ("users", "instances"):
            ids = [str(k[0]) for k in keys]
            owned = ids
            if kind == "users":
                owned = await db.instances.distinct("_id", {"user_id": {"$in": ids}})
            await remove_instances(db, owned, None)
            if kind == "users":
                await db.users.delete_many({"_id": {"$in": ids}})
            return
        names = self.key(kind)
        if len(names) == 1:
            query: dict[str, Any] = {names[0]: {"$in": [k[0] for k in keys]}}
        else:
            query = {"$or": [dict(zip(names, k, strict=True)) for k in keys]}
        await db.named(table.name).delete_many(query)
        if kind == "chat_summaries":
            await self._recount({str(k[names.index("instance_id")]) for k in keys})

    async def _first_messages(self, docs: list[dict[str, Any]]) -> None:
        """Each chat's oldest message time, onto its summary written before (`first_at`,
        chats.py), or kept for one written after."""
        oldest: dict[tuple[str, str], str] = {}
        for d in docs:
            chat = (d["instance_id"], d["remote_jid"])
            if chat not in oldest or d["created_at"] < oldest[chat]:
                oldest[chat] = d["created_at"]
        for chat, first in oldest.items():
            if chat not in self._first_at or first < self._first_at[chat]:
                self._first_at[chat] = first
        moves = [
            UpdateOne({"_id": key(*chat)}, {"$min": {"first_at": first}})
            for chat, first in oldest.items()
        ]
        await self._storage.collections.chat_summaries.bulk_write(moves, ordered=False)

    async def _count_chats(self, kind: str, docs: list[dict[str, Any]]) -> None:
        """Each written instance starts its chat count at 0; each written summary adds one."""
        db = self._storage.collections
        if kind == "instances":
            for d in docs:
                await db.chat_counts.replace_one(
                    {"_id": d["_id"]}, count_doc(d["_id"], 0), upsert=True
                )
        elif kind == "chat_summaries":
            for instance_id, n in Counter(d["instance_id"] for d in docs).items():
                await db.chat_counts.update_one({"_id": instance_id}, {"$inc": {"chats": n}})

    async def _upsert_summaries(self, docs: list[dict[str, Any]]) -> None:
        """Summaries written over the target's: the columns replaced, the kept `first_at` (a
        hint for reading, see chats.py) moved back only, and the chat counts made exact."""
        moves = []
        for d in docs:
            columns = {k: v for k, v in d.items() if k != "_id"}
            update: dict[str, Any] = {"$set": columns}
            first = self._first_at.get((d["instance_id"], d["remote_jid"]))
            if first is not None:
                update["$min"] = {"first_at": first}
            moves.append(UpdateOne({"_id": d["_id"]}, update, upsert=True))
        await self._storage.collections.chat_summaries.bulk_write(moves, ordered=True)
        await self._recount({d["instance_id"] for d in docs})

    async def _count_missing(self, docs: list[dict[str, Any]]) -> None:
        """An instance written by a catch-up gets a chat count if it has none."""
        await self._recount(
            {
                d["_id"]
                for d in docs
                if await self._storage.collections.chat_counts.count_documents(
                    {"_id": d["_id"]}, limit=1
                )
                == 0
            }
        )

    async def _recount(self, instance_ids: set[str]) -> None:
        """The chat counts of these instances, counted again from their summaries."""
        db = self._storage.collections
        for instance_id in sorted(instance_ids):
            chats = await db.chat_summaries.count_documents({"instance_id": instance_id})
            await db.chat_counts.replace_one(
                {"_id": instance_id}, count_doc(instance_id, chats), upsert=True
            )

    async def gauges(self) -> StorageGauges:
        db = self._storage.collections
        pipeline = [
            {"$group": {"_id": {"engine": "$engine", "status": "$status"}, "n": {"$sum": 1}}}
        ]
        rows = await (await db.instances.aggregate(pipeline)).to_list()
        counts = {(str(r["_id"]["engine"]), str(r["_id"]["status"])): int(r["n"]) for r in rows}
        queue = await db.webhook_deliveries.count_documents({"status": "pending"})
        return StorageGauges(counts, queue)
