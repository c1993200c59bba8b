"""Stored media: bytes in the media store, metadata in the database; the size cap."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from domain.entities import Media
from domain.errors import ValidationFailed
from domain.ports import Clock, IdFactory, MediaStore, UnitOfWorkFactory


def media_url(media_id: str) -> str:
    return f"/api/media/{media_id}"


def too_large(field: str, limit: int) -> ValidationFailed:
    """The one refusal of a file over the media size cap (MEDIA_MAX_BYTES)."""
    return ValidationFailed(f"'{field}' is larger than the {limit} bytes allowed", {"field": field})


async def read_capped(
    read: Callable[[int], Awaitable[bytes]], declared_size: int | None, limit: int
) -> bytes:
    """Reads an uploaded file through `read(n)`, never more than `limit` + 1 bytes (the one
    more tells it is too large), refusing at once a file whose declared size is over."""
    if declared_size is not None and declared_size > limit:
        raise too_large("file", limit)
    data = await read(limit + 1)
    if len(data) > limit:
        raise too_large("file", limit)
    return data


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
