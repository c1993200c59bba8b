"""Ports: what the core needs from the outside world, as Protocols that adapters implement."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from domain.entities import ActivityLog, Event, EventType, Instance, User

# --- storage ---------------------------------------------------------------------------


class UserRepository(Protocol):
    async def add(self, user: User) -> None: ...
    async def get(self, user_id: str) -> User | None: ...
    async def get_by_email(self, email: str) -> User | None: ...
    async def get_by_api_key_hash(self, api_key_hash: str) -> User | None: ...
    async def list(self, *, limit: int, skip: int) -> tuple[list[User], int]: ...
    async def update(self, user: User) -> None: ...
    async def delete(self, user_id: str) -> None: ...
    async def count_active_admins(self) -> int: ...


class InstanceRepository(Protocol):
    async def add(self, instance: Instance) -> None: ...
    async def get(self, instance_id: str) -> Instance | None: ...
    async def list(self, *, user_id: str | None = None) -> list[Instance]: ...
    async def update(self, instance: Instance) -> None: ...
    async def delete(self, instance_id: str) -> None: ...


class ActivityRepository(Protocol):
    async def add(self, log: ActivityLog) -> None: ...
    async def list(
        self,
        instance_id: str,
        *,
        actions: Sequence[str] | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        skip: int,
    ) -> tuple[list[ActivityLog], int]: ...


class EventRepository(Protocol):
    async def add(self, event: Event) -> None: ...
    async def last_timestamp_ms(self, instance_id: str) -> int | None: ...
    async def list_since(
        self,
        instance_id: str,
        *,
        since_ms: int | None,
        types: Sequence[EventType] | None,
        limit: int,
    ) -> tuple[list[Event], bool]:
        """Oldest first, strictly after `since_ms`; the bool says whether more remain."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without `commit()` rolls everything back."""

    users: UserRepository
    instances: InstanceRepository
    activity: ActivityRepository
    events: EventRepository

    async def __aenter__(self) -> UnitOfWork: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


# --- security --------------------------------------------------------------------------


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...
    async def verify(self, password: str, password_hash: str) -> bool: ...


class TokenService(Protocol):
    def issue(self, user: User) -> str: ...
    def subject(self, token: str) -> str:
        """The user id a valid token was issued for; raises Unauthorized otherwise."""
        ...


class SecretBox(Protocol):
    """Symmetric encryption with a key the database does not hold."""

    def seal(self, plaintext: str) -> str: ...
    def open(self, sealed: str) -> str | None: ...


# --- WhatsApp transport ----------------------------------------------------------------


class ConnectionListener(Protocol):
    """What an engine reports about one instance's connection."""

    async def on_connecting(self, instance_id: str) -> None: ...
    async def on_qr(self, instance_id: str, qr_code: str) -> None: ...
    async def on_connected(
        self, instance_id: str, phone: str | None, push_name: str | None
    ) -> None: ...
    async def on_disconnected(
        self, instance_id: str, reason: str, will_reconnect: bool
    ) -> None: ...
    async def on_reconnecting(self, instance_id: str, attempt: int, delay_ms: int) -> None: ...
    async def on_logged_out(self, instance_id: str, reason: str) -> None: ...


class WhatsAppEngine(Protocol):
    name: str

    async def start(self, instance_id: str, options: dict[str, Any]) -> None:
        """Begin connecting (or pairing); progress is reported to the listener."""
        ...

    async def stop(self, instance_id: str) -> None:
        """Close the connection quietly, keeping the session (shutdown, reconnect)."""
        ...

    async def logout(self, instance_id: str) -> None:
        """Unlink the device and forget the session."""
        ...

    async def destroy(self, instance_id: str) -> None:
        """Stop and delete every local file of the instance."""
        ...

    async def close(self) -> None: ...


class SandboxControl(Protocol):
    """Test hooks of the simulated network."""

    async def scan(self, instance_id: str, phone: str | None, push_name: str | None) -> None: ...
    async def drop(self, instance_id: str, reason: str) -> None: ...


class Connections(Protocol):
    """Runs instances' connections wherever they live (this process, or another node later)."""

    async def start(self, instance: Instance) -> None: ...
    async def stop(self, instance: Instance) -> None: ...
    async def reconnect(self, instance: Instance) -> None: ...
    async def logout(self, instance: Instance) -> None: ...
    async def destroy(self, instance: Instance) -> None: ...
    def sandbox(self) -> SandboxControl: ...


class Ownership(Protocol):
    """Which node runs an instance. On one node the answer is always "this one"."""

    async def claim(self, instance_id: str) -> bool: ...
    async def release(self, instance_id: str) -> None: ...


# --- events ----------------------------------------------------------------------------


class EventBus(Protocol):
    async def publish(self, event: Event) -> None: ...
    def subscribe(self, instance_id: str) -> AbstractAsyncContextManager[AsyncIterator[Event]]: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


IdFactory = Callable[[], str]
