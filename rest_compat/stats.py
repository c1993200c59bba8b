"""The spec's "统计和监控" section."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Response

from api.bootstrap import Container
from api.deps import ContainerDep, PrincipalDep
from domain.counters import DAILY_COUNTERS, spec_usage
from domain.entities import Principal
from rest_compat import responses as r

router = APIRouter(prefix="/api/stats", tags=["stats"], responses=r.errors(400, 401, 403, 404))


@router.get("/user", response_model=r.UserStats)
async def user_stats(
    principal: PrincipalDep,
    c: ContainerDep,
    period: str | None = Query(None, description="week|month|year|all"),
) -> dict[str, Any]:
    usage = await c.usage.for_user(principal, period)
    instances: list[dict[str, Any]] = [
        {"instanceId": row.instance.id, "name": row.instance.name, **spec_usage(row.counters)}
        for row in usage.instances
    ]
    total = {**spec_usage(usage.total), "instanceCount": len(instances)}
    return {"total": total, "instances": instances}


@router.get("/instances/{instance_id}", response_model=r.InstanceStats)
async def instance_stats(
    instance_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    period: str | None = Query(None, description="today|week|month|all"),
) -> Response:
    return r.serialized(await instance_stats_body(c, principal, instance_id, period))


async def instance_stats_body(
    c: Container, principal: Principal, instance_id: str, period: str | None
) -> dict[str, Any]:
    """An instance's statistics body (also answered by rest_compat.fast_reads)."""
    total, daily = await c.usage.for_instance(principal, instance_id, period)
    days = [
        {"date": iso_day(day), **spec_usage(counters, DAILY_COUNTERS)} for day, counters in daily
    ]
    return {"usage": {**spec_usage(total), "dailyStats": days}}


@router.get("/system", response_model=r.SystemStats)
async def system_stats(principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    stats = await c.usage.for_system(principal)
    return {**stats, "usage": spec_usage(stats["usage"])}


def iso_day(day: date) -> str:
    """Midnight UTC of `day`, as `iso` writes it."""
    return f"{day.isoformat()}T00:00:00.000Z"
