"""Turns what an engine reports about a connection into state and events.

Messages and receipts are handled in `domain/inbound.py`; `EngineEvents` joins both into the
one ConnectionListener the engines talk to."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from domain.entities import EventType, Instance, InstanceStatus
from domain.groups import GroupEvents
from domain.inbound import MessageEvents
from domain.media import MediaLibrary
from domain.ports import Clock, IdFactory
from domain.recorder import InstanceTransaction, Recorder

log = logging.getLogger(__name__)


def _about(instance_id: str) -> dict[str, str]:
    """The instance id as a field of the log line (api/logs.py shows it on its own)."""
    return {"instance_id": instance_id}


Change = Callable[[Instance, InstanceTransaction], Awaitable[None]]


@dataclass
class _Report:
    instance_id: str
    change: Change
    done: asyncio.Future[None]


class ConnectionEvents:
    """The domain's ConnectionListener: every report is committed before its call returns,
    events in order per instance.

    Reports are applied in batches: what arrives while a batch is being written waits for
    the next one, which applies them all in one unit of work (one read of their instances,
    one commit). After a restart, 1,000 instances report `connecting` and `connected` within
    a second or two; one unit per report made them queue one by one for the writer. A batch
    that fails is applied again report by report, so one bad report fails alone."""

    def __init__(self, recorder: Recorder, clock: Clock, *, max_batch: int = 200) -> None:
        self._recorder = recorder
        self._clock = clock
        self._max_batch = max_batch
        self._queue: list[_Report] = []
        self._drainer: asyncio.Task[None] | None = None

    async def _apply(self, instance_id: str, change: Change) -> None:
        loop = asyncio.get_running_loop()
        report = _Report(instance_id, change, loop.create_future())
        self._queue.append(report)
        if self._drainer is None:
            self._drainer = loop.create_task(self._drain(), name="connection-reports")
        # A caller cancelled before its batch starts leaves its report out (its future is
        # cancelled with it); once the batch has started, the report is applied regardless.
        await report.done

    async def _drain(self) -> None:
        batch: list[_Report] = []
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                batch = [r for r in batch if not r.done.done()]
                if batch:
                    await self._apply_batch(batch)
        except BaseException:  # cancelled (shutdown): nobody is left waiting
            for report in batch + self._queue:
                if not report.done.done():
                    report.done.cancel()
            self._queue.clear()
            raise
        finally:
            self._drainer = None

    async def _apply_batch(self, batch: list[_Report]) -> None:
        try:
            async with self._recorder.transactions([r.instance_id for r in batch]) as txn:
                found = await txn.uow.instances.get_many([r.instance_id for r in batch])
                changed: dict[str, Instance] = {}
                for report in batch:
                    instance = found.get(report.instance_id)
                    if instance is None:  # deleted while the engine was still reporting
                        continue
                    await report.change(instance, txn.of(report.instance_id))
                    now = self._clock.now()
                    instance.updated_at = now
                    instance.last_activity_at = now
                    changed[instance.id] = instance
                for instance in changed.values():
                    await txn.uow.instances.update(instance)
                await txn.commit()
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0].done.done():
                    batch[0].done.set_exception(exc)
                return
            log.warning("a batch of %d connection reports failed; applying one by one", len(batch))
            for report in batch:
                await self._apply_batch([report])
            return
        for report in batch:
            if not report.done.done():
                report.done.set_result(None)

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
        log.info("instance %s connected as %s", instance_id, phone, extra=_about(instance_id))

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
            "instance %s disconnected: %s (reconnect: %s)",
            instance_id,
            reason,
            will_reconnect,
            extra=_about(instance_id),
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
        log.info("instance %s logged out (%s)", instance_id, reason, extra=_about(instance_id))


class EngineEvents(ConnectionEvents, MessageEvents, GroupEvents):
    """The full ConnectionListener the engines talk to."""

    def __init__(
        self, recorder: Recorder, clock: Clock, library: MediaLibrary, ids: IdFactory
    ) -> None:
        ConnectionEvents.__init__(self, recorder, clock)
        MessageEvents.__init__(self, recorder, clock, library, ids)
