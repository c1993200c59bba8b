"""Read-only units of work on SQLite: each statement is one trip to a reader thread.

Through aiosqlite and an AsyncSession, one SELECT is five trips to the connection's thread
(cursor, execute, fetch, close, and BEGIN or ROLLBACK around the unit) plus greenlet
switches: on the read routes that was most of a request's CPU. Here a unit checks a pooled
connection out at its first statement, and each statement runs with its fetch in one job on
a small pool of threads (SQLite releases the GIL while it works). The unit's end (ROLLBACK
of its read transaction, connection back to the pool) is queued without waiting for it.

A connection is only ever used by one job at a time: a unit's statements are awaited one
after another, and its release waits for its last job (which may still run if the caller was
cancelled). The pool never makes a thread wait for a connection (unbounded overflow): a
thread blocked on the pool could be the one the holder of a connection needs next.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from sqlalchemy.engine import Connection, Engine

from adapters.storage.sql.prepared import Prepared
from adapters.storage.sql.session import AfterCommit, Parameters, Rows


class SqliteReader:
    def __init__(self, engine: Engine, *, threads: int = 4) -> None:
        self.engine = engine
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sqlite-reader")

    def unit(self) -> ReadUnit:
        return ReadUnit(self)

    def submit(self, fn: Any, *args: Any) -> concurrent.futures.Future[Any]:
        # In the caller's context, as asyncio's to_thread does: what is logged or observed
        # while the statement runs belongs to the request that asked for it.
        return self._threads.submit(contextvars.copy_context().run, fn, *args)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._threads.shutdown, True)
        self.engine.dispose()


class ReadUnit:
    """A read-only unit's session (the SqlSession the repositories talk to)."""

    def __init__(self, reader: SqliteReader) -> None:
        self._reader = reader
        self._conn: Connection | None = None  # only touched by this unit's jobs, in order
        self._last: concurrent.futures.Future[Any] | None = None
        self._open = False

    @property
    def bind(self) -> Engine:
        return self._reader.engine

    def _submit(self, fn: Any, *args: Any) -> concurrent.futures.Future[Any]:
        """Queues `fn(*args)` to run once this unit's previous job is over. The previous job
        was queued first, so it is running or done by then: waiting for it cannot deadlock."""
        previous = self._last

        def job() -> Any:
            if previous is not None and not previous.done():
                concurrent.futures.wait([previous])
            return fn(*args)

        self._last = self._reader.submit(job)  # in the caller's context (see submit)
        return self._last

    def _run(self, statement: Any, parameters: Parameters) -> Any:
        if self._conn is None:
            self._conn = self._reader.engine.connect()  # BEGIN comes with the first statement
        if parameters is None:
            return self._conn.execute(statement).freeze()
        return self._conn.execute(statement, parameters).freeze()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()  # rolls the read transaction back; the connection goes back

    async def execute(self, statement: Any, parameters: Parameters = None) -> Rows:
        self._open = True
        frozen = await asyncio.wrap_future(self._submit(self._run, statement, parameters))
        return cast(Rows, frozen())

    async def write(self, prepared: Prepared, values: dict[str, Any]) -> None:
        raise RuntimeError("a read-only unit of work cannot write")

    async def fetch(self, prepared: Prepared, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        """A prepared statement that answers rows: on a read-only unit, a SELECT (the
        connection is `query_only`, so a write fails loudly)."""
        rows = await self.execute(prepared.statement("sqlite"), prepared.bind(values))
        return [tuple(row) for row in rows]

    async def hold(self) -> None:
        return None  # only the writer's units answer reads from the caches under its turn

    def after_commit(self, applied: AfterCommit, committed: AfterCommit | None = None) -> None:
        raise RuntimeError("a read-only unit of work has nothing to commit")

    def _release(self) -> None:
        if self._open:
            self._open = False
            self._submit(self._close)  # not awaited: nobody needs to wait for a ROLLBACK

    async def commit(self) -> None:
        self._release()  # nothing was written: ending the read transaction is all there is

    async def rollback(self) -> None:
        self._release()

    async def close(self) -> None:
        self._release()
