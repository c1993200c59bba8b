"""DATABASE_PROVIDER=postgresql as an operator meets it: refused when misconfigured, `db
status` and `/readyz` on it, and a SQLite backup imported into it whole."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from adapters.security import FernetBox
from adapters.storage.sql.tables import metadata
from adapters.storage.sql.uow import SqlStorage
from api.app import create_app
from api.bootstrap import build
from api.cli import main
from api.settings import postgres_url
from tests.cli.conftest import SECRET
from tests.cli.test_backup import _populate, _running
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Api, make_settings
from tests.fakes.webhooks import StaticResolver
from tests.services import postgres

OUTSIDE = "79001234567"


def _on_postgres(env: pytest.MonkeyPatch, data_dir: Path, url: str) -> None:
    env.setenv("DATA_DIR", str(data_dir))
    env.setenv("DATABASE_PROVIDER", "postgresql")
    env.setenv("POSTGRES_DATABASE_URL", url)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (None, "POSTGRES_DATABASE_URL is required with DATABASE_PROVIDER=postgresql"),
        ("", "POSTGRES_DATABASE_URL is required with DATABASE_PROVIDER=postgresql"),
        ("mysql://u@127.0.0.1/db", "POSTGRES_DATABASE_URL must look like postgresql://"),
        ("postgresql://127.0.0.1:5432", "POSTGRES_DATABASE_URL must look like postgresql://"),
        ("not a url", "POSTGRES_DATABASE_URL must look like postgresql://"),
    ],
)
def test_a_missing_or_invalid_postgres_url_is_refused_by_name(
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    url: str | None,
    says: str,
) -> None:
    env.setenv("DATA_DIR", str(tmp_path))
    env.setenv("DATABASE_PROVIDER", "postgresql")
    if url is None:
        env.delenv("POSTGRES_DATABASE_URL", raising=False)
    else:
        env.setenv("POSTGRES_DATABASE_URL", url)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"wamux: invalid configuration: {says}"), err


def test_db_status_and_migrate_on_postgres_hide_the_password(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = asyncio.run(postgres.fresh_database())
    # postgres:// as Heroku-style providers write it; trust auth ignores the password.
    with_password = url.replace("postgresql://postgres@", "postgres://postgres:s3cr3t-pw@")
    _on_postgres(env, tmp_path, with_password)
    assert main(["db", "status"]) == 0
    out = capsys.readouterr().out
    assert "provider: postgresql (postgres" in out and "://postgres:***@127.0.0.1" in out
    assert "s3cr3t-pw" not in out and "schema:   none" in out
    assert main(["migrate"]) == 0
    assert main(["migrate"]) == 0  # idempotent
    assert main(["create-user", "--email", "ops@example.com", "--password", "first-pass-1"]) == 0
    capsys.readouterr()
    assert main(["db", "status"]) == 0
    out = capsys.readouterr().out
    assert "current" in out and "users" in out and "1 record(s)" in out


async def _on_app(data_dir: Path, url: str, body: Any, **overrides: Any) -> Any:
    settings = make_settings(
        data_dir, database_provider="postgresql", postgres_database_url=url, **overrides
    )
    app = create_app(settings, build(settings, resolver=StaticResolver()))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        return await body(Api(client, app))


def test_the_server_on_postgres_is_ready_with_its_own_pool(tmp_path: Path) -> None:
    url = asyncio.run(postgres.fresh_database())

    async def check(api: Api) -> None:
        r = await api.client.get("/readyz")
        assert r.status_code == 200 and r.json() == {"status": "ready", "storage": "postgresql"}
        live = api.container.storage  # behind the live switch's facade, when there is one
        storage = live.backend.storage if hasattr(live, "backend") else live
        # No SQLite writer or reader threads, no single-writer cache: a real pool.
        assert storage.writer is None and storage.reader is None and storage.cache is None
        assert storage.engine.dialect.name == "postgresql"
        assert storage.engine.pool.size() == 3
        assert storage.read_engine.pool.size() == 3  # read-only units: a pool of their own

    asyncio.run(_on_app(tmp_path, url, check, postgres_pool_size=3))


async def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, read through the same table definitions on any database."""
    storage = SqlStorage(url, FernetBox(SECRET))
    try:
        found = {}
        async with storage.engine.connect() as conn:
            for table in metadata.sorted_tables:
                rows = await conn.execute(select(table).order_by(*table.primary_key.columns))
                found[table.name] = [tuple(r) for r in rows]
        return found
    finally:
        await storage.close()


def test_a_sqlite_backup_imports_whole_into_postgres(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "source"
    ids = asyncio.run(_running(source, _populate))
    before = asyncio.run(_rows(f"sqlite+aiosqlite:///{source / 'whatsapp-api.db'}"))
    empty = [t for t, rows in before.items() if not rows]
    assert not empty, f"the fixture leaves {empty} empty: nothing would be compared there"

    env.setenv("DATA_DIR", str(source))
    backup = tmp_path / "backup.jsonl.gz"
    assert main(["export", str(backup)]) == 0
    total = sum(len(rows) for rows in before.values())
    assert f"exported {total} records" in capsys.readouterr().out

    url = asyncio.run(postgres.fresh_database())
    _on_postgres(env, tmp_path / "target", url)
    assert main(["import", str(backup)]) == 0
    assert f"imported {total} records" in capsys.readouterr().out
    after = asyncio.run(_rows(postgres_url(url).render_as_string(hide_password=False)))
    assert after == before

    # The copy works on PostgreSQL: logins, API keys, and new rows after the imported ones
    # (events and deliveries number on from the imported sequence).
    async def use(api: Api) -> None:
        await api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        h = {"x-api-key": ids["x-api-key"]}
        iid = ids["instance"]
        r = await api.client.get(f"/api/instances/{iid}", headers=h)
        assert r.status_code == 200, r.text
        await api.wait_status(iid, h, "qr")  # its device keys stayed in the source data dir
        r = await api.client.post(f"/api/sandbox/{iid}/scan", json={}, headers=h)
        assert r.status_code == 200, r.text
        await api.wait_status(iid, h, "connected")
        r = await api.client.post(
            f"/api/sandbox/{iid}/incoming", json={"from": OUTSIDE, "body": "after"}, headers=h
        )
        assert r.status_code == 200, r.text

    asyncio.run(_on_app(tmp_path / "target", url, use))
    again = asyncio.run(_rows(postgres_url(url).render_as_string(hide_password=False)))
    assert len(again["events"]) > len(before["events"])
