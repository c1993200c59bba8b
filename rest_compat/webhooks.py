"""Webhook visibility: the delivery log, a manual retry, and a test delivery."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api.deps import ContainerDep, CountedCall, PrincipalDep
from rest_compat import presenters

router = APIRouter(prefix="/api/instances", tags=["webhooks"], dependencies=[CountedCall])


@router.get("/{instance_id}/webhooks/deliveries")
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


@router.post("/{instance_id}/webhooks/deliveries/{delivery_id}/retry")
async def retry_delivery(
    instance_id: str, delivery_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    delivery = await c.webhooks.retry(principal, instance_id, delivery_id)
    return {"success": True, "delivery": presenters.delivery(delivery)}


@router.post("/{instance_id}/webhooks/test")
async def test_webhook(
    instance_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    delivery, result = await c.webhooks.test(principal, instance_id)
    return {
        "success": result.ok,
        "statusCode": result.status_code,
        "error": result.error,
        "durationMs": result.duration_ms,
        "delivery": presenters.delivery(delivery),
    }
