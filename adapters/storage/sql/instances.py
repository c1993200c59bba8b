"""SQL repository of instances, and the removal of everything an instance owns."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.storage.sql.sealing import open_webhook, seal_webhook
from adapters.storage.sql.tables import (
    activity_logs,
    chat_summaries,
    contacts,
    events,
    instances,
    limit_notices,
    media,
    messages,
    usage_daily,
    webhook_deliveries,
)
from domain.entities import Engine, Instance, InstanceStatus, WebhookSettings
from domain.ports import SecretBox

# Every table with an instance_id column: removing an instance removes its rows in each.
_OWNED_BY_INSTANCE = (
    chat_summaries,
    messages,
    contacts,
    media,
    webhook_deliveries,
    usage_daily,
    limit_notices,
    events,
    activity_logs,
)


def _instance(row: Any, box: SecretBox) -> Instance:
    return Instance(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        description=row.description,
        engine=Engine(row.engine),
        status=InstanceStatus(row.status),
        status_reason=row.status_reason,
        will_reconnect=row.will_reconnect,
        qr_code=row.qr_code,
        qr_attempt=row.qr_attempt,
        phone=row.phone,
        push_name=row.push_name,
        webhook_url=row.webhook_url,
        webhook_enabled=row.webhook_enabled,
        webhook=WebhookSettings(**open_webhook(row.webhook, box)),
        options=dict(row.options or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_activity_at=row.last_activity_at,
        limits=dict(row.limits or {}),
    )


def _instance_values(instance: Instance, box: SecretBox) -> dict[str, Any]:
    return {
        "id": instance.id,
        "user_id": instance.user_id,
        "name": instance.name,
        "description": instance.description,
        "engine": instance.engine.value,
        "status": instance.status.value,
        "status_reason": instance.status_reason,
        "will_reconnect": instance.will_reconnect,
        "qr_code": instance.qr_code,
        "qr_attempt": instance.qr_attempt,
        "phone": instance.phone,
        "push_name": instance.push_name,
        "webhook_url": instance.webhook_url,
        "webhook_enabled": instance.webhook_enabled,
        "webhook": seal_webhook(vars(instance.webhook), box),
        "options": instance.options,
        "created_at": instance.created_at,
        "updated_at": instance.updated_at,
        "last_activity_at": instance.last_activity_at,
        "limits": instance.limits,
    }


class SqlInstances:
    def __init__(self, session: AsyncSession, box: SecretBox) -> None:
        self._s = session
        self._box = box  # seals the webhook secret and headers (see sealing.py)

    async def add(self, instance: Instance) -> None:
        await self._s.execute(insert(instances).values(**_instance_values(instance, self._box)))

    async def get(self, instance_id: str) -> Instance | None:
        row = (
            await self._s.execute(select(instances).where(instances.c.id == instance_id))
        ).first()
        return _instance(row, self._box) if row else None

    async def list(self, *, user_id: str | None = None) -> list[Instance]:
        query = select(instances).order_by(instances.c.created_at, instances.c.id)
        if user_id is not None:
            query = query.where(instances.c.user_id == user_id)
        return [_instance(r, self._box) for r in await self._s.execute(query)]

    async def update(self, instance: Instance) -> None:
        values = _instance_values(instance, self._box)
        values.pop("id")
        await self._s.execute(
            update(instances).where(instances.c.id == instance.id).values(**values)
        )

    async def delete(self, instance_id: str) -> None:
        # Explicit rather than ON DELETE CASCADE, so every backend removes the same rows.
        for table in _OWNED_BY_INSTANCE:
            await self._s.execute(delete(table).where(table.c.instance_id == instance_id))
        await self._s.execute(delete(instances).where(instances.c.id == instance_id))
