"""SQL repository of the webhook outbox."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, func, select, update

from adapters.storage.sql.pages import per_key
from adapters.storage.sql.prepared import Prepared
from adapters.storage.sql.session import SqlSession
from adapters.storage.sql.tables import webhook_deliveries
from domain.webhooks import DeliveryStatus, WebhookDelivery

_FIELDS = (
    "id", "instance_id", "event_id", "event", "url", "body", "attempts", "max_attempts",
    "retry_interval_ms", "next_attempt_at", "created_at", "updated_at", "last_status_code",
    "last_error", "last_duration_ms", "delivered_at",
)  # fmt: skip


_ADD = Prepared.insert(webhook_deliveries, ("status", *_FIELDS))
_UPDATE = Prepared.update_by_id(
    webhook_deliveries, [n for n in ("status", *_FIELDS) if n not in ("id", "instance_id")]
)


_MARKED = [name for name in _FIELDS if name not in ("id", "instance_id")]
_UPDATE_MANY = (
    update(webhook_deliveries)
    .where(webhook_deliveries.c.id == bindparam("_id"))
    .values(status=bindparam("_status"), **{n: bindparam(f"_{n}") for n in _MARKED})
)


def _delivery(row: Any) -> WebhookDelivery:
    values = {name: getattr(row, name) for name in _FIELDS}
    return WebhookDelivery(status=DeliveryStatus(row.status), seq=row.seq, **values)


class SqlWebhooks:
    def __init__(self, session: SqlSession) -> None:
        self._s = session

    async def add(self, delivery: WebhookDelivery) -> None:
        values = {name: getattr(delivery, name) for name in _FIELDS}
        await self._s.write(_ADD, {"status": delivery.status.value, **values})

    async def get(self, instance_id: str, delivery_id: str) -> WebhookDelivery | None:
        t = webhook_deliveries
        row = (
            await self._s.execute(
                select(t).where(t.c.instance_id == instance_id, t.c.id == delivery_id)
            )
        ).first()
        return _delivery(row) if row else None

    async def update(self, delivery: WebhookDelivery) -> None:
        values = {name: getattr(delivery, name) for name in _FIELDS if name != "instance_id"}
        await self._s.write(_UPDATE, {"status": delivery.status.value, **values})

    async def update_many(self, deliveries: Sequence[WebhookDelivery]) -> None:
        """One executemany for a whole batch: the dispatcher marks its attempts together."""
        if not deliveries:
            return
        rows = [
            {"_id": d.id, "_status": d.status.value, **{f"_{n}": getattr(d, n) for n in _MARKED}}
            for d in deliveries
        ]
        await self._s.execute(_UPDATE_MANY, rows)

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

    async def latest(
        self,
        instance_ids: Sequence[str],
        *,
        status: str | None,
        event: str | None,
        before_seq: int | None,
        limit: int,
    ) -> dict[str, builtins.list[WebhookDelivery]]:
        t = webhook_deliveries

        def page_of(instance_id: str) -> Any:
            where = [t.c.instance_id == instance_id]
            if status:
                where.append(t.c.status == status)
            if event:
                where.append(t.c.event == event)
            if before_seq is not None:
                where.append(t.c.seq < before_seq)
            return select(t).where(*where).order_by(t.c.seq.desc()).limit(limit)

        found: dict[str, list[WebhookDelivery]] = {i: [] for i in instance_ids}
        for row in await per_key(self._s.execute, instance_ids, page_of, [("seq", True)]):
            found[row.instance_id].append(_delivery(row))
        return found
