"""The spec's "WhatsApp API" section (status, QR, logout; messaging comes with its issue)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from api.deps import ContainerDep, CountedCall, PrincipalDep
from rest_compat import presenters
from rest_compat import responses as r
from rest_compat.qr import qr_response

router = APIRouter(
    prefix="/api/whatsapp",
    tags=["whatsapp"],
    dependencies=[CountedCall],
    responses=r.errors(400, 401, 404, 409, 429, 502),
)


@router.get("/{instance_id}/status", response_model=r.ConnectionStatus)
async def whatsapp_status(
    instance_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    return presenters.connection_status(await c.instances.get(principal, instance_id))


@router.get("/{instance_id}/qr", response_model=r.QrCode, responses=r.QR_IMAGES)
async def whatsapp_qr(
    instance_id: str, principal: PrincipalDep, c: ContainerDep, format: str = Query("json")
) -> Response:
    return qr_response(await c.instances.qr(principal, instance_id), format)


@router.post("/{instance_id}/logout", response_model=r.Success)
async def whatsapp_logout(
    instance_id: str, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    await c.instances.logout(principal, instance_id)
    return {"success": True}
