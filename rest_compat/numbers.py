"""Number check: which phone numbers have WhatsApp, asked through a connected instance."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from api.deps import ContainerDep, CountedCall, PrincipalDep
from domain.numbers import MAX_NUMBERS_PER_CHECK
from rest_compat.schemas import Body

router = APIRouter(prefix="/api/whatsapp", tags=["whatsapp"], dependencies=[CountedCall])


class CheckNumbersBody(Body):
    phones: list[StrictStr] = Field(
        description=f"1 to {MAX_NUMBERS_PER_CHECK} numbers in international format "
        "(a user JID is accepted too)"
    )


class NumberCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(description="The number as checked: digits only")
    jid: str | None = Field(description="Where to reach it; null when it has no WhatsApp")
    exists: bool


@router.post("/{instance_id}/check", response_model=list[NumberCheck])
async def check_numbers(
    instance_id: str, body: CheckNumbersBody, principal: PrincipalDep, c: ContainerDep
) -> list[NumberCheck]:
    """One answer per distinct number, in the order given; the instance must be connected."""
    found = await c.numbers.check(principal, instance_id, body.phones)
    return [NumberCheck(phone=x.phone, jid=x.jid, exists=x.exists) for x in found]
