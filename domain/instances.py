"""Use cases for WhatsApp instances: lifecycle, settings, status, QR, activity and events."""

from __future__ import annotations

import builtins
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from domain import validation as v
from domain.entities import (
    DOCUMENT_EVENTS,
    ActivityLog,
    Engine,
    Event,
    EventType,
    Instance,
    InstanceStatus,
    Page,
    Principal,
    WebhookSettings,
)
from domain.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from domain.event_log import EventQuery, parse_event_types
from domain.limits import validate_limits
from domain.ports import (
    Clock,
    Connections,
    EventBus,
    IdFactory,
    MediaStore,
    UnitOfWork,
    UnitOfWorkFactory,
)
from domain.recorder import Recorder
from domain.sessions import LiveSession
from domain.streams import StreamSlots
from domain.times import iso, parse_iso
from domain.webhook_settings import WebhookSettingsInput, apply_webhook_settings
from domain.webhook_targets import WebhookTargetPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewInstance:
    name: str
    description: str | None = None
    webhook_url: str | None = None
    webhook_enabled: bool | None = None
    webhook: WebhookSettingsInput = field(default_factory=WebhookSettingsInput)
    engine: str | None = None
    sandbox: dict[str, Any] | None = None
    limits: dict[str, Any] | None = None


@dataclass(frozen=True)
class InstanceChanges:
    name: str | None = None
    description: str | None = None
    webhook_url: str | None = None
    webhook_enabled: bool | None = None
    webhook: WebhookSettingsInput | None = None
    limits: dict[str, Any] | None = None


@dataclass(frozen=True)
class QrResult:
    qr_code: str | None
    status: InstanceStatus

    @property
    def generating(self) -> bool:
        return self.qr_code is None


def _sandbox_options(raw: dict[str, Any] | None) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValidationFailed("'sandbox' must be an object", {"field": "sandbox"})
    options: dict[str, Any] = {}
    if "autoReceipts" in raw:
        if not isinstance(raw["autoReceipts"], bool):
            raise ValidationFailed(
                "'sandbox.autoReceipts' must be a boolean", {"field": "sandbox.autoReceipts"}
            )
        options["autoReceipts"] = raw["autoReceipts"]
    return {"sandbox": options}


def require_connected(instance: Instance) -> None:
    """Sending, WhatsApp's address book and simulated traffic need a live connection."""
    if instance.status is not InstanceStatus.CONNECTED:
        raise Conflict(
            f"Instance {instance.id} is not connected (status: {instance.status.value}); "
            "pair it or wait for it to reconnect",
            {"instanceStatus": instance.status.value},
        )


def visible(principal: Principal, instances: Sequence[Instance]) -> builtins.list[Instance]:
    """The batch reads' ownership check, on entities the caller already read: an instance
    the principal may not use raises NotFound, exactly like a single read."""
    for instance in instances:
        if not principal.is_admin and instance.user_id != principal.user_id:
            raise NotFound(f"Instance {instance.id} not found")
    return builtins.list(instances)


class Instances:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        recorder: Recorder,
        connections: Connections,
        bus: EventBus,
        clock: Clock,
        ids: IdFactory,
        default_engine: str,
        media_store: MediaStore,
        streams: StreamSlots | None = None,
        webhook_targets: WebhookTargetPolicy,
    ) -> None:
        self._uow = uow
        self._recorder = recorder
        self._connections = connections
        self._bus = bus
        self._clock = clock
        self._ids = ids
        self._default_engine = Engine(default_engine)
        self._media_store = media_store
        self._streams = streams or StreamSlots(None)
        self._targets = webhook_targets

    # --- helpers -------------------------------------------------------------------------

    @staticmethod
    async def owned(uow: UnitOfWork, principal: Principal, instance_id: str) -> Instance:
        """The instance if the principal may use it, read in the caller's unit of work."""
        return await Instances._owned(uow, principal, instance_id)

    @staticmethod
    async def _owned(uow: UnitOfWork, principal: Principal, instance_id: str) -> Instance:
        instance = await uow.instances.get(instance_id)
        # A foreign instance is reported exactly like a missing one, so ids leak nothing.
        if instance is None or (not principal.is_admin and instance.user_id != principal.user_id):
            raise NotFound(f"Instance {instance_id} not found")
        return instance

    async def get(self, principal: Principal, instance_id: str) -> Instance:
        async with self._uow(read_only=True) as uow:
            return await self._owned(uow, principal, instance_id)

    # --- lifecycle -----------------------------------------------------------------------

    async def create(self, principal: Principal, data: NewInstance) -> Instance:
        name = v.text(data.name, "name", max_len=100, required=True) or ""
        engine_name = data.engine or self._default_engine.value
        try:
            engine = Engine(engine_name)
        except ValueError:
            raise ValidationFailed(
                "'engine' must be 'neonize' or 'sandbox'", {"field": "engine", "value": engine_name}
            ) from None
        webhook = WebhookSettings()
        apply_webhook_settings(webhook, data.webhook)
        webhook_url = v.url(data.webhook_url, "webhookUrl")
        await self._targets.check_saved(webhook_url, principal.user)
        now = self._clock.now()
        instance = Instance(
            id=self._ids(),
            user_id=principal.user_id,
            name=name,
            description=v.text(data.description, "description", max_len=1000) or None,
            engine=engine,
            status=InstanceStatus.CONNECTING,
            webhook_url=webhook_url,
            webhook_enabled=bool(data.webhook_enabled)
            if data.webhook_enabled is not None
            else False,
            webhook=webhook,
            created_at=now,
            updated_at=now,
            last_activity_at=now,
            options=_sandbox_options(data.sandbox),
            limits=validate_limits(data.limits) or {},
        )
        async with self._recorder.transaction(instance.id) as txn:
            # The caller may have been deleted since it was resolved (a websocket's caller
            # between two checks): refused like a stale credential, not a foreign key error.
            if await txn.uow.users.get(principal.user_id) is None:
                raise Unauthorized("The caller's account no longer exists")
            await txn.uow.instances.add(instance)
            await txn.log("created", {"name": name, "engine": engine.value})
            await txn.commit()
        log.info("instance %s created by %s on %s", instance.id, principal.user_id, engine.value)
        await self._connections.start(instance)
        return instance

    async def list(self, principal: Principal) -> list[Instance]:
        async with self._uow(read_only=True) as uow:
            return await uow.instances.list(
                user_id=None if principal.is_admin else principal.user_id
            )

    async def update(
        self, principal: Principal, instance_id: str, changes: InstanceChanges
    ) -> Instance:
        new_url = v.url(changes.webhook_url, "webhookUrl") if changes.webhook_url else None
        if new_url:
            # Checked before the write transaction opens: DNS may take a while, and the owner
            # (whose role the policy asks about) may not be the caller (an admin editing).
            async with self._uow(read_only=True) as uow:
                current = await self._owned(uow, principal, instance_id)
                owner = await uow.users.get(current.user_id)
            if new_url != current.webhook_url:
                await self._targets.check_saved(new_url, owner)
        async with self._recorder.transaction(instance_id) as txn:
            instance = await self._owned(txn.uow, principal, instance_id)
            changed: list[str] = []
            if changes.name is not None:
                name = v.text(changes.name, "name", max_len=100, required=True) or ""
                if name != instance.name:
                    instance.name = name
                    changed.append("name")
            if changes.description is not None:
                description = v.text(changes.description, "description", max_len=1000) or None
                if description != instance.description:
                    instance.description = description
                    changed.append("description")
            if changes.limits is not None:
                # Given limits replace the old ones; a null value removes that cap.
                limits = validate_limits({**instance.limits, **changes.limits}) or {}
                if limits != instance.limits:
                    instance.limits = limits
                    changed.append("limits")
            webhook_changed = False
            if changes.webhook_url is not None:
                url = v.url(changes.webhook_url, "webhookUrl")
                webhook_changed |= url != instance.webhook_url
                instance.webhook_url = url
            if changes.webhook_enabled is not None:
                webhook_changed |= bool(changes.webhook_enabled) != instance.webhook_enabled
                instance.webhook_enabled = bool(changes.webhook_enabled)
            if changes.webhook is not None:
                webhook_changed |= apply_webhook_settings(instance.webhook, changes.webhook)
            if not changed and not webhook_changed:
                return instance  # nothing to store: updatedAt keeps telling the last change
            instance.updated_at = self._clock.now()
            await txn.uow.instances.update(instance)
            if changed:
                await txn.log("updated", {"fields": changed})
            if webhook_changed:
                await txn.log("webhook_updated", {})
                await txn.emit(
                    EventType.WEBHOOK_UPDATED, {"timestamp": _iso_now(self._clock)}, instance
                )
            await txn.commit()
        return instance

    async def delete(self, principal: Principal, instance_id: str) -> None:
        instance = await self.get(principal, instance_id)
        await self._connections.destroy(instance)
        async with self._recorder.transaction(instance_id) as txn:
            await txn.uow.instances.delete(instance_id)
            await txn.commit()
        await self._media_store.remove_instance(instance_id)
        self._recorder.forget(instance_id)
        log.info("instance %s deleted by %s", instance_id, principal.user_id)

    async def reconnect(self, principal: Principal, instance_id: str) -> Instance:
        async with self._recorder.transaction(instance_id) as txn:
            instance = await self._owned(txn.uow, principal, instance_id)
            instance.status = InstanceStatus.CONNECTING
            instance.status_reason = None
            instance.qr_code = None
            instance.will_reconnect = True
            instance.updated_at = self._clock.now()
            await txn.uow.instances.update(instance)
            await txn.log("reconnecting", {"requestedBy": principal.user_id, "manual": True})
            await txn.commit()
        await self._connections.reconnect(instance)
        return instance

    async def logout(self, principal: Principal, instance_id: str) -> None:
        instance = await self.get(principal, instance_id)
        if instance.status is InstanceStatus.LOGGED_OUT:
            return
        await self._connections.logout(instance)

    # --- reads ---------------------------------------------------------------------------

    async def qr(self, principal: Principal, instance_id: str) -> QrResult:
        instance = await self.get(principal, instance_id)
        if instance.status is InstanceStatus.CONNECTED:
            raise Conflict(
                "Instance is already connected; there is no QR code to scan",
                {"status": instance.status.value},
            )
        if instance.status is InstanceStatus.LOGGED_OUT:
            raise Conflict(
                "Instance is logged out; call reconnect to get a new QR code",
                {"status": instance.status.value},
            )
        if instance.status is InstanceStatus.QR and instance.qr_code:
            return QrResult(instance.qr_code, instance.status)
        if instance.status is InstanceStatus.DISCONNECTED and not instance.will_reconnect:
            raise Conflict(
                f"Instance is disconnected and will not reconnect by itself: "
                f"{instance.status_reason}; call reconnect",
                {"status": instance.status.value, "reason": instance.status_reason},
            )
        return QrResult(None, instance.status)

    async def activity(
        self,
        principal: Principal,
        instance_id: str,
        *,
        actions: Sequence[str] | None = None,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
        limit: int | None = None,
        skip: int | None = None,
    ) -> tuple[builtins.list[ActivityLog], Page]:
        lim, off = v.page(limit, skip, default=100, maximum=1000)
        start_dt = parse_iso(start, "startDate") if isinstance(start, str) else start
        end_dt = parse_iso(end, "endDate") if isinstance(end, str) else end
        if start_dt and end_dt and start_dt > end_dt:
            raise ValidationFailed(
                "'startDate' must not be after 'endDate'", {"field": "startDate"}
            )
        async with self._uow(read_only=True) as uow:
            await self._owned(uow, principal, instance_id)
            logs, total = await uow.activity.list(
                instance_id, actions=actions, start=start_dt, end=end_dt, limit=lim, skip=off
            )
        return logs, Page(total, lim, off)

    async def activity_pages(
        self,
        principal: Principal,
        instances: Sequence[Instance],
        *,
        actions: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> dict[str, builtins.list[ActivityLog]]:
        """A newest-first keyset page of each instance's activity, strictly older than
        `before` (created_at, id): entries logged meanwhile never shift a walk. One query."""
        lim, _ = v.page(limit, 0, default=100, maximum=1000)
        if start and end and start > end:
            raise ValidationFailed(
                "'startDate' must not be after 'endDate'", {"field": "startDate"}
            )
        ids = [i.id for i in visible(principal, instances)]
        async with self._uow(read_only=True) as uow:
            return await uow.activity.latest(
                ids, actions=actions, start=start, end=end, before=before, limit=lim
            )

    async def event_pages(
        self,
        principal: Principal,
        instances: Sequence[Instance],
        *,
        since_ms: int | None = None,
        limit: int | None = None,
        types: Sequence[str] | None = None,
        newest: bool = False,
    ) -> dict[str, tuple[builtins.list[Event], bool]]:
        """`events` of each instance (each with its default types when `types` is None),
        strictly after `since_ms`, in one query; the bool says whether more remain.
        `newest`: the newest `limit` of them (still oldest first; the bool: older remain)."""
        query = EventQuery.parse(since=None, limit=limit, types=types)
        reads = [
            (i.id, query.types if query.types is not None else default_event_types(i))
            for i in visible(principal, instances)
        ]
        async with self._uow(read_only=True) as uow:
            return await uow.events.since_many(
                reads, since_ms=since_ms, limit=query.limit, newest=newest
            )

    async def events(
        self,
        principal: Principal,
        instance_id: str,
        *,
        since: str | None = None,
        limit: int | None = None,
        types: Sequence[str] | None = None,
    ) -> tuple[builtins.list[Event], bool]:
        query = EventQuery.parse(since=since, limit=limit, types=types)
        async with self._uow(read_only=True) as uow:
            instance = await self._owned(uow, principal, instance_id)
            if query.types is None:
                query = replace(query, types=default_event_types(instance))
            return await query.read(uow, instance_id)

    async def subscribe(
        self, principal: Principal, instance_id: str, types: Sequence[str] | None = None
    ) -> AsyncIterator[Event]:
        """Live events of one instance, from now on, until the caller stops iterating."""
        instance = await self.get(principal, instance_id)
        wanted = set(parse_event_types(types) or default_event_types(instance))
        with self._streams.hold(principal.user_id):
            async with self._bus.subscribe(instance_id) as stream:
                async for event in stream:
                    if event.type in wanted:
                        yield event

    async def follow_all(
        self,
        session: LiveSession,
        types: Sequence[str] | None = None,
        instance_ids: Sequence[str] | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Live events of every instance the caller may see (or of `instance_ids`), including
        instances created after the stream started; ends (SessionRevoked) when the caller
        loses its credential or its access to a listed instance."""
        principal = await session.principal()
        wanted = set(parse_event_types(types) or EventType)
        chosen = None if instance_ids is None else builtins.list(dict.fromkeys(instance_ids))
        for instance_id in chosen or ():
            await self.get(principal, instance_id)  # a refusal here is an ordinary error
        events = self._everything(principal, wanted, chosen)

        async def still_allowed(p: Principal) -> None:
            for instance_id in chosen or ():
                await self.get(p, instance_id)

        guarded = session.guard(principal, events, still_allowed)
        async with contextlib.aclosing(guarded):
            async for event in guarded:
                yield event

    async def follow_statuses(
        self, session: LiveSession, instance_ids: Sequence[str] | None = None
    ) -> AsyncGenerator[Instance, None]:
        """The caller's instances (or `instance_ids`) as their connection changes: connected,
        disconnected, a QR code issued. Each is read again, so it shows its state now."""
        changes = (EventType.CONNECTED, EventType.DISCONNECTED, EventType.QR_RECEIVED)
        events = self.follow_all(session, [t.value for t in changes], instance_ids)
        async with contextlib.aclosing(events):
            async for event in events:
                async with self._uow(read_only=True) as uow:
                    instance = await uow.instances.get(event.instance_id)
                if instance is not None:
                    yield instance

    async def _everything(
        self, principal: Principal, wanted: set[EventType], chosen: Sequence[str] | None
    ) -> AsyncIterator[Event]:
        # Whose an instance is never changes, so each is looked up once per stream.
        mine: dict[str, bool] = {} if chosen is None else dict.fromkeys(chosen, True)
        with self._streams.hold(principal.user_id):
            async with self._bus.subscribe_all() as stream:
                async for event in stream:
                    if event.type not in wanted:
                        continue
                    if event.instance_id not in mine:
                        if chosen is not None:
                            continue
                        mine[event.instance_id] = await self._visible(principal, event.instance_id)
                    if mine[event.instance_id]:
                        yield event

    async def _visible(self, principal: Principal, instance_id: str) -> bool:
        if principal.is_admin:
            return True
        async with self._uow(read_only=True) as uow:
            instance = await uow.instances.get(instance_id)
        return instance is not None and instance.user_id == principal.user_id

    async def follow(
        self, session: LiveSession, instance_id: str, types: Sequence[str] | None = None
    ) -> AsyncGenerator[Event, None]:
        """`subscribe` for a live session: ends (SessionRevoked) when the caller loses its
        credential or its access to the instance."""
        principal = await session.principal()
        await self.get(principal, instance_id)  # a refusal here is an ordinary error
        events = self.subscribe(principal, instance_id, types)
        guarded = session.guard(principal, events, lambda p: self.get(p, instance_id))
        # closed with this generator, not whenever the garbage collector gets to it
        async with contextlib.aclosing(guarded):
            async for event in guarded:
                yield event


def default_event_types(instance: Instance) -> builtins.list[EventType]:
    """What a reader who names no types sees: the document's eight events, plus the kinds
    the instance's webhook settings ask for (so clients written against the document see
    nothing new unless they ask)."""
    chosen = instance.webhook.events or []
    return [*DOCUMENT_EVENTS, *(EventType(t) for t in chosen if t not in DOCUMENT_EVENTS)]


def _iso_now(clock: Clock) -> str:
    return iso(clock.now()) or ""
