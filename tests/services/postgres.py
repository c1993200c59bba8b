"""The PostgreSQL test service: the server on 127.0.0.1, a fresh database per use.

`WAMUX_TEST_POSTGRES_URL` names the server's maintenance database (default: the local server,
trust auth, user `postgres`). Each `fresh_database()` is a new empty database
`wamux_t_<random hex>`; every database made in this process is dropped at its exit (best
effort: one left behind by a killed run is dropped by `drop_leftovers`, or by hand).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from adapters.storage.sql.uow import SqlStorage
from api.settings import postgres_url
from domain.ports import SecretBox

ADMIN_URL = os.environ.get(
    "WAMUX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PREFIX = "wamux_t_"

_made: list[str] = []
_checked = False


def _answers() -> bool:
    url = make_url(ADMIN_URL)
    if shutil.which("pg_isready") is None:
        return True  # nothing to ask with: the first connection will say
    found = subprocess.run(
        ["pg_isready", "-q", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)],
        check=False,
    )
    return found.returncode == 0


def ensure_server() -> None:
    """Starts the local cluster (as the Makefile does) when the server does not answer."""
    global _checked
    if _checked or _answers():
        _checked = True
        return
    versions = sorted(Path("/etc/postgresql").glob("*")) if Path("/etc/postgresql").is_dir() else []
    if versions and shutil.which("pg_ctlcluster"):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1].name, "main", "start"],
            check=False,
        )
    deadline = time.monotonic() + 30
    while not _answers():
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL does not answer at {ADMIN_URL} (see README: Tests)")
        time.sleep(0.2)
    _checked = True


def url_of(name: str) -> str:
    """The `postgresql://` URL (as POSTGRES_DATABASE_URL takes it) of database `name`."""
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


async def _connect(target: str) -> asyncpg.Connection:
    url = make_url(target)
    return await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
    )


async def _admin() -> asyncpg.Connection:
    return await _connect(ADMIN_URL)


async def dump(database_url: str) -> str:
    """Every row of every table of the database, as text (what `pg_dump` would show)."""
    conn = await _connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        lines: list[str] = []
        for table in tables:
            name = table["tablename"]
            rows = await conn.fetch(f'SELECT t::text AS row FROM "{name}" AS t')
            lines.extend(f"{name}: {r['row']}" for r in rows)
        return "\n".join(lines)
    finally:
        await conn.close()


async def fresh_database() -> str:
    """A new empty database; its URL."""
    ensure_server()
    name = PREFIX + secrets.token_hex(6)
    conn = await _admin()
    try:
        # template0: never connected to, so a copy never waits for another session to leave.
        await conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        await conn.close()
    _made.append(name)
    return url_of(name)


@asynccontextmanager
async def fresh_storage(box: SecretBox, **options: Any) -> AsyncIterator[SqlStorage]:
    """A migrated SqlStorage (of `options`) on a fresh database, dropped when done."""
    url = await fresh_database()
    storage = SqlStorage(postgres_url(url).render_as_string(hide_password=False), box, **options)
    try:
        await storage.migrate()
        yield storage
    finally:
        await storage.close()
        name = make_url(url).database or ""
        await drop_databases([name])
        if name in _made:
            _made.remove(name)


async def drop_databases(names: list[str]) -> None:
    conn = await _admin()
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def drop_leftovers() -> int:
    """Drops every `wamux_t_*` database of the server (runs left behind by a kill)."""
    conn = await _admin()
    try:
        pattern = PREFIX.replace("_", "\\_") + "%"
        rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", pattern)
    finally:
        await conn.close()
    await drop_databases([r["datname"] for r in rows])
    return len(rows)


@atexit.register
def _drop_made() -> None:
    if not _made:
        return
    names, _made[:] = list(_made), []
    try:
        asyncio.run(drop_databases(names))
    except Exception:  # best effort: the server may be gone already
        pass
