"""MongoDB repository of the activity log (collection `activity_logs`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.storage.mongo.codec import at, from_doc, through, to_doc
from adapters.storage.mongo.collections import Collections
from adapters.storage.mongo.owned import require_instance
from adapters.storage.mongo.unit import MongoUnit
from domain.entities import ActivityLog


class MongoActivity:
    def __init__(self, unit: MongoUnit, db: Collections) -> None:
        self._u = unit
        self._db = db
        self._c = db.activity_logs

    async def add(self, log: ActivityLog) -> None:
        async with self._u.op(write=True) as s:
            await require_instance(self._u, self._db, log.instance_id, s)
            await self._c.insert_one({"_id": log.id, **to_doc(log)}, session=s)

    async def list(
        self,
        instance_id: str,
        *,
        actions: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        skip: int,
    ) -> tuple[list[ActivityLog], int]:
        query: dict[str, Any] = {"instance_id": instance_id}
        if actions:
            query["action"] = {"$in": list(actions)}
        window: dict[str, str] = {}
        if start is not None:
            window["$gte"] = at(start)
        if end is not None:
            window.update(through(at(end)))
        if window:
            query["created_at"] = window
        async with self._u.op() as s:
            total = await self._c.count_documents(query, session=s)
            cursor = self._c.find(query, session=s).sort([("created_at", -1), ("_id", -1)])
            docs = await cursor.skip(skip).limit(limit).to_list()
        return [from_doc(ActivityLog, d) for d in docs], total
