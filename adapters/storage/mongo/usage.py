"""MongoDB repository of the per-day usage counters (`usage_daily`) and the once-per-day limit
notices (`limit_notices`): every change is one atomic `$inc` or upsert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from pymongo import ReturnDocument

from adapters.storage.mongo.codec import key
from adapters.storage.mongo.collections import Collections
from adapters.storage.mongo.owned import require_instance
from adapters.storage.mongo.unit import MongoUnit
from domain.ports import USAGE_COUNTERS

_DAYS_BATCH = 1100


def _counters(doc: dict[str, Any] | None) -> dict[str, int]:
    return {name: int((doc or {}).get(name) or 0) for name in USAGE_COUNTERS}


class MongoUsage:
    def __init__(self, unit: MongoUnit, db: Collections) -> None:
        self._u = unit
        self._db = db
        self._c = db.usage_daily

    def _row(self, instance_id: str, day: date) -> tuple[str, dict[str, str]]:
        return key(instance_id, day.isoformat()), {
            "instance_id": instance_id,
            "day": day.isoformat(),
        }

    async def add(self, instance_id: str, day: date, counters: dict[str, int]) -> None:
        increments = {k: v for k, v in counters.items() if v}
        if not increments:
            return
        row_id, columns = self._row(instance_id, day)
        others = {name: 0 for name in USAGE_COUNTERS if name not in increments}
        async with self._u.op(write=True) as s:
            await require_instance(self._u, self._db, instance_id, s)
            await self._c.update_one(
                {"_id": row_id},
                {"$inc": increments, "$setOnInsert": {**columns, **others}},
                upsert=True,
                session=s,
            )

    async def try_add(
        self, instance_id: str, day: date, counter: str, amount: int, maximum: int
    ) -> int | None:
        row_id, columns = self._row(instance_id, day)
        async with self._u.op(write=True) as s:
            await require_instance(self._u, self._db, instance_id, s)
            zeros = dict.fromkeys(USAGE_COUNTERS, 0)
            await self._c.update_one(
                {"_id": row_id}, {"$setOnInsert": {**columns, **zeros}}, upsert=True, session=s
            )
            # Check and add in one statement: a concurrent add cannot slip in between.
            doc = await self._c.find_one_and_update(
                {"_id": row_id, counter: {"$lte": maximum - amount}},
                {"$inc": {counter: amount}},
                return_document=ReturnDocument.AFTER,
                session=s,
            )
        return None if doc is None else int(doc[counter])

    async def day(self, instance_id: str, day: date) -> dict[str, int]:
        row_id, _ = self._row(instance_id, day)
        async with self._u.op() as s:
            return _counters(await self._c.find_one({"_id": row_id}, session=s))

    async def daily(
        self, instance_id: str, since: date | None
    ) -> list[tuple[date, dict[str, int]]]:
        query: dict[str, Any] = {"instance_id": instance_id}
        if since is not None:
            query["day"] = {"$gte": since.isoformat()}
        async with self._u.op() as s:
            # Every day is answered: sorted here, not by the server (SecantusDB sorts in Python),
            # in one batch for up to ~3 years (the default first batch, 101, then a getMore).
            docs = await self._c.find(query, session=s).batch_size(_DAYS_BATCH).to_list()
        docs.sort(key=lambda d: str(d["day"]))
        return [(date.fromisoformat(d["day"]), _counters(d)) for d in docs]

    async def totals(
        self, instance_ids: Sequence[str] | None, since: date | None
    ) -> dict[str, dict[str, int]]:
        match: dict[str, Any] = {}
        if instance_ids is not None:
            match["instance_id"] = {"$in": list(instance_ids)}
        if since is not None:
            match["day"] = {"$gte": since.isoformat()}
        sums = {name: {"$sum": f"${name}"} for name in USAGE_COUNTERS}
        pipeline = [{"$match": match}, {"$group": {"_id": "$instance_id", **sums}}]
        async with self._u.op() as s:
            docs = await (await self._c.aggregate(pipeline, session=s)).to_list()
        return {d["_id"]: _counters(d) for d in docs}

    async def first_notice(self, instance_id: str, day: date, limit: str) -> bool:
        columns = {"instance_id": instance_id, "day": day.isoformat(), "limit_name": limit}
        async with self._u.op(write=True) as s:
            await require_instance(self._u, self._db, instance_id, s)
            # An upsert, not an insert that may fail: a failed write would abort the unit.
            result = await self._db.limit_notices.update_one(
                {"_id": key(instance_id, day.isoformat(), limit)},
                {"$setOnInsert": columns},
                upsert=True,
                session=s,
            )
        return result.upserted_id is not None
