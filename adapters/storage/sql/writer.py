"""The one SQLite writer of the process: units of work that write take turns on one
connection, each in its own SAVEPOINT, and are committed in groups.

Why: SQLite has one write lock. Transactions on several pooled connections queue for it in
SQLite's busy handler, which sleeps; under load that sleeping was most of a send's latency.
Here no in-process path ever waits on the busy handler:

- A write unit takes the writer's *turn* at its first statement and keeps it until it ends,
  so its reads see everything written before it, committed or not (read-your-writes).
- Its statements run on the writer's one connection inside `SAVEPOINT unit`; a unit that
  fails is rolled back to that savepoint, alone.
- They run on the event loop's own thread: a statement of the hot path takes SQLite some
  tens of microseconds, less than handing it to a thread and waking the loop back up cost
  (that hop was a third of a send's use case). The writer connection never checkpoints the
  WAL itself (`wal_autocheckpoint=0`), since a checkpoint writes and syncs the database
  file: a thread of its own does that with its own connection (`PASSIVE`, so it never
  blocks the writer), at most every `checkpoint_interval_s`. `run()` (migrations,
  start-up) also goes to that thread, holding the turn.
- Writes are buffered and sent with the unit's next read or its commit.
- Finished units are committed together (group commit): once no other unit waits for the
  turn, the COMMIT is queued behind the tasks that are ready to run (`call_soon`), so the
  units of one turn of the event loop share it; at once after `max_batch` units or
  `max_delay_s` after the first one. `commit()` returns only once that COMMIT is done: an
  answered request's writes are in the WAL, which with synchronous=NORMAL survives a crash
  of the process.

Read-only units do not come here: they use pooled connections (WAL readers never wait).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from adapters.storage.sql.prepared import Prepared
from adapters.storage.sql.session import AfterCommit, Parameters, Rows
from domain.ports import NoStorageTelemetry, StorageTelemetry

log = logging.getLogger(__name__)

T = TypeVar("T")

SAVEPOINT = "SAVEPOINT unit"
RELEASE = "RELEASE unit"
ROLLBACK_TO = "ROLLBACK TO unit"


class _Buffered:
    """What `execute` answers for a buffered write: it has no rows and no count yet."""

    @property
    def rowcount(self) -> int:
        raise RuntimeError("a buffered write has no rowcount; use RETURNING to read one back")


BUFFERED = _Buffered()


def _is_buffered(statement: Any) -> bool:
    """Plain INSERT/UPDATE/DELETE: nothing to read back, so it can wait for the next trip."""
    return bool(getattr(statement, "is_dml", False)) and not getattr(statement, "_returning", ())


class SqliteWriter:
    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int = 200,
        max_delay_s: float = 0.005,
        on_failed_commit: Callable[[], None] | None = None,
        checkpoint_interval_s: float = 1.0,
        telemetry: StorageTelemetry | None = None,
    ) -> None:
        self.engine = engine
        self.telemetry: StorageTelemetry = telemetry or NoStorageTelemetry()
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.on_failed_commit = on_failed_commit
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._conn: Connection | None = None  # only ever used on the writer thread
        self._turn = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None
        self._waiting = 0
        self._batch: asyncio.Future[None] | None = None
        self._batch_units = 0
        self._batch_started = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._commit_queued = False
        self.checkpoint_interval_s = checkpoint_interval_s
        self.checkpointer: Checkpointer | None = None
        # for tests and benches: how many units and how many COMMITs so far
        self.units_committed = 0
        self.commits = 0

    def unit(self) -> WriteUnit:
        return WriteUnit(self)

    # --- the connection -----------------------------------------------------------------

    def _call(self, fn: Callable[[Connection], T]) -> T:
        if self._conn is None:
            self._conn = self.engine.connect()
        return fn(self._conn)

    def submit(self, fn: Callable[[Connection], T]) -> asyncio.Future[T]:
        """Runs `fn(connection)` now, on the loop's thread; answers its (done) future."""
        if self._closed:
            raise RuntimeError("the SQLite writer is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        try:
            result = self._call(fn)
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Runs `fn(connection)` outside any unit (migrations, start-up) on the writer's
        thread, so a long one does not stall the loop; takes the turn meanwhile."""
        async with self._turn:
            self._commit_batch()
            loop = asyncio.get_running_loop()
            return await asyncio.shield(loop.run_in_executor(self._thread, self._call, fn))

    def _committed(self) -> None:
        """After each COMMIT: a checkpoint soon, on the thread (see the module docstring)."""
        if self.checkpointer is None:
            url = self.engine.url
            if not url.database or url.database == ":memory:":
                return
            self.checkpointer = Checkpointer(url.database, self._thread)
        self.checkpointer.due(self.checkpoint_interval_s)

    # --- the turn -----------------------------------------------------------------------

    async def acquire(self) -> None:
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            # It would wait for itself: a unit that writes opened inside another one.
            raise RuntimeError("a unit of work that writes was opened inside another one")
        self._waiting += 1
        try:
            await self._turn.acquire()
        finally:
            self._waiting -= 1
        self._holder = task

    def release(self, applied: bool) -> asyncio.Future[None] | None:
        """Gives the turn up. For a unit whose writes were applied, the future of the COMMIT
        that will hold them."""
        batch = None
        if applied:
            if self._batch is None:
                self._batch = asyncio.get_running_loop().create_future()
                self._batch_started = time.monotonic()
                self._timer = asyncio.get_running_loop().call_later(
                    self.max_delay_s, self._on_timer
                )
            self._batch_units += 1
            batch = self._batch
        self._holder = None
        if self._batch is not None:
            if (
                self._batch_units >= self.max_batch
                or time.monotonic() - self._batch_started >= self.max_delay_s
            ):
                self._commit_batch()
            elif self._waiting == 0 and not self._commit_queued:
                # Behind the tasks ready now: those that write join this batch.
                self._commit_queued = True
                asyncio.get_running_loop().call_soon(self._commit_if_free)
        self._turn.release()
        return batch

    def _commit_if_free(self) -> None:
        self._commit_queued = False
        # Never inside a unit: a holder commits when it releases.
        if self._holder is None and not self._turn.locked():
            self._commit_batch()

    def _on_timer(self) -> None:
        self._timer = None
        # A holder commits when it releases; with no holder (a waiter gave up), do it here.
        self._commit_if_free()

    def _commit_batch(self) -> None:
        """Queues the COMMIT of the finished units, between two units' statements."""
        batch, units = self._batch, self._batch_units
        if batch is None:
            return
        self._batch, self._batch_units = None, 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        started = time.perf_counter()
        job = self.submit(_commit)
        seconds = time.perf_counter() - started

        def done(job: asyncio.Future[None]) -> None:
            error = job.exception() if not job.cancelled() else asyncio.CancelledError()
            if error is None:
                self.commits += 1
                self.units_committed += units
                self.telemetry.write_batch(units, seconds)
                batch.set_result(None)
                self._committed()
                return
            log.error("group commit of %d unit(s) failed: %s", units, error)
            if self.on_failed_commit is not None:
                self.on_failed_commit()
            batch.set_exception(error)
            batch.exception()  # retrieved: every waiter may have gone

        job.add_done_callback(done)

    async def close(self) -> None:
        if self._closed:
            return
        async with self._turn:
            self._commit_batch()

            def close_connection(conn: Connection) -> None:
                conn.close()

            await self.submit(close_connection)
            self._closed = True
        if self.checkpointer is not None:
            self.checkpointer.close()
        self._thread.shutdown(wait=True)
        self.engine.dispose()


class Checkpointer:
    """Copies the WAL back into the database file on the writer's thread, with a connection
    of its own: `PASSIVE` never waits for (nor blocks) the writer or the readers."""

    def __init__(self, path: str, thread: ThreadPoolExecutor) -> None:
        self._path = path
        self._thread = thread
        self._conn: sqlite3.Connection | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._running = False
        self._closed = False
        # for tests: how many checkpoints ran, and the last one's (busy, log, checkpointed)
        self.runs = 0
        self.last: tuple[int, int, int] | None = None

    def due(self, after_s: float) -> None:
        if self._timer is None and not self._running and not self._closed:
            self._timer = asyncio.get_running_loop().call_later(after_s, self._start)

    def _start(self) -> None:
        self._timer = None
        if self._closed:
            return
        self._running = True
        job = asyncio.get_running_loop().run_in_executor(self._thread, self._checkpoint)
        job.add_done_callback(self._done)

    def _done(self, job: asyncio.Future[None]) -> None:
        self._running = False
        if not job.cancelled() and job.exception() is not None:
            log.warning("WAL checkpoint failed: %s", job.exception())

    def _checkpoint(self) -> None:
        if self._closed:
            return
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=5000")
        busy, frames, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.last = (busy, frames, copied)
        self.runs += 1

    def close(self) -> None:
        """Called before the thread is shut down (its last job finishes first)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

        def close_connection() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._thread.submit(close_connection)


def _commit(conn: Connection) -> None:
    try:
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def _apply(
    conn: Connection,
    open_savepoint: bool,
    writes: list[Any],
    query: Any | None,
    release: bool,
) -> Any:
    """One trip of a unit: its buffered writes, then a query or the end of its savepoint.

    On any error the unit's savepoint is rolled back and released: the unit is over, the
    other units of the transaction keep their writes."""
    driver = conn.connection.driver_connection
    try:
        if open_savepoint:
            if not conn.in_transaction():
                conn.begin()  # BEGIN IMMEDIATE (uow.py), SQLAlchemy's transaction
            driver.execute(SAVEPOINT)  # type: ignore[union-attr]
        for statement in writes:
            if isinstance(statement, tuple) and isinstance(statement[0], Prepared):
                _run_prepared(conn, *statement)
            elif isinstance(statement, tuple):
                conn.execute(*statement)
            else:
                conn.execute(statement)
        result: Any = None
        if query is not None and isinstance(query[0], Prepared):
            result = _run_prepared(conn, *query).fetchall()  # rows as tuples
        elif query is not None:
            result = conn.execute(*query).freeze()
        if release:
            driver.execute(RELEASE)  # type: ignore[union-attr]
        return result
    except BaseException:
        _undo(conn)
        raise


def _run_prepared(conn: Connection, prepared: Prepared, values: dict[str, Any]) -> sqlite3.Cursor:
    compiled = prepared.compiled(conn.dialect)
    parameters = compiled.parameters(values)
    # Straight on the DB-API connection (the transaction is SQLAlchemy's, begun already).
    try:
        return conn.connection.driver_connection.execute(compiled.sql, parameters)  # type: ignore[union-attr,no-any-return]
    except sqlite3.Error as exc:
        raise DBAPIError.instance(compiled.sql, parameters, exc, sqlite3.Error) from exc


def _undo(conn: Connection) -> None:
    try:
        conn.exec_driver_sql(ROLLBACK_TO)
        conn.exec_driver_sql(RELEASE)
    except Exception:  # the savepoint was never opened: nothing of this unit to undo
        log.debug("no savepoint to roll back", exc_info=True)


class WriteUnit:
    """A unit of work's session on the writer (see the module docstring).

    Like a session, it may go on after `commit()` (or after a failed statement, which
    rolls it back): its next statement waits for the turn again, in a new savepoint."""

    def __init__(self, writer: SqliteWriter) -> None:
        self._writer = writer
        self._pending: list[Any] = []
        self._hooks: list[AfterCommit] = []
        self._committed_hooks: list[AfterCommit] = []
        self._holding = False  # has the turn
        self._opened = False  # its SAVEPOINT was sent

    @property
    def bind(self) -> Engine:
        return self._writer.engine

    def after_commit(self, applied: AfterCommit, committed: AfterCommit | None = None) -> None:
        self._hooks.append(applied)
        if committed is not None:
            self._committed_hooks.append(committed)

    async def hold(self) -> None:
        await self._take_turn()

    async def write(self, prepared: Prepared, values: dict[str, Any]) -> None:
        await self._take_turn()
        self._pending.append((prepared, values))

    async def _take_turn(self) -> None:
        if not self._holding:
            await self._writer.acquire()
            self._holding = True

    def _trip(self, query: Any | None, release: bool) -> asyncio.Future[Any]:
        writes, self._pending = self._pending, []
        opening = not self._opened
        self._opened = True

        def job(conn: Connection) -> Any:
            return _apply(conn, opening, writes, query, release)

        return self._writer.submit(job)

    async def fetch(self, prepared: Prepared, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        await self._take_turn()
        return cast(list[tuple[Any, ...]], await self._query((prepared, values)))

    async def execute(self, statement: Any, parameters: Parameters = None) -> Rows:
        await self._take_turn()
        if _is_buffered(statement):
            self._pending.append(statement if parameters is None else (statement, parameters))
            return cast(Rows, BUFFERED)
        frozen = await self._query((statement, parameters))
        return cast(Rows, frozen())

    async def _query(self, query: tuple[Any, Any]) -> Any:
        try:
            result = await asyncio.shield(self._trip(query, release=False))
        except Exception:
            self._opened = False  # the failed trip already rolled the unit back
            self._give_up()
            raise
        except BaseException:  # cancelled: the trip still runs, undo after it
            self._give_up()
            raise
        return result

    async def commit(self) -> None:
        if not self._holding:
            return  # nothing was read or written since the last commit: nothing to commit
        # The turn now belongs to _finish, which runs shielded: once started, the unit ends
        # in a known state even if its caller is cancelled (a request that went away), and
        # gives the turn up exactly once.
        self._holding = False
        trip = self._trip(None, release=True)
        self._opened = False
        hooks, self._hooks = self._hooks, []
        committed, self._committed_hooks = self._committed_hooks, []
        await asyncio.shield(self._finish(trip, hooks, committed))

    async def _finish(
        self, trip: asyncio.Future[Any], hooks: list[AfterCommit], committed: list[AfterCommit]
    ) -> None:
        try:
            await trip
        except BaseException:
            self._writer.release(applied=False)
            raise
        for hook in hooks:  # caches see the unit before the next unit takes the turn
            hook()
        batch = self._writer.release(applied=True)
        assert batch is not None
        try:
            await asyncio.shield(batch)  # shared by the batch's units: never cancel it
        finally:  # a failed COMMIT clears the caches; these only end what `hooks` began
            for hook in committed:
                hook()

    async def rollback(self) -> None:
        """Undoes this unit's writes so far."""
        self._give_up()

    async def close(self) -> None:
        """End of the `async with`: without a commit, nothing of this unit remains."""
        self._give_up()

    def _give_up(self) -> None:
        self._pending.clear()
        self._hooks.clear()
        self._committed_hooks.clear()
        if not self._holding:
            return
        if self._opened:
            # Queued before the turn passes on, so it runs before the next unit's statements.
            self._writer.submit(_undo)
            self._opened = False
        self._holding = False
        self._writer.release(applied=False)
