"""The spec's "数据库管理" section: the database in use and the live switch (admin only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictBool, StrictStr

from api.deps import ContainerDep, PrincipalDep
from rest_compat import responses as r
from rest_compat.schemas import Body

router = APIRouter(prefix="/api/db", tags=["db"], responses=r.errors(400, 401, 403, 409))


class SwitchBody(Body):
    provider: StrictStr = Field(description="sqlite, postgresql or mongodb")
    migrate: StrictBool | None = Field(
        None, description="copy every record into the target (which must be empty) first"
    )


class DatabaseStatus(BaseModel):
    provider: str = Field(description="sqlite, postgresql or mongodb")
    url: str = Field(description="the database's URL, the password masked")
    healthy: bool = Field(description="whether the database answered just now")
    counts: dict[str, int] = Field(description="records per kind (empty when unhealthy)")


class SwitchAnswer(BaseModel):
    success: bool
    message: str
    provider: str
    migrated: dict[str, int] | None = Field(
        description="records per kind on the target once switched (copied now or found there "
        "from a previous copy); null when switched without migrate"
    )


@router.get("/status", response_model=DatabaseStatus)
async def database_status(principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    status = await c.databases.status(principal)
    return {
        "provider": status.provider,
        "url": status.url,
        "healthy": status.healthy,
        "counts": status.counts,
    }


@router.post("/switch", response_model=SwitchAnswer)
async def switch_database(
    body: SwitchBody, principal: PrincipalDep, c: ContainerDep
) -> dict[str, Any]:
    result = await c.databases.switch(principal, body.provider, bool(body.migrate))
    return {
        "success": True,
        "message": result.message,
        "provider": result.provider,
        "migrated": result.migrated,
    }
