"""MongoDB repository of users (collection `users`)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.storage.mongo.codec import at as stored_at
from adapters.storage.mongo.codec import from_doc, to_doc
from adapters.storage.mongo.collections import Collections
from adapters.storage.mongo.owned import remove_instances
from adapters.storage.mongo.unit import MongoUnit
from domain.entities import Role, User


def _user(doc: dict[str, Any]) -> User:
    return from_doc(User, doc)


class MongoUsers:
    def __init__(self, unit: MongoUnit, db: Collections) -> None:
        self._u = unit
        self._db = db
        self._c = db.users

    async def add(self, user: User) -> None:
        async with self._u.op(write=True) as s:
            await self._c.insert_one({"_id": user.id, **to_doc(user)}, session=s)

    async def get(self, user_id: str) -> User | None:
        async with self._u.op() as s:
            doc = await self._c.find_one({"_id": user_id}, session=s)
        return _user(doc) if doc else None

    async def get_many(self, user_ids: Sequence[str]) -> dict[str, User]:
        if not user_ids:
            return {}
        async with self._u.op() as s:
            docs = await self._c.find({"_id": {"$in": list(set(user_ids))}}, session=s).to_list()
        return {d["_id"]: _user(d) for d in docs}

    async def get_by_email(self, email: str) -> User | None:
        async with self._u.op() as s:
            doc = await self._c.find_one({"email": email}, session=s)
        return _user(doc) if doc else None

    async def get_by_api_key_hash(self, api_key_hash: str) -> User | None:
        async with self._u.op() as s:
            doc = await self._c.find_one({"api_key_hash": api_key_hash}, session=s)
        return _user(doc) if doc else None

    async def list(self, *, limit: int, skip: int) -> tuple[list[User], int]:
        async with self._u.op() as s:
            total = await self._c.count_documents({}, session=s)
            cursor = self._c.find({}, session=s).sort([("created_at", 1), ("_id", 1)])
            docs = await cursor.skip(skip).limit(limit).to_list()
        return [_user(d) for d in docs], total

    async def page(self, *, after: tuple[datetime, str] | None, limit: int) -> builtins.list[User]:
        query: dict[str, Any] = {}
        if after is not None:
            edge = stored_at(after[0])
            later = [{"created_at": {"$gt": edge}}, {"created_at": edge, "_id": {"$gt": after[1]}}]
            query = {"$or": later}
        if limit <= 0:
            return []
        async with self._u.op() as s:
            cursor = self._c.find(query, session=s).sort([("created_at", 1), ("_id", 1)])
            docs = await cursor.limit(limit).to_list()
        return [_user(d) for d in docs]

    async def update(self, user: User) -> None:
        values = to_doc(user, skip=("id",))
        async with self._u.op(write=True) as s:
            await self._c.update_one({"_id": user.id}, {"$set": values}, session=s)

    async def record_login(self, user_id: str, at: datetime) -> None:
        async with self._u.op(write=True) as s:
            await self._c.update_one(
                {"_id": user_id}, {"$set": {"last_login_at": stored_at(at)}}, session=s
            )

    async def delete(self, user_id: str) -> None:
        # What the SQL foreign key's ON DELETE CASCADE does: the user's instances go too.
        async with self._u.op(write=True) as s:
            owned = await self._db.instances.distinct("_id", {"user_id": user_id}, session=s)
            await remove_instances(self._db, owned, s)
            await self._c.delete_one({"_id": user_id}, session=s)
        self._u.instances_seen.difference_update(owned)

    async def count_active_admins(self) -> int:
        async with self._u.op() as s:
            query = {"role": Role.ADMIN.value, "is_active": True}
            return await self._c.count_documents(query, session=s)
