"""Hot-path statements built and compiled once, executed with plain parameter tuples.

Building `insert(t).values(**row)` costs SQLAlchemy more than SQLite takes to run it (each
value is coerced into a bind parameter, then a cache key is computed): on the send path that
was most of the CPU. A `Prepared` statement is a Core statement with one bind parameter per
column, built once; the SQLite writer runs its compiled SQL on the DB-API connection with the
values passed through each column's own bind processor (so datetimes, JSON and booleans are
stored exactly as SQLAlchemy stores them). Elsewhere it runs as an ordinary Core statement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.engine import Dialect

PREFIX = "p_"  # a bind parameter may not share a column's name in VALUES or SET


class _Compiled:
    def __init__(self, statement: Any, dialect: Dialect, types: dict[str, Any]) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        names = compiled.positiontup or []
        self.steps: list[tuple[str, Callable[[Any], Any] | None]] = []
        for name in names:  # values come by column name: the name without the prefix
            type_ = types[name]
            process = type_.dialect_impl(dialect).bind_processor(dialect)
            self.steps.append((name.removeprefix(PREFIX), process))

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(
            process(values[name]) if process is not None else values[name]
            for name, process in self.steps
        )


class Prepared:
    """A statement whose parameters are named `p_<column>`; pass values by column name."""

    def __init__(self, build: Callable[[str], Any], columns: dict[str, Any]) -> None:
        self._build = build  # dialect name -> statement
        self._types = {PREFIX + name: type_ for name, type_ in columns.items()}
        self._statements: dict[str, Any] = {}
        self._compiled: dict[str, _Compiled] = {}

    def statement(self, dialect_name: str) -> Any:
        found = self._statements.get(dialect_name)
        if found is None:
            found = self._statements[dialect_name] = self._build(dialect_name)
        return found

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = _Compiled(self.statement(dialect.name), dialect, self._types)
            self._compiled[dialect.name] = found
        return found

    @staticmethod
    def bind(values: dict[str, Any]) -> dict[str, Any]:
        """The values as the Core statement's parameters."""
        return {PREFIX + name: value for name, value in values.items()}

    @classmethod
    def insert(cls, table: Table, columns: Iterable[str] | None = None) -> Prepared:
        names = list(columns) if columns is not None else [c.name for c in table.columns]
        statement = insert(table).values({n: bindparam(PREFIX + n) for n in names})
        return cls(lambda _dialect: statement, {n: table.c[n].type for n in names})

    @classmethod
    def update_by_id(cls, table: Table, columns: Iterable[str]) -> Prepared:
        names = list(columns)
        statement = (
            update(table)
            .where(table.c.id == bindparam(PREFIX + "id"))
            .values({n: bindparam(PREFIX + n) for n in names})
        )
        types = {n: table.c[n].type for n in names}
        types["id"] = table.c.id.type
        return cls(lambda _dialect: statement, types)
