"""MongoDB repository of media metadata (the bytes live in the MediaStore)."""

from __future__ import annotations

from adapters.storage.mongo.codec import from_doc, to_doc
from adapters.storage.mongo.collections import Collections
from adapters.storage.mongo.owned import require_instance
from adapters.storage.mongo.unit import MongoUnit
from domain.entities import Media


class MongoMedia:
    def __init__(self, unit: MongoUnit, db: Collections) -> None:
        self._u = unit
        self._db = db
        self._c = db.media

    async def add(self, media: Media) -> None:
        async with self._u.op(write=True) as s:
            await require_instance(self._u, self._db, media.instance_id, s)
            await self._c.insert_one({"_id": media.id, **to_doc(media)}, session=s)

    async def get(self, media_id: str) -> Media | None:
        async with self._u.op() as s:
            doc = await self._c.find_one({"_id": media_id}, session=s)
        return from_doc(Media, doc) if doc else None
