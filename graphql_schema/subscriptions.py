"""Live streams over graphql-transport-ws: typed events of one instance or of all the
caller's instances, and the instances' connection changes (a dashboard's list)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TypeVar

import strawberry

from domain.sessions import SessionRevoked
from graphql_schema.context import Info
from graphql_schema.enums import EventType
from graphql_schema.events import Event, event_from_entity
from graphql_schema.graph import ConnectionStatus, Instance

S = TypeVar("S")
T = TypeVar("T")


@strawberry.type(description="An instance whose connection changed, and its status now.")
class InstanceStatusChange:
    instance: Instance = strawberry.field(description="The instance, as it is now.")
    status: ConnectionStatus = strawberry.field(description="Its connection status now.")


async def _relay(
    info: Info, items: AsyncGenerator[S, None], build: Callable[[S], T]
) -> AsyncIterator[T]:
    """Items as GraphQL objects; a revoked caller's socket is closed (4403)."""
    try:
        async with contextlib.aclosing(items):
            async for item in items:
                yield build(item)
    except SessionRevoked as revoked:
        await info.context.close_revoked(revoked.reason)


def _names(types: list[EventType] | None) -> list[str] | None:
    return [t.value for t in types] if types is not None else None


@strawberry.type(
    description="Live streams over graphql-transport-ws; authenticate in connectionParams "
    "(Authorization or x-api-key)."
)
class Subscription:
    @strawberry.subscription(description="Live events of one instance, the same as /events.")
    async def instance_events(
        self, info: Info, instance_id: strawberry.ID, types: list[EventType] | None = None
    ) -> AsyncGenerator[Event, None]:
        c = info.context.container
        events = c.instances.follow(info.context.session(), str(instance_id), _names(types))
        async for event in _relay(info, events, event_from_entity):
            yield event

    @strawberry.subscription(
        description="Live events of every instance the caller may see, including instances "
        "created after the subscription started; `instanceIds` narrows it to those."
    )
    async def events(
        self,
        info: Info,
        types: list[EventType] | None = None,
        instance_ids: list[strawberry.ID] | None = None,
    ) -> AsyncGenerator[Event, None]:
        c = info.context.container
        ids = [str(i) for i in instance_ids] if instance_ids is not None else None
        events = c.instances.follow_all(info.context.session(), _names(types), ids)
        async for event in _relay(info, events, event_from_entity):
            yield event

    @strawberry.subscription(
        description="The caller's instances (or `instanceIds`) each time their connection "
        "changes: connected, disconnected, a QR code issued."
    )
    async def instance_status(
        self, info: Info, instance_ids: list[strawberry.ID] | None = None
    ) -> AsyncGenerator[InstanceStatusChange, None]:
        c = info.context.container
        ids = [str(i) for i in instance_ids] if instance_ids is not None else None
        changes = c.instances.follow_statuses(info.context.session(), ids)

        def build(i: object) -> InstanceStatusChange:
            node = Instance.from_entity(i)  # type: ignore[arg-type]
            return InstanceStatusChange(instance=node, status=node.connection_status)

        async for change in _relay(info, changes, build):
            yield change
