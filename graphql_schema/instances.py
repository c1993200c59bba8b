"""Instances: queries, mutations and the live `instanceEvents` subscription."""

from __future__ import annotations

import contextlib
from datetime import datetime

import strawberry
from strawberry.scalars import JSON
from strawberry.types.unset import UNSET

from domain.errors import NotFound, ValidationFailed
from domain.event_log import latest_timestamp_ms
from domain.instances import InstanceChanges, NewInstance, WebhookSettingsInput
from domain.times import iso, iso_ms, parse_iso
from graphql_schema.context import Info
from graphql_schema.enums import EngineKind, EventType, InstanceState
from graphql_schema.events import event_from_entity
from graphql_schema.graph import ConnectionStatus, Instance, QrCode
from graphql_schema.payloads import UserError, attempt
from graphql_schema.relay import Node
from graphql_schema.stats import Long
from graphql_schema.types import (
    ActivityLog,
    ActivityPage,
    EventPage,
    Pagination,
    Result,
    User,
)


@strawberry.input(description="Webhook settings; an omitted field keeps its value.")
class WebhookSettingsInputType:
    notify_received: bool | None = strawberry.field(default=None, description="message_received")
    notify_sent: bool | None = strawberry.field(default=None, description="message_sent")
    notify_delivery: bool | None = strawberry.field(default=None, description="delivered")
    notify_read: bool | None = strawberry.field(default=None, description="read")
    max_retries: int | None = strawberry.field(default=None, description="0 to 10")
    retry_interval: int | None = strawberry.field(default=None, description="milliseconds")
    secret: str | None = strawberry.field(default=None, description="Signs each body.")
    headers: JSON | None = strawberry.field(
        default=None, description="Replaces the custom headers: an object of name to value."
    )

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


@strawberry.input(description="Daily limits per UTC day; null removes a limit, omitted keeps it.")
class InstanceLimitsInput:
    max_messages_sent: Long | None = strawberry.field(
        default=UNSET, description="Messages sent per day."
    )
    max_media_sent: Long | None = strawberry.field(default=UNSET, description="Media per day.")
    max_api_calls: Long | None = strawberry.field(default=UNSET, description="API calls per day.")

    def to_domain(self) -> dict[str, int | None]:
        given = {
            "maxMessagesSent": self.max_messages_sent,
            "maxMediaSent": self.max_media_sent,
            "maxApiCalls": self.max_api_calls,
        }
        return {name: value for name, value in given.items() if value is not UNSET}


@strawberry.input(description="Options of a sandbox instance.")
class SandboxOptionsInput:
    auto_receipts: bool | None = strawberry.field(
        default=None, description="Recipients report delivered and read by themselves."
    )

    def to_domain(self) -> dict[str, object]:
        return {} if self.auto_receipts is None else {"autoReceipts": self.auto_receipts}


def _limits(value: InstanceLimitsInput | None) -> dict[str, int | None] | None:
    return value.to_domain() if value is not None else None


@strawberry.input(description="A new instance.")
class NewInstanceInput:
    name: str = strawberry.field(description="Its name.")
    description: str | None = strawberry.field(default=None, description="Its description.")
    webhook_url: str | None = strawberry.field(default=None, description="Where to send events.")
    webhook_enabled: bool | None = strawberry.field(default=None, description="Send them.")
    webhook_settings: WebhookSettingsInputType | None = strawberry.field(
        default=None, description="What and how to send."
    )
    engine: EngineKind | None = strawberry.field(
        default=None, description="The server's default engine when omitted."
    )
    sandbox: SandboxOptionsInput | None = strawberry.field(
        default=None, description="Sandbox engine options."
    )
    limits: InstanceLimitsInput | None = strawberry.field(
        default=None, description="Daily limits (per UTC day)."
    )


@strawberry.input(description="Changes to an instance; an omitted field keeps its value.")
class InstanceChangesInput:
    name: str | None = strawberry.field(default=None, description="Its name.")
    description: str | None = strawberry.field(default=None, description="Its description.")
    webhook_url: str | None = strawberry.field(default=None, description="Where to send events.")
    webhook_enabled: bool | None = strawberry.field(default=None, description="Send them.")
    webhook_settings: WebhookSettingsInputType | None = strawberry.field(
        default=None, description="What and how to send."
    )
    limits: InstanceLimitsInput | None = strawberry.field(
        default=None, description="Daily limits; null for a limit removes it."
    )


@strawberry.type(description="The instance a mutation created or changed, or why it did not.")
class InstancePayload:
    instance: Instance | None = strawberry.field(description="Null when `userErrors` is not.")
    user_errors: list[UserError] = strawberry.field(description="Input to correct; else empty.")


@strawberry.type
class InstanceQuery:
    @strawberry.field(description="The caller's instances (every instance for an admin).")
    async def instances(self, info: Info) -> list[Instance]:
        c = info.context.container
        return [
            Instance.from_entity(i) for i in await c.instances.list(await info.context.principal())
        ]

    @strawberry.field(
        description="An Instance or a User by its id (Relay's refetch). Like every id in this "
        "API, one the caller may not see answers not_found."
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node:
        c = info.context.container
        principal = await info.context.principal()
        with contextlib.suppress(NotFound):
            return Instance.from_entity(await c.instances.get(principal, str(id)))
        if str(id) == principal.user_id:
            return User.from_entity(principal.user)
        if principal.is_admin:
            return User.from_entity(await c.accounts.get_user(principal, str(id)))
        raise NotFound(f"Node {id} not found")

    @strawberry.field(description="One instance by its id.")
    async def instance(self, info: Info, id: strawberry.ID) -> Instance:
        c = info.context.container
        return Instance.from_entity(await c.instances.get(await info.context.principal(), str(id)))

    @strawberry.field(
        description="An instance's connection, as GET /api/instances/{id}/status.",
        deprecation_reason="Use Instance.connectionStatus.",
    )
    async def instance_status(self, info: Info, id: strawberry.ID) -> ConnectionStatus:
        c = info.context.container
        return ConnectionStatus.from_entity(
            await c.instances.get(await info.context.principal(), str(id))
        )

    @strawberry.field(
        description="The QR code to pair the instance; null while generating.",
        deprecation_reason="Use Instance.qr.",
    )
    async def instance_qr(self, info: Info, id: strawberry.ID) -> QrCode:
        c = info.context.container
        result = await c.instances.qr(await info.context.principal(), str(id))
        return QrCode(
            qr_code=result.qr_code,
            status=InstanceState.of(result.status),
            generating=result.generating,
        )

    @strawberry.field(
        description="An instance's activity log by offset, newest first; `startDate`/"
        "`endDate` bound `createdAt` (inclusive).",
        deprecation_reason="Use Instance.activity (a cursor connection).",
    )
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
        description="Events after `since` (exclusive), oldest first; pass back latestTimestamp.",
        deprecation_reason="Use Instance.events (a cursor connection).",
    )
    async def instance_events(
        self,
        info: Info,
        id: strawberry.ID,
        since: datetime | None = None,
        limit: int | None = None,
        types: list[EventType] | None = None,
    ) -> EventPage:
        c = info.context.container
        since_text = iso(since)
        names = [t.value for t in types] if types is not None else None
        events, has_more = await c.instances.events(
            await info.context.principal(), str(id), since=since_text, limit=limit, types=names
        )
        latest = latest_timestamp_ms(events, since_text)
        return EventPage(
            events=[event_from_entity(e) for e in events],
            latest_timestamp=_dt(iso_ms(latest)) if latest is not None else None,
            count=len(events),
            has_more=has_more,
        )


def _dt(text: str) -> datetime:
    return parse_iso(text, "timestamp")


@strawberry.type
class InstanceMutation:
    @strawberry.mutation(description="Create an instance; it starts connecting at once.")
    async def create_instance(self, info: Info, input: NewInstanceInput) -> InstancePayload:
        c = info.context.container
        principal = await info.context.principal()

        async def create() -> Instance:
            w = input.webhook_settings.to_domain() if input.webhook_settings else None
            data = NewInstance(
                name=input.name,
                description=input.description,
                webhook_url=input.webhook_url,
                webhook_enabled=input.webhook_enabled,
                webhook=w or WebhookSettingsInput(),
                engine=input.engine.value if input.engine is not None else None,
                limits=_limits(input.limits),
                sandbox=input.sandbox.to_domain() if input.sandbox is not None else None,
            )
            return Instance.from_entity(await c.instances.create(principal, data))

        instance, errors = await attempt(create())
        return InstancePayload(instance=instance, user_errors=errors)

    @strawberry.mutation(description="Change an instance; omitted fields keep their values.")
    async def update_instance(
        self, info: Info, id: strawberry.ID, input: InstanceChangesInput
    ) -> InstancePayload:
        c = info.context.container
        principal = await info.context.principal()

        async def update() -> Instance:
            changes = InstanceChanges(
                name=input.name,
                description=input.description,
                webhook_url=input.webhook_url,
                webhook_enabled=input.webhook_enabled,
                webhook=input.webhook_settings.to_domain() if input.webhook_settings else None,
                limits=_limits(input.limits),
            )
            return Instance.from_entity(await c.instances.update(principal, str(id), changes))

        instance, errors = await attempt(update())
        return InstancePayload(instance=instance, user_errors=errors)

    @strawberry.mutation(
        description="Delete an instance with its messages, contacts, events, deliveries and "
        "media; its WhatsApp session is logged out. `deletedId` is its id."
    )
    async def delete_instance(self, info: Info, id: strawberry.ID) -> Result:
        await info.context.container.instances.delete(await info.context.principal(), str(id))
        return Result(success=True, message=f"Instance {id} deleted successfully", deleted_id=id)

    @strawberry.mutation(
        description="Drop and reopen the instance's WhatsApp connection; `instance` is the "
        "instance as it is now (usually `connecting`)."
    )
    async def reconnect_instance(self, info: Info, id: strawberry.ID) -> Result:
        c = info.context.container
        instance = await c.instances.reconnect(await info.context.principal(), str(id))
        return Result(
            success=True,
            message=f"Instance {id} reconnected",
            instance=Instance.from_entity(instance),
        )

    @strawberry.mutation(
        description="Unlink the instance from its WhatsApp account (a new QR code follows); "
        "`instance` is the instance as it is now."
    )
    async def logout_instance(self, info: Info, id: strawberry.ID) -> Result:
        c = info.context.container
        principal = await info.context.principal()
        await c.instances.logout(principal, str(id))
        instance = await c.instances.get(principal, str(id))
        return Result(
            success=True,
            message=f"Instance {id} logged out",
            instance=Instance.from_entity(instance),
        )

    @strawberry.mutation(
        description="Sandbox only: pair the instance as if its QR code was scanned.",
        deprecation_reason="Use scanSandboxQr (a payload with userErrors).",
    )
    async def sandbox_scan(
        self, info: Info, id: strawberry.ID, phone: str | None = None, push_name: str | None = None
    ) -> Instance:
        c = info.context.container
        principal = await info.context.principal()
        await c.sandbox.scan(principal, str(id), phone, push_name)
        return Instance.from_entity(await c.instances.get(principal, str(id)))

    @strawberry.mutation(
        description="Sandbox only: drop the connection (reason 'logout' unlinks).",
        deprecation_reason="Use dropSandboxConnection (a payload with userErrors).",
    )
    async def sandbox_disconnect(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> Instance:
        c = info.context.container
        principal = await info.context.principal()
        await c.sandbox.disconnect(principal, str(id), reason)
        return Instance.from_entity(await c.instances.get(principal, str(id)))
