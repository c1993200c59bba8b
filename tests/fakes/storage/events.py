"""The fake EventRepository."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from domain.entities import Event, EventType


class MemoryEvents:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, event: Event) -> None:
        stored = copy.deepcopy(event)
        stored.seq = len(self.t["events"]) + 1
        self.t["events"].append(stored)

    async def last_timestamp_ms(self, instance_id: str) -> int | None:
        stamps = [e.timestamp_ms for e in self.t["events"] if e.instance_id == instance_id]
        return max(stamps) if stamps else None

    async def last_timestamps_ms(self, instance_ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for e in self.t["events"]:
            if e.instance_id in instance_ids:
                found[e.instance_id] = max(found.get(e.instance_id, e.timestamp_ms), e.timestamp_ms)
        return found

    async def list_since(
        self,
        instance_id: str,
        *,
        since_ms: int | None,
        types: Sequence[EventType] | None,
        limit: int,
    ) -> tuple[list[Event], bool]:
        found = [
            e
            for e in self.t["events"]
            if e.instance_id == instance_id
            and (since_ms is None or e.timestamp_ms > since_ms)
            and (not types or e.type in types)
        ]
        found.sort(key=lambda e: (e.timestamp_ms, e.seq))
        return copy.deepcopy(found[:limit]), len(found) > limit

    async def since_many(
        self,
        reads: Sequence[tuple[str, Sequence[EventType] | None]],
        *,
        since_ms: int | None,
        limit: int,
        newest: bool = False,
    ) -> dict[str, tuple[list[Event], bool]]:
        found: dict[str, tuple[list[Event], bool]] = {}
        for instance_id, types in reads:
            every, _ = await self.list_since(
                instance_id, since_ms=since_ms, types=types, limit=len(self.t["events"]) + 1
            )
            page = every[-limit:] if newest else every[:limit]
            found[instance_id] = (page, len(every) > limit)
        return found
