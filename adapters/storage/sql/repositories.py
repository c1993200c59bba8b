"""SQL implementations of the repository ports; they never commit (the unit of work does)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.storage.sql.messaging import delete_instance_messaging
from adapters.storage.sql.tables import activity_logs, events, instances, users
from domain.entities import (
    ActivityLog,
    Engine,
    Event,
    EventType,
    Instance,
    InstanceStatus,
    Role,
    User,
    WebhookSettings,
)

# --- users -----------------------------------------------------------------------------


def _user(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        role=Role(row.role),
        password_hash=row.password_hash,
        api_key_hash=row.api_key_hash,
        api_key_sealed=row.api_key_sealed,
        is_active=row.is_active,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_login_at=row.last_login_at,
    )


def _user_values(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role.value,
        "password_hash": user.password_hash,
        "api_key_hash": user.api_key_hash,
        "api_key_sealed": user.api_key_sealed,
        "is_active": user.is_active,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "last_login_at": user.last_login_at,
    }


class SqlUsers:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, user: User) -> None:
        await self._s.execute(insert(users).values(**_user_values(user)))

    async def _one(self, *where: Any) -> User | None:
        row = (await self._s.execute(select(users).where(*where))).first()
        return _user(row) if row else None

    async def get(self, user_id: str) -> User | None:
        return await self._one(users.c.id == user_id)

    async def get_by_email(self, email: str) -> User | None:
        return await self._one(users.c.email == email)

    async def get_by_api_key_hash(self, api_key_hash: str) -> User | None:
        return await self._one(users.c.api_key_hash == api_key_hash)

    async def list(self, *, limit: int, skip: int) -> tuple[list[User], int]:
        total = (await self._s.execute(select(func.count()).select_from(users))).scalar_one()
        rows = await self._s.execute(
            select(users).order_by(users.c.created_at, users.c.id).limit(limit).offset(skip)
        )
        return [_user(r) for r in rows], total

    async def update(self, user: User) -> None:
        values = _user_values(user)
        values.pop("id")
        await self._s.execute(update(users).where(users.c.id == user.id).values(**values))

    async def delete(self, user_id: str) -> None:
        await self._s.execute(delete(users).where(users.c.id == user_id))

    async def count_active_admins(self) -> int:
        query = (
            select(func.count())
            .select_from(users)
            .where(users.c.role == Role.ADMIN.value, users.c.is_active.is_(True))
        )
        return (await self._s.execute(query)).scalar_one()


# --- instances -------------------------------------------------------------------------


def _instance(row: Any) -> Instance:
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
        webhook=WebhookSettings(**row.webhook),
        options=dict(row.options or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_activity_at=row.last_activity_at,
        limits=dict(row.limits or {}),
    )


def _instance_values(instance: Instance) -> dict[str, Any]:
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
        "webhook": dict(vars(instance.webhook)),
        "options": instance.options,
        "created_at": instance.created_at,
        "updated_at": instance.updated_at,
        "last_activity_at": instance.last_activity_at,
        "limits": instance.limits,
    }


class SqlInstances:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, instance: Instance) -> None:
        await self._s.execute(insert(instances).values(**_instance_values(instance)))

    async def get(self, instance_id: str) -> Instance | None:
        row = (
            await self._s.execute(select(instances).where(instances.c.id == instance_id))
        ).first()
        return _instance(row) if row else None

    async def list(self, *, user_id: str | None = None) -> list[Instance]:
        query = select(instances).order_by(instances.c.created_at, instances.c.id)
        if user_id is not None:
            query = query.where(instances.c.user_id == user_id)
        return [_instance(r) for r in await self._s.execute(query)]

    async def update(self, instance: Instance) -> None:
        values = _instance_values(instance)
        values.pop("id")
        await self._s.execute(
            update(instances).where(instances.c.id == instance.id).values(**values)
        )

    async def delete(self, instance_id: str) -> None:
        # Explicit rather than ON DELETE CASCADE, so every backend removes the same rows.
        await delete_instance_messaging(self._s, instance_id)
        await self._s.execute(delete(events).where(events.c.instance_id == instance_id))
        await self._s.execute(
            delete(activity_logs).where(activity_logs.c.instance_id == instance_id)
        )
        await self._s.execute(delete(instances).where(instances.c.id == instance_id))


# --- activity and events ---------------------------------------------------------------


class SqlActivity:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, log: ActivityLog) -> None:
        await self._s.execute(
            insert(activity_logs).values(
                id=log.id,
                instance_id=log.instance_id,
                action=log.action,
                details=log.details,
                created_at=log.created_at,
            )
        )

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
        return [
            ActivityLog(
                id=r.id,
                instance_id=r.instance_id,
                action=r.action,
                details=r.details or {},
                created_at=r.created_at,
            )
            for r in rows
        ], total


class SqlEvents:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, event: Event) -> None:
        await self._s.execute(
            insert(events).values(
                id=event.id,
                instance_id=event.instance_id,
                type=event.type.value,
                data=event.data,
                timestamp_ms=event.timestamp_ms,
            )
        )

    async def last_timestamp_ms(self, instance_id: str) -> int | None:
        query = select(func.max(events.c.timestamp_ms)).where(events.c.instance_id == instance_id)
        return (await self._s.execute(query)).scalar_one_or_none()

    async def list_since(
        self,
        instance_id: str,
        *,
        since_ms: int | None,
        types: Sequence[EventType] | None,
        limit: int,
    ) -> tuple[list[Event], bool]:
        query = select(events).where(events.c.instance_id == instance_id)
        if since_ms is not None:
            query = query.where(events.c.timestamp_ms > since_ms)
        if types:
            query = query.where(events.c.type.in_([t.value for t in types]))
        rows = list(
            await self._s.execute(
                query.order_by(events.c.timestamp_ms, events.c.seq).limit(limit + 1)
            )
        )
        found = [
            Event(
                id=r.id,
                instance_id=r.instance_id,
                type=EventType(r.type),
                data=r.data,
                timestamp_ms=r.timestamp_ms,
                seq=r.seq,
            )
            for r in rows[:limit]
        ]
        return found, len(rows) > limit
