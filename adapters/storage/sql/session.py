"""What a SQL repository talks to: `execute` a statement, know the dialect, defer cache updates.

Implementations: `writer.WriteUnit` (SQLite writes, on the one writer connection), the
SQLite readers (`reader.py`) and `pooled.PooledUnit` (every unit on a server database).
Repositories never commit; the unit of work does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy.engine import Result

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
