"""One unit of work's MongoDB session: a transaction, taken with the storage's write turn.

Why a turn: MongoDB aborts the second of two transactions that write the same document
(WriteConflict) instead of making it wait, and a unit of work cannot be replayed from here.
So, as on SQLite (storage/sql/writer.py), a unit that writes takes this process's one turn at
its first operation (a read included: what it reads is what its writes build on) and keeps it
until it commits, rolls back or ends. Its operations run in one transaction, which it sees
its own writes in (read-your-writes); leaving without `commit()` aborts it.

Read-only units take no turn and open no transaction: each read sees what is committed.
A failed operation (a duplicate key, a missing instance) aborts the whole unit, as a failed
statement rolls back a SQL one; its next operation starts a new transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError, PyMongoError

from domain.ports import NoStorageTelemetry, StorageTelemetry

log = logging.getLogger(__name__)


class DuplicateRecord(ValueError):
    """A unique key (id, email, API-key digest, WhatsApp id per instance) already taken."""


class MissingParent(ValueError):
    """A record that names an instance (or user) that does not exist (SQL's foreign keys)."""


class WriteTurn:
    """This process's one turn for units that write (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None

    async def acquire(self) -> None:
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            # It would wait for itself: a unit that writes opened inside another one.
            raise RuntimeError("a unit of work that writes was opened inside another one")
        await self._lock.acquire()
        self._holder = task

    def release(self) -> None:
        self._holder = None
        self._lock.release()


class MongoUnit:
    def __init__(
        self,
        client: AsyncMongoClient[Any],
        turn: WriteTurn,
        read_only: bool,
        telemetry: StorageTelemetry | None = None,
    ) -> None:
        self._client = client
        self._telemetry = telemetry or NoStorageTelemetry()
        self._turn = turn
        self.read_only = read_only
        self._session: AsyncClientSession | None = None
        self._holding = False
        # Instance ids this transaction has seen exist (the foreign-key checks' memo).
        self.instances_seen: set[str] = set()

    @asynccontextmanager
    async def op(self, *, write: bool = False) -> AsyncIterator[AsyncClientSession | None]:
        """The session to pass to one operation (None: a read-only unit's plain read)."""
        if self.read_only:
            if write:
                raise RuntimeError("a read-only unit of work cannot write")
            yield None
            return
        try:
            yield await self._begin()
        except DuplicateKeyError as exc:
            await self.rollback()
            raise DuplicateRecord(str(exc.details or exc)) from exc
        except BaseException:
            await self.rollback()
            raise

    async def _begin(self) -> AsyncClientSession:
        if not self._holding:
            await self._turn.acquire()
            self._holding = True
        if self._session is None:
            self._session = self._client.start_session()
        if not self._session.in_transaction:
            await self._session.start_transaction()
        return self._session

    def _release(self) -> None:
        self.instances_seen = set()
        if self._holding:
            self._holding = False
            self._turn.release()

    async def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        session = self._session
        try:
            if session is not None and session.in_transaction:
                started = time.perf_counter()
                await session.commit_transaction()
                # One unit per commit: no group commit here (wamux_storage_* in /metrics).
                self._telemetry.write_batch(1, time.perf_counter() - started)
        except BaseException:
            await self.rollback()
            raise
        finally:
            self._release()

    async def rollback(self) -> None:
        session = self._session
        try:
            if session is not None and session.in_transaction:
                await session.abort_transaction()
        except PyMongoError:
            # The server ends an unanswered transaction on its own; this session is done with.
            log.warning("could not abort a MongoDB transaction", exc_info=True)
            self._session = None
            with contextlib.suppress(PyMongoError):
                await session.end_session()  # type: ignore[union-attr]
        finally:
            self._release()

    async def close(self) -> None:
        try:
            await self.rollback()
        finally:
            session, self._session = self._session, None
            if session is not None:
                await session.end_session()
