"""Turns what an engine reports about a connection into state and events.

Messages and receipts are handled in `domain/inbound.py`; `EngineEvents` joins both into the
one ConnectionListener the engines talk to."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from domain.entities import EventType, Instance, InstanceStatus
from domain.groups import GroupEvents
from domain.inbound import MessageEvents
from domain.media import MediaLibrary
from domain.ports import Clock, IdFactory
from domain.recorder import InstanceTransaction, Recorder

log = logging.getLogger(__name__)


class ConnectionEvents:
    """The domain's ConnectionListener: one transaction per report, events in order."""

    def __init__(self, recorder: Recorder, clock: Clock) -> None:
        self._recorder = recorder
        self._clock = clock

    async def _apply(
        self,
        instance_id: str,
        change: Callable[[Instance, InstanceTransaction], Awaitable[None]],
    ) -> None:
        async with self._recorder.transaction(instance_id) as txn:
            instance = await txn.uow.instances.get(instance_id)
            if instance is None:  # deleted while the engine was still reporting
                return
            await change(instance, txn)
            now = self._clock.now()
            instance.updated_at = now
            instance.last_activity_at = now
            await txn.uow.instances.update(instance)
            await txn.commit()

    async def on_connecting(self, instance_id: str) -> None:
        async def change(instance: Instance, txn: InstanceTransaction) -> None:
            instance.status = InstanceStatus.CONNECTING
            instance.qr_code = None

        await self._apply(instance_id, change)

    async def on_qr(self, instance_id: str, qr_code: str) -> None:
        async def change(instance: Instance, txn: InstanceTransaction) -> None:
            instance.status = InstanceStatus.QR
            instance.qr_code = qr_code
            instance.qr_attempt += 1
            instance.status_reason = None
            await txn.log("qr_received", {"attempt": instance.qr_attempt})
            await txn.emit(EventType.QR_RECEIVED, {"qrCode": qr_code}, instance)

        await self._apply(instance_id, change)

    async def on_connected(
        self, instance_id: str, phone: str | None, push_name: str | None
    ) -> None:
        async def change(instance: Instance, txn: InstanceTransaction) -> None:
            instance.status = InstanceStatus.CONNECTED
            instance.qr_code = None
            instance.qr_attempt = 0
            instance.status_reason = None
            instance.will_reconnect = True
            instance.phone = phone or instance.phone
            instance.push_name = push_name or instance.push_name
            await txn.log("connected", {"phone": instance.phone, "pushName": instance.push_name})
            await txn.emit(EventType.CONNECTED, {}, instance)

        await self._apply(instance_id, change)
        log.info("instance %s connected as %s", instance_id, phone)

    async def on_disconnected(self, instance_id: str, reason: str, will_reconnect: bool) -> None:
        async def change(instance: Instance, txn: InstanceTransaction) -> None:
            instance.status = InstanceStatus.DISCONNECTED
            instance.qr_code = None
            instance.status_reason = reason
            instance.will_reconnect = will_reconnect
            details = {"reason": reason, "willReconnect": will_reconnect}
            await txn.log("disconnected", details)
            await txn.emit(EventType.DISCONNECTED, details, instance)

        await self._apply(instance_id, change)
        log.info(
            "instance %s disconnected: %s (reconnect: %s)", instance_id, reason, will_reconnect
        )

    async def on_reconnecting(self, instance_id: str, attempt: int, delay_ms: int) -> None:
        async def change(instance: Instance, txn: InstanceTransaction) -> None:
            await txn.log("reconnecting", {"attempt": attempt, "delayMs": delay_ms})

        await self._apply(instance_id, change)

    async def on_logged_out(self, instance_id: str, reason: str) -> None:
        async def change(instance: Instance, txn: InstanceTransaction) -> None:
            instance.status = InstanceStatus.LOGGED_OUT
            instance.qr_code = None
            instance.qr_attempt = 0
            instance.status_reason = reason
            instance.will_reconnect = False
            instance.phone = None
            instance.push_name = None
            await txn.log("logged_out", {"reason": reason})
            await txn.emit(
                EventType.DISCONNECTED, {"reason": "logout", "willReconnect": False}, instance
            )

        await self._apply(instance_id, change)
        log.info("instance %s logged out (%s)", instance_id, reason)


class EngineEvents(ConnectionEvents, MessageEvents, GroupEvents):
    """The full ConnectionListener the engines talk to."""

    def __init__(
        self, recorder: Recorder, clock: Clock, library: MediaLibrary, ids: IdFactory
    ) -> None:
        ConnectionEvents.__init__(self, recorder, clock)
        MessageEvents.__init__(self, recorder, clock, library, ids)
