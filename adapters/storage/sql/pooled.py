"""Units of work on a server database (PostgreSQL): pooled connections, and their engines.

Every unit that may write is a transaction on a connection of the write pool, begun at its
first statement. A read-only unit runs on a pool of its own whose connections are in
autocommit and marked `default_transaction_read_only` (so a write there fails loudly, as on
SQLite's `query_only` readers): no `BEGIN` and no `ROLLBACK` around it, two round trips
fewer per unit. It sees what it saw before: at PostgreSQL's READ COMMITTED every statement
takes its own snapshot, inside a transaction or not.

Prepared statements (`fetch` and `write`: the history page, the conversation page, the
stats days, an instance; a message, its chat summary, its event, its outbox row) run straight
on the asyncpg connection, with asyncpg's own statement cache: SQLAlchemy's execution and
result machinery around each cost more CPU than PostgreSQL took to answer. In a unit that
writes, only once its transaction is open: SQLAlchemy begins it with the unit's first
statement through it, and commits or rolls back everything that ran inside. The rows come
as asyncpg gives them (naive UTC datetimes, JSON decoded by the engine's codec); the
repositories convert them with the same helpers as SQLite's raw rows (`prepared.moment`,
`json_value`, ...).

A connection is checked before use without a round trip: asyncpg knows at once when the
server closed it (a restart, `pg_terminate_backend`), and such a connection is replaced. Only
one idle for longer than `PING_IDLE_S` (a firewall may have dropped it silently) is pinged
first; SQLAlchemy's `pool_pre_ping` did that on every checkout, three round trips each.
"""

from __future__ import annotations

import json
import time
from typing import Any

import asyncpg
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from adapters.storage.sql.prepared import Prepared
from adapters.storage.sql.session import AfterCommit, Parameters, Rows

# A pooled connection idle longer than this is pinged before it is handed out.
PING_IDLE_S = 10.0
_CHECKED_IN = "wamux_checked_in"


def _json_loads(text: str) -> Any:
    """json.loads, with the value most JSON columns hold (a message's metadata) at no cost."""
    return {} if text == "{}" else json.loads(text)


def make_server_engine(
    url: str, pool_size: int, max_overflow: int, *, read_only: bool = False
) -> AsyncEngine:
    """A pool of the server database: every unit waits for a connection at most
    `pool_timeout` seconds when all are in use."""
    options: dict[str, Any] = {}
    if read_only:
        options["isolation_level"] = "AUTOCOMMIT"
        options["connect_args"] = {"server_settings": {"default_transaction_read_only": "on"}}
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=30,
        json_deserializer=_json_loads,
        **options,
    )
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checking_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if dbapi_conn.driver_connection.is_closed():
            raise exc.DisconnectionError("the server closed the connection")
        idle_since = record.info.get(_CHECKED_IN)
        if idle_since is not None and time.monotonic() - idle_since > PING_IDLE_S:
            try:
                dbapi_conn.ping()  # runs in the pool's greenlet, as pool_pre_ping does
            except Exception as error:
                raise exc.DisconnectionError("the idle connection did not answer") from error

    return engine


def _driver(conn: AsyncConnection) -> Any:
    return conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]


async def on_asyncpg(
    conn: AsyncConnection, prepared: Prepared, values: dict[str, Any], *, rows: bool = True
) -> list[Any]:
    """A prepared statement straight on the asyncpg connection under `conn`: its records
    (indexable like tuples; none when not `rows`), with no result processing. Errors come
    as SQLAlchemy's."""
    compiled = prepared.compiled(conn.dialect)
    parameters = compiled.parameters(values)
    driver = _driver(conn)
    try:
        if rows:
            return await driver.fetch(compiled.sql, *parameters)  # type: ignore[no-any-return]
        await driver.execute(compiled.sql, *parameters)
        return []
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise exc.DBAPIError.instance(
            compiled.sql, parameters, error, asyncpg.PostgresError
        ) from error


class PooledUnit:
    """A unit on a pooled AsyncConnection, checked out at its first statement (no ORM
    Session: the repositories run Core statements only, and the Session's bookkeeping cost
    more CPU than PostgreSQL's answer). On the write pool the connection's transaction begins
    there too; on the read pool (`read_only`) there is none."""

    def __init__(self, engine: AsyncEngine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._conn: AsyncConnection | None = None
        self._hooks: list[AfterCommit] = []

    @property
    def bind(self) -> Any:
        return self._engine

    async def _connection(self) -> AsyncConnection:
        conn = self._conn
        if conn is None:
            conn = self._conn = await self._engine.connect()
        return conn

    async def execute(self, statement: Any, parameters: Parameters = None) -> Rows:
        conn = await self._connection()
        return await conn.execute(statement, parameters)  # type: ignore[no-any-return]

    def _on_driver(self, conn: AsyncConnection) -> bool:
        """Whether a prepared statement may skip SQLAlchemy: always in a read-only unit; in
        a unit that writes once its transaction is open (SQLAlchemy begins it with the unit's
        first statement through it, and commits or rolls back what ran inside)."""
        return self._read_only or bool(_driver(conn).is_in_transaction())

    async def write(self, prepared: Prepared, values: dict[str, Any]) -> None:
        conn = await self._connection()
        if self._on_driver(conn):
            await on_asyncpg(conn, prepared, values, rows=False)
            return
        await conn.execute(prepared.statement(self._engine.dialect.name), prepared.bind(values))

    async def fetch(self, prepared: Prepared, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        conn = await self._connection()
        if self._on_driver(conn):
            return await on_asyncpg(conn, prepared, values)
        statement = prepared.statement(self._engine.dialect.name)
        rows = await conn.execute(statement, prepared.bind(values))
        return [tuple(row) for row in rows]

    async def hold(self) -> None:
        return None  # no cache answers reads on a server database

    def after_commit(self, applied: AfterCommit, committed: AfterCommit | None = None) -> None:
        self._hooks.append(applied)
        if committed is not None:
            self._hooks.append(committed)

    async def commit(self) -> None:
        if self._conn is not None and not self._read_only:
            await self._conn.commit()
        hooks, self._hooks = self._hooks, []
        for hook in hooks:
            hook()

    async def rollback(self) -> None:
        self._hooks.clear()
        if self._conn is not None and not self._read_only:
            await self._conn.rollback()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction() and not self._read_only:  # nothing to undo after commit()
                await conn.rollback()
        finally:
            await conn.close()
