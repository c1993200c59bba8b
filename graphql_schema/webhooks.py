"""Webhook visibility in GraphQL: the delivery log, a manual retry, a test delivery."""

from __future__ import annotations

import json
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from domain.webhooks import AttemptResult
from domain.webhooks import WebhookDelivery as DeliveryEntity
from graphql_schema.context import Info
from graphql_schema.enums import DeliveryStatus
from graphql_schema.types import Pagination


@strawberry.type(
    description="One webhook POST of an event to the instance's webhookUrl, with its "
    "attempts (the outbox: kept across restarts)."
)
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="Also sent as the X-Webhook-Id header.")
    instance_id: str = strawberry.field(description="The instance whose event it carries.")
    event: str = strawberry.field(description="The event type, or webhook_test.")
    event_id: str | None = strawberry.field(description="The event's id; null for a test delivery.")
    url: str = strawberry.field(description="Where it is sent (the webhookUrl at the time).")
    status: DeliveryStatus = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(description="Attempts made so far.")
    max_attempts: int = strawberry.field(description="Attempts allowed: 1 + maxRetries.")
    last_status_code: int | None = strawberry.field(
        description="The HTTP status of the last attempt; null if none answered."
    )
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed; null when it did not."
    )
    last_duration_ms: int | None = strawberry.field(
        description="How long the last attempt took, in milliseconds."
    )
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt is due; null unless pending."
    )
    delivered_at: datetime | None = strawberry.field(
        description="When the receiver accepted it (2xx); null until then."
    )
    created_at: datetime = strawberry.field(description="When it was queued.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    payload: JSON = strawberry.field(
        description="The exact JSON body sent ({event, data, timestamp}), signed in "
        "X-Webhook-Signature."
    )

    @classmethod
    def from_entity(cls, d: DeliveryEntity) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(d.id),
            instance_id=d.instance_id,
            event=d.event,
            event_id=d.event_id,
            url=d.url,
            status=DeliveryStatus.of(d.status),
            attempts=d.attempts,
            max_attempts=d.max_attempts,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            last_duration_ms=d.last_duration_ms,
            next_attempt_at=d.next_attempt_at if d.status.value == "pending" else None,
            delivered_at=d.delivered_at,
            created_at=d.created_at,
            updated_at=d.updated_at,
            payload=json.loads(d.body),
        )


@strawberry.type(
    description="An offset page of deliveries (deprecated; see Instance.webhookDeliveries)."
)
class WebhookDeliveryPage:
    deliveries: list[WebhookDelivery] = strawberry.field(description="The page, newest first.")
    pagination: Pagination = strawberry.field(description="Where the page stands.")


@strawberry.type(description="How a test delivery to the webhookUrl went.")
class WebhookTestResult:
    success: bool = strawberry.field(description="Whether the receiver answered 2xx.")
    outcome: str = strawberry.field(
        description="delivered, http_status, timeout, connection_refused, connection_failed, "
        "host_not_found, target_refused or invalid_request."
    )
    status_code: int | None = strawberry.field(
        description="The receiver's HTTP status; null when it did not answer."
    )
    error: str | None = strawberry.field(description="Why it failed; null on success.")
    duration_ms: int = strawberry.field(description="How long it took, in milliseconds.")
    delivery: WebhookDelivery = strawberry.field(description="The delivery it was logged as.")


@strawberry.type
class WebhookQuery:
    @strawberry.field(
        description="Webhook deliveries of an instance, newest first.",
        deprecation_reason="Use Instance.webhookDeliveries (a cursor connection).",
    )
    async def webhook_deliveries(
        self,
        info: Info,
        instance_id: strawberry.ID,
        status: str | None = None,
        event: str | None = None,
        limit: int | None = None,
        skip: int | None = None,
    ) -> WebhookDeliveryPage:
        c = info.context.container
        found, page = await c.webhooks.deliveries(
            await info.context.principal(),
            str(instance_id),
            status=status,
            event=event,
            limit=limit,
            skip=skip,
        )
        return WebhookDeliveryPage(
            deliveries=[WebhookDelivery.from_entity(d) for d in found],
            pagination=Pagination.from_page(page),
        )


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="Queue a delivery again (a failed one gets a fresh set of attempts).",
        deprecation_reason="Use requeueWebhookDelivery (a payload with userErrors).",
    )
    async def retry_webhook_delivery(
        self, info: Info, instance_id: strawberry.ID, delivery_id: strawberry.ID
    ) -> WebhookDelivery:
        c = info.context.container
        delivery = await c.webhooks.retry(
            await info.context.principal(), str(instance_id), str(delivery_id)
        )
        return WebhookDelivery.from_entity(delivery)

    @strawberry.mutation(
        description="Send a `webhook_test` event to the instance's webhookUrl now.",
        deprecation_reason="Use sendTestWebhook (a payload with userErrors).",
    )
    async def test_webhook(self, info: Info, instance_id: strawberry.ID) -> WebhookTestResult:
        c = info.context.container
        return test_result(*await c.webhooks.test(await info.context.principal(), str(instance_id)))


def test_result(delivery: DeliveryEntity, result: AttemptResult) -> WebhookTestResult:
    return WebhookTestResult(
        success=result.ok,
        outcome=result.outcome.value,
        status_code=result.status_code,
        error=result.error,
        duration_ms=result.duration_ms,
        delivery=WebhookDelivery.from_entity(delivery),
    )
