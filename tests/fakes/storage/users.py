"""The fake UserRepository."""

from __future__ import annotations

import builtins
import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.entities import Role, User


class MemoryUsers:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, user: User) -> None:
        if any(u.email == user.email for u in self.t["users"].values()):
            raise ValueError("unique email")
        self.t["users"][user.id] = copy.deepcopy(user)

    async def get(self, user_id: str) -> User | None:
        return copy.deepcopy(self.t["users"].get(user_id))

    async def get_many(self, user_ids: Sequence[str]) -> dict[str, User]:
        wanted = set(user_ids)
        return {k: copy.deepcopy(u) for k, u in self.t["users"].items() if k in wanted}

    async def get_by_email(self, email: str) -> User | None:
        return next((copy.deepcopy(u) for u in self.t["users"].values() if u.email == email), None)

    async def get_by_api_key_hash(self, api_key_hash: str) -> User | None:
        users = self.t["users"].values()
        return next((copy.deepcopy(u) for u in users if u.api_key_hash == api_key_hash), None)

    async def list(self, *, limit: int, skip: int) -> tuple[list[User], int]:
        ordered = sorted(self.t["users"].values(), key=lambda u: (u.created_at, u.id))
        return copy.deepcopy(ordered[skip : skip + limit]), len(ordered)

    async def page(self, *, after: tuple[datetime, str] | None, limit: int) -> builtins.list[User]:
        ordered = sorted(self.t["users"].values(), key=lambda u: (u.created_at, u.id))
        found = [u for u in ordered if after is None or (u.created_at, u.id) > after]
        return copy.deepcopy(found[:limit])

    async def update(self, user: User) -> None:
        if user.id in self.t["users"]:
            self.t["users"][user.id] = copy.deepcopy(user)

    async def record_login(self, user_id: str, at: datetime) -> None:
        if user_id in self.t["users"]:
            self.t["users"][user_id].last_login_at = at

    async def delete(self, user_id: str) -> None:
        self.t["users"].pop(user_id, None)

    async def count_active_admins(self) -> int:
        return sum(1 for u in self.t["users"].values() if u.role is Role.ADMIN and u.is_active)
