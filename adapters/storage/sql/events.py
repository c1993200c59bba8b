"""SQL repository of the event log (the polling cursor reads it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from adapters.storage.sql.pages import per_key
from adapters.storage.sql.prepared import Prepared
from adapters.storage.sql.session import SqlSession
from adapters.storage.sql.tables import events
from domain.entities import Event, EventType

# Ids per IN (...) list: under SQLite's default limit of bound parameters on old builds.
IN_CHUNK = 500

_ADD = Prepared.insert(events, ("id", "instance_id", "type", "data", "timestamp_ms"))


class SqlEvents:
    def __init__(self, session: SqlSession) -> None:
        self._s = session

    async def add(self, event: Event) -> None:
        values = {
            "id": event.id,
            "instance_id": event.instance_id,
            "type": event.type.value,
            "data": event.data,
            "timestamp_ms": event.timestamp_ms,
        }
        await self._s.write(_ADD, values)

    async def last_timestamp_ms(self, instance_id: str) -> int | None:
        query = select(func.max(events.c.timestamp_ms)).where(events.c.instance_id == instance_id)
        return (await self._s.execute(query)).scalar_one_or_none()

    async def last_timestamps_ms(self, instance_ids: Sequence[str]) -> dict[str, int]:
        ids = list(dict.fromkeys(instance_ids))
        found: dict[str, int] = {}
        for start in range(0, len(ids), IN_CHUNK):
            query = (
                select(events.c.instance_id, func.max(events.c.timestamp_ms))
                .where(events.c.instance_id.in_(ids[start : start + IN_CHUNK]))
                .group_by(events.c.instance_id)
            )
            found.update((row[0], int(row[1])) for row in await self._s.execute(query))
        return found

    async def list_since(
        self,
        instance_id: str,
        *,
        since_ms: int | None,
        types: Sequence[EventType] | None,
        limit: int,
    ) -> tuple[list[Event], bool]:
        query = select(events).where(events.c.instance_id == instance_id)
        if since_ms is not None:
            query = query.where(events.c.timestamp_ms > since_ms)
        if types:
            query = query.where(events.c.type.in_([t.value for t in types]))
        rows = list(
            await self._s.execute(
                query.order_by(events.c.timestamp_ms, events.c.seq).limit(limit + 1)
            )
        )
        found = [_event(r) for r in rows[:limit]]
        return found, len(rows) > limit

    async def since_many(
        self,
        reads: Sequence[tuple[str, Sequence[EventType] | None]],
        *,
        since_ms: int | None,
        limit: int,
        newest: bool = False,
    ) -> dict[str, tuple[list[Event], bool]]:
        wanted = {instance_id: types for instance_id, types in reads}

        def page_of(instance_id: str) -> Any:
            query = select(events).where(events.c.instance_id == instance_id)
            if since_ms is not None:
                query = query.where(events.c.timestamp_ms > since_ms)
            types = wanted[instance_id]
            if types:
                query = query.where(events.c.type.in_([t.value for t in types]))
            if newest:
                ordered = query.order_by(events.c.timestamp_ms.desc(), events.c.seq.desc())
            else:
                ordered = query.order_by(events.c.timestamp_ms, events.c.seq)
            return ordered.limit(limit + 1)

        rows: dict[str, list[Event]] = {instance_id: [] for instance_id in wanted}
        order = [("timestamp_ms", newest), ("seq", newest)]
        for row in await per_key(self._s.execute, list(wanted), page_of, order):
            rows[row.instance_id].append(_event(row))
        if newest:  # read newest first: keep the newest `limit`, give them oldest first
            return {i: (page[:limit][::-1], len(page) > limit) for i, page in rows.items()}
        return {i: (page[:limit], len(page) > limit) for i, page in rows.items()}


def _event(r: Any) -> Event:
    return Event(
        id=r.id,
        instance_id=r.instance_id,
        type=EventType(r.type),
        data=r.data,
        timestamp_ms=r.timestamp_ms,
        seq=r.seq,
    )
