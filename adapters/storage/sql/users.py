"""SQL repository of user accounts; it never commits (the unit of work does)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update

from adapters.storage.sql.session import SqlSession
from adapters.storage.sql.tables import users
from domain.entities import Role, User


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
        token_version=row.token_version,
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
        "token_version": user.token_version,
    }


class SqlUsers:
    def __init__(self, session: SqlSession) -> None:
        self._s = session

    async def add(self, user: User) -> None:
        await self._s.execute(insert(users).values(**_user_values(user)))

    async def _one(self, *where: Any) -> User | None:
        row = (await self._s.execute(select(users).where(*where))).first()
        return _user(row) if row else None

    async def get(self, user_id: str) -> User | None:
        return await self._one(users.c.id == user_id)

    async def get_many(self, user_ids: Sequence[str]) -> dict[str, User]:
        wanted = list(dict.fromkeys(user_ids))
        if not wanted:
            return {}
        rows = await self._s.execute(select(users).where(users.c.id.in_(wanted)))
        return {row.id: _user(row) for row in rows}

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

    async def page(self, *, after: tuple[datetime, str] | None, limit: int) -> builtins.list[User]:
        query = select(users).order_by(users.c.created_at, users.c.id).limit(limit)
        if after is not None:
            at, last_id = after
            query = query.where(
                or_(users.c.created_at > at, and_(users.c.created_at == at, users.c.id > last_id))
            )
        return [_user(r) for r in await self._s.execute(query)]

    async def update(self, user: User) -> None:
        values = _user_values(user)
        values.pop("id")
        await self._s.execute(update(users).where(users.c.id == user.id).values(**values))

    async def record_login(self, user_id: str, at: datetime) -> None:
        await self._s.execute(update(users).where(users.c.id == user_id).values(last_login_at=at))

    async def delete(self, user_id: str) -> None:
        await self._s.execute(delete(users).where(users.c.id == user_id))

    async def count_active_admins(self) -> int:
        query = (
            select(func.count())
            .select_from(users)
            .where(users.c.role == Role.ADMIN.value, users.c.is_active.is_(True))
        )
        return (await self._s.execute(query)).scalar_one()
