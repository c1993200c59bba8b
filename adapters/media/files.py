"""Stores media bytes under `<uploads>/<instance_id>/<media_id>`."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class FileMediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, instance_id: str, media_id: str) -> Path:
        # Ids come from us, but a path is never built from anything unchecked.
        if not _SAFE.match(instance_id) or not _SAFE.match(media_id):
            raise ValueError("unsafe media path")
        return self.root / instance_id / media_id

    async def write(self, instance_id: str, media_id: str, data: bytes) -> None:
        path = self._path(instance_id, media_id)

        def _write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".part")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)

        await asyncio.to_thread(_write)

    async def read(self, instance_id: str, media_id: str) -> bytes | None:
        path = self._path(instance_id, media_id)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def remove_instance(self, instance_id: str) -> None:
        if _SAFE.match(instance_id):
            await asyncio.to_thread(shutil.rmtree, self.root / instance_id, True)
