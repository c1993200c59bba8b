"""The SQL unit of work and the engine set-up (SQLite pragmas, migrations on start)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from adapters.security.files import private_database
from adapters.storage.sql.activity import SqlActivity
from adapters.storage.sql.contacts import SqlContacts
from adapters.storage.sql.events import SqlEvents
from adapters.storage.sql.instances import SqlInstances
from adapters.storage.sql.media import SqlMedia
from adapters.storage.sql.messages import SqlMessages
from adapters.storage.sql.usage import SqlUsage
from adapters.storage.sql.users import SqlUsers
from adapters.storage.sql.webhooks import SqlWebhooks
from domain.ports import (
    ActivityRepository,
    ContactRepository,
    EventRepository,
    InstanceRepository,
    MediaRepository,
    MessageRepository,
    SecretBox,
    UsageRepository,
    UserRepository,
    WebhookRepository,
)

log = logging.getLogger(__name__)


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

    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box

    async def __aenter__(self) -> SqlUnitOfWork:
        self._session = self._sessions()
        self.users = SqlUsers(self._session)
        self.instances = SqlInstances(self._session, self._box)
        self.activity = SqlActivity(self._session)
        self.events = SqlEvents(self._session)
        self.messages = SqlMessages(self._session)
        self.contacts = SqlContacts(self._session)
        self.media = SqlMedia(self._session)
        self.webhooks = SqlWebhooks(self._session)
        self.usage = SqlUsage(self._session)
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._session.in_transaction():  # nothing to undo after commit()
                await self._session.rollback()
        finally:
            await self._session.close()

    async def commit(self) -> None:
        await self._session.commit()

    async def rollback(self) -> None:
        await self._session.rollback()


class SqlStorage:
    """Owns the engine; hands out units of work.

    `box` seals what must not be readable from the database file alone (webhook secrets
    and headers); migrations use it to seal rows written before that."""

    def __init__(self, url: str, box: SecretBox) -> None:
        self.url = url
        self._box = box
        self.engine: AsyncEngine = _make_engine(url)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions, self._box)

    async def migrate(self) -> None:
        from migrations import upgrade_connection

        async with self.engine.begin() as conn:
            await conn.run_sync(upgrade_connection, self._box)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def _casefold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value


def _make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            private_database(Path(db_path))
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            # WAL lets readers run beside the writer; busy_timeout waits instead of failing.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            # SQLite's own lower() folds ASCII only; searches must fold "Алиса" too.
            dbapi_conn.create_function("lower", 1, _casefold, deterministic=True)
            # Take the driver's implicit transactions away so "begin" below decides.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front: two transactions that read then
            # write would otherwise deadlock and fail with "database is locked".
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_async_engine(url, pool_pre_ping=True)
