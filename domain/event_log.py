"""The event log of an instance as callers read it: type filters and the polling cursor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain import validation as v
from domain.entities import Event, EventType
from domain.errors import ValidationFailed
from domain.ports import UnitOfWork
from domain.times import parse_iso, to_ms


@dataclass(frozen=True)
class EventQuery:
    """A validated read of the event log: strictly after `since_ms`, oldest first."""

    since_ms: int | None
    types: list[EventType] | None
    limit: int

    @classmethod
    def parse(
        cls, *, since: str | None, limit: int | None, types: Sequence[str] | None
    ) -> EventQuery:
        lim, _ = v.page(limit, 0, default=20, maximum=1000)
        since_ms = to_ms(parse_iso(since, "since")) if since else None
        return cls(since_ms=since_ms, types=parse_event_types(types), limit=lim)

    async def read(self, uow: UnitOfWork, instance_id: str) -> tuple[list[Event], bool]:
        return await uow.events.list_since(
            instance_id, since_ms=self.since_ms, types=self.types, limit=self.limit
        )


def parse_event_types(types: Sequence[str] | None) -> list[EventType] | None:
    if not types:
        return None
    parsed: list[EventType] = []
    for name in types:
        try:
            parsed.append(EventType(name))
        except ValueError:
            allowed = ", ".join(t.value for t in EventType)
            raise ValidationFailed(
                f"Unknown event type '{name}'; expected one of: {allowed}", {"field": "types"}
            ) from None
    return parsed


def latest_timestamp_ms(events: Sequence[Event], since: str | None) -> int | None:
    """The polling cursor (`latestTimestamp`): the last event returned, or else `since`
    itself (to the millisecond), so a client that passes it back never misses an event."""
    if events:
        return events[-1].timestamp_ms
    return to_ms(parse_iso(since, "since")) if since else None
