"""Control endpoints of the sandbox engine: pair an instance, drop its connection."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from api.deps import ContainerDep, PrincipalDep
from rest_compat import presenters
from rest_compat.schemas import DisconnectBody, ScanBody

router = APIRouter(prefix="/api/sandbox", tags=["sandbox"])


@router.post("/{instance_id}/scan")
async def scan(
    instance_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    body: ScanBody | None = Body(None),
) -> dict[str, Any]:
    body = body or ScanBody()
    await c.sandbox.scan(principal, instance_id, body.phone, body.push_name)
    return {"success": True, "message": f"Instance {instance_id} paired"}


@router.post("/{instance_id}/disconnect")
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
