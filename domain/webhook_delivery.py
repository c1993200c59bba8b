"""Webhook use cases: the delivery log of an instance, a manual retry, a test delivery.

The outbox itself is sent by `domain/webhook_dispatcher.py`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from domain import validation as v
from domain.entities import Instance, Page, Principal
from domain.errors import Conflict, NotFound, ValidationFailed
from domain.event_log import parse_event_types
from domain.instances import Instances, visible
from domain.ports import Clock, IdFactory, UnitOfWorkFactory
from domain.times import iso, to_ms
from domain.webhook_dispatcher import WebhookDispatcher
from domain.webhooks import (
    TEST_EVENT,
    AttemptResult,
    DeliveryStatus,
    WebhookDelivery,
    body_of,
)


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
        _check_filters(status, event)
        await self._instances.get(principal, instance_id)
        async with self._uow(read_only=True) as uow:
            found, total = await uow.webhooks.list(
                instance_id, status=status, event=event, limit=lim, skip=off
            )
        return found, Page(total, lim, off)

    async def delivery_pages(
        self,
        principal: Principal,
        instances: Sequence[Instance],
        *,
        status: str | None = None,
        event: str | None = None,
        limit: int | None = None,
        before_seq: int | None = None,
    ) -> dict[str, list[WebhookDelivery]]:
        """A newest-first keyset page of each instance's deliveries, strictly older than
        `before_seq` (the outbox order): deliveries queued meanwhile never shift a walk."""
        lim, _ = v.page(limit, 0, default=50, maximum=1000)
        _check_filters(status, event)
        ids = [i.id for i in visible(principal, instances)]
        async with self._uow(read_only=True) as uow:
            return await uow.webhooks.latest(
                ids, status=status, event=event, before_seq=before_seq, limit=lim
            )

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


def _check_filters(status: str | None, event: str | None) -> None:
    if status is not None and status not in {s.value for s in DeliveryStatus}:
        raise ValidationFailed("'status' must be pending, succeeded or failed", {"field": "status"})
    if event is not None and event != TEST_EVENT:
        try:
            parse_event_types([event])
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, {"field": "event"}) from None
