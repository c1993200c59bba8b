"""MongoDB repository of instances (webhook secret and headers sealed, as in storage/sql/)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.storage.mongo.chats import count_doc
from adapters.storage.mongo.codec import from_doc, to_doc
from adapters.storage.mongo.collections import Collections
from adapters.storage.mongo.owned import remove_instances
from adapters.storage.mongo.unit import MissingParent, MongoUnit
from adapters.storage.sql.sealing import open_webhook, seal_webhook
from domain.entities import Instance, WebhookSettings
from domain.ports import SecretBox


def _instance(doc: dict[str, Any], box: SecretBox) -> Instance:
    webhook = WebhookSettings(**open_webhook(doc.get("webhook") or {}, box))
    return from_doc(
        Instance,
        doc,
        webhook=webhook,
        options=dict(doc.get("options") or {}),
        limits=dict(doc.get("limits") or {}),
    )


def _values(instance: Instance, box: SecretBox) -> dict[str, Any]:
    values = to_doc(instance, skip=("webhook",))
    values["webhook"] = seal_webhook(vars(instance.webhook), box)
    return values


class MongoInstances:
    def __init__(self, unit: MongoUnit, db: Collections, box: SecretBox) -> None:
        self._u = unit
        self._db = db
        self._c = db.instances
        self._box = box  # seals the webhook secret and headers (storage/sql/sealing.py)

    async def add(self, instance: Instance) -> None:
        async with self._u.op(write=True) as s:
            if await self._db.users.count_documents({"_id": instance.user_id}, session=s) == 0:
                raise MissingParent(f"no user {instance.user_id}")
            await self._c.insert_one(
                {"_id": instance.id, **_values(instance, self._box)}, session=s
            )
            await self._db.chat_counts.replace_one(
                {"_id": instance.id}, count_doc(instance.id, 0), upsert=True, session=s
            )
        self._u.instances_seen.add(instance.id)

    async def get(self, instance_id: str) -> Instance | None:
        async with self._u.op() as s:
            doc = await self._c.find_one({"_id": instance_id}, session=s)
        return _instance(doc, self._box) if doc else None

    async def get_many(self, instance_ids: Sequence[str]) -> dict[str, Instance]:
        if not instance_ids:
            return {}
        async with self._u.op() as s:
            query = {"_id": {"$in": list(dict.fromkeys(instance_ids))}}
            docs = await self._c.find(query, session=s).to_list()
        return {d["_id"]: _instance(d, self._box) for d in docs}

    async def list(self, *, user_id: str | None = None) -> list[Instance]:
        query = {} if user_id is None else {"user_id": user_id}
        async with self._u.op() as s:
            cursor = self._c.find(query, session=s).sort([("created_at", 1), ("_id", 1)])
            docs = await cursor.to_list()
        return [_instance(d, self._box) for d in docs]

    async def update(self, instance: Instance) -> None:
        values = _values(instance, self._box)
        values.pop("id")
        async with self._u.op(write=True) as s:
            await self._c.update_one({"_id": instance.id}, {"$set": values}, session=s)

    async def delete(self, instance_id: str) -> None:
        async with self._u.op(write=True) as s:
            await remove_instances(self._db, [instance_id], s)
        self._u.instances_seen.discard(instance_id)
