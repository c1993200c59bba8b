"""Writes an instance's activity and events in order, inside one transaction, then publishes them.

Every event of an instance gets a strictly increasing millisecond timestamp, allocated and
committed under a per-instance lock. So `timestamp > since` is an exact cursor: a poller
that passes back `latestTimestamp` never misses or repeats an event, even when several
events are produced within the same millisecond.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from domain.entities import ActivityLog, Event, EventType, Instance
from domain.log_context import about_instance
from domain.ports import Clock, EventBus, IdFactory, UnitOfWork, UnitOfWorkFactory
from domain.times import to_ms
from domain.webhooks import DeliveryStatus, WebhookDelivery, body_of, wants


class InstanceTransaction:
    """A unit of work scoped to one instance, with helpers to log activity and emit events."""

    def __init__(self, recorder: Recorder, uow: UnitOfWork, instance_id: str) -> None:
        self.uow = uow
        self.instance_id = instance_id
        self._recorder = recorder
        self._events: list[Event] = []
        self._instance: Instance | None = None
        self.committed = False
        self.outbox: list[WebhookDelivery] = []  # deliveries this transaction queued

    async def log(self, action: str, details: dict[str, Any] | None = None) -> None:
        await self.uow.activity.add(
            ActivityLog(
                id=self._recorder.ids(),
                instance_id=self.instance_id,
                action=action,
                details=details or {},
                created_at=self._recorder.clock.now(),
            )
        )

    async def emit(
        self, type_: EventType, data: dict[str, Any], instance: Instance | None = None
    ) -> Event:
        """Records the event and, if the instance's webhook wants it, its outbox delivery.

        Pass `instance` when it is at hand (with the settings this transaction wrote)."""
        ts = await self._recorder.next_timestamp(self.uow, self.instance_id)
        event = Event(
            id=self._recorder.ids(),
            instance_id=self.instance_id,
            type=type_,
            data={"instanceId": self.instance_id, **data},
            timestamp_ms=ts,
        )
        await self.uow.events.add(event)
        self._events.append(event)
        if instance is None:
            if self._instance is None:
                self._instance = await self.uow.instances.get(self.instance_id)
            instance = self._instance
        if instance is not None and wants(instance, event):
            delivery = self._recorder.delivery(instance, event)
            await self.uow.webhooks.add(delivery)
            self.outbox.append(delivery)
        return event

    async def commit(self) -> None:
        await self.uow.commit()
        self.committed = True


class BatchTransaction:
    """One unit of work shared by the InstanceTransactions of several instances (`of`)."""

    def __init__(self, recorder: Recorder, uow: UnitOfWork) -> None:
        self.uow = uow
        self._recorder = recorder
        self.instances: dict[str, InstanceTransaction] = {}

    def of(self, instance_id: str) -> InstanceTransaction:
        txn = self.instances.get(instance_id)
        if txn is None:
            txn = self.instances[instance_id] = InstanceTransaction(
                self._recorder, self.uow, instance_id
            )
        return txn

    async def commit(self) -> None:
        await self.uow.commit()
        for txn in self.instances.values():
            txn.committed = True


class Recorder:
    def __init__(self, uow_factory: UnitOfWorkFactory, bus: EventBus, clock: Clock, ids: IdFactory):
        self.uow_factory = uow_factory
        self.bus = bus
        self.clock = clock
        self.ids = ids
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_ms: dict[str, int] = {}
        # Handed, right after their commit, the webhook deliveries a transaction queued (the
        # dispatcher: it sends them at once, without reading them back).
        self.on_outbox: Callable[[str, list[WebhookDelivery]], None] | None = None

    def _lock(self, instance_id: str) -> asyncio.Lock:
        lock = self._locks.get(instance_id)
        if lock is None:
            lock = self._locks[instance_id] = asyncio.Lock()
        return lock

    async def next_timestamp(self, uow: UnitOfWork, instance_id: str) -> int:
        last = self._last_ms.get(instance_id)
        if last is None:
            last = await uow.events.last_timestamp_ms(instance_id) or 0
        ts = max(to_ms(self.clock.now()), last + 1)
        self._last_ms[instance_id] = ts
        return ts

    async def _prime(self, uow: UnitOfWork, instance_ids: Sequence[str]) -> None:
        """Reads the last timestamps `next_timestamp` does not know yet, in one statement."""
        unknown = [i for i in instance_ids if i not in self._last_ms]
        if unknown:
            known = await uow.events.last_timestamps_ms(unknown)
            for instance_id in unknown:
                self._last_ms.setdefault(instance_id, known.get(instance_id, 0))

    def delivery(self, instance: Instance, event: Event) -> WebhookDelivery:
        now = self.clock.now()
        return WebhookDelivery(
            id=self.ids(),
            instance_id=instance.id,
            event_id=event.id,
            event=event.type.value,
            url=instance.webhook_url or "",
            body=body_of(event.type.value, event.data, event.timestamp_ms),
            status=DeliveryStatus.PENDING,
            attempts=0,
            max_attempts=1 + instance.webhook.max_retries,
            retry_interval_ms=instance.webhook.retry_interval_ms,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )

    def forget(self, instance_id: str) -> None:
        self._last_ms.pop(instance_id, None)
        self._locks.pop(instance_id, None)

    @asynccontextmanager
    async def transaction(self, instance_id: str) -> AsyncIterator[InstanceTransaction]:
        async with self._lock(instance_id):
            # Lines logged while it runs are about this instance (api/logs.py).
            with about_instance(instance_id):
                async with self.uow_factory() as uow:
                    txn = InstanceTransaction(self, uow, instance_id)
                    yield txn
            if not txn.committed:
                # Timestamps handed out in a rolled-back transaction are simply skipped.
                return
            # Still under the instance's lock: deliveries are handed over in commit order.
            if txn.outbox and self.on_outbox is not None:
                self.on_outbox(instance_id, txn.outbox)
        for event in txn._events:
            await self.bus.publish(event)

    @asynccontextmanager
    async def transactions(self, instance_ids: Sequence[str]) -> AsyncIterator[BatchTransaction]:
        """`transaction` for several instances in one unit of work (one writer turn, one
        commit), under each instance's lock; their events are published after the commit,
        in the order they were emitted per instance. The locks are taken in a fixed order,
        so two batches never wait for each other crosswise."""
        ids = sorted(set(instance_ids))
        async with AsyncExitStack() as locks:
            for instance_id in ids:
                await locks.enter_async_context(self._lock(instance_id))
            async with self.uow_factory() as uow:
                batch = BatchTransaction(self, uow)
                await self._prime(uow, ids)
                yield batch
            if not any(txn.committed for txn in batch.instances.values()):
                return
            # Still under the instances' locks: deliveries are handed over in commit order.
            for instance_id, txn in batch.instances.items():
                if txn.outbox and self.on_outbox is not None:
                    self.on_outbox(instance_id, txn.outbox)
        for txn in batch.instances.values():
            for event in txn._events:
                await self.bus.publish(event)
