"""Runs instances' connections in this process, on the engine each instance names."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from domain.entities import Instance
from domain.ports import Ownership, SandboxControl, WhatsAppEngine

log = logging.getLogger(__name__)


class SingleNodeOwnership:
    """One server: every instance is run here."""

    async def claim(self, instance_id: str) -> bool:
        return True

    async def release(self, instance_id: str) -> None:
        return None


class LocalConnections:
    def __init__(
        self,
        engines: Mapping[str, WhatsAppEngine],
        sandbox: SandboxControl,
        ownership: Ownership,
    ) -> None:
        self._engines = dict(engines)
        self._sandbox = sandbox
        self._ownership = ownership

    def engine(self, instance: Instance) -> WhatsAppEngine:
        return self._engines[instance.engine.value]

    async def start(self, instance: Instance) -> None:
        if await self._ownership.claim(instance.id):
            await self.engine(instance).start(instance.id, instance.options)

    async def stop(self, instance: Instance) -> None:
        await self.engine(instance).stop(instance.id)

    async def reconnect(self, instance: Instance) -> None:
        engine = self.engine(instance)
        await engine.stop(instance.id)
        await engine.start(instance.id, instance.options)

    async def logout(self, instance: Instance) -> None:
        await self.engine(instance).logout(instance.id)

    async def destroy(self, instance: Instance) -> None:
        await self.engine(instance).destroy(instance.id)
        await self._ownership.release(instance.id)

    def sandbox(self) -> SandboxControl:
        return self._sandbox

    async def close(self) -> None:
        for engine in self._engines.values():
            try:
                await engine.close()
            except Exception:
                log.exception("engine %s failed to close", engine.name)
