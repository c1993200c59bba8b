"""Removing instances with everything they own, and the checks SQL's foreign keys make."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from adapters.storage.mongo.collections import OWNED_BY_INSTANCE, Collections
from adapters.storage.mongo.unit import MissingParent, MongoUnit


async def remove_instances(
    db: Collections, instance_ids: Sequence[str], s: AsyncClientSession | None
) -> None:
    if not instance_ids:
        return
    ids = {"$in": list(instance_ids)}
    for name in OWNED_BY_INSTANCE:
        await db.named(name).delete_many({"instance_id": ids}, session=s)
    await db.instances.delete_many({"_id": ids}, session=s)


async def require_instance(
    unit: MongoUnit, db: Collections, instance_id: str, s: AsyncClientSession | None
) -> None:
    """Raises MissingParent unless the instance exists (in this unit's view)."""
    if instance_id in unit.instances_seen:
        return
    if await db.instances.count_documents({"_id": instance_id}, limit=1, session=s) == 0:
        raise MissingParent(f"no instance {instance_id}")
    unit.instances_seen.add(instance_id)


async def next_seq(db: Collections, name: str, s: AsyncClientSession | None) -> int:
    """The next number of a sequence (an atomic increment of its counter document)."""
    doc = await db.counters.find_one_and_update(
        {"_id": name},
        {"$inc": {"seq": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
        session=s,
    )
    assert doc is not None  # an upsert answering the document after
    return int(doc["seq"])
