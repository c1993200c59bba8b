"""The spec's "统计和监控" section."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Query

from api.deps import ContainerDep, PrincipalDep
from domain.counters import DAILY_COUNTERS, spec_usage
from domain.times import iso

router = APIRouter(prefix="/api/stats", tags=["stats"])


@router.get("/user")
async def user_stats(
    principal: PrincipalDep,
    c: ContainerDep,
    period: str | None = Query(None, description="week|month|year|all"),
) -> dict[str, Any]:
    usage = await c.usage.for_user(principal, period)
    instances: list[dict[str, Any]] = [
        {"instanceId": r.instance.id, "name": r.instance.name, **spec_usage(r.counters)}
        for r in usage.instances
    ]
    total = {**spec_usage(usage.total), "instanceCount": len(instances)}
    return {"total": total, "instances": instances}


@router.get("/instances/{instance_id}")
async def instance_stats(
    instance_id: str,
    principal: PrincipalDep,
    c: ContainerDep,
    period: str | None = Query(None, description="today|week|month|all"),
) -> dict[str, Any]:
    total, daily = await c.usage.for_instance(principal, instance_id, period)
    days = [
        {"date": iso_day(day), **spec_usage(counters, DAILY_COUNTERS)} for day, counters in daily
    ]
    return {"usage": {**spec_usage(total), "dailyStats": days}}


@router.get("/system")
async def system_stats(principal: PrincipalDep, c: ContainerDep) -> dict[str, Any]:
    stats = await c.usage.for_system(principal)
    return {**stats, "usage": spec_usage(stats["usage"])}


def iso_day(day: date) -> str:
    return iso(datetime(day.year, day.month, day.day, tzinfo=UTC)) or ""
