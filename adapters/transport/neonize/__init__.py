"""Placeholder for the neonize (real WhatsApp) engine, which lands in a later release.

Until then an instance on this engine reports a clear `disconnected` reason instead of
pretending to connect.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from domain.errors import EngineFailure
from domain.ports import ConnectionListener
from domain.wire import EngineContact, LastMessageKey, NumberCheck, OutgoingMessage

UNAVAILABLE_REASON = (
    "engine_unavailable: the neonize engine is not part of this release yet; "
    'create the instance with "engine": "sandbox" or start the server with WHATSAPP_ENGINE=sandbox'
)


class UnavailableNeonizeEngine:
    name = "neonize"

    def __init__(self, listener: ConnectionListener, instances_dir: Path) -> None:
        self._listener = listener
        self._dir = instances_dir

    async def start(self, instance_id: str, options: dict[str, Any]) -> None:
        await self._listener.on_disconnected(instance_id, UNAVAILABLE_REASON, False)

    async def stop(self, instance_id: str) -> None:
        return None

    async def logout(self, instance_id: str) -> None:
        await self._listener.on_logged_out(instance_id, "logout requested")

    async def destroy(self, instance_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self._dir / instance_id, True)

    async def send(self, instance_id: str, message: OutgoingMessage) -> None:
        raise EngineFailure(UNAVAILABLE_REASON)

    async def contacts(self, instance_id: str) -> list[EngineContact]:
        raise EngineFailure(UNAVAILABLE_REASON)

    async def add_contact(self, instance_id: str, jid: str, name: str | None) -> None:
        raise EngineFailure(UNAVAILABLE_REASON)

    async def mark_read(self, instance_id: str, chat_jid: str, message_ids: Sequence[str]) -> None:
        return None

    async def mark_unread(
        self,
        instance_id: str,
        chat_jid: str,
        last: LastMessageKey | None,
        *,
        unread: bool = True,
    ) -> None:
        raise EngineFailure(UNAVAILABLE_REASON)

    async def pairing_code(self, instance_id: str, phone: str) -> str:
        raise EngineFailure(UNAVAILABLE_REASON)

    async def check_numbers(self, instance_id: str, phones: Sequence[str]) -> list[NumberCheck]:
        raise EngineFailure(UNAVAILABLE_REASON)

    async def close(self) -> None:
        return None
