"""The worker view of a server whose engines run no worker processes (sandbox only)."""

from __future__ import annotations

from domain.wire import WorkerInfo


class NoEngineWorkers:
    """Answers the admin worker view with an empty list: nothing runs in a worker.

    Stands in until the neonize engine's WorkerEngine is wired; it implements the same
    `EngineWorkers` port.
    """

    async def workers(self) -> list[WorkerInfo]:
        return []
