"""MongoDB repository of the event log; `seq` (the order within a millisecond) comes from a
counter document, incremented atomically."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.storage.mongo.codec import from_doc, to_doc
from adapters.storage.mongo.collections import Collections
from adapters.storage.mongo.owned import next_seq, require_instance
from adapters.storage.mongo.unit import MongoUnit
from domain.entities import Event, EventType


class MongoEvents:
    def __init__(self, unit: MongoUnit, db: Collections) -> None:
        self._u = unit
        self._db = db
        self._c = db.events

    async def add(self, event: Event) -> None:
        async with self._u.op(write=True) as s:
            await require_instance(self._u, self._db, event.instance_id, s)
            doc = to_doc(event)
            doc["seq"] = await next_seq(self._db, "events", s)
            await self._c.insert_one({"_id": event.id, **doc}, session=s)

    async def last_timestamp_ms(self, instance_id: str) -> int | None:
        found = await self.last_timestamps_ms([instance_id])
        return found.get(instance_id)

    async def last_timestamps_ms(self, instance_ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        async with self._u.op() as s:
            # One indexed read per instance: its newest event is the index's last entry.
            for instance_id in dict.fromkeys(instance_ids):
                doc = await self._c.find_one(
                    {"instance_id": instance_id},
                    {"timestamp_ms": 1},
                    sort=[("timestamp_ms", -1), ("seq", -1)],
                    session=s,
                )
                if doc is not None:
                    found[instance_id] = int(doc["timestamp_ms"])
        return found

    async def list_since(
        self,
        instance_id: str,
        *,
        since_ms: int | None,
        types: Sequence[EventType] | None,
        limit: int,
    ) -> tuple[list[Event], bool]:
        query: dict[str, Any] = {"instance_id": instance_id}
        if since_ms is not None:
            query["timestamp_ms"] = {"$gt": since_ms}
        if types:
            query["type"] = {"$in": [t.value for t in types]}
        async with self._u.op() as s:
            cursor = self._c.find(query, session=s).sort([("timestamp_ms", 1), ("seq", 1)])
            docs = await cursor.limit(limit + 1).to_list()
        return [from_doc(Event, d) for d in docs[:limit]], len(docs) > limit

    async def since_many(
        self,
        reads: Sequence[tuple[str, Sequence[EventType] | None]],
        *,
        since_ms: int | None,
        limit: int,
        newest: bool = False,
    ) -> dict[str, tuple[list[Event], bool]]:
        if not newest:
            return {
                instance_id: await self.list_since(
                    instance_id, since_ms=since_ms, types=types, limit=limit
                )
                for instance_id, types in reads
            }
        found: dict[str, tuple[list[Event], bool]] = {}
        for instance_id, types in reads:
            query: dict[str, Any] = {"instance_id": instance_id}
            if since_ms is not None:
                query["timestamp_ms"] = {"$gt": since_ms}
            if types:
                query["type"] = {"$in": [t.value for t in types]}
            async with self._u.op() as s:
                cursor = self._c.find(query, session=s).sort([("timestamp_ms", -1), ("seq", -1)])
                docs = await cursor.limit(limit + 1).to_list()
            page = [from_doc(Event, d) for d in docs[:limit]]
            found[instance_id] = (page[::-1], len(docs) > limit)  # oldest first
        return found
