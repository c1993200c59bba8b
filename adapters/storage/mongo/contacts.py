"""MongoDB repository of contacts: one document per (instance, remote JID), unique."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from adapters.storage.mongo.codec import from_doc, to_doc
from adapters.storage.mongo.collections import Collections
from adapters.storage.mongo.owned import require_instance
from adapters.storage.mongo.unit import MongoUnit
from domain.entities import Contact

_KEPT_ON_UPDATE = ("id", "instance_id", "remote_jid", "created_at")
# COALESCE(name, push_name, number), as the SQL list orders by (code point order, then id).
_SORT_NAME = {"$ifNull": ["$name", "$push_name", "$number"]}


def _contact(doc: dict[str, Any]) -> Contact:
    return from_doc(Contact, doc)


def _sort_name(doc: dict[str, Any]) -> str:
    for field in ("name", "push_name"):
        if doc.get(field) is not None:
            return str(doc[field])
    return str(doc["number"])


def _matches(doc: dict[str, Any], term: str) -> bool:
    """SQL's `lower(name) LIKE %term%` (lower() folds beyond ASCII there too), literally."""
    for field in ("name", "push_name"):
        value = doc.get(field)
        if value is not None and term in value.casefold():
            return True
    return term in doc["number"]


class MongoContacts:
    def __init__(self, unit: MongoUnit, db: Collections) -> None:
        self._u = unit
        self._db = db
        self._c = db.contacts

    async def get(self, instance_id: str, remote_jid: str) -> Contact | None:
        async with self._u.op() as s:
            query = {"instance_id": instance_id, "remote_jid": remote_jid}
            doc = await self._c.find_one(query, session=s)
        return _contact(doc) if doc else None

    async def get_many(self, instance_id: str, remote_jids: Sequence[str]) -> dict[str, Contact]:
        if not remote_jids:
            return {}
        query = {"instance_id": instance_id, "remote_jid": {"$in": list(set(remote_jids))}}
        async with self._u.op() as s:
            docs = await self._c.find(query, session=s).to_list()
        return {d["remote_jid"]: _contact(d) for d in docs}

    async def find(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Contact]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        query = {"$or": [{"instance_id": i, "remote_jid": j} for i, j in wanted]}
        async with self._u.op() as s:
            docs = await self._c.find(query, session=s).to_list()
        return {(d["instance_id"], d["remote_jid"]): _contact(d) for d in docs}

    async def upsert(self, contact: Contact) -> None:
        query = {"instance_id": contact.instance_id, "remote_jid": contact.remote_jid}
        async with self._u.op(write=True) as s:
            existing = await self._c.find_one(query, {"_id": 1}, session=s)
            if existing is None:
                await require_instance(self._u, self._db, contact.instance_id, s)
                await self._c.insert_one({"_id": contact.id, **to_doc(contact)}, session=s)
                return
            values = to_doc(contact, skip=_KEPT_ON_UPDATE)
            await self._c.update_one({"_id": existing["_id"]}, {"$set": values}, session=s)

    async def touch(self, contact: Contact) -> None:
        doc = to_doc(contact)
        changed = {"last_activity": doc["last_activity"], "updated_at": doc["updated_at"]}
        if contact.push_name is not None:
            changed["push_name"] = doc["push_name"]
        created = {k: v for k, v in doc.items() if k not in changed}
        async with self._u.op(write=True) as s:
            await require_instance(self._u, self._db, contact.instance_id, s)
            await self._c.update_one(
                {"instance_id": contact.instance_id, "remote_jid": contact.remote_jid},
                {"$set": changed, "$setOnInsert": {"_id": contact.id, **created}},
                upsert=True,
                session=s,
            )

    async def list(
        self,
        instance_id: str,
        *,
        search: str | None,
        only_groups: bool,
        limit: int,
        skip: int,
    ) -> tuple[list[Contact], int]:
        query: dict[str, Any] = {"instance_id": instance_id}
        if only_groups:
            query["is_group"] = True
        async with self._u.op() as s:
            if search:
                # Folded and matched here: a regex's case-insensitivity is not casefold().
                term = search.casefold()
                docs = await self._c.find(query, session=s).to_list()
                found = sorted(
                    (d for d in docs if _matches(d, term)), key=lambda d: (_sort_name(d), d["_id"])
                )
                return [_contact(d) for d in found[skip : skip + limit]], len(found)
            total = await self._c.count_documents(query, session=s)
            if limit <= 0:
                return [], total
            pipeline: list[dict[str, Any]] = [
                {"$match": query},
                {"$addFields": {"_sort": _SORT_NAME}},
                {"$sort": {"_sort": 1, "_id": 1}},
                {"$skip": skip},
                {"$limit": limit},
            ]
            docs = await (await self._c.aggregate(pipeline, session=s)).to_list()
        return [_contact(d) for d in docs], total

    async def page(
        self,
        instance_ids: Sequence[str],
        *,
        search: str | None,
        only_groups: bool,
        after: tuple[str, str] | None,
        limit: int,
    ) -> dict[str, builtins.list[Contact]]:
        found: dict[str, list[Contact]] = {i: [] for i in instance_ids}
        if limit <= 0:
            return found
        async with self._u.op() as s:
            for instance_id in dict.fromkeys(instance_ids):
                query: dict[str, Any] = {"instance_id": instance_id}
                if only_groups:
                    query["is_group"] = True
                if search:
                    term = search.casefold()
                    docs = await self._c.find(query, session=s).to_list()
                    keyed = sorted(
                        ((_sort_name(d), d["_id"]), d) for d in docs if _matches(d, term)
                    )
                    page = [d for k, d in keyed if after is None or k > after][:limit]
                    found[instance_id] = [_contact(d) for d in page]
                    continue
                stages: list[dict[str, Any]] = [
                    {"$match": query},
                    {"$addFields": {"_sort": _SORT_NAME}},
                ]
                if after is not None:
                    name, last_id = after
                    later = [{"_sort": {"$gt": name}}, {"_sort": name, "_id": {"$gt": last_id}}]
                    stages.append({"$match": {"$or": later}})
                stages += [{"$sort": {"_sort": 1, "_id": 1}}, {"$limit": limit}]
                docs = await (await self._c.aggregate(stages, session=s)).to_list()
                found[instance_id] = [_contact(d) for d in docs]
        return found
