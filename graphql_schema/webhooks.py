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


@strawberry.type
class WebhookDelivery:
    id: strawberry.ID
    instance_id: str
    event: str
    event_id: str | None
    url: str
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    last_status_code: int | None
    last_error: str | None
    last_duration_ms: int | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime
    payload: JSON

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


@strawberry.type
class WebhookDeliveryPage:
    deliveries: list[WebhookDelivery]
    pagination: Pagination


@strawberry.type
class WebhookTestResult:
    success: bool
    outcome: str = strawberry.field(
        description="delivered, http_status, timeout, connection_refused, connection_failed, "
        "host_not_found, target_refused or invalid_request."
    )
    status_code: int | None
    error: str | None
    duration_ms: int
    delivery: WebhookDelivery


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
