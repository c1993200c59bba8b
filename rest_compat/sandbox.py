"""Control endpoints of the sandbox engine: pair an instance, drop its connection."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from api.deps import ContainerDep, PrincipalDep
from rest_compat import presenters
from rest_compat import responses as r
from rest_compat.schemas import DisconnectBody, IncomingBody, ReceiptBody, ScanBody

router = APIRouter(prefix="/api/sandbox", tags=["sandbox"], responses=r.errors(400, 401, 404, 409))


@router.post("/{instance_id}/scan", response_model=r.SuccessMessage)
async def scan(
    instance_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    body: ScanBody | None = Body(None),
) -> dict[str, Any]:
    body = body or ScanBody.model_validate({})
    await c.sandbox.scan(principal, instance_id, body.phone, body.push_name)
    return {"success": True, "message": f"Instance {instance_id} paired"}


@router.post("/{instance_id}/disconnect", response_model=r.Disconnected)
async def disconnect(
    instance_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    body: DisconnectBody | None = Body(None),
) -> dict[str, Any]:
    reason = (body or DisconnectBody()).reason
    await c.sandbox.disconnect(principal, instance_id, reason)
    instance = await c.instances.get(principal, instance_id)
    return {"success": True, "status": presenters.connection_status(instance)}


@router.post("/{instance_id}/incoming", response_model=r.Incoming)
async def incoming(
    instance_id: str, body: IncomingBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    message_id = await c.sandbox_traffic.incoming(
        principal,
        instance_id,
        body.sender,
        body.body,
        body.push_name,
        body.media.to_domain() if body.media else None,
    )
    return {"success": True, "messageId": message_id}


@router.post("/{instance_id}/receipt", response_model=r.Success)
async def receipt(
    instance_id: str, body: ReceiptBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    await c.sandbox_traffic.receipt(principal, instance_id, body.message_id, body.status)
    return {"success": True}
