"""The benches on PostgreSQL (`--provider postgresql`): a database of their own, seeded fast.

The server under test gets `DATABASE_PROVIDER=postgresql` and a fresh `wamux_t_<hex>` database
of the server `--postgres-url` names (default: the local one the tests use,
tests/services/postgres.py), dropped when the bench ends unless it is kept.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from api.settings import postgres_url  # noqa: E402
from tests.services import postgres as service  # noqa: E402

ADMIN_URL = service.ADMIN_URL


def create(admin_url: str = ADMIN_URL) -> str:
    """A fresh empty database on the server of `admin_url`; its postgresql:// URL."""
    service.ADMIN_URL = admin_url
    url = asyncio.run(service.fresh_database())
    service._made.remove(url.rsplit("/", 1)[1])  # dropped by `drop`, or kept on purpose
    return url


def drop(url: str) -> None:
    asyncio.run(service.drop_databases([url.rsplit("/", 1)[1]]))


def server_env(url: str) -> dict[str, str]:
    return {"DATABASE_PROVIDER": "postgresql", "POSTGRES_DATABASE_URL": url}


def sqlalchemy_url(url: str) -> str:
    return postgres_url(url).render_as_string(hide_password=False)


def size_mb(url: str) -> int:
    async def size() -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
        finally:
            await conn.close()

    return round(asyncio.run(size()) / 2**20)


def seed(
    url: str, instance_id: str, rows: Any, contacts: Any, backfill: str, *, vacuum: bool = True
) -> None:
    """`rows`: message tuples as bench/reads.py builds them for SQLite (text moments, 0/1
    flags); copied in with COPY, then the chat summaries, usage counters and contacts the
    server keeps beside them, then ANALYZE (as autovacuum would do a while later)."""

    def typed(row: tuple[Any, ...]) -> tuple[Any, ...]:
        *head, from_me, kind, content, message_id, status, has_media, meta, c, u, s = row
        return (
            *head,
            bool(from_me),
            kind,
            content,
            message_id,
            status,
            bool(has_media),
            meta,
            *(datetime.fromisoformat(x) for x in (c, u, s)),
        )

    def contact(row: tuple[Any, ...]) -> tuple[Any, ...]:
        *head, created, updated = row
        return (*head, False, *(datetime.fromisoformat(x) for x in (created, updated)))

    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "messages",
                    records=(typed(r) for r in rows),
                    columns=[
                        "id", "instance_id", "remote_jid", "from_me", "message_type", "content",
                        "message_id", "status", "has_media", "metadata", "created_at",
                        "updated_at", "status_updated_at",
                    ],
                )  # fmt: skip
                await conn.execute(backfill)
                await conn.execute(
                    "INSERT INTO usage_daily (instance_id, day, messages_sent, messages_received,"
                    " media_sent, media_received, media_bytes, api_calls, webhook_sent)"
                    " SELECT instance_id, to_char(created_at, 'YYYY-MM-DD'),"
                    " SUM(from_me::int), SUM(1 - from_me::int), 0, 0, 0, 0, 0"
                    " FROM messages WHERE instance_id = $1 GROUP BY 1, 2",
                    instance_id,
                )
                await conn.copy_records_to_table(
                    "contacts",
                    records=(contact(c) for c in contacts),
                    columns=[
                        "id", "instance_id", "number", "remote_jid", "name", "is_group",
                        "created_at", "updated_at",
                    ],
                )  # fmt: skip
            if vacuum:
                await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()

    asyncio.run(run())
