"""What a SQL repository talks to: `execute` a statement, know the dialect, defer cache updates.

Two implementations: `PooledSession` (an AsyncSession on a pooled connection: SQLite reads,
and every unit on a server database) and `writer.WriteUnit` (SQLite writes, on the one
writer connection). Repositories never commit; the unit of work does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.storage.sql.prepared import Prepared

AfterCommit = Callable[[], None]
# What `execute` answers: rows of any width (`Result[Any]` would type them as 1-tuples).
Rows = Result[*tuple[Any, ...]]
# One row of bound values, or several for an executemany.
Parameters = dict[str, Any] | Sequence[dict[str, Any]] | None


class SqlSession(Protocol):
    @property
    def bind(self) -> Any:
        """Something with a `.dialect` (the engine)."""
        ...

    async def execute(self, statement: Any, parameters: Parameters = None) -> Rows: ...

    async def write(self, prepared: Prepared, values: dict[str, Any]) -> None:
        """Runs a prepared INSERT/UPDATE/DELETE with `values` by column name."""
        ...

    async def fetch(self, prepared: Prepared, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Runs a prepared statement that answers rows (`RETURNING`); the rows as tuples."""
        ...

    async def hold(self) -> None:
        """Before answering a read from a cache in a unit that writes: what the unit
        reads and then writes must not change in between (the SQLite writer's turn)."""
        ...

    def after_commit(self, applied: AfterCommit, committed: AfterCommit | None = None) -> None:
        """Runs `applied` once this unit's writes are applied (visible to the units after
        it), then `committed` once they are committed; neither if the unit rolls back."""
        ...


class PooledSession:
    """An AsyncSession, with the after-commit hooks the repositories' caches use.

    The session is made at the first statement: a unit answered from the caches alone (most
    reads of an instance) never builds one, which cost more than the rest of such a unit."""

    def __init__(self, make: Callable[[], AsyncSession], bind: Any) -> None:
        self._make = make
        self._session: AsyncSession | None = None
        self._bind = bind
        self._hooks: list[AfterCommit] = []

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._make()
        return self._session

    @property
    def opened(self) -> bool:
        return self._session is not None

    @property
    def bind(self) -> Any:
        return self._bind

    async def execute(self, statement: Any, parameters: Parameters = None) -> Rows:
        return await self.session.execute(statement, parameters)

    async def write(self, prepared: Prepared, values: dict[str, Any]) -> None:
        bind = self._bind
        statement = prepared.statement(bind.dialect.name if bind is not None else "")
        await self.session.execute(statement, prepared.bind(values))

    async def fetch(self, prepared: Prepared, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        bind = self.session.bind
        statement = prepared.statement(bind.dialect.name if bind is not None else "")
        rows = await self.session.execute(statement, prepared.bind(values))
        return [tuple(row) for row in rows]

    async def hold(self) -> None:
        return None  # only the caches of the SQLite writer's process answer reads

    def after_commit(self, applied: AfterCommit, committed: AfterCommit | None = None) -> None:
        self._hooks.append(applied)
        if committed is not None:
            self._hooks.append(committed)

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.commit()
        hooks, self._hooks = self._hooks, []
        for hook in hooks:
            hook()

    async def rollback(self) -> None:
        self._hooks.clear()
        if self._session is not None:
            await self._session.rollback()
