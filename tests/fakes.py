"""In-memory fakes of the ports, for unit tests of the use cases (no I/O)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.entities import ActivityLog, Event, EventType, Instance, Role, User


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime(2023, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **kwargs: float) -> None:
        self.moment += timedelta(**kwargs)


class SequentialIds:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"id-{self.n:04d}"


class MemoryState:
    """The "database": tables as dicts, copied into and out of each unit of work."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.instances: dict[str, Instance] = {}
        self.activity: dict[str, ActivityLog] = {}
        self.events: list[Event] = []

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(
            {
                "users": self.users,
                "instances": self.instances,
                "activity": self.activity,
                "events": self.events,
            }
        )


class _Users:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, user: User) -> None:
        if any(u.email == user.email for u in self.t["users"].values()):
            raise ValueError("unique email")
        self.t["users"][user.id] = copy.deepcopy(user)

    async def get(self, user_id: str) -> User | None:
        return copy.deepcopy(self.t["users"].get(user_id))

    async def get_by_email(self, email: str) -> User | None:
        return next((copy.deepcopy(u) for u in self.t["users"].values() if u.email == email), None)

    async def get_by_api_key_hash(self, api_key_hash: str) -> User | None:
        users = self.t["users"].values()
        return next((copy.deepcopy(u) for u in users if u.api_key_hash == api_key_hash), None)

    async def list(self, *, limit: int, skip: int) -> tuple[list[User], int]:
        ordered = sorted(self.t["users"].values(), key=lambda u: (u.created_at, u.id))
        return copy.deepcopy(ordered[skip : skip + limit]), len(ordered)

    async def update(self, user: User) -> None:
        if user.id in self.t["users"]:
            self.t["users"][user.id] = copy.deepcopy(user)

    async def delete(self, user_id: str) -> None:
        self.t["users"].pop(user_id, None)

    async def count_active_admins(self) -> int:
        return sum(1 for u in self.t["users"].values() if u.role is Role.ADMIN and u.is_active)


class _Instances:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, instance: Instance) -> None:
        self.t["instances"][instance.id] = copy.deepcopy(instance)

    async def get(self, instance_id: str) -> Instance | None:
        return copy.deepcopy(self.t["instances"].get(instance_id))

    async def list(self, *, user_id: str | None = None) -> list[Instance]:
        found = [i for i in self.t["instances"].values() if user_id is None or i.user_id == user_id]
        return copy.deepcopy(sorted(found, key=lambda i: (i.created_at, i.id)))

    async def update(self, instance: Instance) -> None:
        if instance.id in self.t["instances"]:
            self.t["instances"][instance.id] = copy.deepcopy(instance)

    async def delete(self, instance_id: str) -> None:
        self.t["instances"].pop(instance_id, None)
        self.t["activity"] = {
            k: a for k, a in self.t["activity"].items() if a.instance_id != instance_id
        }
        self.t["events"] = [e for e in self.t["events"] if e.instance_id != instance_id]


class _Activity:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, log: ActivityLog) -> None:
        self.t["activity"][log.id] = copy.deepcopy(log)

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
        found = [
            a
            for a in self.t["activity"].values()
            if a.instance_id == instance_id
            and (not actions or a.action in actions)
            and (start is None or a.created_at >= start)
            and (end is None or a.created_at <= end)
        ]
        found.sort(key=lambda a: (a.created_at, a.id), reverse=True)
        return copy.deepcopy(found[skip : skip + limit]), len(found)


class _Events:
    def __init__(self, t: dict[str, Any]) -> None:
        self.t = t

    async def add(self, event: Event) -> None:
        stored = copy.deepcopy(event)
        stored.seq = len(self.t["events"]) + 1
        self.t["events"].append(stored)

    async def last_timestamp_ms(self, instance_id: str) -> int | None:
        stamps = [e.timestamp_ms for e in self.t["events"] if e.instance_id == instance_id]
        return max(stamps) if stamps else None

    async def list_since(
        self,
        instance_id: str,
        *,
        since_ms: int | None,
        types: Sequence[EventType] | None,
        limit: int,
    ) -> tuple[list[Event], bool]:
        found = [
            e
            for e in self.t["events"]
            if e.instance_id == instance_id
            and (since_ms is None or e.timestamp_ms > since_ms)
            and (not types or e.type in types)
        ]
        found.sort(key=lambda e: (e.timestamp_ms, e.seq))
        return copy.deepcopy(found[:limit]), len(found) > limit


class MemoryUnitOfWork:
    def __init__(self, state: MemoryState) -> None:
        self._state = state

    async def __aenter__(self) -> MemoryUnitOfWork:
        self._tables = self._state.snapshot()
        self.users = _Users(self._tables)
        self.instances = _Instances(self._tables)
        self.activity = _Activity(self._tables)
        self.events = _Events(self._tables)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._tables = {}

    async def commit(self) -> None:
        s = self._state
        s.users, s.instances = self._tables["users"], self._tables["instances"]
        s.activity, s.events = self._tables["activity"], self._tables["events"]
        self._tables = s.snapshot()
        self.users.t = self.instances.t = self.activity.t = self.events.t = self._tables

    async def rollback(self) -> None:
        self._tables.update(self._state.snapshot())


class MemoryStorage:
    def __init__(self) -> None:
        self.state = MemoryState()

    def unit_of_work(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.state)


class RecordingBus:
    def __init__(self) -> None:
        self.published: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.published.append(event)

    def subscribe(self, instance_id: str) -> Any:
        raise NotImplementedError("unit tests do not subscribe")


class FakeConnections:
    """Records what the use cases asked of the connection runtime."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def start(self, instance: Instance) -> None:
        self.calls.append(("start", instance.id))

    async def stop(self, instance: Instance) -> None:
        self.calls.append(("stop", instance.id))

    async def reconnect(self, instance: Instance) -> None:
        self.calls.append(("reconnect", instance.id))

    async def logout(self, instance: Instance) -> None:
        self.calls.append(("logout", instance.id))

    async def destroy(self, instance: Instance) -> None:
        self.calls.append(("destroy", instance.id))

    def sandbox(self) -> Any:
        raise NotImplementedError


class PlainHasher:
    """Stands in for argon2 in unit tests: reversible on purpose, never used for real."""

    async def hash(self, password: str) -> str:
        return "plain$" + password

    async def verify(self, password: str, password_hash: str) -> bool:
        return password_hash == "plain$" + password


class PlainBox:
    def seal(self, plaintext: str) -> str:
        return "sealed:" + plaintext

    def open(self, sealed: str) -> str | None:
        return sealed.removeprefix("sealed:") if sealed.startswith("sealed:") else None


class FakeTokens:
    def issue(self, user: User) -> str:
        return "token-for-" + user.id

    def subject(self, token: str) -> str:
        from domain.errors import Unauthorized

        if not token.startswith("token-for-"):
            raise Unauthorized("Invalid token")
        return token.removeprefix("token-for-")


class MemoryMediaStore:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}

    async def write(self, instance_id: str, media_id: str, data: bytes) -> None:
        self.files[(instance_id, media_id)] = data

    async def read(self, instance_id: str, media_id: str) -> bytes | None:
        return self.files.get((instance_id, media_id))

    async def remove_instance(self, instance_id: str) -> None:
        self.files = {k: v for k, v in self.files.items() if k[0] != instance_id}
