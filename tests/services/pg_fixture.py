"""A fresh, empty PostgreSQL database per test on 127.0.0.1:5432 (trust auth, user postgres),
dropped afterwards: `pg_database()` hands out `postgresql://...` URLs."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import pytest

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"

NewDatabase = Callable[[], Awaitable[str]]


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=10)


@pytest.fixture
async def pg_database() -> AsyncIterator[NewDatabase]:
    made: list[str] = []

    async def make() -> str:
        name = f"wamux_t_{secrets.token_hex(6)}"
        conn = await _admin()
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        made.append(name)
        return f"{PG_SERVER}/{name}"

    yield make
    if made:
        conn = await _admin()
        try:
            for name in made:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture
def pg_database_url() -> Iterator[str]:
    """One fresh database for a test that is not async (the CLI's, which runs its own loop)."""
    name = f"wamux_t_{secrets.token_hex(6)}"

    async def run(statement: str) -> None:
        conn = await _admin()
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
