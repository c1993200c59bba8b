"""In-process event bus: each subscriber gets its own bounded queue."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from domain.entities import Event

log = logging.getLogger(__name__)

_CLOSED = object()


class _Subscription:
    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue(size)
        self.overflowed = False

    def push(self, item: object) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # A subscriber that cannot keep up is cut off rather than silently skipping
            # events; it can resume from /events with its last timestamp.
            self.overflowed = True

    async def stream(self) -> AsyncIterator[Event]:
        while True:
            item = await self.queue.get()
            if item is _CLOSED or self.overflowed:
                return
            assert isinstance(item, Event)
            yield item


class InMemoryEventBus:
    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._subs: dict[str, set[_Subscription]] = defaultdict(set)
        self._everything: set[_Subscription] = set()

    async def publish(self, event: Event) -> None:
        for sub in list(self._subs.get(event.instance_id, ())):
            sub.push(event)
        for sub in list(self._everything):
            sub.push(event)

    @asynccontextmanager
    async def subscribe(self, instance_id: str) -> AsyncIterator[AsyncIterator[Event]]:
        sub = _Subscription(self._queue_size)
        self._subs[instance_id].add(sub)
        try:
            yield sub.stream()
        finally:
            self._subs[instance_id].discard(sub)
            if not self._subs[instance_id]:
                del self._subs[instance_id]

    @asynccontextmanager
    async def subscribe_all(self) -> AsyncIterator[AsyncIterator[Event]]:
        sub = _Subscription(self._queue_size)
        self._everything.add(sub)
        try:
            yield sub.stream()
        finally:
            self._everything.discard(sub)

    def subscriber_count(self, instance_id: str) -> int:
        return len(self._subs.get(instance_id, ()))

    async def close(self) -> None:
        for subs in [*self._subs.values(), self._everything]:
            for sub in subs:
                sub.overflowed = sub.queue.full()
                if not sub.overflowed:
                    sub.queue.put_nowait(_CLOSED)
