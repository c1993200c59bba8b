"""The fake MediaRepository (metadata only; the bytes live in MemoryMediaStore)."""

from __future__ import annotations

import copy
from typing import Any

from domain.entities import Media
from tests.fakes.storage.state import require_instance


class MemoryMedia:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, media: Media) -> None:
        require_instance(self.t, media.instance_id)
        if media.id in self.t["media"]:
            raise ValueError("unique id")
        self.t["media"][media.id] = copy.deepcopy(media)

    async def get(self, media_id: str) -> Media | None:
        return copy.deepcopy(self.t["media"].get(media_id))
