"""Delivers the webhook outbox: in order per instance, retried, surviving restarts.

Deliveries are rows written in the same transaction as their event, so nothing is lost
by a crash; a row stays `pending` until a receiver answered 2xx (then `succeeded`) or
every attempt failed (then `failed`). A delivery interrupted by a crash is sent again
with the same X-Webhook-Id, which receivers use to drop duplicates.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta

from domain import validation as v
from domain.entities import Instance, Page, Principal, User
from domain.errors import Conflict, NotFound, ValidationFailed
from domain.event_log import parse_event_types
from domain.instances import Instances
from domain.ports import Clock, IdFactory, UnitOfWorkFactory, WebhookTransport
from domain.times import iso, to_ms
from domain.webhook_targets import RefusalReason, TargetRefused, WebhookTargetPolicy
from domain.webhooks import (
    TEST_EVENT,
    AttemptResult,
    DeliveryStatus,
    Outcome,
    WebhookDelivery,
    body_of,
    headers_for,
)

log = logging.getLogger(__name__)

BATCH = 200  # deliveries of one instance read per query


class WebhookDispatcher:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        transport: WebhookTransport,
        clock: Clock,
        targets: WebhookTargetPolicy,
        *,
        poll_interval_s: float = 1.0,
        max_parallel_instances: int = 64,
    ) -> None:
        self._uow = uow
        self._transport = transport
        self._targets = targets
        self._clock = clock
        self._poll = poll_interval_s
        self._slots = asyncio.Semaphore(max_parallel_instances)
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._nudges: dict[str, asyncio.Event] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="webhooks:dispatcher")

    async def close(self) -> None:
        self._closing = True
        tasks = [t for t in (self._loop_task, *self._workers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def wake(self, instance_id: str) -> None:
        """Called after an event with a delivery commits: deliver now, not at the next poll."""
        nudge = self._nudges.get(instance_id)
        if nudge is not None:
            nudge.set()
        elif not self._closing:
            self._ensure_worker(instance_id)

    async def _run(self) -> None:
        while True:
            try:
                async with self._uow(read_only=True) as uow:
                    pending = await uow.webhooks.pending_instances()
                for instance_id in pending:
                    self._ensure_worker(instance_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook dispatcher poll failed; retrying")
            await asyncio.sleep(self._poll)

    def _ensure_worker(self, instance_id: str) -> None:
        if instance_id in self._workers:
            return
        self._nudges[instance_id] = asyncio.Event()
        task = asyncio.create_task(self._worker(instance_id), name=f"webhooks:{instance_id}")
        self._workers[instance_id] = task
        task.add_done_callback(lambda _: self._forget(instance_id, task))

    def _forget(self, instance_id: str, task: asyncio.Task[None]) -> None:
        if self._workers.get(instance_id) is task:
            del self._workers[instance_id]
            nudge = self._nudges.pop(instance_id, None)
            # A delivery committed while this worker was finding nothing left: go again now
            # rather than at the next poll.
            if nudge is not None and nudge.is_set() and not self._closing:
                self._ensure_worker(instance_id)

    async def _worker(self, instance_id: str) -> None:
        """One instance's deliveries, oldest first; a failing head waits for its retry.

        At most one request of an instance is in flight, so a slow, hanging or looping
        receiver holds up only its own instance. Attempts are sent one by one but stored
        together, one statement per batch: a crash mid-batch sends the unmarked ones again,
        with the same X-Webhook-Id, which receivers de-duplicate on anyway."""
        nudge = self._nudges[instance_id]
        while True:
            nudge.clear()
            # A batch in order, read in one go; new deliveries only ever queue behind it.
            async with self._uow(read_only=True) as uow:
                batch = await uow.webhooks.pending(instance_id, BATCH)
                instance = await uow.instances.get(instance_id) if batch else None
                # The owner's role now, not when the URL was saved (WEBHOOK_PRIVATE_URLS).
                owner = await uow.users.get(instance.user_id) if instance else None
            if not batch:
                return
            head = batch[0]
            wait = (head.next_attempt_at - self._clock.now()).total_seconds()
            if wait > 0:
                # A retry is due later; a nudge (manual retry, new settings) may come first.
                try:
                    await asyncio.wait_for(nudge.wait(), timeout=min(wait, 30.0))
                except TimeoutError:
                    pass
                continue
            done: list[tuple[WebhookDelivery, AttemptResult]] = []
            try:
                for delivery in batch:
                    if delivery.next_attempt_at > self._clock.now():
                        break  # not due yet: re-read, and wait for it at the top
                    # Slots bound concurrent requests, not waiting workers, so one
                    # instance's slow or failing receiver never holds up another's.
                    async with self._slots:
                        result = await self._send(delivery, instance, owner)
                    self._apply(delivery, result)
                    done.append((delivery, result))
                    if delivery.status is DeliveryStatus.PENDING:
                        break  # failed, retry scheduled: later ones wait behind it
            except BaseException:
                # Shutdown (or a bug) mid-batch: what was answered is not sent again.
                await asyncio.shield(self._record(done))
                raise
            await self._record(done)

    async def attempt(
        self, delivery: WebhookDelivery, instance: Instance | None, owner: User | None
    ) -> AttemptResult:
        """Sends one attempt now and records its outcome."""
        result = await self._send(delivery, instance, owner)
        self._apply(delivery, result)
        await self._record([(delivery, result)])
        return result

    async def _send(
        self, delivery: WebhookDelivery, instance: Instance | None, owner: User | None
    ) -> AttemptResult:
        if instance is None or not instance.webhook_enabled or not instance.webhook_url:
            delivery.max_attempts = delivery.attempts + 1  # nowhere to send: give up now
            return AttemptResult(
                None, "webhooks are disabled for this instance", 0, Outcome.DISABLED
            )
        delivery.url = instance.webhook_url
        try:
            target = await self._targets.for_delivery(instance.webhook_url, owner)
        except TargetRefused as refused:
            failure = (
                Outcome.HOST_NOT_FOUND
                if refused.reason is RefusalReason.UNRESOLVABLE
                else Outcome.TARGET_REFUSED
            )
            return AttemptResult(None, f"refused: {refused.message}", 0, failure)
        body = delivery.body.encode("utf-8")
        return await self._transport.post(target, body, headers_for(delivery, instance))

    def _apply(self, delivery: WebhookDelivery, result: AttemptResult) -> None:
        now = self._clock.now()
        delivery.attempts += 1
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
        delivery.last_duration_ms = result.duration_ms
        delivery.updated_at = now
        if result.ok:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = now
        elif delivery.attempts >= delivery.max_attempts:
            delivery.status = DeliveryStatus.FAILED
            log.warning(
                "webhook %s (%s) of %s failed for good after %d attempt(s): %s",
                delivery.id,
                delivery.event,
                delivery.instance_id,
                delivery.attempts,
                result.error or result.status_code,
            )
        else:
            delivery.next_attempt_at = now + timedelta(milliseconds=delivery.retry_interval_ms)

    async def _record(self, done: list[tuple[WebhookDelivery, AttemptResult]]) -> None:
        """Stores a batch of outcomes in one transaction, with their webhookSent counts."""
        if not done:
            return
        sent: Counter[tuple[str, date]] = Counter(
            (d.instance_id, d.updated_at.date()) for d, result in done if result.ok
        )
        async with self._uow() as uow:
            await uow.webhooks.update_many([d for d, _ in done])
            # Counted in the same transaction: webhookSent never drifts.
            for (instance_id, day), count in sent.items():
                await uow.usage.add(instance_id, day, {"webhook_sent": count})
            await uow.commit()


class Webhooks:
    """Use cases: the delivery log of an instance, a manual retry, a test delivery now."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        instances: Instances,
        dispatcher: WebhookDispatcher,
        clock: Clock,
        ids: IdFactory,
    ) -> None:
        self._uow = uow
        self._instances = instances
        self._dispatcher = dispatcher
        self._clock = clock
        self._ids = ids
        self._testing: set[str] = set()  # instances with a test delivery in flight

    async def deliveries(
        self,
        principal: Principal,
        instance_id: str,
        *,
        status: str | None = None,
        event: str | None = None,
        limit: int | None = None,
        skip: int | None = None,
    ) -> tuple[list[WebhookDelivery], Page]:
        lim, off = v.page(limit, skip, default=50, maximum=1000)
        if status is not None and status not in {s.value for s in DeliveryStatus}:
            raise ValidationFailed(
                "'status' must be pending, succeeded or failed", {"field": "status"}
            )
        if event is not None and event != TEST_EVENT:
            try:
                parse_event_types([event])
            except ValidationFailed as exc:
                raise ValidationFailed(exc.message, {"field": "event"}) from None
        await self._instances.get(principal, instance_id)
        async with self._uow(read_only=True) as uow:
            found, total = await uow.webhooks.list(
                instance_id, status=status, event=event, limit=lim, skip=off
            )
        return found, Page(total, lim, off)

    async def retry(
        self, principal: Principal, instance_id: str, delivery_id: str
    ) -> WebhookDelivery:
        instance = await self._instances.get(principal, instance_id)
        async with self._uow() as uow:
            delivery = await uow.webhooks.get(instance_id, delivery_id)
            if delivery is None:
                raise NotFound(f"Delivery {delivery_id} not found")
            if delivery.status is not DeliveryStatus.PENDING:
                delivery.status = DeliveryStatus.PENDING
                delivery.max_attempts = delivery.attempts + 1 + instance.webhook.max_retries
            delivery.next_attempt_at = delivery.updated_at = self._clock.now()
            await uow.webhooks.update(delivery)
            await uow.commit()
        self._dispatcher.wake(instance_id)
        return delivery

    async def test(
        self, principal: Principal, instance_id: str
    ) -> tuple[WebhookDelivery, AttemptResult]:
        instance = await self._instances.get(principal, instance_id)
        if not instance.webhook_url:
            raise Conflict("The instance has no webhookUrl to test", {"field": "webhookUrl"})
        # One test at a time per instance: a test aimed (through some proxy) back at this
        # endpoint stops at the second hop instead of stacking requests until the pool runs dry.
        if instance_id in self._testing:
            raise Conflict(
                "A test delivery of this instance is still waiting for its answer",
                {"reason": "test_in_flight"},
            )
        self._testing.add(instance_id)
        try:
            return await self._test(instance)
        finally:
            self._testing.discard(instance_id)

    async def _test(self, instance: Instance) -> tuple[WebhookDelivery, AttemptResult]:
        instance_id = instance.id
        assert instance.webhook_url is not None
        now = self._clock.now()
        data = {
            "instanceId": instance_id,
            "message": "This is a test delivery from wamux.",
            "timestamp": iso(now),
        }
        # Stored as already finished, never `pending`: the dispatcher's workers must not pick
        # it up and send it again (or mark it failed) while this request awaits its answer.
        # attempt() then records the real outcome.
        delivery = WebhookDelivery(
            id=self._ids(),
            instance_id=instance_id,
            event_id=None,
            event=TEST_EVENT,
            url=instance.webhook_url,
            body=body_of(TEST_EVENT, data, to_ms(now)),
            status=DeliveryStatus.FAILED,
            last_error="test delivery interrupted before an answer",
            attempts=0,
            max_attempts=1,
            retry_interval_ms=instance.webhook.retry_interval_ms,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        async with self._uow() as uow:
            owner = await uow.users.get(instance.user_id)
            await uow.webhooks.add(delivery)
            await uow.commit()
        # Sent even while webhookEnabled is false: testing comes before switching it on.
        enabled = replace(instance, webhook_enabled=True)
        result = await self._dispatcher.attempt(delivery, enabled, owner)
        return delivery, result
