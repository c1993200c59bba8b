"""The Alembic migrations on PostgreSQL: an empty database ends at exactly the tables, types
and indexes (partial ones included) of `adapters/storage/sql/tables.py`, every time."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from adapters.security import FernetBox
from adapters.storage.sql.inventory import SqlInventory
from adapters.storage.sql.tables import metadata
from adapters.storage.sql.uow import SqlStorage
from api.settings import postgres_url
from tests.services import postgres


def _differences(sync: Connection) -> list[Any]:
    context = MigrationContext.configure(sync, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_build_the_models_schema_and_run_again_as_a_no_op() -> None:
    url = await postgres.fresh_database()
    storage = SqlStorage(postgres_url(url).render_as_string(hide_password=False), FernetBox("m"))
    try:
        # Two servers starting at once on one empty database: one migrates, the other waits.
        await asyncio.gather(storage.migrate(), storage.migrate())
        await storage.migrate()
        inventory = SqlInventory(storage)
        assert await inventory.stored_version() == inventory.schema_version()
        async with storage.engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
    finally:
        await storage.close()

    conn = await asyncpg.connect(url)
    try:
        partial = await conn.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_messages_unread'"
        )
        defaults = dict(
            await conn.fetch(
                "SELECT table_name || '.' || column_name, column_default "
                "FROM information_schema.columns WHERE table_schema = 'public' "
                "AND column_default IS NOT NULL AND column_default NOT LIKE 'nextval%'"
            )
        )
    finally:
        await conn.close()
    assert "WHERE ((NOT from_me) AND" in partial
    assert defaults == {
        "chat_summaries.marked_unread": "false",
        "users.token_version": "0",
        "instances.limits": "'{}'::json",
    }
