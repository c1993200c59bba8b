"""In-process account notices: wakes the live sessions of a user when the account changes."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class _Watch:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def changed(self, within_s: float) -> bool:
        try:
            await asyncio.wait_for(self._event.wait(), within_s)
        except TimeoutError:
            return False
        # A notice that arrives while the session re-checks sets the event again: none is lost.
        self._event.clear()
        return True


class InMemoryAccountNotices:
    def __init__(self) -> None:
        self._watches: dict[str, set[_Watch]] = defaultdict(set)

    async def publish(self, user_id: str) -> None:
        for watch in list(self._watches.get(user_id, ())):
            watch.notify()

    @asynccontextmanager
    async def watch(self, user_id: str) -> AsyncIterator[_Watch]:
        watch = _Watch()
        self._watches[user_id].add(watch)
        try:
            yield watch
        finally:
            self._watches[user_id].discard(watch)
            if not self._watches[user_id]:
                del self._watches[user_id]

    def watcher_count(self, user_id: str) -> int:
        return len(self._watches.get(user_id, ()))
