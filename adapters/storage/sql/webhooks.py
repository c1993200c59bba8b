"""SQL repositories for the webhook outbox and the usage counters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, cast

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.storage.sql.tables import limit_notices, usage_daily, webhook_deliveries
from domain.ports import USAGE_COUNTERS
from domain.webhooks import DeliveryStatus, WebhookDelivery

_FIELDS = (
    "id", "instance_id", "event_id", "event", "url", "body", "attempts", "max_attempts",
    "retry_interval_ms", "next_attempt_at", "created_at", "updated_at", "last_status_code",
    "last_error", "last_duration_ms", "delivered_at",
)  # fmt: skip


def _delivery(row: Any) -> WebhookDelivery:
    values = {name: getattr(row, name) for name in _FIELDS}
    return WebhookDelivery(status=DeliveryStatus(row.status), seq=row.seq, **values)


class SqlWebhooks:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, delivery: WebhookDelivery) -> None:
        values = {name: getattr(delivery, name) for name in _FIELDS}
        await self._s.execute(
            insert(webhook_deliveries).values(status=delivery.status.value, **values)
        )

    async def get(self, instance_id: str, delivery_id: str) -> WebhookDelivery | None:
        t = webhook_deliveries
        row = (
            await self._s.execute(
                select(t).where(t.c.instance_id == instance_id, t.c.id == delivery_id)
            )
        ).first()
        return _delivery(row) if row else None

    async def update(self, delivery: WebhookDelivery) -> None:
        values = {
            name: getattr(delivery, name) for name in _FIELDS if name not in ("id", "instance_id")
        }
        t = webhook_deliveries
        await self._s.execute(
            update(t).where(t.c.id == delivery.id).values(status=delivery.status.value, **values)
        )

    async def pending(self, instance_id: str, limit: int) -> list[WebhookDelivery]:
        t = webhook_deliveries
        query = (
            select(t)
            .where(t.c.status == DeliveryStatus.PENDING.value, t.c.instance_id == instance_id)
            .order_by(t.c.seq)
            .limit(limit)
        )
        return [_delivery(r) for r in await self._s.execute(query)]

    async def pending_instances(self) -> list[str]:
        t = webhook_deliveries
        query = select(t.c.instance_id).where(t.c.status == DeliveryStatus.PENDING.value).distinct()
        return [r.instance_id for r in await self._s.execute(query)]

    async def list(
        self,
        instance_id: str,
        *,
        status: str | None,
        event: str | None,
        limit: int,
        skip: int,
    ) -> tuple[list[WebhookDelivery], int]:
        t = webhook_deliveries
        where = [t.c.instance_id == instance_id]
        if status:
            where.append(t.c.status == status)
        if event:
            where.append(t.c.event == event)
        condition = and_(*where)
        total = (
            await self._s.execute(select(func.count()).select_from(t).where(condition))
        ).scalar_one()
        rows = await self._s.execute(
            select(t).where(condition).order_by(t.c.seq.desc()).limit(limit).offset(skip)
        )
        return [_delivery(r) for r in rows], total


class SqlUsage:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    def _dialect(self) -> Any:
        dialect = self._s.bind.dialect.name if self._s.bind is not None else "sqlite"
        return postgresql if dialect == "postgresql" else sqlite

    def _upsert(self, values: dict[str, Any], increments: dict[str, int]) -> Any:
        stmt = self._dialect().insert(usage_daily).values(**values)
        return stmt.on_conflict_do_update(
            index_elements=[usage_daily.c.instance_id, usage_daily.c.day],
            set_={name: usage_daily.c[name] + amount for name, amount in increments.items()},
        )

    async def add(self, instance_id: str, day: date, counters: dict[str, int]) -> None:
        increments = {k: v for k, v in counters.items() if v}
        if not increments:
            return
        values = {name: increments.get(name, 0) for name in USAGE_COUNTERS}
        await self._s.execute(
            self._upsert({"instance_id": instance_id, "day": day.isoformat(), **values}, increments)
        )

    async def try_add(
        self, instance_id: str, day: date, counter: str, amount: int, maximum: int
    ) -> int | None:
        # The increment takes the row's write lock first, so check-and-add is atomic.
        await self.add(instance_id, day, {counter: amount})
        current = (await self.day(instance_id, day))[counter]
        if current > maximum:
            await self.add(instance_id, day, {counter: -amount})
            return None
        return current

    async def day(self, instance_id: str, day: date) -> dict[str, int]:
        t = usage_daily
        row = (
            await self._s.execute(
                select(t).where(t.c.instance_id == instance_id, t.c.day == day.isoformat())
            )
        ).first()
        return {name: int(getattr(row, name)) if row else 0 for name in USAGE_COUNTERS}

    async def daily(
        self, instance_id: str, since: date | None
    ) -> list[tuple[date, dict[str, int]]]:
        t = usage_daily
        query = select(t).where(t.c.instance_id == instance_id)
        if since is not None:
            query = query.where(t.c.day >= since.isoformat())
        rows = await self._s.execute(query.order_by(t.c.day))
        return [
            (date.fromisoformat(r.day), {n: int(getattr(r, n)) for n in USAGE_COUNTERS})
            for r in rows
        ]

    async def totals(
        self, instance_ids: Sequence[str] | None, since: date | None
    ) -> dict[str, dict[str, int]]:
        t = usage_daily
        query = select(
            t.c.instance_id, *[func.sum(t.c[n]).label(n) for n in USAGE_COUNTERS]
        ).group_by(t.c.instance_id)
        if instance_ids is not None:
            query = query.where(t.c.instance_id.in_(list(instance_ids)))
        if since is not None:
            query = query.where(t.c.day >= since.isoformat())
        rows = await self._s.execute(query)
        return {r.instance_id: {n: int(getattr(r, n) or 0) for n in USAGE_COUNTERS} for r in rows}

    async def first_notice(self, instance_id: str, day: date, limit: str) -> bool:
        # One statement: two refusals racing (PostgreSQL has no BEGIN IMMEDIATE) cannot both
        # see no row and then both insert, the second failing on the primary key.
        stmt = (
            self._dialect()
            .insert(limit_notices)
            .values(instance_id=instance_id, day=day.isoformat(), limit_name=limit)
            .on_conflict_do_nothing()
        )
        result = cast(CursorResult[Any], await self._s.execute(stmt))
        return result.rowcount == 1
