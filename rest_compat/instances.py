"""The spec's "实例管理" section: /api/instances and everything under it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from api.deps import ContainerDep, CountedCall, PrincipalDep
from domain import validation as v
from domain.event_log import latest_timestamp_ms
from domain.instances import QrResult
from domain.times import iso_ms
from rest_compat import presenters
from rest_compat.qr import qr_response
from rest_compat.schemas import InstanceChangesBody, NewInstanceBody

router = APIRouter(prefix="/api/instances", tags=["instances"], dependencies=[CountedCall])


@router.post("", status_code=201)
async def create_instance(
    body: NewInstanceBody, principal: PrincipalDep, c: ContainerDep
) -> JSONResponse:
    instance = await c.instances.create(principal, body.to_domain())
    return JSONResponse(presenters.instance_created(instance), 201)


@router.get("")
async def list_instances(principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    return {"instances": [presenters.instance_listed(i) for i in await c.instances.list(principal)]}


@router.get("/{instance_id}")
async def get_instance(
    instance_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    return presenters.instance_detail(await c.instances.get(principal, instance_id))


@router.get("/{instance_id}/status")
async def instance_status(
    instance_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    return presenters.instance_status(await c.instances.get(principal, instance_id))


@router.put("/{instance_id}")
async def update_instance(
    instance_id: str, body: InstanceChangesBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    return presenters.instance_updated(
        await c.instances.update(principal, instance_id, body.to_domain())
    )


@router.delete("/{instance_id}")
async def delete_instance(
    instance_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    await c.instances.delete(principal, instance_id)
    return {"success": True, "message": f"Instance {instance_id} deleted successfully"}


@router.post("/{instance_id}/reconnect")
async def reconnect_instance(
    instance_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    await c.instances.reconnect(principal, instance_id)
    return {"success": True, "message": f"Instance {instance_id} reconnected"}


@router.post("/{instance_id}/logout")
async def logout_instance(
    instance_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    await c.instances.logout(principal, instance_id)
    return {"success": True, "message": f"Instance {instance_id} logged out"}


@router.get("/{instance_id}/qr", responses={202: {"description": "QR code generation in progress"}})
async def instance_qr(
    instance_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    format: str = Query("json", description="json, png or svg"),
) -> Response:
    result: QrResult = await c.instances.qr(principal, instance_id)
    return qr_response(result, format)


@router.get("/{instance_id}/activity")
async def instance_activity(
    instance_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    limit: int | None = Query(None),
    skip: int | None = Query(None),
    actions: str | None = Query(None, description="comma-separated, e.g. connected,qr_received"),
    start_date: str | None = Query(None, alias="startDate"),
    end_date: str | None = Query(None, alias="endDate"),
) -> dict[str, Any]:
    logs, page = await c.instances.activity(
        principal,
        instance_id,
        actions=v.csv(actions),
        start=start_date,
        end=end_date,
        limit=limit,
        skip=skip,
    )
    return {
        "logs": [presenters.activity(x) for x in logs],
        "pagination": presenters.pagination(page),
    }


@router.get("/{instance_id}/events")
async def instance_events(
    instance_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    since: str | None = Query(None, description="ISO 8601; pass back the last latestTimestamp"),
    limit: int | None = Query(None),
    types: str | None = Query(None, description="comma-separated event types"),
) -> dict[str, Any]:
    events, has_more = await c.instances.events(
        principal, instance_id, since=since, limit=limit, types=v.csv(types)
    )
    latest = latest_timestamp_ms(events, since)
    return {
        "events": [presenters.event(e) for e in events],
        "latestTimestamp": iso_ms(latest) if latest is not None else None,
        "count": len(events),
        "hasMore": has_more,
    }
