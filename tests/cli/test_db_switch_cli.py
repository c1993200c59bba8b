"""`wamux import --provider` and `wamux db switch`: SQLite's records into an empty PostgreSQL
database, every one of them, and the chosen provider used from then on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from adapters.metrics.prometheus import Metrics
from adapters.security import FernetBox
from api.cli import main
from api.databases import ConfiguredBackends
from api.settings import Settings
from tests.cli.conftest import SECRET
from tests.cli.test_backup import _populate, _running
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Api
from tests.services.pg_fixture import pg_database_url  # noqa: F401


def _records(data_dir: Path, provider: str, pg_url: str) -> dict[str, list[str]]:
    """Every record of a provider's database as canonical JSON, per kind, sorted."""
    settings = Settings(
        _env_file=None, data_dir=data_dir, jwt_secret=SECRET, postgres_database_url=pg_url
    )

    async def read() -> dict[str, list[str]]:
        backend = ConfiguredBackends(settings, FernetBox(SECRET), Metrics()).open(provider)
        found: dict[str, list[str]] = {}
        try:
            async with backend.inventory.snapshot() as snap:
                for kind in backend.inventory.kinds():
                    rows: list[str] = []
                    async for batch in snap.records(kind, 500):
                        rows += [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in batch]
                    found[kind] = sorted(rows)
        finally:
            await backend.storage.close()
        return found

    return asyncio.run(read())


def test_import_into_an_empty_postgresql_gives_back_every_record(
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    pg_database_url: str,  # noqa: F811
) -> None:
    source = tmp_path / "source"
    asyncio.run(_running(source, _populate))
    before = _records(source, "sqlite", pg_database_url)
    assert all(before.values()), [k for k, v in before.items() if not v]
    env.setenv("DATA_DIR", str(source))
    env.setenv("POSTGRES_DATABASE_URL", pg_database_url)
    backup = tmp_path / "backup.jsonl"
    assert main(["export", str(backup)]) == 0
    capsys.readouterr()

    assert main(["import", str(backup), "--provider", "postgresql"]) == 0
    total = sum(len(v) for v in before.values())
    assert f"imported {total} records from {backup} into postgresql" in capsys.readouterr().out
    assert _records(source, "postgresql", pg_database_url) == before
    # Imported, not chosen: the server still starts on SQLite.
    assert not (source / "database.json").exists()
    assert main(["import", str(backup), "--provider", "postgresql"]) == 1
    assert "not empty" in capsys.readouterr().err


def test_db_switch_copies_and_the_server_then_starts_on_the_target(
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    pg_database_url: str,  # noqa: F811
) -> None:
    data = tmp_path / "data"
    asyncio.run(_running(data, _populate))
    before = _records(data, "sqlite", pg_database_url)
    env.setenv("DATA_DIR", str(data))
    env.setenv("POSTGRES_DATABASE_URL", pg_database_url)
    assert main(["db", "switch", "postgresql", "--migrate"]) == 0
    out = capsys.readouterr().out
    assert (
        f"switched to postgresql, {sum(len(v) for v in before.values())} records on the target"
        in out
    )
    assert json.loads((data / "database.json").read_text()) == {"provider": "postgresql"}
    assert _records(data, "postgresql", pg_database_url) == before
    # Twice: the target holds exactly these records, and it is the one in use now.
    assert main(["db", "switch", "postgresql", "--migrate"]) == 1
    assert "is postgresql already" in capsys.readouterr().err
    assert main(["db", "status"]) == 0
    assert "provider: postgresql" in capsys.readouterr().out

    async def use(api: Api) -> Any:
        await api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        h = await api.admin()
        return (await api.client.get("/api/db/status", headers=h)).json()

    status = asyncio.run(_running(data, use))
    assert status["provider"] == "postgresql"
