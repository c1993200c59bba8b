"""The storage every use case holds: a facade whose backend can be swapped while serving.

Each unit of work resolves the current backend when it is opened, so a swap needs no use
case to know. Write units pass a write gate (held shared, re-entrant per task: a use case
that opens a unit inside its own unit does not wait on itself); a switch closes the gate,
waits for the open write units to finish on the old backend, copies what it must and swaps.
Units opened on the old backend finish there; the old backend is closed after the last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from domain.ports import (
    ActivityRepository,
    Backend,
    ContactRepository,
    EventRepository,
    InstanceRepository,
    MediaRepository,
    MessageRepository,
    RecordSnapshot,
    StorageGauges,
    UnitOfWork,
    UsageRepository,
    UserRepository,
    WebhookRepository,
)

log = logging.getLogger(__name__)

# How long a closed gate waits for a slow open unit before it gives up (then nothing moved).
OLD_BACKEND_CLOSE_TIMEOUT_S = 60.0


class WriteGate:
    """A shared/exclusive gate for write units. Shared holds are counted per task, so a
    task already inside may enter again while the gate is closing; new tasks wait."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._holders: dict[asyncio.Task[Any] | None, int] = {}
        self._since: dict[asyncio.Task[Any] | None, float] = {}  # first entered (monotonic)

    @property
    def is_closed(self) -> bool:
        return not self._open.is_set()

    async def enter(self) -> None:
        task = asyncio.current_task()
        if task in self._holders:
            self._holders[task] += 1
            return
        while not self._open.is_set():
            await self._open.wait()
        self._holders[task] = 1
        self._since[task] = time.monotonic()
        self._idle.clear()

    def leave(self) -> None:
        task = asyncio.current_task()
        left = self._holders.get(task, 1) - 1
        if left > 0:
            self._holders[task] = left
            return
        self._holders.pop(task, None)
        self._since.pop(task, None)
        if not self._holders:
            self._idle.set()

    def oldest_age_s(self) -> float:
        """How long the task holding the gate longest has held it (a switch's catch-up
        looks for changes from before that unit began)."""
        if not self._since:
            return 0.0
        return max(0.0, time.monotonic() - min(self._since.values()))

    @asynccontextmanager
    async def closed(self, timeout_s: float) -> AsyncIterator[None]:
        if self.is_closed:
            raise RuntimeError("the write gate is closed already")
        self._open.clear()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
            yield
        finally:
            self._open.set()


class _InUse:
    """A backend and how many units are open on it (it is closed after the last)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.open_units = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def opened(self) -> None:
        self.open_units += 1
        self.idle.clear()

    def finished(self) -> None:
        self.open_units -= 1
        if self.open_units == 0:
            self.idle.set()


class SwitchableUnit:
    """A unit of work on the backend current when it is entered."""

    users: UserRepository
    instances: InstanceRepository
    activity: ActivityRepository
    events: EventRepository
    messages: MessageRepository
    contacts: ContactRepository
    media: MediaRepository
    webhooks: WebhookRepository
    usage: UsageRepository

    def __init__(self, storage: SwitchableStorage, read_only: bool) -> None:
        self._storage = storage
        self._read_only = read_only
        self._inner: UnitOfWork | None = None
        self._on: _InUse | None = None

    async def __aenter__(self) -> SwitchableUnit:
        gate = self._storage.gate
        if not self._read_only:
            await gate.enter()
        try:
            self._on = on = self._storage.in_use
            on.opened()
            inner = on.backend.storage.unit_of_work(read_only=self._read_only)
            self._inner = await inner.__aenter__()
        except BaseException:
            self._release()
            raise
        self._bind()
        return self

    def _bind(self) -> None:
        inner = self._inner
        assert inner is not None
        self.users, self.instances, self.activity = inner.users, inner.instances, inner.activity
        self.events, self.messages, self.contacts = inner.events, inner.messages, inner.contacts
        self.media, self.webhooks, self.usage = inner.media, inner.webhooks, inner.usage

    def _release(self) -> None:
        if self._on is not None:
            self._on.finished()
            self._on = None
        if not self._read_only:
            self._storage.gate.leave()

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._inner is not None:
                await self._inner.__aexit__(*exc)
        finally:
            self._inner = None
            self._release()

    async def commit(self) -> None:
        assert self._inner is not None
        await self._inner.commit()

    async def rollback(self) -> None:
        assert self._inner is not None
        await self._inner.rollback()
        self._bind()  # the inner unit may have replaced its repositories


class SwitchableStorage:
    def __init__(self, backend: Backend) -> None:
        self.gate = WriteGate()
        self.in_use = _InUse(backend)
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def backend(self) -> Backend:
        return self.in_use.backend

    def unit_of_work(self, *, read_only: bool = False) -> SwitchableUnit:
        return SwitchableUnit(self, read_only)

    def closed_for_writes(self, timeout_s: float) -> contextlib.AbstractAsyncContextManager[None]:
        return self.gate.closed(timeout_s)

    def oldest_write_age_s(self) -> float:
        return self.gate.oldest_age_s()

    def swap(self, backend: Backend) -> Backend:
        old = self.in_use
        self.in_use = _InUse(backend)
        task = asyncio.create_task(self._close_when_idle(old), name="storage:close-old")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return old.backend

    async def _close_when_idle(self, old: _InUse) -> None:
        try:
            await asyncio.wait_for(old.idle.wait(), OLD_BACKEND_CLOSE_TIMEOUT_S)
        except TimeoutError:
            log.warning(
                "%d unit(s) still open on the previous %s database after %.0f s: closing it",
                old.open_units,
                old.backend.provider,
                OLD_BACKEND_CLOSE_TIMEOUT_S,
            )
        try:
            await old.backend.storage.close()
        except Exception:
            log.warning("closing the previous %s database failed", old.backend.provider)
        log.info("the previous %s database is closed", old.backend.provider)

    async def migrate(self) -> None:
        await self.backend.storage.migrate()

    async def ping(self) -> None:
        await self.backend.storage.ping()

    async def close(self) -> None:
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        await self.backend.storage.close()


class SwitchableInventory:
    """The current backend's records (exports, /metrics gauges, db status)."""

    def __init__(self, storage: SwitchableStorage) -> None:
        self._storage = storage

    @property
    def _current(self) -> Any:
        return self._storage.backend.inventory

    def kinds(self) -> list[str]:
        return list(self._current.kinds())

    def schema_version(self) -> str:
        return str(self._current.schema_version())

    async def stored_version(self) -> str | None:
        found: str | None = await self._current.stored_version()
        return found

    def snapshot(self) -> contextlib.AbstractAsyncContextManager[RecordSnapshot]:
        snapshot: contextlib.AbstractAsyncContextManager[RecordSnapshot] = self._current.snapshot()
        return snapshot

    async def write(self, kind: str, records: Sequence[dict[str, Any]]) -> None:
        await self._current.write(kind, records)

    def key(self, kind: str) -> tuple[str, ...]:
        return tuple(self._current.key(kind))

    async def upsert(self, kind: str, records: Sequence[dict[str, Any]]) -> None:
        await self._current.upsert(kind, records)

    async def delete(self, kind: str, keys: Sequence[tuple[Any, ...]]) -> None:
        await self._current.delete(kind, keys)

    async def gauges(self) -> StorageGauges:
        found: StorageGauges = await self._current.gauges()
        return found
