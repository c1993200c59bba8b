"""Stored media: bytes in the media store, metadata in the database."""

from __future__ import annotations

import hashlib

from domain.entities import Media
from domain.ports import Clock, IdFactory, MediaStore, UnitOfWorkFactory


def media_url(media_id: str) -> str:
    return f"/api/media/{media_id}"


class MediaLibrary:
    def __init__(
        self, uow: UnitOfWorkFactory, store: MediaStore, clock: Clock, ids: IdFactory
    ) -> None:
        self._uow = uow
        self.store = store
        self._clock = clock
        self._ids = ids

    async def keep(self, instance_id: str, data: bytes, mime: str, name: str) -> Media:
        """Writes the bytes first: a crash leaves an orphan file, never a dangling record."""
        media = Media(
            id=self._ids(),
            instance_id=instance_id,
            mime_type=mime,
            file_name=name,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            created_at=self._clock.now(),
        )
        await self.store.write(instance_id, media.id, data)
        async with self._uow() as uow:
            await uow.media.add(media)
            await uow.commit()
        return media
