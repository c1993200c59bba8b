"""Every SQL table as plain JSON records (backups, provider switches), and the counts
/metrics shows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, insert, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.storage.sql.tables import (
    UTCDateTime,
    instances,
    metadata,
    webhook_deliveries,
)
from adapters.storage.sql.uow import SqlStorage
from domain.ports import StorageGauges

# The time columns of each table: the only values a record turns into text.
_TIMES = {
    t.name: [c.name for c in t.columns if isinstance(c.type, UTCDateTime)]
    for t in metadata.sorted_tables
}


def _to_json(table: Table, row: Any) -> dict[str, Any]:
    record = dict(row._mapping)
    for name in _TIMES[table.name]:
        value = record[name]
        if value is not None:
            record[name] = value.isoformat()
    return record


def _from_json(table: Table, record: dict[str, Any]) -> dict[str, Any]:
    values = {}
    for column in table.columns:
        if column.name not in record:
            continue  # a column the backup predates: its default applies
        value = record[column.name]
        if isinstance(column.type, UTCDateTime) and isinstance(value, str):
            value = datetime.fromisoformat(value)
        values[column.name] = value
    unknown = set(record) - {c.name for c in table.columns}
    if unknown:
        raise ValueError(f"{table.name} has no column {sorted(unknown)[0]!r}")
    return values


async def _advance_sequences(conn: AsyncConnection, table: Table) -> None:
    """Rows written with their own `seq` leave PostgreSQL's sequence behind: move it past
    them, or the next row the server writes would take a number already used."""
    for column in table.primary_key.columns:
        if column.autoincrement is True:
            await conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                    f"GREATEST((SELECT MAX({column.name}) FROM {table.name}), 1))"
                )
            )


def _known(kind: str) -> Table:
    table = metadata.tables.get(kind)
    if table is None:
        raise ValueError(f"unknown record kind {kind!r}")
    return table


# What removing an instance removes with it: every table with an instance_id, explicitly (as
# the instances repository does, not left to ON DELETE CASCADE), so every backend removes the
# same rows.
_OWNED_BY_INSTANCE = [
    t for t in reversed(metadata.sorted_tables) if "instance_id" in t.c and t is not instances
]


def _led_by_instance(table: Table, field: str) -> bool:
    """Whether an index orders the table by (instance_id, field)."""
    return any([c.name for c in ix.columns][:2] == ["instance_id", field] for ix in table.indexes)


def _upsert(dialect_name: str, table: Table) -> Any:
    module: Any = postgresql if dialect_name == "postgresql" else sqlite
    stmt = module.insert(table)
    keys = [c.name for c in table.primary_key.columns]
    rest = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    if not rest:
        return stmt.on_conflict_do_nothing(index_elements=keys)
    return stmt.on_conflict_do_update(index_elements=keys, set_=rest)


def _removals(kind: str, keys: Sequence[tuple[Any, ...]]) -> list[Any]:
    """The DELETE statements that remove `keys` of `kind` with what they own."""
    table = _known(kind)
    if kind == "users":
        ids = [k[0] for k in keys]
        owned = select(instances.c.id).where(instances.c.user_id.in_(ids))
        return [
            *(delete(t).where(t.c.instance_id.in_(owned)) for t in _OWNED_BY_INSTANCE),
            delete(instances).where(instances.c.user_id.in_(ids)),
            delete(table).where(table.c.id.in_(ids)),
        ]
    if kind == "instances":
        ids = [k[0] for k in keys]
        return [
            *(delete(t).where(t.c.instance_id.in_(ids)) for t in _OWNED_BY_INSTANCE),
            delete(table).where(table.c.id.in_(ids)),
        ]
    columns = list(table.primary_key.columns)
    if len(columns) == 1:
        return [delete(table).where(columns[0].in_([k[0] for k in keys]))]
    return [delete(table).where(tuple_(*columns).in_([tuple(k) for k in keys]))]


class SqlSnapshot:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def count(self, kind: str) -> int:
        table = metadata.tables[kind]
        return int((await self._conn.execute(select(func.count()).select_from(table))).scalar_one())

    async def records(self, kind: str, batch: int) -> AsyncIterator[list[dict[str, Any]]]:
        table = metadata.tables[kind]
        result = await self._conn.stream(select(table).order_by(*table.primary_key.columns))
        async for rows in result.partitions(batch):
            yield [_to_json(table, row) for row in rows]

    async def since(
        self, kind: str, field: str, value: Any, batch: int
    ) -> AsyncIterator[list[dict[str, Any]]]:
        table = _known(kind)
        query = select(table).where(table.c[field] >= value)
        if _led_by_instance(table, field):
            # Every row's instance exists: the condition changes nothing but lets the
            # (instance_id, field) index answer, instance by instance, instead of a scan.
            query = query.where(table.c.instance_id.in_(select(instances.c.id)))
        # In no order: ordering by key would have the planner walk the key's index instead.
        result = await self._conn.stream(query)
        async for rows in result.partitions(batch):
            yield [_to_json(table, row) for row in rows]


class SqlInventory:
    """The tables in foreign-key order. Writes on SQLite go through its one writer."""

    def __init__(self, storage: SqlStorage) -> None:
        self._storage = storage

    def kinds(self) -> list[str]:
        return [t.name for t in metadata.sorted_tables]

    def schema_version(self) -> str:
        from alembic.script import ScriptDirectory

        from migrations import alembic_config

        return str(ScriptDirectory.from_config(alembic_config()).get_current_head())

    async def stored_version(self) -> str | None:
        """The schema revision the database is at (None: never migrated)."""
        async with self._storage.engine.connect() as conn:

            def read(sync: Connection) -> str | None:
                from alembic.runtime.migration import MigrationContext

                return MigrationContext.configure(sync).get_current_revision()

            return await conn.run_sync(read)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[SqlSnapshot]:
        async with self._storage.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # One view of every table (READ COMMITTED would give each statement its
                # own): a switch copies while writes go on, parents before children.
                await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                yield SqlSnapshot(conn)

    def key(self, kind: str) -> tuple[str, ...]:
        return tuple(c.name for c in _known(kind).primary_key.columns)

    async def write(self, kind: str, records: Sequence[dict[str, Any]]) -> None:
        table = _known(kind)
        rows = [_from_json(table, r) for r in records]
        if not rows:
            return
        writer = self._storage.writer
        if writer is None:
            async with self._storage.engine.begin() as conn:
                await conn.execute(insert(table), rows)
                if conn.dialect.name == "postgresql":
                    await _advance_sequences(conn, table)
            return

        def insert_rows(conn: Connection) -> None:
            try:
                conn.execute(insert(table), rows)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

        await writer.run(insert_rows)

    async def upsert(self, kind: str, records: Sequence[dict[str, Any]]) -> None:
        table = _known(kind)
        rows = [_from_json(table, r) for r in records]
        if rows:
            await self._run(lambda name: [(_upsert(name, table), rows)], table)

    async def delete(self, kind: str, keys: Sequence[tuple[Any, ...]]) -> None:
        if keys:
            await self._run(lambda _name: [(s, None) for s in _removals(kind, keys)], None)

    async def _run(
        self, statements: Callable[[str], list[tuple[Any, Any]]], sequenced: Table | None
    ) -> None:
        """Statements (built for the dialect) in one transaction, on SQLite by its writer."""
        writer = self._storage.writer
        if writer is None:
            async with self._storage.engine.begin() as conn:
                for statement, rows in statements(conn.dialect.name):
                    await conn.execute(statement, rows)
                if sequenced is not None and conn.dialect.name == "postgresql":
                    await _advance_sequences(conn, sequenced)
            return

        def run(conn: Connection) -> None:
            try:
                for statement, rows in statements(conn.dialect.name):
                    conn.execute(statement, rows)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

        await writer.run(run)

    async def gauges(self) -> StorageGauges:
        async with self._storage.engine.connect() as conn:
            by_state = await conn.execute(
                select(instances.c.engine, instances.c.status, func.count()).group_by(
                    instances.c.engine, instances.c.status
                )
            )
            counts = {(str(e), str(s)): int(n) for e, s, n in by_state}
            queue = await conn.execute(
                select(func.count())
                .select_from(webhook_deliveries)
                .where(webhook_deliveries.c.status == "pending")
            )
            return StorageGauges(counts, int(queue.scalar_one()))
