"""Webhook visibility: the delivery log, a manual retry, and a test delivery."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api.deps import ContainerDep, CountedCall, PrincipalDep
from rest_compat import presenters
from rest_compat import responses as r
from rest_compat import responses_messaging as rm

router = APIRouter(
    prefix="/api/instances",
    tags=["webhooks"],
    dependencies=[CountedCall],
    responses=r.errors(400, 401, 404, 409, 429),
)


@router.get("/{instance_id}/webhooks/deliveries", response_model=rm.DeliveryPage)
async def list_deliveries(
    instance_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    status: str | None = Query(None, description="pending, succeeded or failed"),
    event: str | None = Query(None, description="an event type"),
    limit: int | None = Query(None),
    skip: int | None = Query(None),
) -> dict[str, Any]:
    found, page = await c.webhooks.deliveries(
        principal, instance_id, status=status, event=event, limit=limit, skip=skip
    )
    return {
        "deliveries": [presenters.delivery(d) for d in found],
        "pagination": presenters.pagination(page),
    }


@router.post(
    "/{instance_id}/webhooks/deliveries/{delivery_id}/retry", response_model=rm.RetriedDelivery
)
async def retry_delivery(
    instance_id: str, delivery_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    delivery = await c.webhooks.retry(principal, instance_id, delivery_id)
    return {"success": True, "delivery": presenters.delivery(delivery)}


@router.post("/{instance_id}/webhooks/test", response_model=rm.WebhookTest)
async def test_webhook(
    instance_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    delivery, result = await c.webhooks.test(principal, instance_id)
    return {
        "success": result.ok,
        "outcome": result.outcome.value,
        "statusCode": result.status_code,
        "error": result.error,
        "durationMs": result.duration_ms,
        "delivery": presenters.delivery(delivery),
    }
