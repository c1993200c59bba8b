"""Instances: queries, mutations and the live `instanceEvents` subscription."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from domain.errors import ValidationFailed
from domain.event_log import latest_timestamp_ms
from domain.instances import InstanceChanges, NewInstance, WebhookSettingsInput
from domain.sessions import SessionRevoked
from domain.times import iso, iso_ms, parse_iso
from graphql_schema.context import Info
from graphql_schema.types import (
    ActivityLog,
    ActivityPage,
    ConnectionStatus,
    Event,
    EventPage,
    Instance,
    Pagination,
    QrCode,
    Result,
    from_json,
)


@strawberry.input
class WebhookSettingsInputType:
    notify_received: bool | None = None
    notify_sent: bool | None = None
    notify_delivery: bool | None = None
    notify_read: bool | None = None
    max_retries: int | None = None
    retry_interval: int | None = strawberry.field(default=None, description="milliseconds")
    secret: str | None = None
    headers: JSON | None = None

    def to_domain(self) -> WebhookSettingsInput:
        return WebhookSettingsInput(
            notify_received=self.notify_received,
            notify_sent=self.notify_sent,
            notify_delivery=self.notify_delivery,
            notify_read=self.notify_read,
            max_retries=self.max_retries,
            retry_interval=self.retry_interval,
            secret=self.secret,
            headers=_headers(self.headers),
        )


def _headers(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValidationFailed("'headers' must be an object of strings", {"field": "headers"})
    return value


@strawberry.input
class NewInstanceInput:
    name: str
    description: str | None = None
    webhook_url: str | None = None
    webhook_enabled: bool | None = None
    webhook_settings: WebhookSettingsInputType | None = None
    engine: str | None = strawberry.field(default=None, description="neonize or sandbox")
    sandbox: JSON | None = None
    limits: JSON | None = strawberry.field(
        default=None, description="Per UTC day: maxMessagesSent, maxMediaSent, maxApiCalls"
    )


@strawberry.input
class InstanceChangesInput:
    name: str | None = None
    description: str | None = None
    webhook_url: str | None = None
    webhook_enabled: bool | None = None
    webhook_settings: WebhookSettingsInputType | None = None
    limits: JSON | None = strawberry.field(default=None, description="null for a limit removes it")


@strawberry.type
class InstanceQuery:
    @strawberry.field(description="The caller's instances (every instance for an admin).")
    async def instances(self, info: Info) -> list[Instance]:
        c = info.context.container
        return [
            Instance.from_entity(i) for i in await c.instances.list(await info.context.principal())
        ]

    @strawberry.field
    async def instance(self, info: Info, id: strawberry.ID) -> Instance:
        c = info.context.container
        return Instance.from_entity(await c.instances.get(await info.context.principal(), str(id)))

    @strawberry.field
    async def instance_status(self, info: Info, id: strawberry.ID) -> ConnectionStatus:
        c = info.context.container
        return ConnectionStatus.from_entity(
            await c.instances.get(await info.context.principal(), str(id))
        )

    @strawberry.field(description="The QR code to pair the instance; null while generating.")
    async def instance_qr(self, info: Info, id: strawberry.ID) -> QrCode:
        c = info.context.container
        result = await c.instances.qr(await info.context.principal(), str(id))
        return QrCode(
            qr_code=result.qr_code, status=result.status.value, generating=result.generating
        )

    @strawberry.field
    async def instance_activity(
        self,
        info: Info,
        id: strawberry.ID,
        actions: list[str] | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        limit: int | None = None,
        skip: int | None = None,
    ) -> ActivityPage:
        c = info.context.container
        logs, page = await c.instances.activity(
            await info.context.principal(),
            str(id),
            actions=actions,
            start=start_date,
            end=end_date,
            limit=limit,
            skip=skip,
        )
        return ActivityPage(
            logs=[ActivityLog.from_entity(x) for x in logs], pagination=Pagination.from_page(page)
        )

    @strawberry.field(
        description="Events after `since` (exclusive), oldest first; pass back latestTimestamp."
    )
    async def instance_events(
        self,
        info: Info,
        id: strawberry.ID,
        since: datetime | None = None,
        limit: int | None = None,
        types: list[str] | None = None,
    ) -> EventPage:
        c = info.context.container
        since_text = iso(since)
        events, has_more = await c.instances.events(
            await info.context.principal(), str(id), since=since_text, limit=limit, types=types
        )
        latest = latest_timestamp_ms(events, since_text)
        return EventPage(
            events=[Event.from_entity(e) for e in events],
            latest_timestamp=_dt(iso_ms(latest)) if latest is not None else None,
            count=len(events),
            has_more=has_more,
        )


def _dt(text: str) -> datetime:
    return parse_iso(text, "timestamp")


@strawberry.type
class InstanceMutation:
    @strawberry.mutation
    async def create_instance(self, info: Info, input: NewInstanceInput) -> Instance:
        w = input.webhook_settings.to_domain() if input.webhook_settings else WebhookSettingsInput()
        data = NewInstance(
            name=input.name,
            description=input.description,
            webhook_url=input.webhook_url,
            webhook_enabled=input.webhook_enabled,
            webhook=w,
            engine=input.engine,
            limits=from_json(input.limits),
            sandbox=from_json(input.sandbox),
        )
        c = info.context.container
        return Instance.from_entity(await c.instances.create(await info.context.principal(), data))

    @strawberry.mutation
    async def update_instance(
        self, info: Info, id: strawberry.ID, input: InstanceChangesInput
    ) -> Instance:
        changes = InstanceChanges(
            name=input.name,
            description=input.description,
            webhook_url=input.webhook_url,
            webhook_enabled=input.webhook_enabled,
            webhook=input.webhook_settings.to_domain() if input.webhook_settings else None,
            limits=from_json(input.limits),
        )
        c = info.context.container
        return Instance.from_entity(
            await c.instances.update(await info.context.principal(), str(id), changes)
        )

    @strawberry.mutation
    async def delete_instance(self, info: Info, id: strawberry.ID) -> Result:
        await info.context.container.instances.delete(await info.context.principal(), str(id))
        return Result(success=True, message=f"Instance {id} deleted successfully")

    @strawberry.mutation
    async def reconnect_instance(self, info: Info, id: strawberry.ID) -> Result:
        await info.context.container.instances.reconnect(await info.context.principal(), str(id))
        return Result(success=True, message=f"Instance {id} reconnected")

    @strawberry.mutation
    async def logout_instance(self, info: Info, id: strawberry.ID) -> Result:
        await info.context.container.instances.logout(await info.context.principal(), str(id))
        return Result(success=True, message=f"Instance {id} logged out")

    @strawberry.mutation(
        description="Sandbox only: pair the instance as if its QR code was scanned."
    )
    async def sandbox_scan(
        self, info: Info, id: strawberry.ID, phone: str | None = None, push_name: str | None = None
    ) -> Instance:
        c = info.context.container
        principal = await info.context.principal()
        await c.sandbox.scan(principal, str(id), phone, push_name)
        return Instance.from_entity(await c.instances.get(principal, str(id)))

    @strawberry.mutation(description="Sandbox only: drop the connection (reason 'logout' unlinks).")
    async def sandbox_disconnect(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> Instance:
        c = info.context.container
        principal = await info.context.principal()
        await c.sandbox.disconnect(principal, str(id), reason)
        return Instance.from_entity(await c.instances.get(principal, str(id)))


@strawberry.type
class InstanceSubscription:
    @strawberry.subscription(description="Live events of one instance, the same as /events.")
    async def instance_events(
        self, info: Info, instance_id: strawberry.ID, types: list[str] | None = None
    ) -> AsyncGenerator[Event, None]:
        context = info.context
        events = context.container.instances.follow(context.session(), str(instance_id), types)
        try:
            async with contextlib.aclosing(events):
                async for event in events:
                    yield Event.from_entity(event)
        except SessionRevoked as revoked:
            await context.close_revoked(revoked.reason)
