"""Hot-path statements built and compiled once, executed with plain parameter tuples.

Building `insert(t).values(**row)` costs SQLAlchemy more than SQLite takes to run it (each
value is coerced into a bind parameter, then a cache key is computed): on the send path that
was most of the CPU. A `Prepared` statement is a Core statement with one bind parameter per
column, built once; the SQLite writer runs its compiled SQL on the DB-API connection with the
values passed through each column's own bind processor (so datetimes, JSON and booleans are
stored exactly as SQLAlchemy stores them). Elsewhere it runs as an ordinary Core statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Boolean,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError

from adapters.storage.sql.tables import UTCDateTime
from domain.times import StoredMoment

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


# A list of strings bound as one parameter: a JSON array on SQLite, an array on PostgreSQL.
TEXT_LIST = JSON().with_variant(ARRAY(String()), "postgresql")


def one_of(column: Any, name: str, dialect: str) -> Any:
    """`column` is one of the strings of the list bound as `name` (a TEXT_LIST): one
    compiled statement serves any number of them (an expanding IN could not be prepared)."""
    if dialect == "sqlite":
        values: Any = select(literal_column("value")).select_from(func.json_each(bindparam(name)))
        return column.in_(values)
    return column == func.any(bindparam(name, type_=ARRAY(String())))


def fetch_on_driver(conn: Connection, prepared: Prepared, values: dict[str, Any]) -> list[Any]:
    """A prepared SELECT straight on the DB-API connection of a SQLite `conn`: the rows as
    the driver gives them, with no result processing (see `moment`, `flag`, `json_value`)."""
    compiled = prepared.compiled(conn.dialect)
    parameters = compiled.parameters(values)
    try:
        return conn.connection.driver_connection.execute(compiled.sql, parameters).fetchall()  # type: ignore[union-attr]
    except sqlite3.Error as exc:
        raise DBAPIError.instance(compiled.sql, parameters, exc, sqlite3.Error) from exc


# Raw values of `fetch` rows. On SQLite a row holds what the driver stores (text timestamps of
# naive UTC, 0/1 booleans, JSON text); through SQLAlchemy (a server database) they come
# processed already. These take either.


def moment(value: Any) -> datetime | None:
    """A UTCDateTime column's value as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):  # naive UTC: parsed with its zone, a seventh of a replace()
        return datetime.fromisoformat(value + "+00:00")
    return value if value.tzinfo is UTC else value.replace(tzinfo=UTC)  # type: ignore[no-any-return]


def shown_moment(value: Any) -> datetime | None:
    """`moment`, for a value every answer shows: it keeps the API's text (a StoredMoment),
    taken from SQLite's stored text or formatted once from PostgreSQL's naive datetime."""
    if isinstance(value, str):
        return StoredMoment.from_stored(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return StoredMoment.from_naive(value)
    return moment(value)


def flag(value: Any) -> bool:
    return bool(value)


def json_value(value: Any) -> Any:
    """A JSON column's value (SQLite keeps the text)."""
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def raw_columns(table: Table) -> Callable[[Any], dict[str, Any]]:
    """Raw row (the table's columns first, in order) -> {column: value}, each value as
    SQLAlchemy would answer it; only the columns that need it are converted."""
    names = tuple(c.name for c in table.columns)
    steps: list[tuple[str, Callable[[Any], Any]]] = []
    for column in table.columns:
        if isinstance(column.type, UTCDateTime):
            steps.append((column.name, moment))
        elif isinstance(column.type, Boolean):
            steps.append((column.name, flag))
        elif isinstance(column.type, JSON):
            steps.append((column.name, json_value))

    def values(row: Any) -> dict[str, Any]:
        found = dict(zip(names, row, strict=False))
        for name, convert in steps:
            found[name] = convert(found[name])
        return found

    return values
