"""Read-only units of work on SQLite: reader threads, and short prepared reads on the loop.

Through aiosqlite and an AsyncSession, one SELECT is five trips to the connection's thread
(cursor, execute, fetch, close, and BEGIN or ROLLBACK around the unit) plus greenlet
switches: on the read routes that was most of a request's CPU. Here a unit checks a pooled
connection out at its first statement, and each statement runs with its fetch in one job on
a small pool of threads (SQLite releases the GIL while it works). The unit's end (ROLLBACK
of its read transaction, connection back to the pool) is queued without waiting for it.

Prepared statements (`fetch`: the history page, the conversation page, its contacts, the
stats days) first run on the event loop's own thread, under a budget of SQLite VM steps
(a progress handler): a page takes SQLite 0.1-0.2 ms, less than a thread trip costs once
four requests share the process (each trip wakes a thread and the loop, and the threads
contend for the GIL: that was 40-50 % of these reads' CPU). A statement past its budget (a
page far down a long history, 1000-row pages) is interrupted and run again on a reader
thread, in the same read transaction, so the loop is never held for more than the budget.
What the budget does not bound is disk: a page of the file not yet in the OS cache is read
while the loop waits (the first reads after a start).

A connection is only ever used by one job at a time: a unit's statements are awaited one
after another, its release waits for its last job (which may still run if the caller was
cancelled), and a statement runs on the loop only when no job of its unit is pending. The
pool never makes a thread wait for a connection (unbounded overflow): a thread blocked on
the pool could be the one the holder of a connection needs next.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from adapters.storage.sql.prepared import Prepared, fetch_on_driver
from adapters.storage.sql.session import AfterCommit, Parameters, Rows

# SQLite calls the progress handler every INLINE_STEP VM steps; a statement on the loop is
# interrupted at its INLINE_CHECKS-th call (40,000 steps: about 1 ms; a 50-row history
# page takes ~1,700, a 50-chat page ~4,700).
INLINE_STEP = 1000
INLINE_CHECKS = 40


class _OverBudget(Exception):
    pass


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

    def _idle(self) -> bool:
        """No job of this unit is queued or running: its connection is free to use here."""
        return self._last is None or self._last.done()

    def _fetch(self, prepared: Prepared, values: dict[str, Any]) -> list[Any]:
        if self._conn is None:
            self._conn = self._reader.engine.connect()
        if not self._conn.in_transaction():
            self._conn.begin()  # the read transaction (BEGIN, deferred: no lock is taken)
        return fetch_on_driver(self._conn, prepared, values)

    def _fetch_within_budget(self, prepared: Prepared, values: dict[str, Any]) -> list[Any]:
        """`_fetch` on the calling thread; _OverBudget once SQLite passes the budget (the
        statement is abandoned, the read transaction and its snapshot stay)."""
        checks = 0

        def over_budget() -> int:
            nonlocal checks
            checks += 1
            return checks > INLINE_CHECKS  # true: SQLite interrupts the statement

        if self._conn is None:
            self._conn = self._reader.engine.connect()
        driver: Any = self._conn.connection.driver_connection
        driver.set_progress_handler(over_budget, INLINE_STEP)
        try:
            return self._fetch(prepared, values)
        except DBAPIError as exc:
            if checks > INLINE_CHECKS:
                raise _OverBudget from exc
            raise
        finally:
            driver.set_progress_handler(None, 0)

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
        connection is `query_only`, so a write fails loudly). Run on the DB-API connection:
        the rows come as the driver gives them, as from the writer's `fetch`."""
        self._open = True
        if self._idle():
            try:
                return self._fetch_within_budget(prepared, values)
            except _OverBudget:
                pass  # a long read: on a reader thread, where the loop does not wait for it
        return await asyncio.wrap_future(self._submit(self._fetch, prepared, values))

    async def hold(self) -> None:
        return None  # only the writer's units answer reads from the caches under its turn

    def after_commit(self, applied: AfterCommit, committed: AfterCommit | None = None) -> None:
        raise RuntimeError("a read-only unit of work has nothing to commit")

    def _release(self) -> None:
        if self._open:
            self._open = False
            if self._idle():
                self._close()  # a ROLLBACK of a read: microseconds, less than a thread trip
                return
            self._submit(self._close)  # not awaited: nobody needs to wait for a ROLLBACK

    async def commit(self) -> None:
        self._release()  # nothing was written: ending the read transaction is all there is

    async def rollback(self) -> None:
        self._release()

    async def close(self) -> None:
        self._release()
