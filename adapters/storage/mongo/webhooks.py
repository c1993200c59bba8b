"""MongoDB repository of the webhook outbox (collection `webhook_deliveries`): `seq` keeps
the insertion order that deliveries go out in."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from pymongo import UpdateOne

from adapters.storage.mongo.codec import from_doc, to_doc
from adapters.storage.mongo.collections import Collections
from adapters.storage.mongo.owned import next_seq, require_instance
from adapters.storage.mongo.unit import MongoUnit
from domain.webhooks import DeliveryStatus, WebhookDelivery

_FIXED = ("id", "seq", "instance_id")


def _delivery(doc: dict[str, Any]) -> WebhookDelivery:
    return from_doc(WebhookDelivery, doc)


class MongoWebhooks:
    def __init__(self, unit: MongoUnit, db: Collections) -> None:
        self._u = unit
        self._db = db
        self._c = db.webhook_deliveries

    async def add(self, delivery: WebhookDelivery) -> None:
        async with self._u.op(write=True) as s:
            await require_instance(self._u, self._db, delivery.instance_id, s)
            doc = to_doc(delivery)
            doc["seq"] = await next_seq(self._db, "webhook_deliveries", s)
            await self._c.insert_one({"_id": delivery.id, **doc}, session=s)

    async def get(self, instance_id: str, delivery_id: str) -> WebhookDelivery | None:
        async with self._u.op() as s:
            query = {"_id": delivery_id, "instance_id": instance_id}
            doc = await self._c.find_one(query, session=s)
        return _delivery(doc) if doc else None

    async def update(self, delivery: WebhookDelivery) -> None:
        await self.update_many([delivery])

    async def update_many(self, deliveries: Sequence[WebhookDelivery]) -> None:
        if not deliveries:
            return
        updates = [UpdateOne({"_id": d.id}, {"$set": to_doc(d, skip=_FIXED)}) for d in deliveries]
        async with self._u.op(write=True) as s:
            await self._c.bulk_write(updates, ordered=True, session=s)

    async def pending(self, instance_id: str, limit: int) -> list[WebhookDelivery]:
        query = {"status": DeliveryStatus.PENDING.value, "instance_id": instance_id}
        async with self._u.op() as s:
            cursor = self._c.find(query, session=s).sort("seq", 1).limit(limit)
            return [_delivery(d) for d in await cursor.to_list()]

    async def pending_instances(self) -> list[str]:
        async with self._u.op() as s:
            query = {"status": DeliveryStatus.PENDING.value}
            found = await self._c.distinct("instance_id", query, session=s)
        return sorted(str(i) for i in found)

    async def list(
        self,
        instance_id: str,
        *,
        status: str | None,
        event: str | None,
        limit: int,
        skip: int,
    ) -> tuple[list[WebhookDelivery], int]:
        query: dict[str, Any] = {"instance_id": instance_id}
        if status is not None:
            query["status"] = status
        if event is not None:
            query["event"] = event
        async with self._u.op() as s:
            total = await self._c.count_documents(query, session=s)
            cursor = self._c.find(query, session=s).sort("seq", -1).skip(skip).limit(limit)
            docs = await cursor.to_list()
        return [_delivery(d) for d in docs], total

    async def latest(
        self,
        instance_ids: Sequence[str],
        *,
        status: str | None,
        event: str | None,
        before_seq: int | None,
        limit: int,
    ) -> dict[str, builtins.list[WebhookDelivery]]:
        filters: dict[str, Any] = {}
        if status is not None:
            filters["status"] = status
        if event is not None:
            filters["event"] = event
        if before_seq is not None:
            filters["seq"] = {"$lt": before_seq}
        found: dict[str, list[WebhookDelivery]] = {i: [] for i in instance_ids}
        if limit <= 0:
            return found
        async with self._u.op() as s:
            for instance_id in dict.fromkeys(instance_ids):
                cursor = self._c.find({"instance_id": instance_id, **filters}, session=s)
                docs = await cursor.sort("seq", -1).limit(limit).to_list()
                found[instance_id] = [_delivery(d) for d in docs]
        return found
