"""Start-up restore: reconnects every instance that was not logged out, a bounded number at once.

Starting 1,000 instances one after another makes the last wait for all the others; starting
them all at once makes 1,000 handshakes fight over the database and the engine workers. So
at most `concurrency` instances are "coming back" at a time: an instance holds its slot from
its start until it reports where it stands (connected, a QR to scan, or a disconnect), or
until `settle_timeout_s` passes, after which it keeps connecting on its own without a slot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator

from domain.entities import Event, EventType, Instance, InstanceStatus
from domain.ports import Connections, EventBus, UnitOfWorkFactory

log = logging.getLogger(__name__)

# What an instance reports once its start has led somewhere.
SETTLED = frozenset({EventType.CONNECTED, EventType.QR_RECEIVED, EventType.DISCONNECTED})


class Restore:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        connections: Connections,
        bus: EventBus,
        concurrency: int,
        settle_timeout_s: float = 30.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._uow = uow
        self._connections = connections
        self._bus = bus
        self._concurrency = concurrency
        self._settle_timeout_s = settle_timeout_s

    async def run(self) -> int:
        """Restores every instance not logged out; returns how many were started."""
        started_at = time.monotonic()
        async with self._uow(read_only=True) as uow:
            everything = await uow.instances.list()
        pending = deque(i.id for i in everything if i.status is not InstanceStatus.LOGGED_OUT)
        slots = asyncio.Semaphore(self._concurrency)
        coming_back: list[asyncio.Task[None]] = []
        while pending:
            await slots.acquire()
            # Every slot free now, at once: one read of those instances rather than one each.
            turn = [pending.popleft()]
            while pending and not slots.locked():
                await slots.acquire()  # free: returns at once
                turn.append(pending.popleft())
            # Read again when their turn comes: deleted or logged out since are left out.
            async with self._uow(read_only=True) as uow:
                fresh = await uow.instances.get_many(turn)
            for instance_id in turn:
                instance = fresh.get(instance_id)
                if instance is None or instance.status is InstanceStatus.LOGGED_OUT:
                    slots.release()
                    continue
                coming_back.append(asyncio.create_task(self._one(slots, instance)))
        await asyncio.gather(*coming_back)
        log.info(
            "restored %d instance(s) in %.2f s, %d at a time",
            len(coming_back),
            time.monotonic() - started_at,
            self._concurrency,
        )
        return len(coming_back)

    async def _one(self, slots: asyncio.Semaphore, instance: Instance) -> None:
        try:
            await self._start_and_settle(instance)
        except Exception:
            log.exception("restoring instance %s failed", instance.id)
        finally:
            slots.release()

    async def _start_and_settle(self, instance: Instance) -> None:
        # Subscribed before the start, so a report that comes at once is not missed.
        async with self._bus.subscribe(instance.id) as events:
            await self._connections.start(instance)
            try:
                await asyncio.wait_for(_settled(events), self._settle_timeout_s)
            except TimeoutError:
                log.info("instance %s still connecting; restoring the next ones", instance.id)


async def _settled(events: AsyncIterator[Event]) -> None:
    async for event in events:
        if event.type in SETTLED:
            return
