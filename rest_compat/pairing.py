"""Login by pairing code, for a phone that cannot scan the QR code (issue 8)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from api.deps import ContainerDep, CountedCall, PrincipalDep
from rest_compat.schemas import Body

router = APIRouter(prefix="/api/instances", tags=["instances"], dependencies=[CountedCall])


class PairingCodeBody(Body):
    phone: StrictStr = Field(
        description="The number of the phone that will link this instance, in international "
        "format (country code first): '+49 151 2345678', '491512345678'"
    )


class PairingCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        description="Type it on the phone: Linked devices > Link a device > Link with phone "
        "number instead",
        examples=["K7QX-2M9P"],
    )


@router.post("/{instance_id}/pairing-code", response_model=PairingCode)
async def pairing_code(
    instance_id: str, body: PairingCodeBody, principal: PrincipalDep, c: ContainerDep
) -> PairingCode:
    """Only while the instance shows a QR code (status `qr`); 409 otherwise."""
    return PairingCode(code=await c.pairing.pairing_code(principal, instance_id, body.phone))
