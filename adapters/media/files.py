"""Stores media bytes under `<uploads>/<instance_id>/<media_id>` (directories 0700, files 0600)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

from adapters.security.files import create_private_file, private_dir

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
            private_dir(path.parent)
            tmp = path.with_suffix(".part")
            tmp.unlink(missing_ok=True)  # left by a crash mid-write
            create_private_file(tmp, data)
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
