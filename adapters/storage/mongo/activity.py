"""MongoDB repository of the activity log (collection `activity_logs`)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.storage.mongo.codec import at, from_doc, through, to_doc
from adapters.storage.mongo.collections import Collections
from adapters.storage.mongo.owned import require_instance
from adapters.storage.mongo.unit import MongoUnit
from domain.entities import ActivityLog


def _filters(
    actions: Sequence[str] | None, start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if actions:
        query["action"] = {"$in": list(actions)}
    window: dict[str, str] = {}
    if start is not None:
        window["$gte"] = at(start)
    if end is not None:
        window.update(through(at(end)))
    if window:
        query["created_at"] = window
    return query


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
        query = {"instance_id": instance_id, **_filters(actions, start, end)}
        async with self._u.op() as s:
            total = await self._c.count_documents(query, session=s)
            cursor = self._c.find(query, session=s).sort([("created_at", -1), ("_id", -1)])
            docs = await cursor.skip(skip).limit(limit).to_list()
        return [from_doc(ActivityLog, d) for d in docs], total

    async def latest(
        self,
        instance_ids: Sequence[str],
        *,
        actions: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> dict[str, builtins.list[ActivityLog]]:
        filters = _filters(actions, start, end)
        if before is not None:
            edge = at(before[0])
            older = [{"created_at": {"$lt": edge}}, {"created_at": edge, "_id": {"$lt": before[1]}}]
            filters = {"$and": [filters, {"$or": older}]} if filters else {"$or": older}
        found: dict[str, list[ActivityLog]] = {i: [] for i in instance_ids}
        if limit <= 0:
            return found
        async with self._u.op() as s:
            # One indexed page per instance: the index's (instance, time, id) order.
            for instance_id in dict.fromkeys(instance_ids):
                cursor = self._c.find({"instance_id": instance_id, **filters}, session=s)
                docs = await cursor.sort([("created_at", -1), ("_id", -1)]).limit(limit).to_list()
                found[instance_id] = [from_doc(ActivityLog, d) for d in docs]
        return found
