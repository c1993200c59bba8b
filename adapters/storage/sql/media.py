"""SQL repository of media metadata (the bytes live in the MediaStore)."""

from __future__ import annotations

from sqlalchemy import insert, select

from adapters.storage.sql.session import SqlSession
from adapters.storage.sql.tables import media
from domain.entities import Media


class SqlMedia:
    def __init__(self, session: SqlSession) -> None:
        self._s = session

    async def add(self, item: Media) -> None:
        await self._s.execute(insert(media).values(**vars(item)))

    async def get(self, media_id: str) -> Media | None:
        row = (await self._s.execute(select(media).where(media.c.id == media_id))).first()
        return Media(**row._mapping) if row else None
