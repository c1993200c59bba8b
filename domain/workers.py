"""The admin view of the engine's worker processes."""

from __future__ import annotations

import builtins

from domain.entities import Principal
from domain.errors import Forbidden
from domain.ports import EngineWorkers
from domain.wire import WorkerInfo


class EngineWorkerView:
    def __init__(self, workers: EngineWorkers) -> None:
        self._workers = workers

    async def list(self, principal: Principal) -> list[WorkerInfo]:
        # Worker pids and the instances on each reveal other users' instances.
        if not principal.is_admin:
            raise Forbidden("This action requires the admin role")
        return await self._workers.workers()

    async def all(self) -> builtins.list[WorkerInfo]:
        """For the operator's own views (/metrics behind its token, the CLI)."""
        return await self._workers.workers()
