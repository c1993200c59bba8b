"""The fake ActivityRepository."""

from __future__ import annotations

import builtins
import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.entities import ActivityLog


class MemoryActivity:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, log: ActivityLog) -> None:
        self.t["activity"][log.id] = copy.deepcopy(log)

    async def list(
        self,
        instance_id: str,
        *,
        actions: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        skip: int,
    ) -> tuple[list[ActivityLog], int]:
        found = [
            a
            for a in self.t["activity"].values()
            if a.instance_id == instance_id
            and (not actions or a.action in actions)
            and (start is None or a.created_at >= start)
            and (end is None or a.created_at <= end)
        ]
        found.sort(key=lambda a: (a.created_at, a.id), reverse=True)
        return copy.deepcopy(found[skip : skip + limit]), len(found)

    async def latest(
        self,
        instance_ids: Sequence[str],
        *,
        actions: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> dict[str, builtins.list[ActivityLog]]:
        found: dict[str, list[ActivityLog]] = {}
        for instance_id in instance_ids:
            page, _ = await self.list(
                instance_id, actions=actions, start=start, end=end, limit=10**9, skip=0
            )
            if before is not None:
                page = [a for a in page if (a.created_at, a.id) < before]
            found[instance_id] = page[:limit]
        return found
