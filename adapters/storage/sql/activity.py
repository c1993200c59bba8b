"""SQL repository of the activity log."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from adapters.storage.sql.pages import per_key
from adapters.storage.sql.prepared import Prepared
from adapters.storage.sql.session import SqlSession
from adapters.storage.sql.tables import activity_logs
from domain.entities import ActivityLog

_ADD = Prepared.insert(activity_logs, ("id", "instance_id", "action", "details", "created_at"))


class SqlActivity:
    def __init__(self, session: SqlSession) -> None:
        self._s = session

    async def add(self, log: ActivityLog) -> None:
        values = {
            "id": log.id,
            "instance_id": log.instance_id,
            "action": log.action,
            "details": log.details,
            "created_at": log.created_at,
        }
        await self._s.write(_ADD, values)

    async def list(
        self,
        instance_id: str,
        *,
        actions: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        skip: int,
    ) -> tuple[list[ActivityLog], int]:
        where = [activity_logs.c.instance_id == instance_id]
        if actions:
            where.append(activity_logs.c.action.in_(list(actions)))
        if start is not None:
            where.append(activity_logs.c.created_at >= start)
        if end is not None:
            where.append(activity_logs.c.created_at <= end)
        condition = and_(*where)
        total = (
            await self._s.execute(select(func.count()).select_from(activity_logs).where(condition))
        ).scalar_one()
        rows = await self._s.execute(
            select(activity_logs)
            .where(condition)
            .order_by(activity_logs.c.created_at.desc(), activity_logs.c.id.desc())
            .limit(limit)
            .offset(skip)
        )
        return [_log(r) for r in rows], total

    async def latest(
        self,
        instance_ids: Sequence[str],
        *,
        actions: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> dict[str, builtins.list[ActivityLog]]:
        t = activity_logs

        def page_of(instance_id: str) -> Any:
            where = [t.c.instance_id == instance_id]
            if actions:
                where.append(t.c.action.in_(list(actions)))
            if start is not None:
                where.append(t.c.created_at >= start)
            if end is not None:
                where.append(t.c.created_at <= end)
            if before is not None:
                at, last_id = before
                where.append(or_(t.c.created_at < at, and_(t.c.created_at == at, t.c.id < last_id)))
            order = (t.c.created_at.desc(), t.c.id.desc())
            return select(t).where(*where).order_by(*order).limit(limit)

        found: dict[str, list[ActivityLog]] = {i: [] for i in instance_ids}
        order = [("created_at", True), ("id", True)]
        for row in await per_key(self._s.execute, instance_ids, page_of, order):
            found[row.instance_id].append(_log(row))
        return found


def _log(r: Any) -> ActivityLog:
    return ActivityLog(
        id=r.id,
        instance_id=r.instance_id,
        action=r.action,
        details=r.details or {},
        created_at=r.created_at,
    )
