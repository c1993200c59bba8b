"""The SQL unit of work and the engine set-up (SQLite pragmas, migrations on start)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool, StaticPool

from adapters.security.files import private_database
from adapters.storage.sql.activity import SqlActivity
from adapters.storage.sql.cache import SqlCache
from adapters.storage.sql.contacts import SqlContacts
from adapters.storage.sql.events import SqlEvents
from adapters.storage.sql.instances import SqlInstances
from adapters.storage.sql.media import SqlMedia
from adapters.storage.sql.messages import SqlMessages
from adapters.storage.sql.pooled import PooledUnit, make_server_engine
from adapters.storage.sql.reader import SqliteReader
from adapters.storage.sql.session import SqlSession
from adapters.storage.sql.usage import SqlUsage
from adapters.storage.sql.users import SqlUsers
from adapters.storage.sql.webhooks import SqlWebhooks
from adapters.storage.sql.writer import SqliteWriter
from domain.ports import (
    ActivityRepository,
    ContactRepository,
    EventRepository,
    InstanceRepository,
    MediaRepository,
    MessageRepository,
    NoStorageTelemetry,
    SecretBox,
    StorageTelemetry,
    UsageRepository,
    UserRepository,
    WebhookRepository,
)

log = logging.getLogger(__name__)

# The advisory lock key the PostgreSQL migrations run under ("wamux" in ASCII).
_MIGRATE = 0x77616D7578


class SqlUnitOfWork:
    # Typed as the ports, so mypy checks every SQL repository against its Protocol.
    users: UserRepository
    instances: InstanceRepository
    activity: ActivityRepository
    events: EventRepository
    messages: MessageRepository
    contacts: ContactRepository
    media: MediaRepository
    webhooks: WebhookRepository
    usage: UsageRepository

    def __init__(
        self,
        open_session: Callable[[], UnitSession],
        cache: SqlCache | None,
        writes: bool,
        box: SecretBox,
    ) -> None:
        self._open = open_session
        self._box = box
        self._cache = cache
        self._writes = writes

    async def __aenter__(self) -> SqlUnitOfWork:
        self._session = self._open()
        self._repositories()
        return self

    def _repositories(self) -> None:
        session, cache, writes = self._session, self._cache, self._writes
        self.users = SqlUsers(session)
        self.instances = SqlInstances(session, self._box, cache, writes=writes)
        self.activity = SqlActivity(session)
        self.events = SqlEvents(session)
        self.messages = SqlMessages(session)
        self.contacts = SqlContacts(session)
        self.media = SqlMedia(session)
        self.webhooks = SqlWebhooks(session)
        # Counters are cached only on the one writer: elsewhere another process adds too.
        counters = cache if cache is not None and cache.one_writer else None
        self.usage = SqlUsage(session, counters, writes=writes)

    async def __aexit__(self, *exc: object) -> None:
        await self._session.close()

    async def commit(self) -> None:
        await self._session.commit()

    async def rollback(self) -> None:
        await self._session.rollback()
        self._repositories()  # forget what they kept of the undone writes


class UnitSession(SqlSession, Protocol):
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
    async def close(self) -> None: ...


class SqlStorage:
    """Owns the engines; hands out units of work.

    SQLite: units that write go through the one writer (adapters/storage/sql/writer.py);
    read-only units use a pool of read-only connections on reader threads (reader.py).
    A server database (PostgreSQL) gets its concurrency from its pools (pooled.py): every
    unit that may write is a pooled transaction, every read-only unit a pooled autocommit
    connection; its instances are cached for `instance_cache_ttl_s` (cache.py).
    `box` seals what must not be readable from the database file alone (webhook secrets
    and headers); migrations use it to seal rows written before that."""

    def __init__(
        self,
        url: str,
        box: SecretBox,
        *,
        writer_batch: int = 200,
        writer_delay_ms: float = 5,
        pool_size: int = 10,
        max_overflow: int = 10,
        telemetry: StorageTelemetry | None = None,
        instance_cache_ttl_s: float = 0.0,
    ) -> None:
        self.url = url
        # Told each group commit's size and COMMIT time (wamux_storage_* in /metrics).
        self.telemetry: StorageTelemetry = telemetry or NoStorageTelemetry()
        self._box = box
        self.engine: AsyncEngine = _make_engine(url, pool_size, max_overflow)
        # A server database's read-only units: a pool of their own (see pooled.py).
        self.read_engine: AsyncEngine | None = None
        self.writer: SqliteWriter | None = None
        self.reader: SqliteReader | None = None
        # Only while this process is the database's one writer can it cache every row.
        self.cache: SqlCache | None = None
        if url.startswith("sqlite"):
            self.cache = SqlCache()
            self.writer = SqliteWriter(
                _make_writer_engine(url),
                max_batch=writer_batch,
                max_delay_s=writer_delay_ms / 1000,
                on_failed_commit=self.cache.clear,
                telemetry=self.telemetry,
            )
            self.reader = SqliteReader(_make_reader_engine(url))
        else:
            self.read_engine = make_server_engine(url, pool_size, max_overflow, read_only=True)
        # A server database's instances, each kept `instance_cache_ttl_s` (0: none kept).
        self.shared_cache: SqlCache | None = None
        if self.cache is None and instance_cache_ttl_s > 0:
            self.shared_cache = SqlCache(ttl_s=instance_cache_ttl_s)

    def unit_of_work(self, *, read_only: bool = False) -> SqlUnitOfWork:
        writer = self.writer
        if writer is not None and not read_only:
            return SqlUnitOfWork(writer.unit, self.cache, True, self._box)
        if self.reader is not None:
            return SqlUnitOfWork(self.reader.unit, self.cache, False, self._box)
        if read_only and self.read_engine is not None:
            return SqlUnitOfWork(self._pooled_read, self.shared_cache, False, self._box)
        return SqlUnitOfWork(self._pooled, self.cache or self.shared_cache, True, self._box)

    def _pooled(self) -> PooledUnit:
        return PooledUnit(self.engine)

    def _pooled_read(self) -> PooledUnit:
        assert self.read_engine is not None
        return PooledUnit(self.read_engine, read_only=True)

    async def migrate(self) -> None:
        from migrations import upgrade_connection

        if self.writer is not None:

            def upgrade(conn: Connection) -> None:
                upgrade_connection(conn, self._box)
                conn.commit()

            await self.writer.run(upgrade)
            return
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Servers started together on one database migrate one after the other.
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATE})
            await conn.run_sync(upgrade_connection, self._box)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self.writer is not None:
            await self.writer.close()
        if self.reader is not None:
            await self.reader.close()
        await self.engine.dispose()
        if self.read_engine is not None:
            await self.read_engine.dispose()


def _casefold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value


def _sqlite_path(url: str) -> str:
    db_path = url.split("///", 1)[-1]
    if db_path and db_path != ":memory:":
        private_database(Path(db_path))  # 0700 directory, 0600 file before SQLite opens it
    return db_path


def _connection_setup(dbapi_conn: Any, *, read_only: bool) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets readers run beside the writer, which is the only one of this process.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Only ever waited on when another process (a `wamux create-user` beside the server)
    # holds the write lock a moment: in this process the writer is alone.
    cursor.execute("PRAGMA busy_timeout=5000")
    if read_only:
        # A unit marked read-only that writes fails loudly instead of racing the writer.
        cursor.execute("PRAGMA query_only=ON")
    else:
        # The writer runs on the event loop: its COMMITs must not checkpoint (write and
        # sync the database file); the writer's checkpoint thread does (writer.py).
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()
    # SQLite's own lower() folds ASCII only; searches must fold "Алиса" too.
    dbapi_conn.create_function("lower", 1, _casefold, deterministic=True)
    # Take the driver's implicit transactions away so "begin" below decides.
    dbapi_conn.isolation_level = None


def _make_writer_engine(url: str) -> Engine:
    path = _sqlite_path(url)
    # One connection, used only by the writer's thread.
    engine = create_engine(
        f"sqlite:///{path}",
        poolclass=StaticPool,
        connect_args={"check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        _connection_setup(dbapi_conn, read_only=False)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # IMMEDIATE: the write lock is taken at once, never upgraded half-way.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _make_reader_engine(url: str) -> Engine:
    path = _sqlite_path(url)
    # Checked out by one reader job at a time, on whichever reader thread runs it. Never
    # waits for a connection (see reader.py): beyond the pool's size, more are opened.
    engine = create_engine(
        f"sqlite:///{path}",
        poolclass=QueuePool,
        pool_size=8,
        max_overflow=-1,
        connect_args={"check_same_thread": False, "timeout": 5},
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        _connection_setup(dbapi_conn, read_only=True)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A read transaction: one consistent snapshot of the WAL, no lock taken.
        conn.exec_driver_sql("BEGIN")

    return engine


def _make_engine(url: str, pool_size: int, max_overflow: int) -> AsyncEngine:
    if url.startswith("sqlite"):
        _sqlite_path(url)
        engine = create_async_engine(url, connect_args={"timeout": 5})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            _connection_setup(dbapi_conn, read_only=True)

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            # A read transaction: one consistent snapshot of the WAL, no lock taken.
            conn.exec_driver_sql("BEGIN")

        return engine
    return make_server_engine(url, pool_size, max_overflow)
